//! Every report opens in a real browser: `ferry demo` produces the full set,
//! then headless Chromium (driven through chromedriver's WebDriver HTTP API
//! on 127.0.0.1) loads each `reports/*.html` from disk and the test checks
//! what a person would see — a title, body text carrying the numbers the
//! report's `.json` twin holds, no console errors, no scripts — and keeps a
//! screenshot of each page in `$CARGO_TARGET_DIR/report-screenshots/`.
//!
//! Chromium is a system package (`apt-get install -y chromium
//! chromium-driver`; `.ci/run` installs it). Without it the test fails and
//! says how to install it: it never passes without having opened a page.
//! To leave it out on purpose, `FERRY_SKIP_BROWSER=1 .ci/run` filters it
//! out, and cargo counts it as filtered, not passed.
//! `FERRY_BROWSER_REPORTS=<folder>` checks an existing reports folder
//! instead of running a demo.

#[path = "support/reports.rs"]
mod reports;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL: &str =
    "apt-get install -y chromium chromium-driver (as root; .ci/run does this on a fresh machine)";

// The reports a full demo run must leave behind.
use reports::ALL_REPORTS as EXPECTED;

/// Flags this machine needs (see the environment notes): no sandbox as
/// root, and nothing that reaches for the network.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1366,900",
];

#[test]
fn every_report_renders_in_headless_chromium() {
    for (path, what) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")] {
        assert!(
            Path::new(path).is_file(),
            "{what} is not installed ({path} is missing): {INSTALL}; or leave this test out on purpose with `FERRY_SKIP_BROWSER=1 .ci/run`"
        );
    }

    let demo_dir = tempfile::tempdir().expect("temp dir");
    let reports = match std::env::var_os("FERRY_BROWSER_REPORTS") {
        Some(dir) => PathBuf::from(dir),
        None => run_demo(&demo_dir.path().join("demo")),
    };
    eprintln!("checking the reports in {}", reports.display());

    let missing: Vec<&str> = EXPECTED
        .iter()
        .copied()
        .filter(|name| !reports.join(format!("{name}.html")).is_file())
        .collect();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&reports)
        .unwrap_or_else(|e| panic!("{}: {e}", reports.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    pages.sort();

    let screenshots = screenshot_dir();
    let browser = Browser::start();
    let mut problems: Vec<String> = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "missing reports in {}: {}",
            reports.display(),
            missing.join(", ")
        ));
    }
    for page in &pages {
        let name = page.file_stem().unwrap().to_string_lossy().into_owned();
        match check_page(&browser, page, &name, &screenshots) {
            Ok(()) => eprintln!("  ok  {name}"),
            Err(problem) => {
                eprintln!("  FAILED  {name}: {problem}");
                problems.push(format!("{name}: {problem}"));
            }
        }
    }
    drop(browser);
    eprintln!(
        "screenshots of {} reports: {}",
        pages.len(),
        screenshots.display()
    );
    // Past the harness's capture, so the folder is printed on success too.
    let _ = writeln!(
        std::io::stderr(),
        "report screenshots: {}",
        screenshots.display()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// `ferry demo --customers 120 DIR`; returns the folder holding index.html.
fn run_demo(dir: &Path) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["demo", "--customers", "120"])
        .arg(dir)
        .output()
        .expect("run ferry demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Reports a demo could not finish are checked all the same (and named
    // as missing); the exit code is the demo's own business.
    if !out.status.success() {
        eprintln!(
            "ferry demo exited with {:?}:\n{stdout}\n{stderr}",
            out.status.code()
        );
    }
    let printed = stdout
        .split_whitespace()
        .find(|word| word.ends_with("index.html"))
        .map(|p| Path::new(p).parent().unwrap().to_path_buf());
    let reports = printed.unwrap_or_else(|| dir.join("workspace").join("reports"));
    assert!(
        reports.is_dir(),
        "ferry demo made no reports folder ({}); exit {:?}\n{stdout}\n{stderr}",
        reports.display(),
        out.status.code()
    );
    reports
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    for old in std::fs::read_dir(&dir).unwrap() {
        let old = old.unwrap().path();
        if old.extension().is_some_and(|e| e == "png") {
            std::fs::remove_file(old).unwrap();
        }
    }
    dir
}

