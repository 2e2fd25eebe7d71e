//! The outbound-request guard and the download limits, on the real fetch and callback code
//! paths against HTTP servers on 127.0.0.1 that each test starts: DNS answers inside the
//! machine's networks (through a name table standing in for DNS, since no DNS server can run
//! here), redirects, the time and size limits, and a callback receiver that never answers.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::{get, post};
use bandmate_server::config::FetchConfig;
use bandmate_server::fetch::{FetchError, Fetcher, guarded_client};
use bandmate_server::guard::{AllowList, Guard};
use bandmate_server::{App, now_ms};
use common::*;

/// A resolver answering from a fixed table, standing in for DNS.
struct Names(HashMap<String, Vec<IpAddr>>);

impl Names {
    fn new(entries: &[(&str, &[&str])]) -> Arc<Self> {
        Arc::new(Self(
            entries
                .iter()
                .map(|(name, ips)| {
                    let ips = ips.iter().map(|ip| ip.parse().expect("an IP")).collect();
                    (name.to_string(), ips)
                })
                .collect(),
        ))
    }
}

impl reqwest::dns::Resolve for Names {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let answer = self.0.get(name.as_str()).cloned();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let ips = answer.ok_or_else(|| format!("{name} is not in the test's name table"))?;
            let addrs = ips.into_iter().map(|ip| SocketAddr::new(ip, 0));
            Ok(Box::new(addrs) as reqwest::dns::Addrs)
        })
    }
}

fn guard(allow: &[&str], names: Arc<Names>) -> Guard {
    let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
    Guard::new(AllowList::parse(&allow).expect("allow-list")).with_lookup(names)
}

/// A fetcher with short limits; `configure` adjusts them.
fn fetcher(guard: Guard, configure: impl FnOnce(&mut FetchConfig)) -> Fetcher {
    let mut config = FetchConfig {
        timeout_s: 5.0,
        connect_timeout_s: 2.0,
        ..Default::default()
    };
    configure(&mut config);
    Fetcher::new(&config, guard)
}

/// The port of an `http://127.0.0.1:PORT` base.
fn port(base: &str) -> u16 {
    base.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port")
}

/// `url` with its `127.0.0.1` host replaced by `name`.
fn named(url: &str, name: &str) -> String {
    url.replacen("127.0.0.1", name, 1)
}

fn not_retrieved(reason: &str) -> FetchError {
    FetchError::Unreachable {
        field: "uploadUrl",
        reason: reason.into(),
    }
}

async fn serve(router: Router) -> String {
    format!("http://{}", serve_router(router).await)
}

const TAKE: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt a vocal take, as far as the fetcher cares";

#[tokio::test]
async fn names_resolving_inside_are_refused_for_uploads_unless_allowed() {
    let files = FileServer::start().await;
    let take = files.put("take.wav", "audio/wav", TAKE.to_vec());
    let p = port(&files.base);
    let names = Names::new(&[
        ("music.example", &["127.0.0.1"]),
        ("private.example", &["10.1.2.3"]),
        ("metadata.example", &["169.254.169.254"]),
        ("link.example", &["fe80::1"]),
        ("mixed.example", &["10.1.2.3", "127.0.0.1"]),
        ("files.example", &["127.0.0.1"]),
    ]);
    let closed = fetcher(guard(&[], names.clone()), |_| {});
    for (name, reason) in [
        (
            "music.example",
            "music.example resolves to 127.0.0.1, a loopback address, which is not allowed",
        ),
        (
            "private.example",
            "private.example resolves to 10.1.2.3, a private address, which is not allowed",
        ),
        (
            "metadata.example",
            "metadata.example resolves to 169.254.169.254, a metadata address, which is not allowed",
        ),
        (
            "link.example",
            "link.example resolves to fe80::1, a link-local address, which is not allowed",
        ),
        (
            "mixed.example",
            "mixed.example resolves to 10.1.2.3, a private address, which is not allowed",
        ),
    ] {
        let e = closed
            .fetch("uploadUrl", &named(&take, name), u64::MAX)
            .await
            .unwrap_err();
        assert_eq!(e, not_retrieved(reason), "{name}");
        assert_eq!(e.code(), 451);
    }

    // Redirects to a name are checked at its resolution too, from an allowed first hop (a
    // host-name allowance: files.example's own answers are not checked).
    let by_name = fetcher(guard(&["files.example"], names.clone()), |_| {});
    let hop_loopback = named(
        &files.set("hop1.wav", Served::Redirect(named(&take, "music.example"))),
        "files.example",
    );
    let hop_private = named(
        &files.set(
            "hop2.wav",
            Served::Redirect(format!("http://private.example:{p}/f/take.wav")),
        ),
        "files.example",
    );
    assert_eq!(
        by_name
            .fetch("uploadUrl", &hop_loopback, u64::MAX)
            .await
            .unwrap_err(),
        not_retrieved(
            "music.example resolves to 127.0.0.1, a loopback address, which is not allowed"
        )
    );
    assert_eq!(
        by_name
            .fetch("uploadUrl", &hop_private, u64::MAX)
            .await
            .unwrap_err(),
        not_retrieved(
            "private.example resolves to 10.1.2.3, a private address, which is not allowed"
        )
    );
    // The allowed name itself is fetched, though it resolves to loopback.
    let got = by_name
        .fetch("uploadUrl", &named(&take, "files.example"), u64::MAX)
        .await
        .expect("files.example is allowed by name");
    assert_eq!(got.bytes, TAKE);

    // With loopback allow-listed, the same names reach the test's server; a name with one
    // refused and one allowed answer is fetched from the allowed one.
    let open = fetcher(guard(&["127.0.0.0/8"], names), |_| {});
    for name in ["music.example", "mixed.example"] {
        let got = open
            .fetch("uploadUrl", &named(&take, name), u64::MAX)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.bytes, TAKE, "{name}");
        assert_eq!(got.file_name.as_deref(), Some("take.wav"));
    }
    let got = open
        .fetch("uploadUrl", &hop_loopback, u64::MAX)
        .await
        .expect("a redirect to an allowed answer");
    assert_eq!(got.bytes, TAKE);
    // Allowing loopback does not allow the private network.
    assert_eq!(
        open.fetch("uploadUrl", &hop_private, u64::MAX)
            .await
            .unwrap_err(),
        not_retrieved(
            "private.example resolves to 10.1.2.3, a private address, which is not allowed"
        )
    );
}

