//! The API surface against a real server: validation, auth, isolation, credits, rate limit,
//! maintenance, uploads and downloads, concurrency, and the service endpoints.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};

const SUBMIT: &str = "/api/v1/generate/add-instrumental";

/// These tests are about the API surface, not the music: a stand-in pipeline spares each
/// server the engine's start-up (the real engine runs in `flow.rs` and `browser.rs`).
fn band() -> Option<std::sync::Arc<dyn bandmate_server::Pipeline>> {
    Some(FakeBand::new(Duration::ZERO))
}

#[tokio::test]
async fn validation_errors_name_the_field_and_rule() {
    let s = spawn(|_| {}, band()).await;
    let good = body("https://example.com/a.mp3", "https://example.com/cb");
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut v = good.clone();
                v.as_object_mut().unwrap().remove("tags");
                v
            },
            "tags is required",
        ),
        (
            {
                let mut v = good.clone();
                v["styleWeight"] = json!(1.5);
                v
            },
            "styleWeight must be between 0 and 1",
        ),
        (
            {
                let mut v = good.clone();
                v["audioWeight"] = json!("high");
                v
            },
            "audioWeight must be a number",
        ),
        (
            {
                let mut v = good.clone();
                v["title"] = json!("");
                v
            },
            "title must be between 1 and 100 characters",
        ),
        (
            {
                let mut v = good.clone();
                v["model"] = json!("V3");
                v
            },
            "model must be V4_5PLUS or V5",
        ),
        (
            {
                let mut v = good.clone();
                v["vocalGender"] = json!("x");
                v
            },
            "vocalGender must be m or f",
        ),
        (
            {
                let mut v = good.clone();
                v["uploadUrl"] = json!("file:///etc/passwd");
                v
            },
            "uploadUrl must be an http(s) URL",
        ),
        (
            {
                let mut v = good.clone();
                v["callBackUrl"] = json!("http://10.0.0.5/cb");
                v
            },
            "callBackUrl must not point to a loopback, private, link-local or metadata address",
        ),
        (
            {
                let mut v = good.clone();
                v["negativeTags"] = json!("x".repeat(201));
                v
            },
            "negativeTags must be at most 200 characters",
        ),
    ];
    for (b, msg) in cases {
        let r = s.submit(&s.key, &b).await;
        assert_eq!(r, json!({"code": 422, "msg": msg, "data": null}));
    }
    let r = s
        .post_raw(
            SUBMIT,
            &s.key,
            r#"{"uploadUrl": "https://e.com/a.mp3" "title": 1}"#,
        )
        .await;
    assert_eq!(r["code"], 422);
    assert_eq!(
        r["msg"],
        "malformed JSON: expected `,` or `}` at line 1 column 37"
    );
    // Nothing was charged for any of these.
    let c = s.get("/api/v1/chat/credit", &s.key).await;
    assert_eq!(c, json!({"code": 200, "msg": "success", "data": 10000}));
}

#[tokio::test]
async fn auth_and_cross_key_isolation() {
    let files = FileServer::start().await;
    let s = spawn(|_| {}, band()).await;
    let b = body(
        &files.set("gone.wav", Served::Status(404)),
        "https://example.com/cb",
    );
    let unauthorized =
        json!({"code": 401, "msg": "You do not have access permissions", "data": null});
    let r = s
        .http
        .post(format!("{}{SUBMIT}", s.base))
        .body(b.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), unauthorized);
    assert_eq!(s.submit("bm_not_a_key", &b).await, unauthorized);
    assert_eq!(s.get("/api/v1/chat/credit", "nope").await, unauthorized);

    let task = s.submit_task(&s.key, &b).await;
    assert_eq!(task.len(), 32);
    let other = s.new_key(100, None, None).await;
    let null = json!({"code": 422, "msg": "recordInfo is null", "data": null});
    assert_eq!(s.record(&other, &task).await, null);
    assert_eq!(
        s.record(&s.key, "0123456789abcdef0123456789abcdef").await,
        null
    );
    let wav = json!({"taskId": task, "audioId": "x", "callBackUrl": "https://example.com/cb"});
    assert_eq!(s.post("/api/v1/wav/generate", &other, &wav).await, null);
    assert_eq!(s.record(&s.key, &task).await["code"], 200);

    // A revoked key is refused at once.
    assert!(matches!(
        s.app()
            .store
            .revoke_key("test", bandmate_server::now_ms())
            .await
            .unwrap(),
        bandmate_server::store::KeyChange::Done(_)
    ));
    assert_eq!(s.get("/api/v1/chat/credit", &other).await, unauthorized);
}

