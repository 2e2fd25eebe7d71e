//! Every refusal of the API over real HTTP, with its exact HTTP status, envelope code and
//! message: each rule of an add-instrumental body, each rule of a WAV request, and a wrong
//! method on every `/api` route. A refused request creates no task and takes no credit, and
//! the server goes on serving.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const SUBMIT: &str = "/api/v1/generate/add-instrumental";
const WAV: &str = "/api/v1/wav/generate";

/// The API surface only: a stand-in pipeline (the real engine runs in `flow.rs`).
fn band() -> Option<std::sync::Arc<dyn bandmate_server::Pipeline>> {
    Some(FakeBand::new(Duration::ZERO))
}

/// One answer: HTTP status, `Allow` header, JSON body.
struct Answer {
    status: u16,
    allow: Option<String>,
    body: Value,
}

async fn send(
    s: &TestServer,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Vec<u8>>,
) -> Answer {
    let mut r = s.http.request(method, format!("{}{path}", s.base));
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    if let Some(b) = body {
        r = r.header("content-type", "application/json").body(b);
    }
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    let allow = r
        .headers()
        .get("allow")
        .map(|v| v.to_str().expect("ascii").to_string());
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}), HTTP {status}: {text:?}"));
    Answer {
        status,
        allow,
        body,
    }
}

fn good() -> Value {
    body("https://example.com/a.mp3", "https://example.com/cb")
}

fn with(changes: &[(&str, Value)]) -> Vec<u8> {
    let mut b = good();
    for (f, v) in changes {
        b[*f] = v.clone();
    }
    b.to_string().into_bytes()
}

fn without(field: &str) -> Vec<u8> {
    let mut b = good();
    b.as_object_mut().expect("object").remove(field);
    b.to_string().into_bytes()
}

