//! Tasks are never lost: restarts in the middle of a task, panics in the pipeline, bounded
//! retries. These need a pipeline that is slow, panics or counts on demand ([`FakeBand`]);
//! the flow itself is exercised with the real engine in `flow.rs`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn stages_results_and_wav_with_a_counted_pipeline() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    let band = FakeBand::new(Duration::from_millis(300));
    let s = spawn(|_| {}, Some(band.clone())).await;
    let vocal = files.put("take.wav", "audio/wav", vocal_wav());
    let task = s.submit_task(&s.key, &body(&vocal, &cb.url("fake"))).await;
    // The stages appear in order while the task runs.
    let d = s
        .wait_record(&s.key, &task, Duration::from_secs(30), |d| {
            d["status"] == "FIRST_SUCCESS"
        })
        .await;
    let items = d["response"]["sunoData"].as_array().unwrap();
    assert_eq!(
        items.len(),
        2,
        "the second track is listed, not yet rendered"
    );
    assert!(items[0]["audioUrl"].as_str().unwrap().starts_with("http"));
    assert_eq!(items[1]["audioUrl"], "");
    assert!(items[1]["duration"].is_null());
    assert_eq!(d["plan"]["key"], "C major");
    let d = s.wait_terminal(&s.key, &task).await;
    assert_eq!(d["status"], "SUCCESS");
    let items = d["response"]["sunoData"].as_array().unwrap();
    assert_eq!(items[1]["variation"], 2);
    assert_eq!(items[1]["stems"].as_array().unwrap().len(), 2);
    assert_eq!(*band.renders.lock().unwrap(), vec![1, 2]);
    let got = cb.wait_for(&task, 3).await;
    assert_eq!(
        got[0].body["data"]["plan"]["tempo"], 120.0,
        "the text callback carries the plan"
    );
    assert_eq!(got[2].body["msg"], "All generated successfully.");
    // The stems ZIP is a ZIP.
    let z = s.download(items[0]["stemsUrl"].as_str().unwrap()).await;
    assert_zip(&z, items[0]["stems"].as_array().unwrap().len());
    // A WAV of track 1: PENDING → SUCCESS, then 409 for the same track; the track shows it.
    let audio_id = items[0]["id"].as_str().unwrap();
    let req = json!({"taskId": task, "audioId": audio_id, "callBackUrl": cb.url("wav")});
    let w = s.post("/api/v1/wav/generate", &s.key, &req).await;
    assert_eq!(w["code"], 200, "{w}");
    let wav_task = w["data"]["taskId"].as_str().unwrap().to_string();
    let dup = s.post("/api/v1/wav/generate", &s.key, &req).await;
    assert_eq!(
        dup,
        json!({"code": 409, "msg": "WAV record already exists", "data": null})
    );
    let wcb = cb.wait_for(&wav_task, 1).await;
    let rec = s
        .get(
            &format!("/api/v1/wav/record-info?taskId={wav_task}"),
            &s.key,
        )
        .await;
    assert_eq!(rec["data"]["successFlag"], "SUCCESS", "{rec}");
    assert_eq!(rec["data"]["musicIndex"], 0);
    let wav_url = rec["data"]["response"]["audioWavUrl"].as_str().unwrap();
    assert_eq!(
        wcb[0].body,
        json!({"code": 200, "msg": "success", "data": {"task_id": wav_task, "audioWavUrl": wav_url}})
    );
    let wav = s.download(wav_url).await;
    assert_eq!(&wav[..4], b"RIFF");
    let d = s.record(&s.key, &task).await;
    assert_eq!(d["data"]["response"]["sunoData"][0]["wavUrl"], wav_url);
    assert_eq!(
        s.get(
            &format!("/api/v1/generate/record-info?taskId={wav_task}"),
            &s.key
        )
        .await["msg"],
        "recordInfo is null",
        "a WAV task is not a generation record"
    );
    // Metrics saw the stages.
    let m = s.page("/metrics").await;
    assert!(
        m.contains("bandmate_stage_duration_seconds_count{stage=\"complete\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("bandmate_tasks{kind=\"generate\",status=\"SUCCESS\"} 1"),
        "{m}"
    );
}