/// Opens one report and checks what it shows.
fn check_page(
    browser: &Browser,
    page: &Path,
    name: &str,
    screenshots: &Path,
) -> Result<(), String> {
    let json_path = page.with_extension("json");
    let twin: Value = serde_json::from_slice(
        &std::fs::read(&json_path).map_err(|e| format!("no .json twin ({e})"))?,
    )
    .map_err(|e| format!("{} is not JSON: {e}", json_path.display()))?;

    let url = format!("file://{}", page.canonicalize().unwrap().display());
    browser.post("url", json!({ "url": url }))?;
    let title = browser.get("title")?;
    let title = title.as_str().unwrap_or_default().to_string();
    let body = browser.script("return document.body ? document.body.innerText : '';")?;
    let body = body.as_str().unwrap_or_default().to_string();
    let scripts = browser.script("return document.scripts.length;")?;
    let svgs = browser.script("return document.querySelectorAll('svg').length;")?;
    let height = browser
        .script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);",
        )?
        .as_i64()
        .unwrap_or(900);

    // A full-page picture: grow the window to the page (bounded, some
    // reports list thousands of rows).
    browser.post(
        "window/rect",
        json!({ "width": 1366, "height": height.clamp(600, 7000) }),
    )?;
    let png = browser.get("screenshot")?;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap_or_default())
        .map_err(|e| format!("screenshot is not base64: {e}"))?;
    std::fs::write(screenshots.join(format!("{name}.png")), &png).unwrap();
    browser.post("window/rect", json!({ "width": 1366, "height": 900 }))?;
    let console = browser.console()?;

    let mut problems = Vec::new();
    if title.trim().is_empty() || !title.contains("ferry") {
        problems.push(format!("title is {title:?}"));
    }
    if body.trim().len() < 40 {
        problems.push(format!("the page shows almost nothing: {body:?}"));
    }
    if scripts != json!(0) {
        problems.push(format!("{scripts} script elements (reports carry none)"));
    }
    if png.len() < 1000 || !png.starts_with(b"\x89PNG") {
        problems.push("the screenshot is not a PNG".to_string());
    }
    let severe: Vec<String> = console
        .iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
        .collect();
    if !severe.is_empty() {
        problems.push(format!("console errors: {severe:?}"));
    }
    if let Some(waiting) = twin.get("waiting") {
        problems.push(format!(
            "it is a 'not available yet' page (run {})",
            waiting["commands"]
        ));
    } else {
        let numbers = ferry::report::index::key_numbers(name, &twin);
        if numbers.is_empty() {
            problems.push(format!(
                "no key numbers in {} (a report SQL gives them in a `-- name: headline` query)",
                json_path.display()
            ));
        }
        let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
        for number in &numbers {
            if !flat.contains(&number.value) {
                problems.push(format!(
                    "{} = {} (from its .json) is not on the page",
                    number.label, number.value
                ));
            }
        }
        if name == "index" {
            // Every link to a report leads to a file next to the index.
            let links = browser.script(
                "return Array.from(document.querySelectorAll('a[href$=\".html\"]')).map(a => a.getAttribute('href'));",
            )?;
            let links: Vec<String> = links
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let dir = page.parent().unwrap();
            for link in &links {
                if !dir.join(link).is_file() {
                    problems.push(format!("the index links to {link}, which does not exist"));
                }
            }
            for expected in EXPECTED.iter().filter(|n| **n != "index") {
                if !links.contains(&format!("{expected}.html")) {
                    problems.push(format!("the index does not link to {expected}.html"));
                }
            }
        }
        let charted = ["index", "findings", "push"];
        if charted.contains(&name) && svgs.as_i64().unwrap_or(0) == 0 {
            problems.push("no inline SVG chart".to_string());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// chromedriver on a loopback port with one Chromium session; both end
/// when this is dropped.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    _profile: tempfile::TempDir,
}

/// Sends a request and reads its JSON answer, on the test's own runtime.
fn send_json(
    rt: &tokio::runtime::Runtime,
    request: reqwest::RequestBuilder,
) -> reqwest::Result<Value> {
    rt.block_on(async { request.send().await?.json::<Value>().await })
}

impl Browser {
    fn start() -> Self {
        let port = free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}; {INSTALL}"));
        let base = format!("http://127.0.0.1:{port}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .no_proxy()
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = send_json(&rt, http.get(format!("{base}/status")))
                .is_ok_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            if let Ok(Some(status)) = driver.try_wait() {
                let mut err = String::new();
                if let Some(stderr) = driver.stderr.take() {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        err.push_str(&line);
                        err.push('\n');
                    }
                }
                panic!("chromedriver exited ({status}) before it was ready:\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {base} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let created = send_json(
            &rt,
            http.post(format!("{base}/session")).json(&json!({
                "capabilities": { "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                    "goog:loggingPrefs": { "browser": "ALL" }
                }}
            })),
        )
        .unwrap_or_else(|e| panic!("cannot create a Chromium session: {e}"));
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("Chromium did not start: {created}"))
            .to_string();
        Browser {
            driver,
            base,
            session,
            http,
            rt,
            _profile: profile,
        }
    }

    fn url(&self, command: &str) -> String {
        format!("{}/session/{}/{command}", self.base, self.session)
    }

    fn answer(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let value = send_json(&self.rt, request).map_err(|e| format!("webdriver: {e}"))?;
        if let Some(error) = value["value"].get("error") {
            return Err(format!(
                "webdriver error {error}: {}",
                value["value"]["message"]
            ));
        }
        Ok(value["value"].clone())
    }

    fn get(&self, command: &str) -> Result<Value, String> {
        self.answer(self.http.get(self.url(command)))
    }

    fn post(&self, command: &str, body: Value) -> Result<Value, String> {
        self.answer(self.http.post(self.url(command)).json(&body))
    }

    fn script(&self, script: &str) -> Result<Value, String> {
        self.post("execute/sync", json!({ "script": script, "args": [] }))
    }

    /// Console messages since the last call (chromedriver's log endpoint).
    fn console(&self) -> Result<Vec<Value>, String> {
        let logs = self
            .post("se/log", json!({ "type": "browser" }))
            .or_else(|_| self.post("log", json!({ "type": "browser" })))?;
        Ok(logs.as_array().cloned().unwrap_or_default())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = send_json(
            &self.rt,
            self.http
                .delete(format!("{}/session/{}", self.base, self.session)),
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}
