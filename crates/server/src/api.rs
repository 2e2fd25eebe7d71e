//! The HTTP API (axum): routes, authentication, and every handler.
//!
//! Order of checks on a submission: authentication (401) → maintenance (455) → validation
//! (422) → rate limit (429: only well-formed submissions count, and a rejected one is not
//! queued) → credits (402, taken atomically with the task insert) → stored, workers woken.
//!
//! Routes: see [`router`]; `/openapi.json` describes them all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::envelope::{ApiError, EnvelopeCode, UploadError, ok, upload_ok};
use crate::store::{FileRecord, KeyRecord, NewTask, SubmitError, TaskKind};
use crate::validate::{self, AddInstrumental};
use crate::{App, files, keys, now_ms, openapi, player, records};

/// The message of a 455 answer.
pub const MAINTENANCE_MSG: &str =
    "The system is currently undergoing maintenance, please try again later";

/// All routes.
pub fn router(app: Arc<App>) -> Router {
    let json_limit = app.config.server.max_json_bytes;
    let b64_limit = (app.config.uploads.max_bytes as usize)
        .saturating_mul(4)
        .saturating_div(3)
        .saturating_add(64 * 1024);
    Router::new()
        .route("/", get(player::index))
        .route("/player.js", get(player::script))
        .route("/player.css", get(player::style))
        .route("/player/callback", post(|| async { ok(Value::Null) }))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::handler))
        .route(
            "/api/v1/generate/add-instrumental",
            post(submit)
                .layer(DefaultBodyLimit::max(json_limit))
                .fallback(wrong_method::<ApiError>),
        )
        .route(
            "/api/v1/generate/record-info",
            get(record_info).fallback(wrong_method::<ApiError>),
        )
        .route(
            "/api/v1/chat/credit",
            get(credit).fallback(wrong_method::<ApiError>),
        )
        .route(
            "/api/v1/wav/generate",
            post(wav_generate)
                .layer(DefaultBodyLimit::max(json_limit))
                .fallback(wrong_method::<ApiError>),
        )
        .route(
            "/api/v1/wav/record-info",
            get(wav_record_info).fallback(wrong_method::<ApiError>),
        )
        .route(
            "/api/file-stream-upload",
            post(upload_stream)
                .layer(DefaultBodyLimit::disable())
                .fallback(wrong_method::<UploadError>),
        )
        .route(
            "/api/file-base64-upload",
            post(upload_base64)
                .layer(DefaultBodyLimit::max(b64_limit))
                .fallback(wrong_method::<UploadError>),
        )
        .route(
            "/api/file-url-upload",
            post(upload_url)
                .layer(DefaultBodyLimit::max(json_limit))
                .fallback(wrong_method::<UploadError>),
        )
        .route("/files/{id}", get(download))
        .route("/files/{id}/{name}", get(download_named))
        .fallback(not_found)
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            mirror_status,
        ))
        .with_state(app)
}

async fn mirror_status(State(app): State<Arc<App>>, mut r: Response) -> Response {
    if app.config.server.mirror_status
        && let Some(EnvelopeCode(code)) = r.extensions().get::<EnvelopeCode>().copied()
        && let Ok(s) = StatusCode::from_u16(code)
    {
        *r.status_mut() = s;
    }
    r
}

/// A known `/api` path asked with a method it does not serve: code 405 in that path's answer
/// shape (`ApiError`: the `/api/v1` envelope; `UploadError`: the upload shape), HTTP 200
/// like every envelope answer (mirrored by `server.mirror_status`); axum adds the `Allow`
/// header.
async fn wrong_method<E: From<ApiError> + IntoResponse>() -> E {
    ApiError::new(405, "Method not allowed").into()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(404, "Not Found").into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}

/// The bearer token of a request.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Authenticate a request (401 when the key is missing, unknown or revoked).
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<KeyRecord, ApiError> {
    let token = bearer(headers).ok_or_else(ApiError::unauthorized)?;
    app.store
        .key_by_hash(&keys::hash_key(token))
        .await?
        .ok_or_else(ApiError::unauthorized)
}

fn body_or_422(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::validation("request body is too large")
        } else {
            ApiError::validation(format!("malformed request body: {e}"))
        }
    })
}

fn rate_limit(app: &App, key: &KeyRecord) -> Result<(), ApiError> {
    let limit = key.rate_limit.unwrap_or(app.config.rate_limit.submissions);
    let window = key.rate_window_s.unwrap_or(app.config.rate_limit.window_s);
    if app.limiter.try_acquire(
        &key.id,
        limit,
        Duration::from_secs_f64(window.max(0.001)),
        Instant::now(),
    ) {
        Ok(())
    } else {
        Err(ApiError::new(
            429,
            format!(
                "Rate limit exceeded: at most {limit} submissions per {window} s per key; please try again later"
            ),
        ))
    }
}

