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
        self.js_with(script, json!([])).await
    }

    async fn js_with(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
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

    /// A screenshot of the window with the stages at the top, checked to show both finished
    /// songs (their name, waveform and chord chart inside the window) before it is saved.
    async fn screenshot(&self, path: &Path) {
        let visible = self
            .js("document.getElementById('progress').scrollIntoView(); \
                 const inView = (e) => { const r = e.getBoundingClientRect(); \
                   return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }; \
                 return [...document.querySelectorAll('#songs .track')].map((t) => \
                   ['.name', '.wave', '.chart'].every((c) => inView(t.querySelector(c))))")
            .await;
        assert_eq!(visible, json!([true, true]), "both songs in the screenshot");
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64"))
            .expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at bytes 16..24; the window is 1100 x 1500.
        let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
        assert!(
            dim(16) >= 1000 && dim(20) >= 1300,
            "{} x {}",
            dim(16),
            dim(20)
        );
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

/// How the test hands the vocal to the page.
enum Choose {
    /// Through the file input, as a click on the drop zone would.
    Input,
    /// Dropped on the drop zone (a `drop` event carrying the file).
    Drop,
}

/// What the test sets in the form besides the key, the file, the title and the tags.
const FORM: &[(&str, &str)] = &[
    ("#negativeTags", "heavy metal, drums"),
    ("#model", "V5"),
    ("#vocalGender", "f"),
    ("#styleWeight", "0.8"),
    ("#weirdnessConstraint", "0.1"),
    ("#audioWeight", "0.9"),
];

/// Drive the page, opened at `page`, through a whole task; returns the driver for more checks.
async fn make_songs(s: &TestServer, page: &str, vocal: &Path, how: Choose) -> Driver {
    let d = Driver::start().await;
    d.goto(&format!("{page}/")).await;
    d.type_into("#apiKey", &s.key).await;
    match how {
        Choose::Input => {
            let input = d.find("#vocal").await;
            d.cmd(
                reqwest::Method::POST,
                &format!("/element/{input}/value"),
                Some(json!({"text": vocal.display().to_string()})),
            )
            .await;
        }
        Choose::Drop => {
            let bytes = std::fs::read(vocal).expect("the vocal file");
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let name = vocal
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .to_string();
            d.js_with(
                "const bin = atob(arguments[0]); const a = new Uint8Array(bin.length); \
                 for (let i = 0; i < bin.length; i++) a[i] = bin.charCodeAt(i); \
                 const dt = new DataTransfer(); \
                 dt.items.add(new File([a], arguments[1], { type: 'audio/wav' })); \
                 const drop = document.getElementById('drop'); \
                 for (const type of ['dragenter', 'dragover', 'drop']) \
                   drop.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true })); \
                 return true",
                json!([b64, name]),
            )
            .await;
            let shown = d
                .js("return document.getElementById('dropText').textContent")
                .await;
            let shown = shown.as_str().unwrap_or_default();
            assert!(shown.starts_with(&format!("{name} (")), "{shown}");
        }
    }
    d.type_into("#title", "Browser Song").await;
    d.type_into("#tags", "acoustic, piano").await;
    d.type_into("#negativeTags", FORM[0].1).await;
    // Selects and sliders as a user leaves them: value set, `input` fired (the sliders show
    // their value beside them).
    let shown = d
        .js_with(
            "for (const [css, v] of arguments[0].slice(1)) { const e = document.querySelector(css); \
               e.value = v; e.dispatchEvent(new Event('input', { bubbles: true })); \
               e.dispatchEvent(new Event('change', { bubbles: true })); } \
             return ['styleWeightOut', 'weirdnessConstraintOut', 'audioWeightOut'] \
               .map((id) => document.getElementById(id).textContent)",
            json!([FORM]),
        )
        .await;
    assert_eq!(shown, json!(["0.80", "0.10", "0.90"]));
    d.click("#submit").await;
    d.wait_js(
        "if (document.querySelector('#stages li.failed') || document.querySelector('#message.error')) \
           return document.getElementById('message').textContent; \
         return document.querySelectorAll('#songs .track[data-ready=\"true\"]').length === 2 \
         && document.querySelector('#stages li[data-stage=\"SUCCESS\"]').className === 'done'",
        Duration::from_secs(180),
    )
    .await;
    d
}

/// The page's task, as the API reports it to the key the page used.
async fn page_task(s: &TestServer, d: &Driver) -> Value {
    let msg = d
        .js("return document.getElementById('message').textContent")
        .await;
    assert_eq!(msg, json!("Done: two songs are ready."));
    let task = d.js("return currentTaskId").await;
    let task = task.as_str().expect("the page's task id");
    assert_eq!(task.len(), 32, "{task}");
    s.record(&s.key, task).await
}

/// Each song's waveform was decoded and drawn (not the flat placeholder), and its chord chart
/// has the chords of its plan.
async fn songs_are_drawn(d: &Driver) {
    let drawn = d
        .js("return [...document.querySelectorAll('#songs .track')].map((t) => t.dataset.waveform)")
        .await;
    assert_eq!(drawn, json!(["drawn", "drawn"]));
    // Bars of different heights: a decoded waveform, not the placeholder's flat line.
    let heights = d
        .js(
            "return [...document.querySelectorAll('#songs .track .wave')].map((c) => { \
               const g = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
               const tall = new Set(); \
               for (let x = 0; x < c.width; x += 7) { let h = 0; \
                 for (let y = 0; y < c.height; y++) if (g[4 * (y * c.width + x) + 3] > 0) h++; \
                 tall.add(h); } \
               return tall.size; })",
        )
        .await;
    for n in heights.as_array().expect("two canvases") {
        assert!(n.as_u64().unwrap_or(0) >= 10, "{heights}");
    }
}

