//! A load generator for `bandmate serve`, on loopback only.
//!
//! ```text
//! loadgen submit --base http://127.0.0.1:8080 --key KEY [--seconds 10] [--concurrency 32] [--rate R] [--verify]
//! loadgen record --base http://127.0.0.1:8080 --key KEY [--seconds 10] [--concurrency 32] [--rate R]
//! ```
//!
//! `submit` posts add-instrumental requests as fast as `--concurrency` connections allow for
//! `--seconds`, and reports throughput and latency percentiles. Each request's `uploadUrl`
//! points at a local server of this program that answers 404, and its `callBackUrl` at a
//! local receiver that counts callbacks per task; with `--verify` it then waits for every
//! accepted task to reach its error callback and reports tasks lost (no callback) or
//! duplicated (an id returned twice, or more than one callback). The server must allow
//! 127.0.0.1 (`fetch.allow`) and the key needs a rate limit above the load.
//! `record` first submits one task, then polls its record-info. Without `--rate` every
//! connection sends as fast as it gets answers (closed loop, saturation); with `--rate R`
//! the connections together offer R requests per second (open loop).
//!
//! The loop is bounded in time and count (it stops by itself) and only talks to 127.0.0.1.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

struct Args {
    mode: String,
    base: String,
    key: String,
    seconds: f64,
    concurrency: usize,
    verify: bool,
    rate: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .ok_or("usage: loadgen submit|record --base URL --key KEY")?;
    let mut a = Args {
        mode,
        base: "http://127.0.0.1:8080".into(),
        key: String::new(),
        seconds: 10.0,
        concurrency: 32,
        verify: false,
        rate: None,
    };
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => a.base = val()?,
            "--key" => a.key = val()?,
            "--seconds" => a.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--concurrency" => {
                a.concurrency = val()?.parse().map_err(|e| format!("--concurrency: {e}"))?
            }
            "--verify" => a.verify = true,
            "--rate" => a.rate = Some(val()?.parse().map_err(|e| format!("--rate: {e}"))?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let host = url::Url::parse(&a.base)
        .map_err(|e| format!("--base: {e}"))?
        .host_str()
        .unwrap_or("")
        .to_string();
    if host != "127.0.0.1" && host != "localhost" && host != "[::1]" {
        return Err("--base must be on loopback (127.0.0.1)".into());
    }
    if a.key.is_empty() {
        return Err("--key is required".into());
    }
    a.seconds = a.seconds.clamp(0.5, 120.0);
    a.concurrency = a.concurrency.clamp(1, 512);
    Ok(a)
}

#[derive(Default)]
struct Sink {
    callbacks: Mutex<HashMap<String, u32>>,
}

async fn sink(State(s): State<Arc<Sink>>, body: Bytes) -> StatusCode {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(id) = v["data"]["task_id"].as_str() {
        *s.callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_string())
            .or_default() += 1;
    }
    StatusCode::OK
}

async fn helpers(sink_state: Arc<Sink>) -> String {
    let router = Router::new()
        .route("/f/{name}", get(|| async { StatusCode::NOT_FOUND }))
        .route("/cb", post(sink))
        .with_state(sink_state);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind helper");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, router).await;
    });
    format!("http://{addr}")
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

struct Outcome {
    latencies_us: Vec<u32>,
    codes: HashMap<i64, u64>,
    ids: Vec<String>,
    elapsed: Duration,
}