async fn submit(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = submit_inner(&app, &headers, body).await;
    let (code, resp) = match r {
        Ok(id) => (200, ok(json!({ "taskId": id }))),
        Err(e) => (e.code, e.into_response()),
    };
    app.metrics.submission(code);
    resp
}

async fn submit_inner(
    app: &App,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<String, ApiError> {
    let key = authenticate(app, headers).await?;
    if app.in_maintenance() {
        return Err(ApiError::new(455, MAINTENANCE_MSG));
    }
    let body = body_or_422(body)?;
    let req: AddInstrumental = validate::add_instrumental(&body, &app.guard, &app.base_url)?;
    rate_limit(app, &key)?;
    let id = keys::task_id();
    let task = NewTask {
        id: id.clone(),
        kind: TaskKind::Generate,
        key_id: key.id.clone(),
        param: String::from_utf8_lossy(&body).into_owned(),
        request: serde_json::to_string(&req).map_err(ApiError::internal)?,
        model: req.model.as_str().to_string(),
        callback_url: req.call_back_url.clone(),
        track_ids: vec![
            uuid::Uuid::new_v4().to_string(),
            uuid::Uuid::new_v4().to_string(),
        ],
        cost: app.config.credits.task_cost,
        parent_task_id: None,
        audio_id: None,
    };
    match app.store.submit(task, now_ms()).await {
        Ok(()) => {}
        Err(SubmitError::NoCredits) => {
            return Err(ApiError::new(
                402,
                format!(
                    "Insufficient credits: a task costs {} credits",
                    app.config.credits.task_cost
                ),
            ));
        }
        Err(SubmitError::Conflict) => return Err(ApiError::internal("task id collision")),
        Err(SubmitError::Store(e)) => return Err(e.into()),
    }
    app.wake_workers.notify_one();
    Ok(id)
}

fn task_id_param(q: &HashMap<String, String>) -> Result<&str, ApiError> {
    q.get("taskId")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::validation("taskId is required"))
}

async fn record_info(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let key = authenticate(&app, &headers).await?;
    let id = task_id_param(&q)?;
    let task = app
        .store
        .task(id, Some(&key.id))
        .await?
        .filter(|t| t.kind == TaskKind::Generate)
        .ok_or_else(ApiError::no_record)?;
    // No track can exist before the first variation is done.
    let tracks = if matches!(task.status.as_str(), "PENDING" | "TEXT_SUCCESS") {
        Vec::new()
    } else {
        app.store.tracks(&task.id).await?
    };
    let files = if tracks.is_empty() {
        Vec::new()
    } else {
        app.store.task_files(&task.id).await?
    };
    let req: Option<AddInstrumental> = serde_json::from_str(&task.request).ok();
    let (title, tags) = req
        .as_ref()
        .map(|r| (r.title.as_str(), r.tags.as_str()))
        .unwrap_or(("", ""));
    Ok(ok(records::record_info(
        &app.base_url,
        &task,
        &tracks,
        &files,
        title,
        tags,
    )))
}

async fn credit(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let key = authenticate(&app, &headers).await?;
    Ok(ok(json!(app.store.credits(&key.id).await?)))
}

async fn wav_generate(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = authenticate(&app, &headers).await?;
    if app.in_maintenance() {
        return Err(ApiError::new(455, MAINTENANCE_MSG));
    }
    let body = body_or_422(body)?;
    let req = validate::wav(&body, &app.guard, &app.base_url)?;
    let task = app
        .store
        .task(&req.task_id, Some(&key.id))
        .await?
        .filter(|t| t.kind == TaskKind::Generate)
        .ok_or_else(ApiError::no_record)?;
    let tracks = app.store.tracks(&task.id).await?;
    let Some(track) = tracks.iter().find(|t| t.id == req.audio_id) else {
        return Err(ApiError::validation(
            if !task.track_ids.contains(&req.audio_id) {
                "audioId is not a track of this task".to_string()
            } else if task.active {
                "audioId: the track is not finished yet".to_string()
            } else {
                // A failed task's tracks will never be made: "not yet" would invite polling.
                format!(
                    "audioId: the track was not made (the task ended with {})",
                    task.status
                )
            },
        ));
    };
    let id = keys::task_id();
    let new = NewTask {
        id: id.clone(),
        kind: TaskKind::Wav,
        key_id: key.id.clone(),
        param: String::from_utf8_lossy(&body).into_owned(),
        request: json!({"variation": track.variation}).to_string(),
        model: task.model.clone(),
        callback_url: req.call_back_url,
        track_ids: vec![],
        cost: app.config.credits.wav_cost,
        parent_task_id: Some(task.id.clone()),
        audio_id: Some(track.id.clone()),
    };
    match app.store.submit(new, now_ms()).await {
        Ok(()) => {}
        Err(SubmitError::Conflict) => return Err(ApiError::new(409, "WAV record already exists")),
        Err(SubmitError::NoCredits) => {
            return Err(ApiError::new(
                402,
                format!(
                    "Insufficient credits: a WAV costs {} credits",
                    app.config.credits.wav_cost
                ),
            ));
        }
        Err(SubmitError::Store(e)) => return Err(e.into()),
    }
    app.wake_workers.notify_one();
    Ok(ok(json!({ "taskId": id })))
}

