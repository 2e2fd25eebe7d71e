//! The shapes of answers and callbacks built from stored records: `record-info` (camelCase
//! tracks), callback items (snake_case, except `createTime`), the WAV record, and the upload
//! answer. Bandmate's additions are extra fields only (`instrumentalUrl`, `midiUrl`,
//! `stemsUrl`, `stems`, `plan`, `variation`, `loudnessLufs`, `truePeakDbtp`, `wavUrl`).

use serde_json::{Value, json};

use crate::store::{FileRecord, TaskRecord, TrackRecord};

/// Absolute download URL of a file.
pub fn file_url(base: &str, id: &str, name: &str) -> String {
    format!("{base}/files/{id}/{name}")
}

/// URLs of one track's files, resolved against the task's file list.
struct TrackUrls {
    song: String,
    instrumental: String,
    midi: String,
    cover: String,
    stems_zip: String,
    stems: Vec<Value>,
    wav: Option<String>,
}

fn urls(base: &str, t: &TrackRecord, files: &[FileRecord], wav: Option<&FileRecord>) -> TrackUrls {
    let url_of = |id: &str| {
        files
            .iter()
            .find(|f| f.id == id)
            .map(|f| file_url(base, &f.id, &f.name))
            .unwrap_or_default()
    };
    TrackUrls {
        song: url_of(&t.song_file),
        instrumental: url_of(&t.instrumental_file),
        midi: url_of(&t.midi_file),
        cover: url_of(&t.cover_file),
        stems_zip: url_of(&t.stems_file),
        stems: t
            .stems
            .iter()
            .map(|(name, id)| json!({"name": name, "url": url_of(id)}))
            .collect(),
        wav: wav.map(|f| file_url(base, &f.id, &f.name)),
    }
}