/// Kill `first` and start a new process with `band` on its data directory (1 s leases, so
/// the killed process's lease runs out soon); returns it and the task's record (read with the
/// key `first` handed out) once it has succeeded.
async fn resume_to_success(
    mut first: TestServer,
    band: Arc<FakeBand>,
    task: &str,
) -> (TestServer, Value) {
    let key = first.key.clone();
    first.kill();
    let second = spawn_in(first.dir.clone(), |c| c.workers.lease_s = 1.0, Some(band)).await;
    let d = second.wait_terminal(&key, task).await;
    assert_eq!(d["status"], "SUCCESS", "{d}");
    (second, d)
}

#[tokio::test]
async fn a_killed_server_resumes_the_task_where_it_stopped() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    let slow = FakeBand::new(Duration::from_millis(1500));
    // A long lease: only knowing the first process is dead lets the second resume at once.
    let first = spawn(|c| c.workers.lease_s = 60.0, Some(slow.clone())).await;
    let vocal = files.put("take.wav", "audio/wav", vocal_wav());
    let task = first
        .submit_task(&first.key, &body(&vocal, &cb.url("restart")))
        .await;
    let before = first
        .wait_record(&first.key, &task, Duration::from_secs(30), |d| {
            d["status"] == "FIRST_SUCCESS"
        })
        .await;
    let track1 = before["response"]["sunoData"][0].clone();
    let old_base = first.base.clone();

    // The same data directory, a new process: the lease expires and the task resumes.
    let fast = FakeBand::new(Duration::ZERO);
    let (second, d) = resume_to_success(first, fast.clone(), &task).await;
    let tracks = d["response"]["sunoData"].as_array().unwrap();
    // Same track, same files (the new process listens on another port).
    let track1: Value =
        serde_json::from_str(&track1.to_string().replace(&old_base, &second.base)).unwrap();
    assert_eq!(
        tracks[0], track1,
        "the finished variation is kept as it was"
    );
    assert_eq!(
        *fast.renders.lock().unwrap(),
        vec![2],
        "only the missing variation is rendered"
    );
    let got = cb.wait_for(&task, 3).await;
    let kinds = callback_kinds(&got);
    assert_eq!(
        kinds,
        ["text", "first", "complete"],
        "each stage reported once"
    );
    let t = second.app().store.task(&task, None).await.unwrap().unwrap();
    assert_eq!(t.attempts, 2);
}

