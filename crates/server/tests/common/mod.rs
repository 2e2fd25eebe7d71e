//! Test harness: the real server on a free port with a fresh SQLite file, a local HTTP
//! server that serves uploads, and a local HTTP server that receives callbacks — all on
//! 127.0.0.1, which the test configuration allow-lists.
#![allow(dead_code, missing_docs)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bandmate_server::{Config, PendingStems, Pipeline, Roles, Running};
use bandmate_testkit::{Melody, SingerSettings, WavFormat, sing, wav_bytes};
use serde_json::{Value, json};

/// A vocal take as a 16-bit WAV: a major scale sung by the synthetic singer (about 9 s).
pub fn vocal_wav() -> Vec<u8> {
    let take = sing(&Melody::scale(60, 120.0), &SingerSettings::default(), 7);
    wav_bytes(&[take.audio], take.rate, WavFormat::Int16)
}

/// The configuration every test starts from.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.server.listen = "127.0.0.1:0".into();
    c.server.data_dir = dir.to_path_buf();
    c.fetch.allow = vec!["127.0.0.1/32".into()];
    c.fetch.timeout_s = 20.0;
    c.callbacks.retry_delays_ms = vec![20, 40, 80];
    c.callbacks.poll_ms = 50;
    c.callbacks.timeout_s = 5.0;
    c.workers.count = 2;
    c.workers.poll_ms = 50;
    c.workers.lease_s = 3.0;
    c.workers.heartbeat_s = 0.5;
    // The SoundFont made in code, so tests need no font installed and start fast.
    let font = dir.join("test.sf2");
    std::fs::write(&font, bandmate_testkit::soundfont::font()).expect("test font");
    c.engine.soundfont = font;
    c
}

pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub key: String,
    pub dir: Arc<tempfile::TempDir>,
    pub http: reqwest::Client,
}

/// Start a server; `pipeline` None means the real engine.
pub async fn spawn(
    configure: impl FnOnce(&mut Config),
    pipeline: Option<Arc<dyn Pipeline>>,
) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    spawn_in(dir, configure, pipeline).await
}

/// Start a server on an existing data directory (restarts).
pub async fn spawn_in(
    dir: Arc<tempfile::TempDir>,
    configure: impl FnOnce(&mut Config),
    pipeline: Option<Arc<dyn Pipeline>>,
) -> TestServer {
    let mut config = test_config(dir.path());
    configure(&mut config);
    let roles = Roles {
        http: true,
        workers: true,
    };
    let running = match pipeline {
        Some(p) => bandmate_server::start(config, p, roles).await,
        None => bandmate_server::start_with_engine(config, roles).await,
    }
    .expect("server starts");
    let base = running.app.base_url.clone();
    let key = running.dev_key.clone().unwrap_or_default();
    TestServer {
        running: Some(running),
        base,
        key,
        dir,
        http: reqwest::Client::new(),
    }
}

impl TestServer {
    pub fn app(&self) -> &Arc<bandmate_server::App> {
        &self.running.as_ref().expect("running").app
    }

    /// Create another key.
    pub async fn new_key(&self, credits: i64, rate: Option<u32>, secret: Option<&str>) -> String {
        let (k, _) = bandmate_server::keys::create_key(
            self.app().store.as_ref(),
            bandmate_server::keys::KeySpec {
                name: "test".into(),
                credits,
                rate_limit: rate,
                rate_window_s: None,
                webhook_secret: secret.map(str::to_string),
            },
            bandmate_server::now_ms(),
        )
        .await
        .expect("key");
        k
    }