/// The service with the real API, one worker and the callback dispatcher, exactly as
/// [`bandmate_server::start`] builds it except that the guard looks names up in `names`.
struct NamedServer {
    server: TestServer,
    app: Arc<App>,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn start_with_names(allow: &[&str], names: Arc<Names>) -> NamedServer {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path());
    config.fetch.allow = allow.iter().map(|s| s.to_string()).collect();
    let store = bandmate_server::open_store(&config).await.expect("store");
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .expect("bind");
    let base = config.public_base(listener.local_addr().expect("addr"));
    let app = App::new(config, store, FakeBand::new(Duration::ZERO), base.clone()).expect("app");
    let Ok(mut app) = Arc::try_unwrap(app) else {
        panic!("a new App has one owner");
    };
    // What App::new builds from its guard, built from the guard with the name table.
    let guard = app.guard.clone().with_lookup(names);
    app.fetcher = Fetcher::new(&app.config.fetch, guard.clone());
    app.callback_client = guarded_client(
        &guard,
        Duration::from_secs_f64(app.config.callbacks.timeout_s.min(10.0)),
    );
    app.guard = guard;
    let app = Arc::new(app);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let router = bandmate_server::api::router(app.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    tokio::spawn(bandmate_server::worker::run(app.clone(), 0, rx.clone()));
    tokio::spawn(bandmate_server::callbacks::run(app.clone(), rx));
    let (key, _) = bandmate_server::keys::create_key(
        app.store.as_ref(),
        bandmate_server::keys::KeySpec {
            name: "test".into(),
            credits: 1000,
            ..Default::default()
        },
        now_ms(),
    )
    .await
    .expect("key");
    NamedServer {
        server: TestServer {
            running: None,
            base,
            key,
            dir,
            http: reqwest::Client::new(),
        },
        app,
        _stop: stop,
    }
}

/// One task whose upload name resolves to loopback and one whose upload is allowed by name,
/// both calling back to a name that resolves to loopback (where a receiver listens).
async fn submit_named_tasks(allow: &[&str]) -> (NamedServer, Receiver, String, String) {
    let files = FileServer::start().await;
    let take = files.put("take.wav", "audio/wav", TAKE.to_vec());
    let cb = Receiver::start().await;
    let names = Names::new(&[
        ("music.example", &["127.0.0.1"]),
        ("files.example", &["127.0.0.1"]),
        ("hooks.example", &["127.0.0.1"]),
    ]);
    let mut allow = allow.to_vec();
    allow.push("files.example");
    let s = start_with_names(&allow, names).await;
    let hook = named(&cb.url("named"), "hooks.example");
    let mut ids = Vec::new();
    for upload in [named(&take, "music.example"), named(&take, "files.example")] {
        ids.push(
            s.server
                .submit_task(&s.server.key, &body(&upload, &hook))
                .await,
        );
    }
    let allowed_by_name = ids.pop().expect("two");
    let by_dns = ids.pop().expect("two");
    (s, cb, by_dns, allowed_by_name)
}

#[tokio::test]
async fn names_resolving_inside_are_refused_for_uploads_and_callbacks_of_a_task() {
    let (s, cb, by_dns, allowed_by_name) = submit_named_tasks(&[]).await;
    let key = &s.server.key;
    let d = s.server.wait_terminal(key, &by_dns).await;
    assert_eq!(d["status"], "CREATE_TASK_FAILED", "{d}");
    assert_eq!(d["errorCode"], 451, "{d}");
    assert_eq!(
        d["errorMessage"],
        "uploadUrl could not be retrieved: music.example resolves to 127.0.0.1, a loopback \
         address, which is not allowed"
    );
    // The other task renders, but none of its callbacks may go to hooks.example: each
    // refusal is final at once, and the failed `complete` makes it CALLBACK_EXCEPTION.
    let d = s
        .server
        .wait_record(key, &allowed_by_name, Duration::from_secs(30), |d| {
            matches!(
                d["status"].as_str(),
                Some("CALLBACK_EXCEPTION" | "SUCCESS" | "CREATE_TASK_FAILED")
            ) && s.app.metrics.callback_count("failed") >= 4
        })
        .await;
    assert_eq!(d["status"], "CALLBACK_EXCEPTION", "{d}");
    assert_eq!(
        d["errorMessage"],
        "callback delivery failed: hooks.example resolves to 127.0.0.1, a loopback address, \
         which is not allowed"
    );
    // error (first task) + text, first, complete (second task), none retried.
    assert_eq!(s.app.metrics.callback_count("failed"), 4);
    assert_eq!(s.app.metrics.callback_count("retry"), 0);
    assert_eq!(s.app.metrics.callback_count("delivered"), 0);
    assert!(cb.all().is_empty(), "nothing reached the receiver");
}

#[tokio::test]
async fn allow_listed_loopback_lets_the_same_names_through() {
    let (s, cb, by_dns, allowed_by_name) = submit_named_tasks(&["127.0.0.0/8"]).await;
    for task in [&by_dns, &allowed_by_name] {
        let d = s.server.wait_terminal(&s.server.key, task).await;
        assert_eq!(d["status"], "SUCCESS", "{d}");
        let got = cb.wait_for(task, 3).await;
        assert_eq!(
            callback_kinds(&got),
            ["text", "first", "complete"],
            "{task}"
        );
    }
    assert_eq!(s.app.metrics.callback_count("failed"), 0);
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_cap() {
    let files = FileServer::start().await;
    let take = files.put("take.wav", "audio/wav", TAKE.to_vec());
    // r4 -> r3 -> r2 -> r1 -> take.wav: r1 is one redirect away, r4 four.
    let mut next = take;
    let mut chain = Vec::new();
    for i in 1..=4 {
        next = files.set(&format!("r{i}"), Served::Redirect(next));
        chain.push(next.clone());
    }
    let f = fetcher(guard(&["127.0.0.1/32"], Names::new(&[])), |c| {
        c.max_redirects = 3;
    });
    for url in &chain[..3] {
        let got = f
            .fetch("uploadUrl", url, u64::MAX)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(got.bytes, TAKE);
        assert_eq!(
            got.file_name.as_deref(),
            Some("take.wav"),
            "the last hop's name"
        );
    }
    assert_eq!(
        f.fetch("uploadUrl", &chain[3], u64::MAX).await.unwrap_err(),
        not_retrieved("too many redirects (more than 3)")
    );
}

#[tokio::test]
async fn a_silent_or_trickling_server_runs_into_the_time_limit() {
    let base = serve(
        Router::new()
            .route("/silent", get(std::future::pending::<()>))
            .route(
                "/trickle",
                get(|| async {
                    let drip = futures_util::stream::unfold((), |()| async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), ()))
                    });
                    ([("content-type", "audio/wav")], Body::from_stream(drip))
                }),
            ),
    )
    .await;
    let f = fetcher(guard(&["127.0.0.1/32"], Names::new(&[])), |c| {
        c.timeout_s = 0.4;
    });
    for path in ["silent", "trickle"] {
        let started = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            f.fetch("uploadUrl", &format!("{base}/{path}"), u64::MAX),
        )
        .await
        .unwrap_or_else(|_| panic!("{path}: the fetch ignored its time limit"));
        let took = started.elapsed();
        assert_eq!(
            r.unwrap_err(),
            not_retrieved("timed out after 0.4 s"),
            "{path}"
        );
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(2),
            "{path}: {took:?}"
        );
    }
}

