//! A small Chrome DevTools Protocol client: headless Chromium driven over
//! `--remote-debugging-pipe`, with std, libc and serde_json only, for the
//! tests that look at a page as a browser shows it (`tests/browser.rs`).
//!
//! The protocol over the pipe: Chromium reads commands from its fd 3 and
//! writes replies and events to its fd 4, each message one JSON object
//! ended by a NUL byte. A command is `{"id", "method", "params"}`, with a
//! `sessionId` when it is meant for a page (a target attached with
//! `flatten: true`); its reply carries the same `id` and either `result` or
//! `error`. Everything else that arrives is an event, `{"method",
//! "params", "sessionId"}`, kept in order for the caller to read.
//!
//! Every wait has a deadline, so that a browser that hangs fails the test
//! with what it was waiting for and the end of Chromium's own log, and
//! Chromium (its whole process group: the zygote and the renderers too) is
//! killed when the [`Browser`] is dropped.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long any one command may take to be answered. Starting Chromium and
/// laying out a page of forty SVG figures takes about a second here; a
/// shared 2-core machine under a parallel build can be ten times slower.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Where Debian's `chromium` package puts the browser, if it is not on PATH.
const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";

/// The browser program: `chromium` on PATH, else Debian's.
pub fn program() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from(DEBIAN_CHROMIUM))
}

/// A running headless Chromium and the pipe to it.
pub struct Browser {
    child: Child,
    /// Our end of the command pipe (Chromium's fd 3).
    commands: std::io::PipeWriter,
    /// Messages read from Chromium's fd 4 by a reader thread, so that a
    /// wait can give up at its deadline instead of blocking in `read`.
    messages: Receiver<Value>,
    /// Events received so far and not yet taken.
    events: Vec<Value>,
    next_id: u64,
    /// Chromium's stdout and stderr, for the failure messages.
    log: PathBuf,
}

impl Browser {
    /// Starts headless Chromium with its profile (and its log) in
    /// `profile`, a folder of the caller's.
    pub fn launch(profile: &Path) -> Browser {
        let (command_read, commands) = std::io::pipe().unwrap();
        let (replies, reply_write) = std::io::pipe().unwrap();
        let (cmd_fd, reply_fd) = (command_read.as_raw_fd(), reply_write.as_raw_fd());
        let log = profile.join("chromium.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(program());
        cmd.args([
            "--headless=new",
            "--remote-debugging-pipe",
            // The pages are our own files; as root (CI) Chromium refuses to
            // start with its sandbox, and a container may not allow it anyway.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1400,1000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.join("profile").display()
        ))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        // Its own process group, so that drop ends its helpers with it.
        .process_group(0);
        // SAFETY: between fork and exec the closure calls only fcntl and
        // dup2, which are async-signal-safe. The pipe ends are first copied
        // above fd 10 so that placing one at 3 cannot overwrite the other;
        // dup2 leaves the copies at 3 and 4 open across exec (std opened
        // the originals close-on-exec).
        unsafe {
            cmd.pre_exec(move || {
                let high_cmd = libc::fcntl(cmd_fd, libc::F_DUPFD_CLOEXEC, 10);
                let high_reply = libc::fcntl(reply_fd, libc::F_DUPFD_CLOEXEC, 10);
                if high_cmd < 0
                    || high_reply < 0
                    || libc::dup2(high_cmd, 3) < 0
                    || libc::dup2(high_reply, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program().display()));
        // Chromium holds its own copies now; ours of its ends would keep the
        // reply pipe open after it exits, and the reader would never see EOF.
        drop((command_read, reply_write));
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(replies);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return, // Chromium exited
                    Ok(_) => {}
                }
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                let Ok(message) = serde_json::from_slice(&buf) else {
                    continue;
                };
                if tx.send(message).is_err() {
                    return; // the Browser is gone
                }
            }
        });
        Browser {
            child,
            commands,
            messages,
            events: Vec::new(),
            next_id: 1,
            log,
        }
    }

    /// Sends `method` (to the page of `session`, or to the browser) and
    /// waits for its result; an error reply or the deadline fails the test.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        if let Err(e) = self.commands.write_all(&bytes) {
            self.fail(&format!("cannot send {method}: {e}"));
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let m = self.next_message(deadline, method);
            if m["id"] == json!(id) {
                if let Some(e) = m.get("error") {
                    self.fail(&format!("{method} failed: {e}"));
                }
                return m["result"].clone();
            }
            self.keep_event(m);
        }
    }

    /// Waits until an event `method` arrives (or has arrived) and returns it.
    pub fn wait_for(&mut self, method: &str) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(e) = self.events.iter().find(|e| e["method"] == method) {
                return e.clone();
            }
            let m = self.next_message(deadline, method);
            self.keep_event(m);
        }
    }

    /// Reads whatever arrives within `d`: lets late events (a console
    /// message written after the load event) land before they are read.
    pub fn settle(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.messages.recv_timeout(left) {
                Ok(m) => self.keep_event(m),
                Err(_) => return,
            }
        }
    }

    /// Every event received so far, in order.
    pub fn events(&self) -> &[Value] {
        &self.events
    }

    /// The events received so far, forgotten here: what comes after starts
    /// a clean list.
    pub fn take_events(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.events)
    }

    /// Opens a new tab on `about:blank`, attaches to it and turns on the
    /// domains whose events the caller wants; returns its session id.
    pub fn new_page(&mut self, domains: &[&str]) -> String {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in domains {
            self.call(Some(&session), &format!("{domain}.enable"), json!({}));
        }
        session
    }

    fn next_message(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                "no {waiting_for} from Chromium within {TIMEOUT:?}"
            )),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.try_wait().ok().flatten();
                self.fail(&format!(
                    "Chromium closed the pipe while we waited for {waiting_for} (exit: {status:?})"
                ))
            }
        }
    }

    fn keep_event(&mut self, m: Value) {
        if m.get("method").is_some() {
            self.events.push(m);
        }
    }

    /// Fails the test with `why` and the end of Chromium's log.
    fn fail(&self, why: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{why}\n--- the end of {} ---\n{}",
            self.log.display(),
            tail.join("\n")
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: signals the process group of our own child, whose id
        // `process_group(0)` made equal to the child's pid.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// `path` as a `file://` URL: every byte outside the unreserved set and `/`
/// percent-encoded, so a folder named `50% #1` is still one path.
pub fn file_url(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap();
    let mut url = String::from("file://");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                url.push(*b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

/// The local path a `file://` URL names (without its query or fragment),
/// percent-decoded; `None` for any other scheme.
pub fn url_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("file://")?;
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let bytes = &rest.as_bytes()[..end];
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}