    pub async fn post_raw(&self, path: &str, key: &str, body: impl Into<reqwest::Body>) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "envelope answers are HTTP 200");
        r.json().await.expect("json answer")
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Value {
        self.post_raw(path, key, body.to_string()).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .expect("request");
        r.json().await.expect("json answer")
    }

    /// The bytes at `url` (a download link from an answer), whatever the status.
    pub async fn download(&self, url: &str) -> Bytes {
        let r = self.http.get(url).send().await.expect("request");
        r.bytes().await.expect("body")
    }

    /// The text of this server's page at `path` (no key).
    pub async fn page(&self, path: &str) -> String {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        r.text().await.expect("text")
    }

    /// GET a public endpoint (no key) and read its JSON.
    pub async fn get_public(&self, path: &str) -> Value {
        serde_json::from_str(&self.page(path).await).expect("json answer")
    }

    pub async fn submit(&self, key: &str, body: &Value) -> Value {
        self.post("/api/v1/generate/add-instrumental", key, body)
            .await
    }

    /// Submit an add-instrumental task that must be accepted; its task id.
    pub async fn submit_task(&self, key: &str, body: &Value) -> String {
        let r = self.submit(key, body).await;
        assert_eq!(r["code"], 200, "{r}");
        r["data"]["taskId"].as_str().expect("task id").to_string()
    }

    pub async fn record(&self, key: &str, task: &str) -> Value {
        self.get(&format!("/api/v1/generate/record-info?taskId={task}"), key)
            .await
    }

    /// Poll record-info until `done` holds for its `data` (bounded: panics after `limit`).
    pub async fn wait_record(
        &self,
        key: &str,
        task: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let r = self.record(key, task).await;
            if done(&r["data"]) {
                return r["data"].clone();
            }
            assert!(
                start.elapsed() < limit,
                "task {task} did not get there in {limit:?}: {r}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Poll until the task is terminal.
    pub async fn wait_terminal(&self, key: &str, task: &str) -> Value {
        self.wait_record(key, task, Duration::from_secs(120), |d| {
            !matches!(
                d["status"].as_str(),
                Some("PENDING" | "TEXT_SUCCESS" | "FIRST_SUCCESS") | None
            )
        })
        .await
    }

    /// Graceful stop.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// Abrupt stop (leases are not given back).
    pub fn kill(&mut self) {
        if let Some(r) = self.running.take() {
            r.kill();
        }
    }
}

pub fn body(upload_url: &str, callback: &str) -> Value {
    json!({
        "uploadUrl": upload_url,
        "title": "Morning Song",
        "tags": "acoustic, piano, warm",
        "negativeTags": "heavy metal",
        "callBackUrl": callback,
        "model": "V4_5PLUS",
        "vocalGender": "m",
        "styleWeight": 0.6,
        "weirdnessConstraint": 0.3,
        "audioWeight": 0.65
    })
}

/// Serve `router` on a free port of 127.0.0.1; returns its address.
pub async fn serve_router(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// What the upload server answers for one path.
#[derive(Clone)]
pub enum Served {
    File {
        content_type: String,
        bytes: Vec<u8>,
    },
    Status(u16),
    Redirect(String),
}

/// A local HTTP server for uploads.
pub struct FileServer {
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Served>>>,
}

async fn file_route(
    State(routes): State<Arc<Mutex<HashMap<String, Served>>>>,
    Path(name): Path<String>,
) -> Response {
    let served = routes.lock().expect("lock").get(&name).cloned();
    match served {
        Some(Served::File {
            content_type,
            bytes,
        }) => ([("content-type", content_type)], bytes).into_response(),
        Some(Served::Status(s)) => StatusCode::from_u16(s)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        Some(Served::Redirect(to)) => (StatusCode::FOUND, [("location", to)]).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl FileServer {
    pub async fn start() -> Self {
        let routes = Arc::new(Mutex::new(HashMap::new()));
        let router = Router::new()
            .route("/f/{name}", get(file_route))
            .with_state(routes.clone());
        let addr = serve_router(router).await;
        Self {
            base: format!("http://{addr}"),
            routes,
        }
    }

    /// Serve `bytes` at `/f/<name>`; returns its URL.
    pub fn put(&self, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
        self.set(
            name,
            Served::File {
                content_type: content_type.into(),
                bytes,
            },
        )
    }

    pub fn set(&self, name: &str, s: Served) -> String {
        self.routes.lock().expect("lock").insert(name.into(), s);
        self.url(name)
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/f/{name}", self.base)
    }
}

/// One received callback.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

/// The stage (`callbackType`) of each received callback, in order.
pub fn callback_kinds(got: &[Received]) -> Vec<&str> {
    got.iter()
        .map(|r| r.body["data"]["callbackType"].as_str().unwrap_or("?"))
        .collect()
}

#[derive(Default)]
struct ReceiverState {
    got: Mutex<Vec<Received>>,
    /// Answer 503 to this many requests first.
    fail_first: Mutex<usize>,
}

/// A local HTTP server that receives callbacks at `/cb/<anything>`.
pub struct Receiver {
    pub base: String,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(st): State<Arc<ReceiverState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    st.got.lock().expect("lock").push(Received {
        path: name,
        headers,
        body,
    });
    let mut f = st.fail_first.lock().expect("lock");
    if *f > 0 {
        *f -= 1;
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let router = Router::new()
            .route("/cb/{name}", post(receive))
            .with_state(state.clone());
        let addr = serve_router(router).await;
        Self {
            base: format!("http://{addr}"),
            state,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/cb/{name}", self.base)
    }

    pub fn fail_first(&self, n: usize) {
        *self.state.fail_first.lock().expect("lock") = n;
    }

    /// Callbacks received for a task so far.
    pub fn for_task(&self, task: &str) -> Vec<Received> {
        self.state
            .got
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.body["data"]["task_id"] == task)
            .cloned()
            .collect()
    }

    pub fn all(&self) -> Vec<Received> {
        self.state.got.lock().expect("lock").clone()
    }

    /// Wait (bounded) until `n` callbacks for `task` arrived.
    pub async fn wait_for(&self, task: &str, n: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.for_task(task);
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "only {} of {n} callbacks for {task}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An address on 127.0.0.1 where nothing listens.
pub async fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}/cb/down")
}

/// A stand-in pipeline for the tests that need a stage to be slow, to panic, or to be
/// counted (a real engine cannot be made to do that on demand). Its "songs" are the input
/// bytes, so they play in a browser; its plan has a chord chart every 2 s. Its stems come in
/// the songs' track, unless `defer_stems`: then, like the engine, from a stems call of their
/// own (which takes `stems_delay`).
pub struct FakeBand {
    pub render_delay: Duration,
    pub panic_on_render: bool,
    pub defer_stems: bool,
    pub stems_delay: Duration,
    /// Variations whose songs were rendered, in order.
    pub renders: Mutex<Vec<u8>>,
    /// Variations whose stems were rendered by a stems call, in order.
    pub stem_renders: Mutex<Vec<u8>>,
}

impl FakeBand {
    pub fn new(render_delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            render_delay,
            panic_on_render: false,
            defer_stems: false,
            stems_delay: Duration::ZERO,
            renders: Mutex::new(Vec::new()),
            stem_renders: Mutex::new(Vec::new()),
        })
    }

    pub fn panicking() -> Arc<Self> {
        Arc::new(Self {
            panic_on_render: true,
            ..Arc::into_inner(Self::new(Duration::ZERO)).expect("fresh")
        })
    }

    /// Stems from a stems call of their own, after the songs.
    pub fn deferring(render_delay: Duration, stems_delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            defer_stems: true,
            stems_delay,
            ..Arc::into_inner(Self::new(render_delay)).expect("fresh")
        })
    }
}