#[tokio::test]
async fn a_first_song_delivered_before_its_stems_gets_them_after_a_restart() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    // Variation 1's stems call outlasts the test: the process dies after FIRST_SUCCESS,
    // before the stems are attached.
    let stuck = FakeBand::deferring(Duration::ZERO, Duration::from_secs(600));
    let first = spawn(|c| c.workers.lease_s = 60.0, Some(stuck.clone())).await;
    let input = vocal_wav();
    let vocal = files.put("take.wav", "audio/wav", input.clone());
    let task = first
        .submit_task(&first.key, &body(&vocal, &cb.url("stems-restart")))
        .await;
    let got = cb.wait_for(&task, 2).await;
    assert_eq!(got[1].body["data"]["callbackType"], "first");
    let item = &got[1].body["data"]["data"][0];
    assert_eq!(
        item["stems_url"], "",
        "the first song goes out before its stems: {item}"
    );
    assert_eq!(item["stems"], json!([]), "{item}");
    let start = std::time::Instant::now();
    while *stuck.stem_renders.lock().unwrap() != vec![1] {
        assert!(start.elapsed() < Duration::from_secs(30), "no stems call");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = first.record(&first.key, &task).await["data"].clone();
    assert_eq!(before["status"], "FIRST_SUCCESS", "{before}");
    let track1 = before["response"]["sunoData"][0].clone();
    assert_eq!(track1["stemsUrl"], "", "{track1}");
    assert_eq!(track1["stems"], json!([]), "{track1}");
    let old_base = first.base.clone();

    let fast = FakeBand::deferring(Duration::ZERO, Duration::ZERO);
    let (second, d) = resume_to_success(first, fast.clone(), &task).await;
    let tracks = d["response"]["sunoData"].as_array().unwrap();
    // Track 1 is the one delivered, same id and song file, now with its stems.
    assert_eq!(tracks[0]["id"], track1["id"]);
    let song_url = track1["audioUrl"]
        .as_str()
        .unwrap()
        .replace(&old_base, &second.base);
    assert_eq!(tracks[0]["audioUrl"], song_url.as_str());
    let song = second.http.get(&song_url).send().await.unwrap();
    assert_eq!(song.bytes().await.unwrap().as_ref(), input.as_slice());
    for t in tracks {
        let stems = t["stems"].as_array().unwrap();
        assert_eq!(stems.len(), 2, "{t}");
        for stem in stems {
            let u = stem["url"].as_str().unwrap();
            assert_eq!(second.http.get(u).send().await.unwrap().status(), 200);
        }
        let z = second.download(t["stemsUrl"].as_str().unwrap()).await;
        assert_zip(&z, 2);
    }
    assert_eq!(
        *fast.renders.lock().unwrap(),
        vec![1, 2],
        "variation 1 rendered again for its stems"
    );
    assert_eq!(*fast.stem_renders.lock().unwrap(), vec![1, 2]);
    let got = cb.wait_for(&task, 3).await;
    let kinds = callback_kinds(&got);
    assert_eq!(
        kinds,
        ["text", "first", "complete"],
        "each stage reported once"
    );
    for item in got[2].body["data"]["data"].as_array().unwrap() {
        assert_eq!(item["stems"].as_array().unwrap().len(), 2, "{item}");
        assert_ne!(item["stems_url"], "", "{item}");
    }
}

#[tokio::test]
async fn a_graceful_stop_gives_the_lease_back() {
    let files = FileServer::start().await;
    let slow = FakeBand::new(Duration::from_millis(800));
    let mut first = spawn(|c| c.workers.lease_s = 30.0, Some(slow)).await;
    let vocal = files.put("take.wav", "audio/wav", vocal_wav());
    let task = first
        .submit_task(&first.key, &body(&vocal, "https://example.invalid/cb"))
        .await;
    first
        .wait_record(&first.key, &task, Duration::from_secs(30), |d| {
            d["status"] == "TEXT_SUCCESS"
        })
        .await;
    let key = first.key.clone();
    first.stop().await;
    // With a 30 s lease, only a released lease lets the new process start at once.
    let second = spawn_in(
        first.dir.clone(),
        |c| c.workers.lease_s = 30.0,
        Some(FakeBand::new(Duration::ZERO)),
    )
    .await;
    let d = second
        .wait_record(&key, &task, Duration::from_secs(10), |d| {
            d["status"] == "SUCCESS"
        })
        .await;
    assert_eq!(d["status"], "SUCCESS");
    let t = second.app().store.task(&task, None).await.unwrap().unwrap();
    assert_eq!(t.attempts, 1, "the interrupted claim did not count");
}

