//! Real services for the plugins that talk to them: Debian's `redis-server`
//! and `nginx`, each started on a free loopback port with a generated
//! config in a temporary directory, and stopped when dropped. `cargo xtask
//! test` installs both when missing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{free_port, try_request, wait_until};

/// A command of Debian's, also found in `/usr/sbin` when that is not on
/// PATH (nginx lives there).
fn command(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if on_path {
        return PathBuf::from(name);
    }
    let sbin = PathBuf::from("/usr/sbin").join(name);
    assert!(
        sbin.is_file(),
        "{name} is missing: install Debian's package (cargo xtask test does)"
    );
    sbin
}

/// A Redis server on loopback.
pub struct Redis {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    password: Option<String>,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts `redis-server` (no persistence, `maxmemory 64mb`), requiring
    /// `password` when given, and waits until it answers.
    pub fn start(password: Option<&str>) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut conf = format!(
            "port {port}\nbind 127.0.0.1\nprotected-mode yes\ndaemonize no\nsave \"\"\nappendonly no\n\
             dir {}\nlogfile \"\"\nmaxmemory 64mb\nmaxclients 500\n",
            dir.path().display()
        );
        if let Some(pw) = password {
            conf.push_str(&format!("requirepass {pw}\n"));
        }
        let path = dir.path().join("redis.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(command("redis-server"))
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server (Debian package redis-server)");
        let redis = Redis {
            child,
            port,
            password: password.map(str::to_owned),
            _dir: dir,
        };
        wait_until(Duration::from_secs(30), "Redis answering PING", || {
            redis.try_cli(&["PING"]).is_some_and(|o| o.trim() == "PONG")
        });
        redis
    }

    fn try_cli(&self, args: &[&str]) -> Option<String> {
        let mut cmd = Command::new(command("redis-cli"));
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(pw) = &self.password {
            cmd.env("REDISCLI_AUTH", pw);
        }
        let out = cmd.args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `redis-cli` with `args` against the server; its output.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args)
            .unwrap_or_else(|| panic!("redis-cli {args:?} failed"))
    }

    /// `INFO ALL` as redis-cli prints it: every `key:value` line.
    pub fn info(&self) -> BTreeMap<String, String> {
        self.cli(&["INFO", "ALL"])
            .lines()
            .filter_map(|l| l.trim().split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An NGINX on loopback with a `stub_status` location.
pub struct Nginx {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// The numbers of a stub_status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StubStatus {
    pub active: u64,
    pub accepted: u64,
    pub handled: u64,
    pub requests: u64,
    pub reading: u64,
    pub writing: u64,
    pub waiting: u64,
}

impl Nginx {
    /// Starts `nginx` in the foreground (one process, no master) serving
    /// `/stub_status`, and waits until it answers.
    pub fn start() -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n\
             \x20 fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n\
             \x20 server {{\n    listen 127.0.0.1:{port};\n    location = /stub_status {{ stub_status; }}\n  }}\n}}\n"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(command("nginx"))
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx (Debian package nginx)");
        let nginx = Nginx {
            child,
            port,
            _dir: dir,
        };
        wait_until(Duration::from_secs(30), "NGINX serving stub_status", || {
            try_request("GET", &nginx.stub_status_url(), &[], None).is_ok_and(|a| a.status == 200)
        });
        nginx
    }

    /// The URL of its stub_status page.
    pub fn stub_status_url(&self) -> String {
        format!("http://127.0.0.1:{}/stub_status", self.port)
    }

    /// A plain GET of the stub_status page, parsed.
    pub fn stub_status(&self) -> StubStatus {
        let a = try_request("GET", &self.stub_status_url(), &[], None).unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
        let n: Vec<u64> = a
            .body
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(n.len(), 7, "not a stub_status page: {}", a.body);
        StubStatus {
            active: n[0],
            accepted: n[1],
            handled: n[2],
            requests: n[3],
            reading: n[4],
            writing: n[5],
            waiting: n[6],
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