/// What the streaming server sent and whether its body was dropped (the connection closed).
#[derive(Default)]
struct Sent {
    bytes: AtomicU64,
    dropped: AtomicBool,
}

/// Counts the body's chunks as hyper takes them and notes when the body is dropped.
struct Tally(Arc<Sent>);

impl Drop for Tally {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_off_while_streaming() {
    const CHUNK: usize = 64 * 1024;
    const TOTAL: u64 = 64 * 1024 * 1024;
    let sent: Arc<Mutex<Vec<Arc<Sent>>>> = Arc::default();
    let log = sent.clone();
    let base = serve(Router::new().route(
        "/endless.wav",
        get(move || {
            let s = Arc::new(Sent::default());
            log.lock().expect("lock").push(s.clone());
            let body = futures_util::stream::unfold(Tally(s), |tally| async move {
                let n = tally.0.bytes.fetch_add(CHUNK as u64, Ordering::SeqCst);
                (n < TOTAL).then(|| {
                    let chunk = Bytes::from(vec![0x55u8; CHUNK]);
                    (Ok::<_, std::io::Error>(chunk), tally)
                })
            });
            async move { ([("content-type", "audio/wav")], Body::from_stream(body)) }
        }),
    ))
    .await;
    let url = format!("{base}/endless.wav");

