//! A real headless Chromium (Debian's `chromium`), driven through the
//! DevTools protocol over a pipe (`--remote-debugging-pipe`: JSON messages
//! ended by a NUL byte, commands on the browser's descriptor 3, answers and
//! events on its descriptor 4), so no port and no WebSocket are involved.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one DevTools command may take (a page load included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A headless Chromium with one page, closed when dropped.
pub struct Browser {
    child: Child,
    commands: File,
    messages: Receiver<Value>,
    next_id: u64,
    session: String,
    /// Events of the page seen so far.
    events: Vec<Value>,
    profile: tempfile::TempDir,
}

/// What a loaded page showed.
pub struct Page {
    /// `document.body.innerText`.
    pub text: String,
    /// The serialised DOM.
    pub html: String,
    /// Every link: (text, absolute href).
    pub links: Vec<(String, String)>,
    /// Every image: (src, whether it loaded).
    pub images: Vec<(String, bool)>,
    /// Console errors and warnings, uncaught exceptions, failed loads,
    /// JavaScript dialogs: anything a user would see in DevTools' console.
    pub problems: Vec<String>,
}

impl Browser {
    /// Starts Chromium with a fresh profile and opens a blank page.
    pub fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let (to_browser_read, to_browser_write) = pipe();
        let (from_browser_read, from_browser_write) = pipe();
        let stderr = File::create(profile.path().join("stderr.log")).unwrap();
        let mut command = Command::new("chromium");
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--no-first-run",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-pipe",
            ])
            .arg(format!(
                "--user-data-dir={}",
                profile.path().join("data").display()
            ))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let (r, w) = (to_browser_read.as_raw_fd(), from_browser_write.as_raw_fd());
        use std::os::unix::process::CommandExt;
        // SAFETY: only fcntl and dup2, async-signal-safe, run between fork
        // and exec. The descriptors are first moved above 10 so that
        // placing one at 3 cannot overwrite the other.
        unsafe {
            command.pre_exec(move || {
                let r = libc::fcntl(r, libc::F_DUPFD_CLOEXEC, 10);
                let w = libc::fcntl(w, libc::F_DUPFD_CLOEXEC, 10);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .expect("starting chromium (Debian package chromium; `cargo xtask test` installs it)");
        drop(to_browser_read);
        drop(from_browser_write);
        let (tx, messages) = channel();
        let reader = BufReader::new(File::from(from_browser_read));
        std::thread::spawn(move || {
            for message in reader.split(0) {
                let Ok(message) = message else { break };
                let Ok(value) = serde_json::from_slice::<Value>(&message) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let mut browser = Browser {
            child,
            commands: File::from(to_browser_write),
            messages,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
            profile,
        };
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            browser.call(domain, json!({}));
        }
        browser.set_viewport(1100, 900);
        browser
    }

    /// Sends a command to the browser itself.
    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// Sends a command to the page and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap_or_else(|e| {
            panic!(
                "sending {method} to chromium: {e}; its log:\n{}",
                self.log()
            )
        });
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let message = self.next_message(deadline, method);
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    panic!("{method} failed: {error}");
                }
                return message["result"].clone();
            }
        }
    }

    /// The next message; events of the page are recorded on the way (a
    /// JavaScript dialog is dismissed, or it would block the page).
    fn next_message(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = match self.messages.recv_timeout(left) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "chromium did not answer {waiting_for} in time; its log:\n{}",
                    self.log()
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!(
                    "chromium exited while waiting for {waiting_for}; its log:\n{}",
                    self.log()
                )
            }
        };
        if message.get("method").is_some() && message["sessionId"] == self.session.as_str() {
            if message["method"] == "Page.javascriptDialogOpening" {
                let mut answer = serde_json::to_vec(&json!({
                    "id": 0,
                    "method": "Page.handleJavaScriptDialog",
                    "params": {"accept": true},
                    "sessionId": self.session,
                }))
                .unwrap();
                answer.push(0);
                let _ = self.commands.write_all(&answer);
            }
            self.events.push(message.clone());
        }
        message
    }

    fn set_viewport(&mut self, width: u64, height: u64) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
    }

    /// Loads `url` and waits for its load event.
    pub fn open(&mut self, url: &str) -> Page {
        self.events.clear();
        let navigated = self.call("Page.navigate", json!({"url": url}));
        assert!(
            navigated.get("errorText").is_none(),
            "loading {url}: {navigated}"
        );
        self.wait_for_load(url);
        self.page()
    }

    /// Clicks the first element matching the CSS `selector` and waits for
    /// the page it leads to.
    pub fn click(&mut self, selector: &str) -> Page {
        self.events.clear();
        let clicked = self.evaluate(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            serde_json::to_string(selector).unwrap()
        ));
        assert_eq!(clicked, json!(true), "nothing matches {selector}");
        self.wait_for_load(selector);
        self.page()
    }

    fn wait_for_load(&mut self, what: &str) {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        while !self
            .events
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            self.next_message(deadline, &format!("the load of {what}"));
        }
    }

    /// Evaluates a JavaScript expression in the page; its value.
    pub fn evaluate(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// What the current page shows.
    fn page(&mut self) -> Page {
        let text = self.evaluate("document.body.innerText");
        let html = self.evaluate("document.documentElement.outerHTML");
        let links =
            self.evaluate("Array.from(document.links).map(a => [a.innerText.trim(), a.href])");
        let images = self.evaluate(
            "Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])",
        );
        // Events still in flight (a failed image load) arrive before the
        // answer to a command sent after them.
        self.evaluate("0");
        let problems = self
            .events
            .iter()
            .filter_map(problem)
            .collect::<Vec<String>>();
        Page {
            text: text.as_str().unwrap_or_default().to_string(),
            html: html.as_str().unwrap_or_default().to_string(),
            links: pairs(&links)
                .into_iter()
                .map(|(a, b)| {
                    (
                        a.as_str().unwrap().to_string(),
                        b.as_str().unwrap().to_string(),
                    )
                })
                .collect(),
            images: pairs(&images)
                .into_iter()
                .map(|(a, b)| (a.as_str().unwrap().to_string(), b.as_bool().unwrap()))
                .collect(),
            problems,
        }
    }

    /// Writes a PNG of the whole page.
    pub fn screenshot(&mut self, path: &Path) {
        let height = self
            .evaluate("document.documentElement.scrollHeight")
            .as_u64()
            .unwrap_or(900)
            .clamp(300, 6000);
        self.set_viewport(1100, height);
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        self.set_viewport(1100, 900);
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an event says went wrong, if anything.
fn problem(event: &Value) -> Option<String> {
    let p = &event["params"];
    match event["method"].as_str()? {
        "Runtime.consoleAPICalled"
            if matches!(p["type"].as_str(), Some("error" | "warning" | "assert")) =>
        {
            Some(format!("console.{}: {}", p["type"], p["args"]))
        }
        "Runtime.exceptionThrown" => Some(format!("exception: {}", p["exceptionDetails"])),
        "Log.entryAdded" if matches!(p["entry"]["level"].as_str(), Some("error" | "warning")) => {
            Some(format!(
                "{}: {} {}",
                p["entry"]["level"], p["entry"]["text"], p["entry"]["url"]
            ))
        }
        "Page.javascriptDialogOpening" => Some(format!("dialog: {}", p["message"])),
        _ => None,
    }
}

fn pairs(v: &Value) -> Vec<(Value, Value)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

/// A pipe (read end, write end), both close-on-exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills in two new descriptors, which are owned here.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both are fresh descriptors nobody else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}