async fn run_load(
    a: &Args,
    make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Outcome {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .expect("client");
    let make = Arc::new(make);
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    // With --rate, each connection sends on its own schedule (open loop): latency is then
    // measured at that offered load, not at saturation.
    let period = a
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(a.concurrency as f64 / r));
    let mut joins = Vec::new();
    for i in 0..a.concurrency {
        let (client, make, sent) = (client.clone(), make.clone(), sent.clone());
        joins.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut codes: HashMap<i64, u64> = HashMap::new();
            let mut ids = Vec::new();
            let mut next = start + period.map_or(Duration::ZERO, |p| p.mul_f64(i as f64 / 64.0));
            while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < 5_000_000 {
                if let Some(p) = period {
                    tokio::time::sleep_until(next.into()).await;
                    next += p;
                }
                let t = Instant::now();
                let r = make(&client).send().await;
                let v: Value = match r {
                    Ok(r) => r.json().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                lat.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                let code = v["code"].as_i64().unwrap_or(-1);
                *codes.entry(code).or_default() += 1;
                if let Some(id) = v["data"]["taskId"].as_str() {
                    ids.push(id.to_string());
                }
            }
            (lat, codes, ids)
        }));
    }
    let mut out = Outcome {
        latencies_us: Vec::new(),
        codes: HashMap::new(),
        ids: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for j in joins {
        if let Ok((lat, codes, ids)) = j.await {
            out.latencies_us.extend(lat);
            for (c, n) in codes {
                *out.codes.entry(c).or_default() += n;
            }
            out.ids.extend(ids);
        }
    }
    out.elapsed = start.elapsed();
    out
}

fn report(name: &str, o: &mut Outcome) {
    o.latencies_us.sort_unstable();
    let n = o.latencies_us.len();
    println!(
        "{name}: {n} requests in {:.2} s = {:.0} req/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}; codes {:?}",
        o.elapsed.as_secs_f64(),
        n as f64 / o.elapsed.as_secs_f64(),
        percentile(&o.latencies_us, 0.50),
        percentile(&o.latencies_us, 0.90),
        percentile(&o.latencies_us, 0.99),
        percentile(&o.latencies_us, 1.0),
        o.codes
    );
}

#[tokio::main]
async fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let sink_state = Arc::new(Sink::default());
    let helper = helpers(sink_state.clone()).await;
    let body = json!({
        "uploadUrl": format!("{helper}/f/vocal.wav"),
        "title": "Load",
        "tags": "pop",
        "negativeTags": "",
        "callBackUrl": format!("{helper}/cb"),
    })
    .to_string();
    let submit_url = format!("{}/api/v1/generate/add-instrumental", a.base);
    let key = a.key.clone();
    match a.mode.as_str() {
        "submit" => {
            let b = body.clone();
            let mut o = run_load(&a, move |c| {
                c.post(&submit_url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(b.clone())
            })
            .await;
            report("submit", &mut o);
            let mut unique = o.ids.clone();
            unique.sort();
            unique.dedup();
            println!(
                "accepted {} tasks, {} distinct ids ({} duplicated ids)",
                o.ids.len(),
                unique.len(),
                o.ids.len() - unique.len()
            );
            if a.verify {
                let start = Instant::now();
                loop {
                    let got = sink_state
                        .callbacks
                        .lock()
                        .map(|m| m.clone())
                        .unwrap_or_default();
                    let lost = unique.iter().filter(|id| !got.contains_key(*id)).count();
                    let dup = got.values().filter(|&&n| n > 1).count();
                    if lost == 0 || start.elapsed() > Duration::from_secs(600) {
                        println!(
                            "verify after {:.1} s: {} tasks with a callback, {lost} lost, {dup} with more than one callback",
                            start.elapsed().as_secs_f64(),
                            unique.len() - lost
                        );
                        if lost > 0 || dup > 0 || unique.len() != o.ids.len() {
                            std::process::exit(1);
                        }
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        "record" => {
            let client = reqwest::Client::new();
            let r: Value = client
                .post(&submit_url)
                .bearer_auth(&key)
                .body(body)
                .send()
                .await
                .expect("submit")
                .json()
                .await
                .expect("json");
            let task = r["data"]["taskId"].as_str().expect("a task id").to_string();
            let url = format!("{}/api/v1/generate/record-info?taskId={task}", a.base);
            let mut o = run_load(&a, move |c| c.get(&url).bearer_auth(&key)).await;
            report("record-info", &mut o);
        }
        other => {
            eprintln!("loadgen: unknown mode {other} (submit or record)");
            std::process::exit(2);
        }
    }
}