#[tokio::test]
async fn the_player_makes_and_shows_two_songs() {
    // Nothing on loopback is allow-listed: the page's own callback sink and upload must pass
    // as the server's own URLs, and the page is opened at `localhost`, not the address the
    // server announces, as a user typing the address would.
    let s = spawn(|c| c.fetch.allow.clear(), None).await;
    let page = s.base.replace("127.0.0.1", "localhost");
    assert_ne!(page, s.base);
    let vocal = s.dir.path().join("my-vocal.wav");
    std::fs::write(&vocal, vocal_wav()).unwrap();
    let d = make_songs(&s, &page, &vocal, Choose::Input).await;
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
    // Every control reached the request.
    let record = page_task(&s, &d).await;
    let param: Value = serde_json::from_str(record["data"]["param"].as_str().unwrap()).unwrap();
    assert_eq!(param["negativeTags"], json!("heavy metal, drums"));
    assert_eq!(param["model"], json!("V5"));
    assert_eq!(param["vocalGender"], json!("f"));
    assert_eq!(param["styleWeight"], json!(0.8));
    assert_eq!(param["weirdnessConstraint"], json!(0.1));
    assert_eq!(param["audioWeight"], json!(0.9));
    assert_eq!(
        param["callBackUrl"],
        json!(format!("{}/player/callback", s.base))
    );
    songs_are_drawn(&d).await;
    // The real plan's chord chart runs under each song: several chords, first at the start.
    let charts = d
        .js(
            "return [...document.querySelectorAll('#songs .track')].map((t) => \
               [...t.querySelectorAll('.chord')].map((c) => parseFloat(c.style.left)))",
        )
        .await;
    for chart in charts.as_array().expect("two charts") {
        let lefts: Vec<f64> = chart
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(lefts.len() >= 4, "{charts}");
        assert!(lefts.windows(2).all(|w| w[0] < w[1]), "{charts}");
    }
    let links = d
        .js("return [...document.querySelectorAll('#songs .track:first-child .downloads a')].map(a => a.textContent)")
        .await;
    assert_eq!(
        links,
        json!(["MP3", "WAV", "Instrumental", "Stems (ZIP)", "MIDI", "Cover"])
    );
    // The server's own links are loaded by path, so they work from this origin too.
    let src = d
        .js("return document.querySelector('#songs .track:first-child audio').getAttribute('src')")
        .await;
    assert!(src.as_str().unwrap().starts_with("/files/"), "{src}");
    let path = screenshot_path("player-engine.png");
    d.screenshot(&path).await;
    println!("screenshot: {}", path.display());
}

#[tokio::test]
async fn the_chord_chart_follows_the_playhead() {
    let s = spawn(|_| {}, Some(FakeBand::new(Duration::from_millis(200)))).await;
    let vocal = s.dir.path().join("my-vocal.wav");
    std::fs::write(&vocal, vocal_wav()).unwrap();
    let d = make_songs(&s, &s.base, &vocal, Choose::Drop).await;
    page_task(&s, &d).await;
    songs_are_drawn(&d).await;
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