    // The body really comes without a length.
    let probe = reqwest::Client::new()
        .get(&url)
        .send()
        .await
        .expect("probe");
    assert_eq!(probe.content_length(), None);
    assert_eq!(probe.headers()["transfer-encoding"], "chunked");
    drop(probe);

    let f = fetcher(guard(&["127.0.0.1/32"], Names::new(&[])), |c| {
        c.max_bytes = 256_000;
    });
    assert_eq!(
        f.fetch("uploadUrl", &url, u64::MAX).await.unwrap_err(),
        FetchError::TooLarge {
            size: "more than 256.0 kB".into(),
            limit: "256.0 kB".into(),
        }
    );
    // A smaller limit of the caller's wins over the configured one.
    assert_eq!(
        f.fetch("uploadUrl", &url, 100_000)
            .await
            .unwrap_err()
            .to_string(),
        "the file is too large: more than 100.0 kB (the limit is 100.0 kB)"
    );
    // The fetcher hung up: the server's bodies were dropped long before their 64 MB were
    // sent (what was sent beyond the limit sits in socket buffers, a few MB on loopback).
    let started = Instant::now();
    let responses = sent.lock().expect("lock").clone();
    assert_eq!(responses.len(), 3, "the probe and two fetches");
    for (i, s) in responses.iter().enumerate().skip(1) {
        while !s.dropped.load(Ordering::SeqCst) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "fetch {i}: the server is still sending"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let n = s.bytes.load(Ordering::SeqCst);
        assert!(n < TOTAL / 2, "fetch {i}: {n} bytes sent of {TOTAL}");
    }
}

#[tokio::test]
async fn a_receiver_that_never_answers_fails_after_the_timeout_and_is_retried() {
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    let hang = serve(Router::new().route(
        "/cb/{name}",
        post(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>()
        }),
    ))
    .await;
    let files = FileServer::start().await;
    let take = files.put("take.wav", "audio/wav", TAKE.to_vec());
    let s = spawn(
        |c| {
            c.callbacks.timeout_s = 0.2;
            c.callbacks.retry_delays_ms = vec![20, 40, 80];
        },
        Some(FakeBand::new(Duration::ZERO)),
    )
    .await;
    let started = Instant::now();
    let task = s
        .submit_task(&s.key, &body(&take, &format!("{hang}/cb/x")))
        .await;
    // text, first and complete: each tried 4 times (1 + 3 retries), each attempt ending at
    // the 0.2 s timeout; then the task is CALLBACK_EXCEPTION.
    let d = s
        .wait_record(&s.key, &task, Duration::from_secs(10), |d| {
            d["status"] == "CALLBACK_EXCEPTION"
        })
        .await;
    let took = started.elapsed();
    assert_eq!(
        d["errorMessage"],
        "callback delivery failed: the receiver did not answer within 0.2 s"
    );
    assert_eq!(s.app().metrics.callback_count("retry"), 9);
    assert_eq!(s.app().metrics.callback_count("failed"), 3);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        12,
        "every attempt reached the receiver"
    );
    assert!(took >= Duration::from_millis(12 * 200), "{took:?}");
}
