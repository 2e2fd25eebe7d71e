//! The whole flow with the real engine: a vocal served by a local HTTP server, callbacks
//! received by another, every failure path with its exact status, code, message and callback.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use hmac::Mac;
use serde_json::{Value, json};

fn error_callback(code: u16, msg: &str, task: &str) -> Value {
    json!({"code": code, "msg": msg, "data": {"callbackType": "error", "task_id": task, "data": null}})
}

const SNAKE: [&str; 13] = [
    "id",
    "audio_url",
    "source_audio_url",
    "stream_audio_url",
    "source_stream_audio_url",
    "image_url",
    "source_image_url",
    "prompt",
    "model_name",
    "title",
    "tags",
    "createTime",
    "duration",
];

const CAMEL: [&str; 13] = [
    "id",
    "audioUrl",
    "sourceAudioUrl",
    "streamAudioUrl",
    "sourceStreamAudioUrl",
    "imageUrl",
    "sourceImageUrl",
    "prompt",
    "modelName",
    "title",
    "tags",
    "createTime",
    "duration",
];

#[tokio::test]
async fn a_vocal_becomes_two_songs_with_every_callback() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    let s = spawn(|_| {}, None).await;
    let secret = "whsec_flowtest";
    let key = s.new_key(100, None, Some(secret)).await;
    let vocal = files.put("take.wav", "audio/wav", vocal_wav());
    let task = s.submit_task(&key, &body(&vocal, &cb.url("flow"))).await;

    let d = s.wait_terminal(&key, &task).await;
    assert_eq!(d["status"], "SUCCESS", "{d}");
    assert_eq!(d["taskId"], task.as_str());
    assert_eq!(d["operationType"], "add_instrumental");
    assert_eq!(d["type"], "V4_5PLUS");
    assert_eq!(d["parentMusicId"], "");
    assert!(d["errorCode"].is_null() && d["errorMessage"].is_null());
    let param: Value = serde_json::from_str(d["param"].as_str().unwrap()).unwrap();
    assert_eq!(param["title"], "Morning Song");
    let tracks = d["response"]["sunoData"].as_array().unwrap();
    assert_eq!(tracks.len(), 2);
    for t in tracks {
        for f in CAMEL {
            assert!(t.get(f).is_some(), "{f} in {t}");
        }
        assert!(uuid::Uuid::parse_str(t["id"].as_str().unwrap()).is_ok());
        assert!(t["duration"].as_f64().unwrap() > 5.0);
        let song = s
            .http
            .get(t["audioUrl"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(song.headers()["content-type"], "audio/mpeg");
        let bytes = song.bytes().await.unwrap();
        assert!(
            bytes.starts_with(b"ID3") || (bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0),
            "an MP3"
        );
        let part = s
            .http
            .get(t["streamAudioUrl"].as_str().unwrap())
            .header("range", "bytes=0-99")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), 206);
        assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[..100]);
        for extra in ["instrumentalUrl", "midiUrl", "stemsUrl", "imageUrl"] {
            let u = t[extra].as_str().unwrap();
            assert_eq!(s.http.get(u).send().await.unwrap().status(), 200, "{extra}");
        }
    }
    assert_ne!(tracks[0]["id"], tracks[1]["id"]);

    // Callbacks: text, first, complete, in that order, snake_case items, signed.
    let got = cb.wait_for(&task, 3).await;
    let kinds = callback_kinds(&got);
    assert_eq!(kinds, ["text", "first", "complete"]);
    assert_eq!(got[0].body["data"]["data"], json!([]));
    assert_eq!(got[1].body["data"]["data"].as_array().unwrap().len(), 1);
    let items = got[2].body["data"]["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        for f in SNAKE {
            assert!(item.get(f).is_some(), "{f} in {item}");
        }
    }
    assert_eq!(items[0]["audio_url"], tracks[0]["audioUrl"]);
    for r in &got {
        assert_eq!(r.body["code"], 200);
        let ts = &r.headers["x-webhook-timestamp"];
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{task}.{ts}").as_bytes());
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(r.headers["x-webhook-signature"], want);
    }

    // The first song goes out before its stems; at the end both tracks carry theirs.
    let first_item = &got[1].body["data"]["data"][0];
    assert_eq!(first_item["stems_url"], "", "{first_item}");
    assert_eq!(first_item["stems"], json!([]), "{first_item}");
    for (item, t) in items.iter().zip(tracks) {
        let stems = t["stems"].as_array().unwrap();
        assert!(!stems.is_empty(), "{t}");
        assert_eq!(item["stems_url"], t["stemsUrl"]);
        assert_eq!(&item["stems"], &t["stems"]);
        let z = s.download(t["stemsUrl"].as_str().unwrap()).await;
        assert_zip(&z, stems.len());
    }
    let m = s.page("/metrics").await;
    let line = |name: &str| {
        m.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {m}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(
        line("bandmate_stage_duration_seconds_count{stage=\"stems\"}"),
        1.0,
        "variation 1's stems, after FIRST_SUCCESS"
    );
    eprintln!(
        "first: {:.2} s, stems after it: {:.2} s",
        line("bandmate_stage_duration_seconds_sum{stage=\"first\"}"),
        line("bandmate_stage_duration_seconds_sum{stage=\"stems\"}")
    );

    // WAV of track 2, then 409 for the same track.
    let audio_id = tracks[1]["id"].as_str().unwrap();
    let w = s
        .post(
            "/api/v1/wav/generate",
            &key,
            &json!({"taskId": task, "audioId": audio_id, "callBackUrl": cb.url("wav")}),
        )
        .await;
    assert_eq!(w["code"], 200, "{w}");
    let wav_task = w["data"]["taskId"].as_str().unwrap().to_string();
    let again = s
        .post(
            "/api/v1/wav/generate",
            &key,
            &json!({"taskId": task, "audioId": audio_id, "callBackUrl": cb.url("wav")}),
        )
        .await;
    assert_eq!(
        again,
        json!({"code": 409, "msg": "WAV record already exists", "data": null})
    );
    let mut rec = Value::Null;
    for _ in 0..600 {
        rec = s
            .get(&format!("/api/v1/wav/record-info?taskId={wav_task}"), &key)
            .await;
        if rec["data"]["successFlag"] != "PENDING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rec["data"]["successFlag"], "SUCCESS", "{rec}");
    assert_eq!(rec["data"]["musicId"], audio_id);
    let wav_url = rec["data"]["response"]["audioWavUrl"].as_str().unwrap();
    let wav = s.download(wav_url).await;
    assert_eq!(&wav[..4], b"RIFF");
    let wcb = cb.wait_for(&wav_task, 1).await;
    assert_eq!(wcb[0].body["data"]["audioWavUrl"], wav_url);
}

#[tokio::test]
async fn every_failure_path_has_its_code_message_and_callback() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    let s = spawn(
        |c| {
            c.fetch.max_bytes = 600_000;
            c.engine.max_seconds = 5.0;
        },
        None,
    )
    .await;
    let key = s.new_key(1000, Some(100), None).await;
    let limits = bandmate_audio::DecodeLimits {
        max_seconds: 5.0,
        max_bytes: 600_000,
        ..Default::default()
    };
    let big = vocal_wav();
    assert!(big.len() > 600_000);
    let long = bandmate_testkit::wav_bytes(
        &[bandmate_testkit::sine(440.0, 7.0, 8000, 0.5)],
        8000,
        bandmate_testkit::WavFormat::Int16,
    );
    let mut corrupt = b"RIFF\x24\x00\x10\x00WAVEfmt ".to_vec();
    corrupt.extend((0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let corrupt_msg = bandmate_audio::decode(&corrupt, Some("wav"), &limits)
        .unwrap_err()
        .to_string();
    let long_msg = bandmate_audio::decode(&long, Some("wav"), &limits)
        .unwrap_err()
        .to_string();
    assert!(long_msg.starts_with("the audio is too long"), "{long_msg}");

    let cases: Vec<(String, u16, String)> = vec![
        (
            files.set("missing.wav", Served::Status(404)),
            451,
            "uploadUrl could not be retrieved: the server answered 404 Not Found".into(),
        ),
        (
            files.put("page.html", "text/html; charset=utf-8", b"<!doctype html><p>hello".to_vec()),
            400,
            "the file is not audio: the server sent a web page (text/html)".into(),
        ),
        (files.put("corrupt.wav", "audio/wav", corrupt.clone()), 400, corrupt_msg),
        (
            files.put("big.wav", "audio/wav", big.clone()),
            400,
            format!(
                "the file is too large: {} (the limit is 600.0 kB)",
                bandmate_server::fetch::human_bytes(big.len() as u64)
            ),
        ),
        (files.put("long.wav", "audio/wav", long), 400, long_msg),
        (
            "http://169.254.169.254/latest/vocal.wav".into(),
            451,
            "uploadUrl could not be retrieved: 169.254.169.254 is a metadata address, which is not allowed".into(),
        ),
        (
            files.set("hop.wav", Served::Redirect("http://10.0.0.7/vocal.wav".into())),
            451,
            "uploadUrl could not be retrieved: 10.0.0.7 is a private address, which is not allowed".into(),
        ),
    ];
    let mut tasks = Vec::new();
    for (url, code, msg) in cases {
        let task = s.submit_task(&key, &body(&url, &cb.url("fail"))).await;
        tasks.push((task, code, msg));
    }
    for (task, code, msg) in &tasks {
        let d = s.wait_terminal(&key, task).await;
        assert_eq!(d["status"], "CREATE_TASK_FAILED", "{d}");
        assert_eq!(d["errorCode"], *code, "{d}");
        assert_eq!(d["errorMessage"], msg.as_str());
        assert!(d["response"].is_null());
        let got = cb.wait_for(task, 1).await;
        assert_eq!(got.len(), 1, "one error callback, no stage callback");
        assert_eq!(got[0].body, error_callback(*code, msg, task));
    }
    // Every failed task was refunded.
    assert_eq!(s.get("/api/v1/chat/credit", &key).await["data"], 1000);
}

#[tokio::test]
async fn a_receiver_that_stays_down_is_retried_then_given_up() {
    let files = FileServer::start().await;
    let s = spawn(|_| {}, None).await;
    let down = closed_port_url().await;
    let task = s
        .submit_task(
            &s.key,
            &body(&files.set("nope.wav", Served::Status(404)), &down),
        )
        .await;
    let d = s.wait_terminal(&s.key, &task).await;
    assert_eq!(d["status"], "CREATE_TASK_FAILED");
    // 1 attempt + 3 retries, then given up; the failure status is kept (CALLBACK_EXCEPTION is
    // only for finished generations).
    let start = std::time::Instant::now();
    while s.app().metrics.callback_count("failed") < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the delivery was given up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.app().metrics.callback_count("retry"), 3);
    assert_eq!(
        s.record(&s.key, &task).await["data"]["status"],
        "CREATE_TASK_FAILED"
    );
}

#[tokio::test]
async fn a_flaky_receiver_gets_the_callback_again() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    cb.fail_first(2);
    let s = spawn(|_| {}, None).await;
    let task = s
        .submit_task(
            &s.key,
            &body(
                &files.set("gone.wav", Served::Status(410)),
                &cb.url("flaky"),
            ),
        )
        .await;
    let got = cb.wait_for(&task, 3).await;
    let msg = "uploadUrl could not be retrieved: the server answered 410 Gone";
    for g in &got {
        assert_eq!(
            g.body,
            error_callback(451, msg, &task),
            "the same body each time"
        );
        assert!(
            !g.headers.contains_key("x-webhook-signature"),
            "unsigned without a secret"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        cb.for_task(&task).len(),
        3,
        "delivered on the third try, then no more"
    );
}

#[tokio::test]
async fn a_finished_task_whose_complete_callback_fails_is_callback_exception() {
    let files = FileServer::start().await;
    let s = spawn(|_| {}, None).await;
    let vocal = files.put("take.wav", "audio/wav", vocal_wav());
    let task = s
        .submit_task(&s.key, &body(&vocal, &closed_port_url().await))
        .await;
    let d = s
        .wait_record(&s.key, &task, Duration::from_secs(120), |d| {
            matches!(
                d["status"].as_str(),
                Some("CALLBACK_EXCEPTION" | "GENERATE_AUDIO_FAILED" | "CREATE_TASK_FAILED")
            )
        })
        .await;
    assert_eq!(d["status"], "CALLBACK_EXCEPTION", "{d}");
    // The results are not lost.
    assert_eq!(d["response"]["sunoData"].as_array().unwrap().len(), 2);
    let url = d["response"]["sunoData"][0]["audioUrl"].as_str().unwrap();
    assert_eq!(s.http.get(url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn without_stems_a_task_finishes_with_no_stem_files() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    let s = spawn(|c| c.engine.stems = false, None).await;
    let vocal = files.put("take.wav", "audio/wav", vocal_wav());
    let task = s
        .submit_task(&s.key, &body(&vocal, &cb.url("nostems")))
        .await;
    let d = s.wait_terminal(&s.key, &task).await;
    assert_eq!(d["status"], "SUCCESS", "{d}");
    let tracks = d["response"]["sunoData"].as_array().unwrap();
    assert_eq!(tracks.len(), 2);
    for t in tracks {
        assert_eq!(t["stemsUrl"], "", "{t}");
        assert_eq!(t["stems"], json!([]), "{t}");
        // Everything else is there and served.
        for field in ["audioUrl", "instrumentalUrl", "midiUrl", "imageUrl"] {
            let u = t[field].as_str().unwrap();
            assert_eq!(s.http.get(u).send().await.unwrap().status(), 200, "{field}");
        }
    }
    // No stem or ZIP was stored for the task.
    let stored = s.app().store.task_files(&task).await.unwrap();
    assert!(!stored.is_empty());
    assert!(
        stored.iter().all(|f| f.kind != "stem" && f.kind != "stems"),
        "{:?}",
        stored.iter().map(|f| &f.kind).collect::<Vec<_>>()
    );
    // The callbacks' tracks say the same.
    let got = cb.wait_for(&task, 3).await;
    for item in got[2].body["data"]["data"].as_array().unwrap() {
        assert_eq!(item["stems_url"], "", "{item}");
    }
}