fn fake_stems() -> Vec<(String, Vec<u8>)> {
    vec![
        ("piano".into(), vec![1; 500]),
        ("bass".into(), vec![2; 400]),
    ]
}

struct FakePrepared {
    input: Vec<u8>,
}

fn fake_chart(seconds: f64) -> Value {
    let names = ["C", "G", "Am", "F"];
    let mut v = Vec::new();
    let mut t = 0.0;
    let mut i = 0;
    while t < seconds {
        v.push(json!({"start": t, "end": (t + 2.0).min(seconds), "label": "C:maj", "symbol": names[i % 4]}));
        t += 2.0;
        i += 1;
    }
    Value::Array(v)
}

impl Pipeline for FakeBand {
    fn prepare(
        &self,
        input: &[u8],
        _extension: Option<&str>,
        params: &bandmate_core::GenerationParams,
    ) -> Result<bandmate_server::Prepared, bandmate_server::StageError> {
        if input.len() < 44 {
            return Err(bandmate_server::StageError {
                code: 400,
                message: "the file is empty".into(),
            });
        }
        Ok(bandmate_server::Prepared {
            inner: Box::new(FakePrepared {
                input: input.to_vec(),
            }),
            plan: json!({"key": "C major", "tempo": 120.0, "seed": params.seed, "chords": fake_chart(9.0)}),
        })
    }