async fn wav_record_info(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let key = authenticate(&app, &headers).await?;
    let id = task_id_param(&q)?;
    let task = app
        .store
        .task(id, Some(&key.id))
        .await?
        .filter(|t| t.kind == TaskKind::Wav)
        .ok_or_else(ApiError::no_record)?;
    let file = match &task.result_file_id {
        Some(f) => app.store.file(f).await?,
        None => None,
    };
    let variation = match &task.audio_id {
        Some(a) => app.store.track(a).await?.map(|t| t.variation),
        None => None,
    };
    Ok(ok(records::wav_record(
        &app.base_url,
        &task,
        file.as_ref(),
        variation,
    )))
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.store.queue_depth(now_ms()).await {
        Ok(depth) => axum::Json(json!({"status": "ok", "queueDepth": depth})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "error", "error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let counts = app.store.status_counts().await.unwrap_or_default();
    let depth = app.store.queue_depth(now_ms()).await.unwrap_or(-1);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(&counts, depth),
    )
        .into_response()
}

async fn download(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve_file(&app, &id, &q, &headers).await
}

async fn download_named(
    State(app): State<Arc<App>>,
    Path((id, _name)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve_file(&app, &id, &q, &headers).await
}

async fn serve_file(
    app: &App,
    id: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let rec = match app.store.file(id).await {
        Ok(Some(f)) if f.expires_at > now_ms() => f,
        Ok(_) => return (StatusCode::NOT_FOUND, "file not found").into_response(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let Some(path) = app.files.absolute(&rec.path) else {
        return (StatusCode::NOT_FOUND, "file not found").into_response();
    };
    let attachment = q.get("download").is_some_and(|v| v != "0");
    files::serve(&path, &rec.mime, &rec.name, attachment, headers).await
}

// --- uploads -----------------------------------------------------------------------------

fn upload_lifetime_ms(app: &App) -> i64 {
    (app.config.retention.uploads_hours * 3_600_000.0) as i64
}

/// Validate `uploadPath`: 1..=200 characters of letters, digits, `-`, `_`, `.` and `/`
/// separators, no `..` segment; leading and trailing slashes are dropped.
pub fn upload_path(raw: Option<&str>) -> Result<String, UploadError> {
    let raw = raw.map(str::trim).unwrap_or("");
    let p = raw.trim_matches('/');
    if p.is_empty() {
        return Err(UploadError::new(400, "uploadPath is required"));
    }
    let ok_chars = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    let ok_segments = p.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    if p.chars().count() > 200 || !ok_chars || !ok_segments {
        return Err(UploadError::new(
            400,
            "uploadPath must be 1 to 200 characters of letters, digits, '-', '_', '.' and '/' (no '..')",
        ));
    }
    Ok(p.to_string())
}

async fn upload_auth(app: &App, headers: &HeaderMap) -> Result<KeyRecord, UploadError> {
    let key = authenticate(app, headers).await?;
    if app.in_maintenance() {
        return Err(UploadError::new(455, MAINTENANCE_MSG));
    }
    Ok(key)
}

/// Where an upload will live: the existing record's id (a reused name overwrites) or a new
/// one.
async fn upload_slot(
    app: &App,
    key: &KeyRecord,
    path: &str,
    name: &str,
) -> Result<(String, String), UploadError> {
    let id = match app.store.upload(&key.id, path, name).await? {
        Some(f) => f.id,
        None => keys::random_hex(16),
    };
    let rel = format!("uploads/{id}");
    Ok((id, rel))
}

#[allow(clippy::too_many_arguments)] // one call per upload kind; a struct would only rename them
async fn finish_upload(
    app: &App,
    key: &KeyRecord,
    id: String,
    rel: String,
    path: String,
    name: String,
    mime: Option<String>,
    size: u64,
) -> Result<Response, UploadError> {
    let now = now_ms();
    let mime = mime
        .filter(|m| !m.is_empty() && m != "application/octet-stream")
        .unwrap_or_else(|| crate::fetch::mime_for_name(&name).to_string());
    let rec = app
        .store
        .put_file(FileRecord {
            id,
            key_id: key.id.clone(),
            task_id: None,
            kind: "upload".into(),
            name: name.clone(),
            mime: mime.clone(),
            size: size as i64,
            path: rel,
            upload_path: Some(path.clone()),
            created_at: now,
            expires_at: now + upload_lifetime_ms(app),
        })
        .await?;
    Ok(upload_ok(json!({
        "fileName": rec.name,
        "filePath": format!("{path}/{}", rec.name),
        "downloadUrl": records::file_url(&app.base_url, &rec.id, &rec.name),
        "fileSize": size,
        "mimeType": mime,
        "uploadedAt": records::iso8601(now),
        "expiresAt": records::iso8601(rec.expires_at),
    })))
}

fn too_large(app: &App) -> UploadError {
    UploadError::new(
        400,
        format!(
            "the file is too large (the limit is {})",
            crate::fetch::human_bytes(app.config.uploads.max_bytes)
        ),
    )
}

async fn upload_stream(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, UploadError> {
    let key = upload_auth(&app, &headers).await?;
    let mut mp =
        multipart.map_err(|_| UploadError::new(400, "the request must be multipart/form-data"))?;
    let mut upload_path_field: Option<String> = None;
    let mut file_name_field: Option<String> = None;
    // The file is streamed to a temporary name first (its final name may depend on fields
    // that come after it).
    let mut staged: Option<(std::path::PathBuf, String, Option<String>, u64)> = None;
    let tmp_rel = format!("uploads/incoming-{}", keys::random_hex(8));
    let result: Result<(), UploadError> = async {
        while let Some(mut field) = mp
            .next_field()
            .await
            .map_err(|e| UploadError::new(400, format!("malformed multipart body: {e}")))?
        {
            match field.name().unwrap_or("") {
                "uploadPath" => {
                    upload_path_field = Some(field.text().await.map_err(|e| {
                        UploadError::new(400, format!("malformed multipart body: {e}"))
                    })?)
                }
                "fileName" => {
                    file_name_field = Some(field.text().await.map_err(|e| {
                        UploadError::new(400, format!("malformed multipart body: {e}"))
                    })?)
                }
                "file" => {
                    let orig = field.file_name().unwrap_or("upload").to_string();
                    let mime = field.content_type().map(str::to_string);
                    let (tmp, _) = app
                        .files
                        .temp_for(&tmp_rel)
                        .await
                        .map_err(ApiError::internal)?;
                    let mut out = tokio::fs::File::create(&tmp)
                        .await
                        .map_err(ApiError::internal)?;
                    let mut size = 0u64;
                    staged = Some((tmp.clone(), orig, mime, 0));
                    while let Some(chunk) = field.chunk().await.map_err(|e| {
                        UploadError::new(400, format!("malformed multipart body: {e}"))
                    })? {
                        size += chunk.len() as u64;
                        if size > app.config.uploads.max_bytes {
                            return Err(too_large(&app));
                        }
                        out.write_all(&chunk).await.map_err(ApiError::internal)?;
                    }
                    out.flush().await.map_err(ApiError::internal)?;
                    if let Some(s) = staged.as_mut() {
                        s.3 = size;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
    .await;
    let cleanup = |staged: &Option<(std::path::PathBuf, String, Option<String>, u64)>| {
        if let Some((tmp, ..)) = staged {
            let _ = std::fs::remove_file(tmp);
        }
    };
    if let Err(e) = result {
        cleanup(&staged);
        return Err(e);
    }
    let path = match upload_path(upload_path_field.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            cleanup(&staged);
            return Err(e);
        }
    };
    let Some((tmp, orig, mime, size)) = staged.take() else {
        return Err(UploadError::new(400, "file is required"));
    };
    if size == 0 {
        let _ = std::fs::remove_file(&tmp);
        return Err(UploadError::new(400, "the file is empty"));
    }
    let name = files::safe_name(
        file_name_field
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(&orig),
    );
    let (id, rel) = upload_slot(&app, &key, &path, &name).await?;
    let dest = app
        .files
        .absolute(&rel)
        .ok_or_else(|| ApiError::internal("bad upload path"))?;
    if let Err(e) = tokio::fs::rename(&tmp, &dest).await {
        let _ = std::fs::remove_file(&tmp);
        return Err(ApiError::internal(e).into());
    }
    finish_upload(&app, &key, id, rel, path, name, mime, size).await
}

fn json_object(
    body: Result<Bytes, BytesRejection>,
    app: &App,
) -> Result<serde_json::Map<String, Value>, UploadError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(app)
        } else {
            UploadError::new(400, format!("malformed request body: {e}"))
        }
    })?;
    validate::parse_object(&body).map_err(|e| UploadError::new(400, e.msg))
}

fn string_field(
    m: &serde_json::Map<String, Value>,
    f: &str,
) -> Result<Option<String>, UploadError> {
    match m.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(UploadError::new(400, format!("{f} must be a string"))),
    }
}

async fn upload_base64(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, UploadError> {
    let key = upload_auth(&app, &headers).await?;
    let m = json_object(body, &app)?;
    let data = string_field(&m, "base64Data")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| UploadError::new(400, "base64Data is required"))?;
    let path = upload_path(string_field(&m, "uploadPath")?.as_deref())?;
    let (mime, payload) = match data.strip_prefix("data:") {
        Some(rest) => {
            let (meta, payload) = rest
                .split_once(',')
                .ok_or_else(|| UploadError::new(400, "base64Data is not a valid data URL"))?;
            let mime = meta.split(';').next().unwrap_or("").to_string();
            if !meta.ends_with(";base64") {
                return Err(UploadError::new(
                    400,
                    "base64Data data URL must be base64-encoded",
                ));
            }
            (Some(mime).filter(|m| !m.is_empty()), payload.to_string())
        }
        None => (None, data),
    };
    let clean: String = payload
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(clean.trim_end_matches('=').as_bytes())
        })
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(clean.trim_end_matches('=').as_bytes())
        })
        .map_err(|_| UploadError::new(400, "base64Data is not valid base64"))?;
    if bytes.is_empty() {
        return Err(UploadError::new(400, "the file is empty"));
    }
    if bytes.len() as u64 > app.config.uploads.max_bytes {
        return Err(too_large(&app));
    }
    let ext = mime
        .as_deref()
        .and_then(crate::fetch::extension_for_mime)
        .unwrap_or("bin");
    let name = files::safe_name(
        &string_field(&m, "fileName")?
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("upload-{}.{ext}", keys::random_hex(4))),
    );
    let (id, rel) = upload_slot(&app, &key, &path, &name).await?;
    app.files
        .write(&rel, &bytes)
        .await
        .map_err(ApiError::internal)?;
    finish_upload(&app, &key, id, rel, path, name, mime, bytes.len() as u64).await
}