/// Every way `validate::add_instrumental` refuses a body, one broken field at a time (plus
/// a few with two, to pin the contract's order): (what, body, msg).
fn invalid_submissions() -> Vec<(String, Vec<u8>, String)> {
    let mut v: Vec<(String, Vec<u8>, String)> = Vec::new();
    let mut case = |what: String, body: Vec<u8>, msg: &str| v.push((what, body, msg.to_string()));

    // Not a JSON object, or not JSON at all.
    for raw in ["[1]", r#""text""#, "null", "42", "true", "[]"] {
        case(
            format!("body {raw}"),
            raw.into(),
            "request body must be a JSON object",
        );
    }
    for (raw, msg) in [
        (&b""[..], "EOF while parsing a value at line 1 column 0"),
        (b"{", "EOF while parsing an object at line 1 column 1"),
        (br#"{"title": "x",}"#, "trailing comma at line 1 column 15"),
        (br#"{"title" "x"}"#, "expected `:` at line 1 column 10"),
        (b"uploadUrl=x&tags=y", "expected value at line 1 column 1"),
        (
            br#"{"a": 1} {"b": 2}"#,
            "trailing characters at line 1 column 10",
        ),
        (b"\xff\xfe{}", "expected value at line 1 column 1"),
        (
            b"{\"title\": \"\xff\"}",
            "invalid unicode code point at line 1 column 12",
        ),
        (br#"{"title": "\x"}"#, "invalid escape at line 1 column 13"),
    ] {
        case(
            format!("malformed {:?}", String::from_utf8_lossy(raw)),
            raw.to_vec(),
            &format!("malformed JSON: {msg}"),
        );
    }

    // The five required strings.
    for f in ["uploadUrl", "title", "tags", "negativeTags", "callBackUrl"] {
        case(
            format!("{f} missing"),
            without(f),
            &format!("{f} is required"),
        );
        case(
            format!("{f} null"),
            with(&[(f, Value::Null)]),
            &format!("{f} is required"),
        );
        for wrong in [json!(5), json!(true), json!(["x"]), json!({"a": 1})] {
            case(
                format!("{f} = {wrong}"),
                with(&[(f, wrong)]),
                &format!("{f} must be a string"),
            );
        }
    }
    // The two optional strings.
    for f in ["model", "vocalGender"] {
        for wrong in [json!(5), json!(false), json!([]), json!({})] {
            case(
                format!("{f} = {wrong}"),
                with(&[(f, wrong)]),
                &format!("{f} must be a string"),
            );
        }
    }

    // URLs.
    let long = format!("https://example.com/{}", "a".repeat(2049 - 20));
    assert_eq!(long.chars().count(), 2049);
    for f in ["uploadUrl", "callBackUrl"] {
        for bad in [
            "ftp://example.com/a.mp3",
            "file:///etc/passwd",
            "mailto:a@example.com",
            "not a url",
            "//example.com/a.mp3",
            "https://",
            "",
            "   ",
        ] {
            case(
                format!("{f} = {bad:?}"),
                with(&[(f, json!(bad))]),
                &format!("{f} must be an http(s) URL"),
            );
        }
        case(
            format!("{f} of 2049 chars"),
            with(&[(f, json!(long))]),
            &format!("{f} must be at most 2048 characters"),
        );
    }
    // 127.0.0.1 (and so `localhost`) is allow-listed in the tests' configuration.
    for private in [
        "http://10.0.0.5/cb",
        "http://192.168.1.1/cb",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/cb",
        "http://0.0.0.0/cb",
    ] {
        case(
            format!("callBackUrl = {private}"),
            with(&[("callBackUrl", json!(private))]),
            "callBackUrl must not point to a loopback, private, link-local or metadata address",
        );
    }

    // Lengths and content.
    for bad in ["", "   ", &"x".repeat(101), &"é".repeat(101)] {
        case(
            format!("title of {} chars", bad.chars().count()),
            with(&[("title", json!(bad))]),
            "title must be between 1 and 100 characters",
        );
    }
    for empty in ["", " ", "\t\n", ",", " , ,, ", "; | / -", "!?"] {
        case(
            format!("tags = {empty:?}"),
            with(&[("tags", json!(empty))]),
            "tags must not be empty",
        );
    }
    case(
        "tags of 1001 chars".into(),
        with(&[("tags", json!("t".repeat(1001)))]),
        "tags must be at most 1000 characters",
    );
    for long in ["n".repeat(201), "é".repeat(201)] {
        case(
            "negativeTags of 201 chars".into(),
            with(&[("negativeTags", json!(long))]),
            "negativeTags must be at most 200 characters",
        );
    }

    // Enumerations.
    for bad in ["V3", "v5", "V4_5", "V4.5PLUS", "V5 "] {
        case(
            format!("model = {bad:?}"),
            with(&[("model", json!(bad))]),
            "model must be V4_5PLUS or V5",
        );
    }
    for bad in ["x", "M", "male", "mf"] {
        case(
            format!("vocalGender = {bad:?}"),
            with(&[("vocalGender", json!(bad))]),
            "vocalGender must be m or f",
        );
    }

    // Weights.
    for f in ["styleWeight", "weirdnessConstraint", "audioWeight"] {
        for bad in [json!(1.01), json!(-0.01), json!(2), json!(-1), json!(1e300)] {
            case(
                format!("{f} = {bad}"),
                with(&[(f, bad)]),
                &format!("{f} must be between 0 and 1"),
            );
        }
        for bad in [json!("0.5"), json!(true), json!([0.5]), json!({"v": 0.5})] {
            case(
                format!("{f} = {bad}"),
                with(&[(f, bad)]),
                &format!("{f} must be a number"),
            );
        }
    }

    // Two broken fields: the first in the contract's table order is named.
    let order = [
        ("uploadUrl", Value::Null, "uploadUrl is required"),
        (
            "title",
            json!(""),
            "title must be between 1 and 100 characters",
        ),
        ("tags", json!(", "), "tags must not be empty"),
        (
            "negativeTags",
            json!("n".repeat(201)),
            "negativeTags must be at most 200 characters",
        ),
        (
            "callBackUrl",
            json!("ftp://x/cb"),
            "callBackUrl must be an http(s) URL",
        ),
        ("model", json!("V3"), "model must be V4_5PLUS or V5"),
        ("vocalGender", json!("x"), "vocalGender must be m or f"),
        (
            "styleWeight",
            json!(7),
            "styleWeight must be between 0 and 1",
        ),
        (
            "weirdnessConstraint",
            json!("7"),
            "weirdnessConstraint must be a number",
        ),
        (
            "audioWeight",
            json!(-7),
            "audioWeight must be between 0 and 1",
        ),
    ];
    for pair in order.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        case(
            format!("{} and {} broken", a.0, b.0),
            with(&[(a.0, a.1.clone()), (b.0, b.1.clone())]),
            a.2,
        );
    }
    v
}

/// Bodies at the edge of every rule, which are accepted.
fn valid_edges() -> Vec<(&'static str, Vec<u8>)> {
    let url_2048 = format!("https://example.com/{}", "a".repeat(2048 - 20));
    vec![
        ("title of 100 é", with(&[("title", json!("é".repeat(100)))])),
        (
            "tags of 1000 chars",
            with(&[("tags", json!("t".repeat(1000)))]),
        ),
        ("tags of one digit", with(&[("tags", json!(" , 8"))])),
        ("negativeTags empty", with(&[("negativeTags", json!(""))])),
        (
            "negativeTags of 200 chars",
            with(&[("negativeTags", json!("n".repeat(200)))]),
        ),
        (
            "uploadUrl of 2048 chars",
            with(&[("uploadUrl", json!(url_2048))]),
        ),
        (
            "weights at 0 and 1",
            with(&[
                ("styleWeight", json!(0)),
                ("weirdnessConstraint", json!(1)),
                ("audioWeight", json!(1.0)),
            ]),
        ),
        (
            "optional fields null or blank",
            with(&[
                ("model", json!("")),
                ("vocalGender", Value::Null),
                ("styleWeight", Value::Null),
            ]),
        ),
        (
            "unknown fields",
            with(&[("someExtraField", json!([1, {"a": 2}]))]),
        ),
    ]
}

async fn task_count(s: &TestServer) -> i64 {
    let counts = s.app().store.status_counts().await.expect("counts");
    counts.iter().map(|(_, _, n)| n).sum()
}

#[tokio::test]
async fn every_invalid_submission_is_a_422_naming_the_field_and_rule() {
    let cases = invalid_submissions();
    assert!(cases.len() >= 130, "{} cases", cases.len());
    for mirror in [false, true] {
        // No workers: accepted tasks stay PENDING and nothing is fetched.
        let s = spawn(
            |c| {
                c.workers.count = -1;
                c.credits.task_cost = 10;
                c.server.mirror_status = mirror;
            },
            band(),
        )
        .await;
        // Every mismatch is listed, not only the first.
        let mut wrong = Vec::new();
        for (what, body, msg) in &cases {
            let a = send(&s, Method::POST, SUBMIT, Some(&s.key), Some(body.clone())).await;
            let want = json!({"code": 422, "msg": msg, "data": null});
            let status = if mirror { 422 } else { 200 };
            if a.body != want || a.status != status {
                wrong.push(format!(
                    "{what}: HTTP {} {} (want HTTP {status} {want})",
                    a.status, a.body
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "mirror_status {mirror}:\n{}",
            wrong.join("\n")
        );
        // Well over the rate limit (20 per 10 s), yet no 429: refusals do not count. Nothing
        // was stored, nothing charged, and every refusal was counted as one.
        assert_eq!(task_count(&s).await, 0, "no task for a refused body");
        let c = send(&s, Method::GET, "/api/v1/chat/credit", Some(&s.key), None).await;
        assert_eq!(
            c.body,
            json!({"code": 200, "msg": "success", "data": 10000})
        );
        let m = s
            .http
            .get(format!("{}/metrics", s.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let line = format!("bandmate_submissions_total{{code=\"422\"}} {}", cases.len());
        assert!(m.contains(&line), "{line} in {m}");

        // The server still serves, and the edges of every rule are accepted.
        let edges = valid_edges();
        for (what, body) in &edges {
            let a = send(&s, Method::POST, SUBMIT, Some(&s.key), Some(body.clone())).await;
            assert_eq!((a.status, &a.body["code"]), (200, &json!(200)), "{what}");
            assert_eq!(a.body["data"]["taskId"].as_str().map(str::len), Some(32));
        }
        assert_eq!(task_count(&s).await, edges.len() as i64);
        let c = send(&s, Method::GET, "/api/v1/chat/credit", Some(&s.key), None).await;
        assert_eq!(c.body["data"], 10000 - 10 * edges.len() as i64);
    }
}

#[tokio::test]
async fn an_oversized_body_is_a_422_and_charges_nothing() {
    let s = spawn(
        |c| {
            c.workers.count = -1;
            c.server.max_json_bytes = 4096;
        },
        band(),
    )
    .await;
    let big = with(&[("padding", json!("p".repeat(5000)))]);
    let a = send(&s, Method::POST, SUBMIT, Some(&s.key), Some(big)).await;
    assert_eq!(
        (a.status, a.body),
        (
            200,
            json!({"code": 422, "msg": "request body is too large", "data": null})
        )
    );
    let a = send(&s, Method::POST, SUBMIT, Some(&s.key), Some(with(&[]))).await;
    assert_eq!(a.body["code"], 200, "{}", a.body);
    assert_eq!(task_count(&s).await, 1);
}

async fn post_wav(s: &TestServer, key: &str, body: &Value) -> Value {
    let a = send(
        s,
        Method::POST,
        WAV,
        Some(key),
        Some(body.to_string().into_bytes()),
    )
    .await;
    assert_eq!(a.status, 200, "{body}: {}", a.body);
    a.body
}

fn refusal(code: u16, msg: &str) -> Value {
    json!({"code": code, "msg": msg, "data": null})
}

#[tokio::test]
async fn wav_requests_are_refused_with_exact_answers() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    let s = spawn(
        |c| {
            c.credits.task_cost = 10;
            c.credits.wav_cost = 3;
        },
        band(),
    )
    .await;
    let other = s.new_key(100, None, None).await;
    let null = refusal(422, "recordInfo is null");
    let wav = |task: &str, audio: &str| json!({"taskId": task, "audioId": audio, "callBackUrl": cb.url("wav")});

    // A finished task (two tracks) and a failed one (no track).
    let done = s
        .submit(
            &s.key,
            &body(
                &files.put("take.wav", "audio/wav", vocal_wav()),
                &cb.url("gen"),
            ),
        )
        .await["data"]["taskId"]
        .as_str()
        .expect("task")
        .to_string();
    let failed = s
        .submit(
            &s.key,
            &body(&files.set("gone.wav", Served::Status(404)), &cb.url("gen")),
        )
        .await["data"]["taskId"]
        .as_str()
        .expect("task")
        .to_string();
    let d = s.wait_terminal(&s.key, &done).await;
    assert_eq!(d["status"], "SUCCESS", "{d}");
    let tracks: Vec<String> = d["response"]["sunoData"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(tracks.len(), 2);
    assert_eq!(
        s.wait_terminal(&s.key, &failed).await["status"],
        "CREATE_TASK_FAILED"
    );
    let failed_track = s
        .app()
        .store
        .task(&failed, None)
        .await
        .expect("store")
        .expect("task")
        .track_ids[0]
        .clone();
    let credits = |key: String| {
        let s = &s;
        async move { s.get("/api/v1/chat/credit", &key).await["data"].clone() }
    };
    assert_eq!(
        credits(s.key.clone()).await,
        10000 - 10,
        "the failure refunded"
    );

    // The body's own rules.
    let cases: Vec<(Value, Value)> = vec![
        (
            json!([1]),
            refusal(422, "request body must be a JSON object"),
        ),
        (
            json!({"audioId": tracks[0], "callBackUrl": "https://example.com/wav"}),
            refusal(422, "taskId is required"),
        ),
        (wav("  ", &tracks[0]), refusal(422, "taskId is required")),
        (
            json!({"taskId": 5, "audioId": tracks[0], "callBackUrl": "https://example.com/wav"}),
            refusal(422, "taskId must be a string"),
        ),
        (
            json!({"taskId": done, "callBackUrl": "https://example.com/wav"}),
            refusal(422, "audioId is required"),
        ),
        (wav(&done, ""), refusal(422, "audioId is required")),
        (
            json!({"taskId": done, "audioId": [tracks[0]], "callBackUrl": "https://example.com/wav"}),
            refusal(422, "audioId must be a string"),
        ),
        (
            json!({"taskId": done, "audioId": tracks[0]}),
            refusal(422, "callBackUrl is required"),
        ),
        (
            json!({"taskId": done, "audioId": tracks[0], "callBackUrl": "ftp://example.com/wav"}),
            refusal(422, "callBackUrl must be an http(s) URL"),
        ),
        (
            json!({"taskId": done, "audioId": tracks[0], "callBackUrl": "http://10.1.2.3/wav"}),
            refusal(
                422,
                "callBackUrl must not point to a loopback, private, link-local or metadata address",
            ),
        ),
        // What the task and track must be.
        (
            wav("0123456789abcdef0123456789abcdef", &tracks[0]),
            null.clone(),
        ),
        (
            wav(&done, "not-a-track"),
            refusal(422, "audioId is not a track of this task"),
        ),
        (
            wav(&done, &failed_track),
            refusal(422, "audioId is not a track of this task"),
        ),
        (
            wav(&failed, &failed_track),
            refusal(
                422,
                "audioId: the track was not made (the task ended with CREATE_TASK_FAILED)",
            ),
        ),
    ];
    for (b, want) in &cases {
        assert_eq!(&post_wav(&s, &s.key, b).await, want, "{b}");
    }
    // Another key's task, even with the right track: the same answer as an unknown task.
    assert_eq!(post_wav(&s, &other, &wav(&done, &tracks[0])).await, null);
    assert_eq!(credits(other.clone()).await, 100);
    assert_eq!(
        credits(s.key.clone()).await,
        10000 - 10,
        "no refusal charged"
    );

    // The first WAV of a track is made and charged once; a second is a 409, not charged.
    let first = post_wav(&s, &s.key, &wav(&done, &tracks[0])).await;
    assert_eq!(
        (first["code"].clone(), first["msg"].clone()),
        (json!(200), json!("success"))
    );
    let wav_task = first["data"]["taskId"]
        .as_str()
        .expect("wav task")
        .to_string();
    assert_eq!(wav_task.len(), 32);
    assert_eq!(
        post_wav(&s, &s.key, &wav(&done, &tracks[0])).await,
        refusal(409, "WAV record already exists")
    );
    // A WAV task is not a generation task to make a WAV of.
    assert_eq!(
        post_wav(&s, &s.key, &wav(&wav_task, &tracks[0])).await,
        null
    );
    assert_eq!(credits(s.key.clone()).await, 10000 - 10 - 3);
    let record = |key: String, path: &'static str, id: String| {
        let s = &s;
        async move { s.get(&format!("{path}?taskId={id}"), &key).await }
    };
    let wav_info = "/api/v1/wav/record-info";
    let mut mine = Value::Null;
    for _ in 0..200 {
        mine = record(s.key.clone(), wav_info, wav_task.clone()).await;
        if mine["data"]["successFlag"] == "SUCCESS" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mine["code"], 200, "{mine}");
    assert_eq!(mine["data"]["successFlag"], "SUCCESS", "{mine}");
    assert_eq!(mine["data"]["musicId"], tracks[0].as_str());
    // Still 409 once the WAV exists.
    assert_eq!(
        post_wav(&s, &s.key, &wav(&done, &tracks[0])).await,
        refusal(409, "WAV record already exists")
    );

    // WAV record-info: another key's WAV task answers exactly as an unknown one, and the two
    // kinds of task do not mix.
    assert_eq!(
        record(other.clone(), wav_info, wav_task.clone()).await,
        null
    );
    assert_eq!(
        record(
            s.key.clone(),
            wav_info,
            "0123456789abcdef0123456789abcdef".into()
        )
        .await,
        null
    );
    assert_eq!(record(s.key.clone(), wav_info, done.clone()).await, null);
    let gen_info = "/api/v1/generate/record-info";
    assert_eq!(
        record(s.key.clone(), gen_info, wav_task.clone()).await,
        null
    );
    assert_eq!(
        s.get(wav_info, &s.key).await,
        refusal(422, "taskId is required")
    );
    assert_eq!(
        record(s.key.clone(), wav_info, "%20".into()).await,
        refusal(422, "taskId is required")
    );

    // The other track can still be made; the server goes on serving.
    let second = post_wav(&s, &s.key, &wav(&done, &tracks[1])).await;
    assert_eq!(second["code"], 200, "{second}");
    assert_eq!(credits(s.key.clone()).await, 10000 - 10 - 3 - 3);
}

#[tokio::test]
async fn a_wrong_method_on_an_api_route_is_a_405_in_that_route_s_shape() {
    let envelope = json!({"code": 405, "msg": "Method not allowed", "data": null});
    let upload = json!({"success": false, "code": 405, "msg": "Method not allowed", "data": null});
    let cases = [
        (Method::GET, SUBMIT, "POST", &envelope),
        (Method::PUT, SUBMIT, "POST", &envelope),
        (Method::DELETE, SUBMIT, "POST", &envelope),
        (
            Method::POST,
            "/api/v1/generate/record-info",
            "GET,HEAD",
            &envelope,
        ),
        (
            Method::DELETE,
            "/api/v1/generate/record-info",
            "GET,HEAD",
            &envelope,
        ),
        (Method::POST, "/api/v1/chat/credit", "GET,HEAD", &envelope),
        (Method::PATCH, "/api/v1/chat/credit", "GET,HEAD", &envelope),
        (Method::GET, WAV, "POST", &envelope),
        (
            Method::POST,
            "/api/v1/wav/record-info",
            "GET,HEAD",
            &envelope,
        ),
        (Method::GET, "/api/file-stream-upload", "POST", &upload),
        (Method::PUT, "/api/file-base64-upload", "POST", &upload),
        (Method::GET, "/api/file-url-upload", "POST", &upload),
    ];
    for mirror in [false, true] {
        let s = spawn(
            |c| {
                c.server.mirror_status = mirror;
                c.workers.count = -1;
            },
            band(),
        )
        .await;
        for (method, path, allow, want) in &cases {
            // With or without a key, and with a body: the method decides first.
            for key in [None, Some(s.key.as_str())] {
                let a = send(&s, method.clone(), path, key, Some(with(&[]))).await;
                let what = format!("{method} {path} (key {}, mirror {mirror})", key.is_some());
                assert_eq!(&a.body, *want, "{what}");
                assert_eq!(a.status, if mirror { 405 } else { 200 }, "{what}");
                assert_eq!(a.allow.as_deref(), Some(*allow), "{what}");
            }
        }
        // Unknown /api paths keep their 404 envelope; nothing was stored; the routes still
        // answer their own methods.
        let a = send(&s, Method::GET, "/api/v1/generate/nope", Some(&s.key), None).await;
        assert_eq!(
            a.body,
            json!({"code": 404, "msg": "Not Found", "data": null})
        );
        assert_eq!(task_count(&s).await, 0);
        let a = send(&s, Method::POST, SUBMIT, Some(&s.key), Some(with(&[]))).await;
        assert_eq!((a.status, &a.body["code"]), (200, &json!(200)));
        let a = send(&s, Method::GET, "/api/v1/chat/credit", Some(&s.key), None).await;
        assert_eq!(a.body["code"], 200);
    }
}

#[tokio::test]
async fn a_wav_of_a_track_not_made_yet_is_refused() {
    // No workers: the task stays PENDING with its two track ids reserved.
    let s = spawn(|c| c.workers.count = -1, band()).await;
    let task = s.submit(&s.key, &good()).await["data"]["taskId"]
        .as_str()
        .expect("task")
        .to_string();
    let reserved = s
        .app()
        .store
        .task(&task, None)
        .await
        .expect("store")
        .expect("task")
        .track_ids;
    assert_eq!(reserved.len(), 2);
    for audio in &reserved {
        let b = json!({"taskId": task, "audioId": audio, "callBackUrl": "https://example.com/wav"});
        assert_eq!(
            post_wav(&s, &s.key, &b).await,
            refusal(422, "audioId: the track is not finished yet")
        );
    }
    assert_eq!(task_count(&s).await, 1, "no WAV task stored");
    assert_eq!(
        s.get("/api/v1/chat/credit", &s.key).await["data"],
        10000 - 10
    );
}
