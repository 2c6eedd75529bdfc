//! Headless Chromium for the page tests: start it, navigate, evaluate JavaScript, type and press
//! keys, and save screenshots under `target/test-output/`.
//!
//! ```ignore
//! let mut b = Browser::open(&format!("http://{addr}/login"));
//! b.wait("document.querySelector('input[name=name]') !== null");
//! b.click("input[name=name]");
//! b.type_text("王芳");
//! b.press("Enter");
//! b.wait_for_url("/");
//! b.screenshot("desk-home.png");
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The office screen the desk is made for.
pub const SCREEN: (u32, u32) = (1366, 768);

/// Headless Chromium with nothing reaching outside the box and no first-run noise.
pub const HEADLESS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
];

/// Chromium, which the test command installs; its absence is a failure, not a skip.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("COURTESY_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "no Chromium at {} — run `scripts/setup.sh --test` (it installs it)",
        path.display()
    );
    path
}

/// Where page tests put their screenshots: `target/test-output/`.
pub fn output_dir() -> PathBuf {
    let dir = crate::root().join("target/test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium driven over the DevTools protocol on a pipe. `--dump-dom` cannot see a
/// page after its events arrive: it dumps at the load event, and `--virtual-time-budget` never
/// runs out while an event stream (a fetch that never ends) is open. So the tests ask the page
/// itself.
pub struct Browser {
    child: std::process::Child,
    to: std::fs::File,
    from: std::sync::mpsc::Receiver<serde_json::Value>,
    next: u64,
    session: Option<String>,
    _dir: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium on `url` with a throwaway profile and a [`SCREEN`]-sized window, nothing
    /// reaching outside the box, and attaches to the page.
    pub fn open(url: &str) -> Browser {
        Browser::open_sized(url, SCREEN)
    }

    /// [`Browser::open`] with another window size.
    pub fn open_sized(url: &str, (width, height): (u32, u32)) -> Browser {
        let chromium = chromium();
        let dir = tempfile::tempdir().unwrap();
        // `--remote-debugging-pipe` reads fd 3 and writes fd 4; FIFOs and the shell put them there.
        let (into, out) = (dir.path().join("in"), dir.path().join("out"));
        for fifo in [&into, &out] {
            let ok = Command::new("mkfifo").arg(fifo).status().unwrap();
            assert!(ok.success(), "mkfifo failed");
        }
        let profile = dir.path().join("profile");
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<"$FIFO_IN" 4>"$FIFO_OUT""#)
            .arg(&chromium)
            .args(HEADLESS)
            .args([
                "--disable-quic",
                "--ignore-certificate-errors",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .env("FIFO_IN", &into)
            .env("FIFO_OUT", &out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromium starts");
        // Same order as the shell opens them, or both would wait for ever.
        let to = std::fs::OpenOptions::new().write(true).open(&into).unwrap();
        let mut reader = BufReader::new(std::fs::File::open(&out).unwrap());
        let (tx, from) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).unwrap_or(0) > 0 {
                buf.pop();
                if let Some(v) = parse_devtools(&buf) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        let mut browser = Browser {
            child,
            to,
            from,
            next: 0,
            session: None,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let target = loop {
            let targets = browser.call("Target.getTargets", serde_json::json!({}));
            let page = targets["targetInfos"]
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["type"] == "page"));
            if let Some(page) = page {
                break page["targetId"].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "no page for {url}: {targets}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let attached = browser.call(
            "Target.attachToTarget",
            serde_json::json!({ "targetId": target, "flatten": true }),
        );
        browser.session = Some(attached["sessionId"].as_str().unwrap().to_string());
        browser
    }

    /// One DevTools command and its result (panics on an error or after 30 s).
    pub fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.try_call(method, params)
            .unwrap_or_else(|v| panic!("{method}: {v}"))
    }

    /// [`Self::call`], the browser's error answer as `Err`.
    fn try_call(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        self.next += 1;
        let mut msg = serde_json::json!({ "id": self.next, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = s.clone().into();
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no answer to {method}: {e}"));
            if v["id"] == self.next {
                return match v.get("error") {
                    Some(_) => Err(v),
                    None => Ok(v["result"].clone()),
                };
            }
        }
    }

    /// The value of a JavaScript expression in the page (a promise is awaited).
    pub fn eval(&mut self, expression: &str) -> serde_json::Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({
                "expression": expression, "returnByValue": true, "awaitPromise": true
            }),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Waits until the expression is true in the page (10 s at most); a page that is still
    /// loading is asked again.
    pub fn wait(&mut self, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let guarded = format!(
            "(() => {{ try {{ return !!({expression}); }} catch (e) {{ return false; }} }})()"
        );
        loop {
            // A page navigating (a form posted, a redirect) loses the evaluation: ask again.
            let answer = self.try_call(
                "Runtime.evaluate",
                serde_json::json!({
                    "expression": guarded, "returnByValue": true, "awaitPromise": true
                }),
            );
            if let Err(e) = &answer {
                let m = e["error"]["message"].as_str().unwrap_or("");
                assert!(
                    m.contains("navigated") || m.contains("context"),
                    "Runtime.evaluate: {e}"
                );
            }
            if answer.is_ok_and(|r| r["result"]["value"] == serde_json::Value::Bool(true)) {
                break;
            }
            if Instant::now() >= deadline {
                let dom = self.eval("document.body ? document.body.outerHTML : ''");
                panic!("the page never got to `{expression}`:\n{dom}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Goes to `url` and waits until it has loaded.
    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", serde_json::json!({ "url": url }));
        self.wait(&format!(
            "document.readyState === 'complete' && location.href === {}",
            serde_json::Value::from(url)
        ));
    }

    /// Waits until the page's path (with its query) is `path` and it has loaded.
    pub fn wait_for_path(&mut self, path: &str) {
        self.wait(&format!(
            "document.readyState === 'complete' && location.pathname + location.search === {}",
            serde_json::Value::from(path)
        ));
    }

    /// The page's path and query now.
    pub fn path(&mut self) -> String {
        self.eval("location.pathname + location.search")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Focuses and clicks the first element matching a CSS selector (by script: the element
    /// need not be in view).
    pub fn click(&mut self, selector: &str) {
        let sel = serde_json::Value::from(selector);
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return false; \
             e.focus(); e.click(); return true; }})()"
        ));
        assert_eq!(
            found,
            serde_json::Value::Bool(true),
            "nothing matches {selector}"
        );
    }

    /// Types text into the focused element, as an input method would.
    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", serde_json::json!({ "text": text }));
    }

    /// Presses and releases one key: `Enter`, `Tab`, `Escape`, `Backspace`, an arrow
    /// (`ArrowDown`…), or one printable character (`j`, `1`, `?`).
    pub fn press(&mut self, key: &str) {
        let (code, vk, text): (String, u32, String) = match key {
            "Enter" => ("Enter".into(), 13, "\r".into()),
            "Tab" => ("Tab".into(), 9, String::new()),
            "Escape" => ("Escape".into(), 27, String::new()),
            "Backspace" => ("Backspace".into(), 8, String::new()),
            "ArrowLeft" => (key.into(), 37, String::new()),
            "ArrowUp" => (key.into(), 38, String::new()),
            "ArrowRight" => (key.into(), 39, String::new()),
            "ArrowDown" => (key.into(), 40, String::new()),
            _ => {
                let mut chars = key.chars();
                let c = chars.next().expect("a key");
                assert!(chars.next().is_none(), "press one key at a time: {key}");
                let code = if c.is_ascii_alphabetic() {
                    format!("Key{}", c.to_ascii_uppercase())
                } else if c.is_ascii_digit() {
                    format!("Digit{c}")
                } else {
                    String::new()
                };
                (code, c.to_ascii_uppercase() as u32, key.into())
            }
        };
        let mut down = serde_json::json!({
            "type": "keyDown", "key": key, "code": code,
            "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk,
        });
        if !text.is_empty() {
            down["text"] = text.clone().into();
            down["unmodifiedText"] = text.into();
        }
        self.call("Input.dispatchKeyEvent", down);
        self.call(
            "Input.dispatchKeyEvent",
            serde_json::json!({
                "type": "keyUp", "key": key, "code": code,
                "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk,
            }),
        );
    }

    /// Saves a PNG of the whole page as `target/test-output/<name>` and returns its path.
    pub fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self.call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png", "captureBeyondViewport": true }),
        );
        let png = base64(shot["data"].as_str().unwrap_or(""));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let path = output_dir().join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.session = None;
        let _ = serde_json::to_vec(&serde_json::json!({ "id": 0, "method": "Browser.close" })).map(
            |mut b| {
                b.push(0);
                self.to.write_all(&b)
            },
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One DevTools message. A page string cut inside a UTF-16 pair (a broken page) comes as a lone
/// surrogate escape, which serde_json refuses: those become U+FFFD so the test still sees the answer.
fn parse_devtools(buf: &[u8]) -> Option<serde_json::Value> {
    let text = String::from_utf8_lossy(buf);
    serde_json::from_str(&text).ok().or_else(|| {
        let mut fixed = String::with_capacity(text.len());
        let mut rest = &*text;
        while let Some(at) = rest.find("\\u") {
            fixed.push_str(&rest[..at]);
            let esc = rest.get(at..at + 6).unwrap_or(&rest[at..]);
            let surrogate = esc.len() == 6
                && u16::from_str_radix(&esc[2..], 16).is_ok_and(|u| (0xd800..0xe000).contains(&u));
            fixed.push_str(if surrogate { "\\ufffd" } else { esc });
            rest = &rest[at + esc.len()..];
        }
        fixed.push_str(rest);
        serde_json::from_str(&fixed).ok()
    })
}

/// Standard base64 (the screenshot's encoding).
pub fn base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | (d as u32) << (18 - 6 * i));
        out.extend(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}