    fn render_songs(
        &self,
        prepared: &bandmate_server::Prepared,
        variation: u8,
    ) -> Result<(bandmate_engine::Track, Option<PendingStems>), bandmate_server::StageError> {
        self.renders.lock().expect("lock").push(variation);
        if self.panic_on_render {
            panic!("the fake band fell over");
        }
        std::thread::sleep(self.render_delay);
        let p = prepared
            .inner
            .downcast_ref::<FakePrepared>()
            .expect("fake prepared");
        let track = bandmate_engine::Track {
            variation,
            duration_s: 9.0,
            song_mp3: p.input.clone(),
            instrumental_mp3: vec![variation; 1000],
            midi: b"MThd\0\0\0\x06\0\x01\0\x01\x01\xe0".to_vec(),
            cover_png: b"\x89PNG\r\n\x1a\n".to_vec(),
            stems: if self.defer_stems {
                Vec::new()
            } else {
                fake_stems()
            },
            plan_json: json!({"variation": variation, "chart": fake_chart(9.0)}).to_string(),
            loudness_lufs: -14.0,
            true_peak_dbtp: -1.2,
        };
        let pending = self.defer_stems.then(|| PendingStems {
            inner: Box::new(variation),
        });
        Ok((track, pending))
    }

    fn render_stems(
        &self,
        _prepared: &bandmate_server::Prepared,
        pending: PendingStems,
    ) -> Result<Vec<(String, Vec<u8>)>, bandmate_server::StageError> {
        let variation = *pending.inner.downcast::<u8>().expect("fake pending");
        self.stem_renders.lock().expect("lock").push(variation);
        std::thread::sleep(self.stems_delay);
        Ok(fake_stems())
    }

    fn render_wav(
        &self,
        prepared: &bandmate_server::Prepared,
        _variation: u8,
    ) -> Result<Vec<u8>, bandmate_server::StageError> {
        let p = prepared
            .inner
            .downcast_ref::<FakePrepared>()
            .expect("fake prepared");
        Ok(p.input.clone())
    }
}

/// A stems ZIP, read the way unzip reads it: end record -> central directory -> each member's
/// local header, `members` members, each an MP3 named in both places alike.
pub fn assert_zip(z: &[u8], members: usize) {
    assert_eq!(&z[..4], b"PK\x03\x04");
    let u16_at = |at: usize| u16::from_le_bytes([z[at], z[at + 1]]) as usize;
    let u32_at =
        |at: usize| u32::from_le_bytes(z[at..at + 4].try_into().expect("four bytes")) as usize;
    let eocd = z.len() - 22;
    assert_eq!(u32_at(eocd), 0x0605_4b50);
    let (count, cd_size, cd_off) = (u16_at(eocd + 10), u32_at(eocd + 12), u32_at(eocd + 16));
    assert_eq!(count, members);
    assert_eq!(cd_off + cd_size, eocd);
    let mut at = cd_off;
    for _ in 0..count {
        assert_eq!(u32_at(at), 0x0201_4b50, "central entry at {at}");
        let n = u16_at(at + 28);
        let local = u32_at(at + 42);
        assert_eq!(u32_at(local), 0x0403_4b50, "local header at {local}");
        assert_eq!(&z[local + 30..local + 30 + n], &z[at + 46..at + 46 + n]);
        assert!(z[at + 46..at + 46 + n].ends_with(b".mp3"));
        at += 46 + n + u16_at(at + 30) + u16_at(at + 32);
    }
    assert_eq!(at, eocd);
}