async fn upload_url(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, UploadError> {
    let key = upload_auth(&app, &headers).await?;
    let m = json_object(body, &app)?;
    let url =
        validate::required_url(&m, "fileUrl", None).map_err(|e| UploadError::new(400, e.msg))?;
    let path = upload_path(string_field(&m, "uploadPath")?.as_deref())?;
    let fetched = app
        .fetcher
        .fetch("fileUrl", &url, app.config.uploads.max_bytes)
        .await
        .map_err(|e| UploadError::new(400, e.to_string()))?;
    if fetched.bytes.is_empty() {
        return Err(UploadError::new(400, "the file is empty"));
    }
    let name = files::safe_name(
        &string_field(&m, "fileName")?
            .filter(|s| !s.trim().is_empty())
            .or(fetched.file_name.clone())
            .unwrap_or_else(|| format!("upload-{}", keys::random_hex(4))),
    );
    let (id, rel) = upload_slot(&app, &key, &path, &name).await?;
    app.files
        .write(&rel, &fetched.bytes)
        .await
        .map_err(ApiError::internal)?;
    let size = fetched.bytes.len() as u64;
    finish_upload(&app, &key, id, rel, path, name, fetched.content_type, size).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn upload_paths() {
        assert_eq!(upload_path(Some("/vocals/2026/")).unwrap(), "vocals/2026");
        assert_eq!(upload_path(None).unwrap_err().msg, "uploadPath is required");
        assert!(upload_path(Some("a/../b")).is_err());
        assert!(upload_path(Some("a b")).is_err());
        assert!(upload_path(Some("a//b")).is_err());
    }
}
