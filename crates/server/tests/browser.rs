//! The web player in a real headless Chromium, driven through chromedriver's WebDriver HTTP
//! API: paste the key, choose the vocal, submit, wait for the finished songs, check the
//! chord chart follows the playhead, and save a screenshot of the page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/setup-system --test`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A minimal WebDriver client over HTTP.
struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            l.local_addr().expect("addr").port()
        };
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/setup-system --test)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--autoplay-policy=no-user-gesture-required",
                    "--window-size=1100,1500",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        assert!(
            r["value"].get("error").is_none(),
            "webdriver error on {path}: {r}"
        );
        r["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().expect("element id").to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn js(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Poll a script until it returns true (bounded); a string it returns is a failure.
    async fn wait_js(&self, script: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            match self.js(script).await {
                Value::Bool(true) => return,
                Value::String(failure) => panic!("the page shows a failure: {failure}"),
                _ => {}
            }
            let msg = self
                .js("return document.getElementById('message').textContent")
                .await;
            assert!(
                start.elapsed() < limit,
                "page never got there ({script}); message: {msg}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn screenshot(&self, path: &Path) {
        self.js("document.getElementById('progress').scrollIntoView(); return true")
            .await;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64"))
            .expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        // Best effort: end the session, then the driver process we started.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    let _ = reqwest::Client::new().delete(url).send().await;
                });
            }
        })
        .join();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Drive the page through a whole task; returns the driver for more checks.
async fn make_songs(s: &TestServer, vocal: &Path) -> Driver {
    let d = Driver::start().await;
    d.goto(&format!("{}/", s.base)).await;
    d.type_into("#apiKey", &s.key).await;
    let input = d.find("#vocal").await;
    d.cmd(
        reqwest::Method::POST,
        &format!("/element/{input}/value"),
        Some(json!({"text": vocal.display().to_string()})),
    )
    .await;
    d.type_into("#title", "Browser Song").await;
    d.type_into("#tags", "acoustic, piano").await;
    d.click("#submit").await;
    d.wait_js(
        "if (document.querySelector('#stages li.failed')) return document.getElementById('message').textContent; \
         return document.querySelectorAll('#songs .track[data-ready=\"true\"]').length === 2 \
         && document.querySelector('#stages li[data-stage=\"SUCCESS\"]').className === 'done'",
        Duration::from_secs(180),
    )
    .await;
    d
}

#[tokio::test]
async fn the_player_makes_and_shows_two_songs() {
    let s = spawn(|_| {}, None).await;
    let vocal = s.dir.path().join("my-vocal.wav");
    std::fs::write(&vocal, vocal_wav()).unwrap();
    let d = make_songs(&s, &vocal).await;
    let names = d
        .js("return [...document.querySelectorAll('#songs .track .name')].map(e => e.textContent)")
        .await;
    assert_eq!(
        names,
        json!(["Browser Song — take 1", "Browser Song — take 2"])
    );
    // The engine heard the C major scale and chose the acoustic style the tags asked for.
    let plan = d
        .js("return document.getElementById('plan').textContent")
        .await;
    let plan = plan.as_str().expect("plan text");
    assert!(
        plan.starts_with("Key C major · ") && plan.contains("Acoustic folk"),
        "{plan}"
    );
    let links = d
        .js("return [...document.querySelectorAll('#songs .track:first-child .downloads a')].map(a => a.textContent)")
        .await;
    assert_eq!(
        links,
        json!(["MP3", "WAV", "Instrumental", "Stems (ZIP)", "MIDI", "Cover"])
    );
    let path = screenshot_path("player-engine.png");
    d.screenshot(&path).await;
    println!("screenshot: {}", path.display());
}

#[tokio::test]
async fn the_chord_chart_follows_the_playhead() {
    let s = spawn(|_| {}, Some(FakeBand::new(Duration::from_millis(200)))).await;
    let vocal = s.dir.path().join("my-vocal.wav");
    std::fs::write(&vocal, vocal_wav()).unwrap();
    let d = make_songs(&s, &vocal).await;
    let chords = d
        .js("return [...document.querySelectorAll('#songs .track:first-child .chord')].map(e => e.textContent)")
        .await;
    assert_eq!(chords, json!(["C", "G", "Am", "F", "C"]));
    // The plan line: key, tempo and the chords in the order they first sound.
    let plan = d
        .js("return document.getElementById('plan').textContent")
        .await;
    assert_eq!(plan, json!("Key C major · 120 BPM · C G Am F"));
    // Seek to 3 s: the playhead is in the second chord (2–4 s), which lights up.
    d.js("const a = document.querySelector('#songs .track:first-child audio'); a.currentTime = 3.0; return true")
        .await;
    d.wait_js(
        "return document.querySelector('#songs .track:first-child .chordNow').textContent === 'G' \
         && document.querySelector('#songs .track:first-child .chord.now').textContent === 'G'",
        Duration::from_secs(20),
    )
    .await;
    // The WAV button makes a WAV through the API and turns into a link.
    d.click("#songs .track:first-child .downloads a:nth-child(2)")
        .await;
    d.wait_js(
        "const a = document.querySelector('#songs .track:first-child .downloads a:nth-child(2)'); \
         return a.textContent === 'WAV' && a.href.includes('/files/')",
        Duration::from_secs(30),
    )
    .await;
    let path = screenshot_path("player-chart.png");
    d.screenshot(&path).await;
    println!("screenshot: {}", path.display());
}