#[tokio::test]
async fn retries_are_bounded() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    let mut first = spawn(
        |c| {
            c.workers.lease_s = 1.0;
            c.workers.max_attempts = 1;
        },
        Some(FakeBand::new(Duration::from_secs(5))),
    )
    .await;
    let vocal = files.put("take.wav", "audio/wav", vocal_wav());
    let task = first
        .submit_task(&first.key, &body(&vocal, &cb.url("bounded")))
        .await;
    first
        .wait_record(&first.key, &task, Duration::from_secs(30), |d| {
            d["status"] == "TEXT_SUCCESS"
        })
        .await;
    let key = first.key.clone();
    first.kill();
    let second = spawn_in(
        first.dir.clone(),
        |c| {
            c.workers.lease_s = 1.0;
            c.workers.max_attempts = 1;
        },
        Some(FakeBand::new(Duration::ZERO)),
    )
    .await;
    let d = second.wait_terminal(&key, &task).await;
    let msg =
        "internal error: the task was interrupted 1 times (worker crashes or restarts); giving up";
    assert_eq!(d["status"], "GENERATE_AUDIO_FAILED");
    assert_eq!(d["errorCode"], 500);
    assert_eq!(d["errorMessage"], msg);
    let got = cb.wait_for(&task, 2).await;
    assert_eq!(
        got[1].body,
        json!({"code": 500, "msg": msg, "data": {"callbackType": "error", "task_id": task, "data": null}})
    );
}

#[tokio::test]
async fn a_panic_fails_that_task_only() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    let s = spawn(|_| {}, Some(FakeBand::panicking())).await;
    let vocal = files.put("take.wav", "audio/wav", vocal_wav());
    let task = s.submit_task(&s.key, &body(&vocal, &cb.url("panic"))).await;
    let d = s.wait_terminal(&s.key, &task).await;
    let msg = "internal error: the engine crashed (the fake band fell over)";
    assert_eq!(d["status"], "GENERATE_AUDIO_FAILED");
    assert_eq!(
        (d["errorCode"].clone(), d["errorMessage"].clone()),
        (json!(500), json!(msg))
    );
    let got = cb.wait_for(&task, 2).await;
    assert_eq!(got[0].body["data"]["callbackType"], "text");
    assert_eq!(got[1].body["msg"], msg);
    // The server and its workers carry on.
    let again = s.submit(&s.key, &body(&vocal, &cb.url("panic"))).await;
    let t2 = again["data"]["taskId"].as_str().unwrap();
    let d2: Value = s.wait_terminal(&s.key, t2).await;
    assert_eq!(d2["status"], "GENERATE_AUDIO_FAILED");
    let h = s
        .http
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
}

#[tokio::test]
async fn retention_removes_media_and_records() {
    let files = FileServer::start().await;
    let cb = Receiver::start().await;
    let s = spawn(
        |c| {
            c.retention.media_hours = 1e-9;
            c.retention.records_hours = 1e-9;
        },
        Some(FakeBand::new(Duration::ZERO)),
    )
    .await;
    let vocal = files.put("take.wav", "audio/wav", vocal_wav());
    let task = s
        .submit_task(&s.key, &body(&vocal, &cb.url("retention")))
        .await;
    let d = s.wait_terminal(&s.key, &task).await;
    assert_eq!(d["status"], "SUCCESS");
    let song = d["response"]["sunoData"][0]["audioUrl"]
        .as_str()
        .unwrap()
        .to_string();
    // Expired media answer 404 even before the sweeper runs.
    assert_eq!(s.http.get(&song).send().await.unwrap().status(), 404);
    cb.wait_for(&task, 3).await;
    // A record stays while a callback of it is pending; once the outbox recorded the
    // deliveries, the sweep removes it.
    let start = std::time::Instant::now();
    let mut files_removed = 0;
    loop {
        let (f, t) = bandmate_server::worker::sweep_once(s.app()).await.unwrap();
        files_removed += f;
        if t == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the record was swept"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        files_removed >= 6,
        "input, song, instrumental, MIDI, cover, stems: {files_removed}"
    );
    assert_eq!(s.record(&s.key, &task).await["msg"], "recordInfo is null");
    let media = s.dir.path().join("media");
    let left = std::fs::read_dir(&media).map_or(0, |d| d.count());
    assert_eq!(left, 0, "no file of the task is left on disk");
}