#[tokio::test]
async fn credits_are_taken_at_submit_and_refunded_on_failure() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    // No workers yet: the first task cannot fail (and be refunded) before the second submit.
    let mut s = spawn(
        |c| {
            c.credits.task_cost = 10;
            c.workers.count = -1;
        },
        band(),
    )
    .await;
    let key = s.new_key(15, None, None).await;
    let b = body(
        &files.set("missing.wav", Served::Status(404)),
        &cb.url("credits"),
    );
    let first = s.submit(&key, &b).await;
    assert_eq!(first["code"], 200);
    let task = first["data"]["taskId"].as_str().unwrap().to_string();
    // Taken at once: the second submission finds 5 credits, whatever the first task does.
    let second = s.submit(&key, &b).await;
    assert_eq!(
        second,
        json!({"code": 402, "msg": "Insufficient credits: a task costs 10 credits", "data": null})
    );
    assert_eq!(s.get("/api/v1/chat/credit", &key).await["data"], 5);
    s.stop().await;
    let s = spawn_in(s.dir.clone(), |c| c.credits.task_cost = 10, band()).await;
    let d = s.wait_terminal(&key, &task).await;
    assert_eq!(d["status"], "CREATE_TASK_FAILED");
    // Refunded with the failure.
    assert_eq!(s.get("/api/v1/chat/credit", &key).await["data"], 15);
}

#[tokio::test]
async fn rate_limit_rejects_and_does_not_queue() {
    let s = spawn(
        |c| {
            c.credits.task_cost = 1;
            c.workers.count = -1;
        },
        band(),
    )
    .await;
    let key = s.new_key(100, Some(3), None).await;
    // Unreachable uploads fail fast; what matters here is the answers and the queue.
    let b = body(
        "https://example.invalid/a.mp3",
        "https://example.invalid/cb",
    );
    for _ in 0..3 {
        assert_eq!(s.submit(&key, &b).await["code"], 200);
    }
    let r = s.submit(&key, &b).await;
    assert_eq!(r["code"], 429);
    assert_eq!(
        r["msg"],
        "Rate limit exceeded: at most 3 submissions per 10 s per key; please try again later"
    );
    assert_eq!(
        s.get("/api/v1/chat/credit", &key).await["data"],
        97,
        "the rejected one was not charged"
    );
    let counts = s.app().store.status_counts().await.unwrap();
    let total: i64 = counts.iter().map(|(_, _, n)| n).sum();
    assert_eq!(total, 3, "nothing queued for the rejected request");
    // Other keys are not affected.
    assert_eq!(s.submit(&s.key, &b).await["code"], 200);
}

#[tokio::test]
async fn maintenance_mode_answers_455() {
    let mut s = spawn(|c| c.server.maintenance = true, band()).await;
    let b = body("https://example.com/a.mp3", "https://example.com/cb");
    let r = s.submit(&s.key, &b).await;
    assert_eq!(
        r,
        json!({"code": 455, "msg": "The system is currently undergoing maintenance, please try again later", "data": null})
    );
    // Reads still work.
    assert_eq!(s.get("/api/v1/chat/credit", &s.key).await["code"], 200);
    s.stop().await;

    // The MAINTENANCE file switches it at run time.
    let s = spawn(|_| {}, band()).await;
    assert_eq!(s.submit(&s.key, &b).await["code"], 200);
    let flag = s.dir.path().join("MAINTENANCE");
    std::fs::write(&flag, "").unwrap();
    let mut code = 0;
    for _ in 0..40 {
        code = s.submit(&s.key, &b).await["code"].as_i64().unwrap();
        if code == 455 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code, 455);
    std::fs::remove_file(&flag).unwrap();
    for _ in 0..40 {
        code = s.submit(&s.key, &b).await["code"].as_i64().unwrap();
        if code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code, 200);
}

fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "bandmate-test-boundary-7d93";
    let mut b = Vec::new();
    for (name, filename, data) in fields {
        b.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => b.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: audio/wav\r\n\r\n").as_bytes(),
            ),
            None => b.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), b)
}

#[tokio::test]
async fn uploads_and_downloads_with_ranges() {
    let files = FileServer::start().await;
    let s = spawn(|_| {}, band()).await;
    let wav = vocal_wav();

    // Multipart stream upload; the file comes before uploadPath.
    let (ct, mp) = multipart(&[
        ("file", Some("my take.wav"), &wav),
        ("uploadPath", None, b"vocals/2026"),
    ]);
    let r: Value = s
        .http
        .post(format!("{}/api/file-stream-upload", s.base))
        .bearer_auth(&s.key)
        .header("content-type", ct)
        .body(mp)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["code"], 200);
    assert_eq!(r["msg"], "File uploaded successfully");
    let d = &r["data"];
    assert_eq!(d["fileName"], "my-take.wav");
    assert_eq!(d["filePath"], "vocals/2026/my-take.wav");
    assert_eq!(d["fileSize"], wav.len());
    assert_eq!(d["mimeType"], "audio/wav");
    assert!(d["uploadedAt"].as_str().unwrap().ends_with('Z'));
    let url = d["downloadUrl"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/files/", s.base)), "{url}");
    let got = s.http.get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["accept-ranges"], "bytes");
    assert_eq!(got.bytes().await.unwrap().as_ref(), wav.as_slice());

    // Ranges: a middle slice, a suffix, and one past the end.
    let r = s
        .http
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 100-199/{}", wav.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &wav[100..200]);
    let r = s
        .http
        .get(&url)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &wav[wav.len() - 10..]);
    let r = s
        .http
        .get(&url)
        .header("range", format!("bytes={}-", wav.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{}", wav.len())
    );

    // Base64, as a data URL; reusing the name overwrites in place (same URL, new bytes).
    let small = &wav[..2000];
    let b64 = base64::engine::general_purpose::STANDARD.encode(small);
    let r = s
        .post(
            "/api/file-base64-upload",
            &s.key,
            &json!({"base64Data": format!("data:audio/wav;base64,{b64}"), "uploadPath": "vocals/2026", "fileName": "my take.wav"}),
        )
        .await;
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["data"]["downloadUrl"], url.as_str());
    assert_eq!(r["data"]["fileSize"], 2000);
    let got = s.download(&url).await;
    assert_eq!(got.as_ref(), small);

    // By URL, from the local file server (allow-listed).
    let src = files.put("take.wav", "audio/wav", wav.clone());
    let r = s
        .post(
            "/api/file-url-upload",
            &s.key,
            &json!({"fileUrl": src, "uploadPath": "vocals"}),
        )
        .await;
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["data"]["fileName"], "take.wav");
    let u = r["data"]["downloadUrl"].as_str().unwrap();
    assert_eq!(s.download(u).await.len(), wav.len());

    // Errors keep the upload shape.
    let r = s
        .post(
            "/api/file-url-upload",
            &s.key,
            &json!({"fileUrl": "http://169.254.169.254/latest", "uploadPath": "x"}),
        )
        .await;
    assert_eq!(
        r,
        json!({"success": false, "code": 400, "data": null,
               "msg": "fileUrl could not be retrieved: 169.254.169.254 is a metadata address, which is not allowed"})
    );
    let r = s
        .post(
            "/api/file-base64-upload",
            &s.key,
            &json!({"base64Data": b64}),
        )
        .await;
    assert_eq!(
        r,
        json!({"success": false, "code": 400, "msg": "uploadPath is required", "data": null})
    );
    let r = s.post("/api/file-base64-upload", "bad", &json!({})).await;
    assert_eq!(
        r,
        json!({"success": false, "code": 401, "msg": "You do not have access permissions", "data": null})
    );
    let r: Value = s
        .http
        .get(format!("{}/api/file-stream-upload", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["code"], 405);
    assert_eq!(
        s.http
            .get(format!(
                "{}/files/0123456789abcdef0123456789abcdef/x.wav",
                s.base
            ))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn uploads_expire_with_retention() {
    let s = spawn(|c| c.retention.uploads_hours = 1e-9, band()).await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(b"RIFF0000WAVE");
    let r = s
        .post(
            "/api/file-base64-upload",
            &s.key,
            &json!({"base64Data": b64, "uploadPath": "v", "fileName": "a.wav"}),
        )
        .await;
    let url = r["data"]["downloadUrl"].as_str().unwrap().to_string();
    let (removed, _) = bandmate_server::worker::sweep_once(s.app()).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(s.http.get(&url).send().await.unwrap().status(), 404);
    let left = std::fs::read_dir(s.dir.path().join("uploads")).map_or(0, |d| d.count());
    assert_eq!(left, 0, "the file is gone from disk too");
}

#[tokio::test]
async fn concurrent_submissions_are_all_stored_once() {
    let s = spawn(
        |c| {
            c.credits.task_cost = 1;
            c.workers.count = -1;
        },
        band(),
    )
    .await;
    let mut keys = Vec::new();
    for _ in 0..4 {
        keys.push(s.new_key(1000, Some(1000), None).await);
    }
    let b = body(
        "https://example.invalid/a.mp3",
        "https://example.invalid/cb",
    );
    let mut joins = Vec::new();
    for i in 0..200 {
        let key = keys[i % keys.len()].clone();
        let http = s.http.clone();
        let url = format!("{}{SUBMIT}", s.base);
        let b = b.to_string();
        joins.push(tokio::spawn(async move {
            let r: Value = http
                .post(url)
                .bearer_auth(key)
                .body(b)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["data"]["taskId"].as_str().unwrap().to_string()
        }));
    }
    let mut ids = HashSet::new();
    for j in joins {
        assert!(ids.insert(j.await.unwrap()), "task ids are unique");
    }
    assert_eq!(ids.len(), 200);
    for k in &keys {
        assert_eq!(s.get("/api/v1/chat/credit", k).await["data"], 950);
    }
    let counts = s.app().store.status_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![("generate".to_string(), "PENDING".to_string(), 200)]
    );
    assert_eq!(
        s.app()
            .store
            .queue_depth(bandmate_server::now_ms())
            .await
            .unwrap(),
        200
    );
}

#[tokio::test]
async fn service_endpoints() {
    let s = spawn(|_| {}, band()).await;
    let h = s.get_public("/healthz").await;
    assert_eq!(h["status"], "ok");
    let doc = s.get_public("/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    for p in [
        "/api/v1/generate/add-instrumental",
        "/api/v1/generate/record-info",
        "/api/v1/chat/credit",
        "/api/v1/wav/generate",
        "/api/v1/wav/record-info",
        "/api/file-stream-upload",
        "/api/file-base64-upload",
        "/api/file-url-upload",
        "/files/{id}/{name}",
        "/files/{id}",
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/player/callback",
        "/",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} is described");
    }
    s.submit(&s.key, &json!({})).await;
    let m = s.page("/metrics").await;
    assert!(m.contains("bandmate_queue_depth "), "{m}");
    assert!(
        m.contains("bandmate_submissions_total{code=\"422\"} 1"),
        "{m}"
    );
    let page = s.page("/").await;
    assert!(page.contains("<title>Bandmate</title>"));
    let r: Value = s
        .http
        .get(format!("{}/api/v1/nope", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r, json!({"code": 404, "msg": "Not Found", "data": null}));
}

/// `value` against a JSON Schema of the subset `/openapi.json` uses (`$ref` into
/// `components/schemas`, `oneOf`, `type`, `enum`, `required`, `properties`, `items`). Where
/// `properties` are listed the answer may carry no other field, so the document cannot fall
/// behind what is sent.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r
            .strip_prefix("#/components/schemas/")
            .ok_or_else(|| format!("{at}: odd $ref {r}"))?;
        let target = &doc["components"]["schemas"][name];
        if !target.is_object() {
            return Err(format!("{at}: $ref {r} names no schema"));
        }
        return conforms(doc, target, value, at);
    }
    if let Some(branches) = schema["oneOf"].as_array() {
        let fits = branches
            .iter()
            .filter(|b| conforms(doc, b, value, at).is_ok())
            .count();
        return if fits == 1 {
            Ok(())
        } else {
            Err(format!("{at}: {fits} oneOf branches fit {value}"))
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let type_of = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let type_ok = types.is_empty()
        || types.contains(&type_of)
        || (type_of == "integer" && types.contains(&"number"));
    if !type_ok {
        return Err(format!("{at}: {value} is not {types:?}"));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Value::Object(m) = value {
        for r in schema["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap_or_default();
            if !m.contains_key(r) {
                return Err(format!("{at}: {r} is required"));
            }
        }
        if let Some(props) = schema["properties"].as_object() {
            for (k, v) in m {
                let p = props
                    .get(k)
                    .ok_or_else(|| format!("{at}.{k}: not described"))?;
                conforms(doc, p, v, &format!("{at}.{k}"))?;
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            conforms(doc, item, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn openapi_describes_every_callback_as_sent() {
    use bandmate_server::records::{error_callback, stage_callback, wav_callback};
    let s = spawn(|_| {}, band()).await;
    let doc = s.get_public("/openapi.json").await;
    let task = "0123456789abcdef0123456789abcdef";
    let item = json!({"id": "6f1c0f6e-7d0a-4d0e-9d55-0b1f1f1f1f1f", "audio_url": "http://x/a.mp3"});
    // The bodies the worker really sends, per endpoint that takes a callBackUrl.
    let sent: Vec<(&str, Vec<Value>)> = vec![
        (
            "/api/v1/generate/add-instrumental",
            vec![
                stage_callback("text", task, vec![], Some(json!({"key": "C major"}))),
                stage_callback("first", task, vec![item.clone()], None),
                stage_callback("complete", task, vec![item.clone(), item], None),
                error_callback(451, "uploadUrl could not be retrieved: …", task),
            ],
        ),
        (
            "/api/v1/wav/generate",
            vec![
                wav_callback(200, "success", task, Some("http://x/files/1/a-1.wav")),
                wav_callback(500, "internal error: …", task, None),
            ],
        ),
    ];
    // Every operation whose request has a callBackUrl describes what it sends there.
    let mut with_callbacks = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let mut req = op["requestBody"]["content"]["application/json"]["schema"].clone();
            if let Some(r) = req["$ref"].as_str() {
                let name = r.trim_start_matches("#/components/schemas/");
                req = doc["components"]["schemas"][name].clone();
            }
            if !req["properties"]["callBackUrl"].is_object() {
                continue;
            }
            with_callbacks.push(path.as_str());
            let cbs = op["callbacks"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} takes a callBackUrl: no callbacks"));
            let (_, bodies) = sent
                .iter()
                .find(|(p, _)| p == path)
                .unwrap_or_else(|| panic!("{path}: add the bodies it sends to this test"));
            for (name, cb) in cbs {
                let schema = &cb["{$request.body#/callBackUrl}"]["post"]["requestBody"]["content"]
                    ["application/json"]["schema"];
                for b in bodies {
                    if let Err(e) = conforms(&doc, schema, b, name) {
                        panic!("{path} callback {name}: {e}");
                    }
                }
            }
        }
    }
    with_callbacks.sort_unstable();
    assert_eq!(
        with_callbacks,
        ["/api/v1/generate/add-instrumental", "/api/v1/wav/generate"]
    );
    // `Callback` covers every body sent to a callBackUrl, each by exactly one branch.
    let any = json!({"$ref": "#/components/schemas/Callback"});
    for (path, bodies) in &sent {
        for b in bodies {
            if let Err(e) = conforms(&doc, &any, b, "Callback") {
                panic!("{path}: {e}");
            }
        }
    }
    // And the checker itself refuses what it should.
    let wav = json!({"$ref": "#/components/schemas/WavCallback"});
    assert!(conforms(&doc, &wav, &stage_callback("first", task, vec![], None), "").is_err());
    let renamed =
        json!({"code": 200, "msg": "success", "data": {"task_id": task, "audio_wav_url": "x"}});
    assert!(conforms(&doc, &any, &renamed, "").is_err());
}

#[tokio::test]
async fn status_can_mirror_the_envelope_code() {
    let s = spawn(|c| c.server.mirror_status = true, band()).await;
    let r = s
        .http
        .get(format!("{}/api/v1/chat/credit", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .http
        .get(format!("{}/api/v1/chat/credit", s.base))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