fn plan_value(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

/// A track as `record-info` shows it (camelCase).
pub fn track_camel(
    base: &str,
    t: &TrackRecord,
    files: &[FileRecord],
    wav: Option<&FileRecord>,
) -> Value {
    let u = urls(base, t, files, wav);
    json!({
        "id": t.id,
        "audioUrl": u.song,
        "sourceAudioUrl": u.song,
        "streamAudioUrl": u.song,
        "sourceStreamAudioUrl": u.song,
        "imageUrl": u.cover,
        "sourceImageUrl": u.cover,
        "prompt": t.prompt,
        "modelName": t.model_name,
        "title": t.title,
        "tags": t.tags,
        "createTime": t.created_at,
        "duration": t.duration,
        "variation": t.variation,
        "instrumentalUrl": u.instrumental,
        "midiUrl": u.midi,
        "stemsUrl": u.stems_zip,
        "stems": u.stems,
        "wavUrl": u.wav,
        "loudnessLufs": t.loudness_lufs,
        "truePeakDbtp": t.true_peak_dbtp,
        "plan": plan_value(&t.plan),
    })
}

/// A track as a callback item (snake_case, `createTime` as upstream spells it).
pub fn track_snake(base: &str, t: &TrackRecord, files: &[FileRecord]) -> Value {
    let u = urls(base, t, files, None);
    json!({
        "id": t.id,
        "audio_url": u.song,
        "source_audio_url": u.song,
        "stream_audio_url": u.song,
        "source_stream_audio_url": u.song,
        "image_url": u.cover,
        "source_image_url": u.cover,
        "prompt": t.prompt,
        "model_name": t.model_name,
        "title": t.title,
        "tags": t.tags,
        "createTime": t.created_at,
        "duration": t.duration,
        "variation": t.variation,
        "instrumental_url": u.instrumental,
        "midi_url": u.midi,
        "stems_url": u.stems_zip,
        "stems": u.stems,
        "plan": plan_value(&t.plan),
    })
}

/// A track that is not rendered yet, as upstream shows the second one at `FIRST_SUCCESS`.
pub fn pending_track_camel(
    id: &str,
    title: &str,
    tags: &str,
    model_name: &str,
    created: i64,
) -> Value {
    json!({
        "id": id,
        "audioUrl": "",
        "sourceAudioUrl": "",
        "streamAudioUrl": "",
        "sourceStreamAudioUrl": "",
        "imageUrl": "",
        "sourceImageUrl": "",
        "prompt": tags,
        "modelName": model_name,
        "title": title,
        "tags": tags,
        "createTime": created,
        "duration": null,
    })
}

/// The engine model name reported per track.
pub fn model_name(model: &str) -> String {
    format!("bandmate-{}", model.to_ascii_lowercase().replace('_', "-"))
}

/// `data` of `record-info`.
pub fn record_info(
    base: &str,
    task: &TaskRecord,
    tracks: &[TrackRecord],
    files: &[FileRecord],
    title: &str,
    tags: &str,
) -> Value {
    let response = if tracks.is_empty() {
        Value::Null
    } else {
        let mut items: Vec<Value> = Vec::new();
        for (i, id) in task.track_ids.iter().enumerate() {
            let variation = i as i64 + 1;
            match tracks.iter().find(|t| t.variation == variation) {
                Some(t) => {
                    let wav = files.iter().find(|f| {
                        f.kind == "wav" && f.name.ends_with(&format!("-{variation}.wav"))
                    });
                    items.push(track_camel(base, t, files, wav));
                }
                None => items.push(pending_track_camel(
                    id,
                    title,
                    tags,
                    &model_name(&task.model),
                    task.created_at,
                )),
            }
        }
        json!({"taskId": task.id, "sunoData": items})
    };
    let plan = task.plan.as_deref().map(plan_value).unwrap_or(Value::Null);
    json!({
        "taskId": task.id,
        "parentMusicId": "",
        "param": task.param,
        "response": response,
        "status": task.status,
        "type": task.model,
        "operationType": "add_instrumental",
        "errorCode": task.error_code,
        "errorMessage": task.error_message,
        "createTime": task.created_at,
        "plan": plan,
    })
}

/// `data` of the WAV `record-info`.
pub fn wav_record(
    base: &str,
    task: &TaskRecord,
    file: Option<&FileRecord>,
    variation: Option<i64>,
) -> Value {
    json!({
        "taskId": task.id,
        "musicId": task.audio_id,
        "musicIndex": variation.map(|v| v - 1),
        "callbackUrl": task.callback_url,
        "completeTime": task.completed_at,
        "response": file.map(|f| json!({"audioWavUrl": file_url(base, &f.id, &f.name)})),
        "successFlag": task.status,
        "createTime": task.created_at,
        "errorCode": task.error_code,
        "errorMessage": task.error_message,
    })
}

/// Stage callback bodies.
pub fn stage_callback(stage: &str, task_id: &str, items: Vec<Value>, plan: Option<Value>) -> Value {
    let msg = match stage {
        "text" => "Text generation completed successfully.",
        "first" => "First track generated successfully.",
        _ => "All generated successfully.",
    };
    let mut data = json!({"callbackType": stage, "task_id": task_id, "data": items});
    if let Some(p) = plan {
        data["plan"] = p;
    }
    json!({"code": 200, "msg": msg, "data": data})
}

/// The error callback body.
pub fn error_callback(code: u16, msg: &str, task_id: &str) -> Value {
    json!({"code": code, "msg": msg, "data": {"callbackType": "error", "task_id": task_id, "data": null}})
}

/// The WAV callback body (upstream's shape: `audioWavUrl` next to `task_id`).
pub fn wav_callback(code: u16, msg: &str, task_id: &str, url: Option<&str>) -> Value {
    json!({"code": code, "msg": msg, "data": {"task_id": task_id, "audioWavUrl": url}})
}

/// ISO 8601 UTC with milliseconds (`2026-11-24T08:13:00.000Z`) of epoch milliseconds.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm, public domain).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        tod / 3600,
        (tod % 3600) / 60,
        tod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso8601(1_795_508_000_000), "2026-11-24T08:13:20.000Z");
    }

    #[test]
    fn callback_shapes() {
        let e = error_callback(451, "uploadUrl could not be retrieved: x", "abc");
        assert_eq!(e["data"]["callbackType"], "error");
        assert_eq!(e["data"]["task_id"], "abc");
        assert!(e["data"]["data"].is_null());
        let t = stage_callback("text", "abc", vec![], Some(json!({"key": "C major"})));
        assert_eq!(t["code"], 200);
        assert_eq!(t["data"]["data"], json!([]));
        assert_eq!(t["data"]["plan"]["key"], "C major");
        assert_eq!(model_name("V4_5PLUS"), "bandmate-v4-5plus");
    }
}
