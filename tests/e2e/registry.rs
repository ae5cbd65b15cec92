//! Test support for the supply chain: Debian's `docker-registry` (the CNCF
//! distribution registry) started per test on a free loopback port, plain,
//! with htpasswd auth or with TLS; a small loopback HTTP server that plays
//! a broken registry; and `minisign` keys.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::support::{Pki, free_port};

/// A running `docker-registry`, stopped when dropped.
pub struct Registry {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// A Docker config.json with the registry's credentials (when it has
    /// users).
    pub auth_file: Option<PathBuf>,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry; with `user` = (name, password) it wants htpasswd
    /// basic auth, with `tls` it serves HTTPS with the PKI's server
    /// certificate.
    pub fn start(user: Option<(&str, &str)>, tls: Option<&Pki>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog: {{disabled: true}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {addr}\n  secret: test-secret\n",
            dir.path().join("data").display()
        );
        if let Some(pki) = tls {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                pki.path("server.pem").display(),
                pki.path("server.key").display()
            ));
        }
        let mut auth_file = None;
        if let Some((name, password)) = user {
            let hash = bcrypt::hash(password, 4).unwrap();
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{name}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test-registry\n    path: {}\n",
                htpasswd.display()
            ));
            let file = dir.path().join("docker-config.json");
            std::fs::write(&file, docker_config(&addr, name, password)).unwrap();
            auth_file = Some(file);
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry (install Debian's `docker-registry` package)");
        let mut registry = Registry {
            child: Some(child),
            addr,
            auth_file,
            dir,
        };
        registry.wait_listening();
        registry
    }

    fn wait_listening(&mut self) {
        let start = Instant::now();
        while TcpStream::connect(&self.addr).is_err() {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("docker-registry exited ({status}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "docker-registry did not listen on {}:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The registry's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `oci://127.0.0.1:PORT/REPO`.
    pub fn reference(&self, repo: &str) -> String {
        format!("oci://{}/{repo}", self.addr)
    }

    /// Stops it (the exporter must then do without).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Docker config.json giving `user` for `registry`.
pub fn docker_config(registry: &str, user: &str, password: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}\n")
}

/// `sha256:HEX`.
pub fn digest(data: &[u8]) -> String {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// One answer of the broken registry.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Announce the whole body but send only this many bytes, then close.
    pub cut_at: Option<usize>,
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(content_type: &str, body: &[u8]) -> Reply {
        Reply {
            status: 200,
            content_type: content_type.to_string(),
            body: body.to_vec(),
            cut_at: None,
        }
    }
}

/// A registry that answers from a table, for the faults a real one does
/// not make. Unknown paths get 404 `MANIFEST_UNKNOWN`.
pub struct FakeRegistry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeRegistry {
    /// Serves `routes` (path → reply) on a free loopback port.
    pub fn start(routes: HashMap<String, Reply>) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let routes = routes.clone();
                std::thread::spawn(move || serve(stream, &routes));
            }
        });
        FakeRegistry {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// `oci://127.0.0.1:PORT/REPO@DIGEST`.
    pub fn reference(&self, repo: &str, digest: &str) -> String {
        format!("oci://{}/{repo}@{digest}", self.addr)
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, routes: &HashMap<String, Reply>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let not_found = Reply {
        status: 404,
        content_type: "application/json".into(),
        body: br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.to_vec(),
        cut_at: None,
    };
    let reply = if path == "/v2/" {
        Reply::ok("application/json", b"{}")
    } else {
        routes.get(&path).cloned().unwrap_or(not_found)
    };
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let end = reply.cut_at.unwrap_or(reply.body.len());
        let _ = stream.write_all(&reply.body[..end]);
    }
    let _ = stream.flush();
    // Drain what the client may still send, then close.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 256];
    let _ = reader.get_mut().read(&mut sink);
}

/// A minisign key pair made by Debian's `minisign -G` (without a
/// password): (public key file, secret key file, key id as minisign prints
/// it).
pub fn minisign_keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let public = dir.join(format!("{name}.pub"));
    let secret = dir.join(format!("{name}.key"));
    let out = Command::new("minisign")
        .arg("-G")
        .arg("-W")
        .arg("-p")
        .arg(&public)
        .arg("-s")
        .arg(&secret)
        .stdin(Stdio::null())
        .output()
        .expect("running minisign (install Debian's `minisign` package)");
    assert!(
        out.status.success(),
        "minisign -G failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&public).unwrap();
    let id = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string();
    (public, secret, id)
}

/// A key pair as `minisign -G` makes it by default, its secret key
/// encrypted with `password`: (public key file, secret key file).
pub fn minisign_encrypted_keypair(dir: &Path, name: &str, password: &str) -> (PathBuf, PathBuf) {
    let public = dir.join(format!("{name}.pub"));
    let secret = dir.join(format!("{name}.key"));
    let mut child = Command::new("minisign")
        .arg("-G")
        .arg("-p")
        .arg(&public)
        .arg("-s")
        .arg(&secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running minisign");
    // The password, and again to confirm it.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && secret.exists(),
        "minisign -G failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (public, secret)
}

/// Runs `minisign` with `args`; returns (success, stdout + stderr).
pub fn minisign(args: &[&str]) -> (bool, String) {
    let out = Command::new("minisign")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running minisign");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
