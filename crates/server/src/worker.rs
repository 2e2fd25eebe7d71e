//! Workers: claim a task with a lease, keep the lease alive with heartbeats, run the pipeline
//! on the blocking pool, and move the task forward one committed step at a time.
//!
//! A generation goes `PENDING → TEXT_SUCCESS → FIRST_SUCCESS → SUCCESS`; each step is one
//! store transaction holding the new state, the files and the callback that reports it. A task
//! whose worker died (killed process, lost lease) is claimed again after its lease expires and
//! resumes from what was committed: the stored input is reused, a finished first variation is
//! not rendered again (unless its stems were not attached yet: then it is rendered once more
//! for them alone). Variation 1's stems are made after `FIRST_SUCCESS` and attached to its
//! track, so the first song goes out without waiting for them; variation 2's come before
//! `SUCCESS`. Each claim counts as an attempt; past `workers.max_attempts` the task
//! fails for good (500) instead of crashing workers forever. A panic in the engine is caught
//! (tokio's blocking pool turns it into an error) and fails that task only.
//!
//! Failures map to statuses: the upload could not be fetched (451) or is not usable audio
//! (400) → `CREATE_TASK_FAILED`; internal (500) or generation (501) errors →
//! `GENERATE_AUDIO_FAILED`; any WAV failure → `GENERATE_WAV_FAILED`. Credits are refunded in
//! the same transaction.
//!
//! Also here: the retention sweeper and the maintenance-mode watcher.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::pipeline::{PendingStems, Prepared, StageError, Stems};
use crate::records;
use crate::store::{
    Advance, Failure, FileRecord, NewCallback, StoreError, TaskKind, TaskRecord, TrackRecord,
};
use crate::validate::AddInstrumental;
use crate::{App, files, keys, now_ms};

/// Why processing stopped before the end.
#[derive(Debug)]
enum Stop {
    /// A stage failed: the task fails with this code and message.
    Failed(StageError),
    /// Another worker owns the task now; write nothing more.
    LeaseLost,
    /// The store failed; leave the task to be claimed again.
    Store(StoreError),
}

impl From<StageError> for Stop {
    fn from(e: StageError) -> Self {
        Stop::Failed(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

fn internal(msg: impl Into<String>) -> StageError {
    StageError {
        code: 500,
        message: format!("internal error: {}", msg.into()),
    }
}

fn lease_ms(app: &App) -> i64 {
    (app.config.workers.lease_s * 1000.0) as i64
}

/// One worker loop (`index` names it in lease owners).
pub async fn run(app: Arc<App>, index: usize, mut shutdown: watch::Receiver<bool>) {
    let owner = format!("{}-w{index}", app.instance);
    let poll = Duration::from_millis(app.config.workers.poll_ms);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = now_ms();
        match app.store.claim(&owner, now, now + lease_ms(&app)).await {
            Ok(Some(task)) => {
                app.metrics.busy(1);
                run_claimed(&app, &owner, task, &mut shutdown).await;
                app.metrics.busy(-1);
            }
            Ok(None) => {
                tokio::select! {
                    _ = app.wake_workers.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::error!("claiming a task failed: {e}");
                tokio::time::sleep(poll).await;
            }
        }
    }
}

async fn run_claimed(
    app: &Arc<App>,
    owner: &str,
    task: TaskRecord,
    shutdown: &mut watch::Receiver<bool>,
) {
    let lost = AtomicBool::new(false);
    // The heartbeat runs inside this worker's own future (not a spawned task), so it stops
    // with it — a killed worker stops renewing its lease.
    let heartbeat = async {
        let every = Duration::from_secs_f64(app.config.workers.heartbeat_s);
        loop {
            tokio::time::sleep(every).await;
            match app
                .store
                .heartbeat(&task.id, owner, now_ms() + lease_ms(app))
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    lost.store(true, Ordering::SeqCst);
                    std::future::pending::<()>().await;
                }
                Err(e) => tracing::warn!("heartbeat of {} failed: {e}", task.id),
            }
        }
    };
    let outcome = tokio::select! {
        r = process(app, owner, &task, &lost) => Some(r),
        _ = heartbeat => None,
        _ = shutdown.wait_for(|v| *v) => None,
    };
    match outcome {
        None => {
            // Graceful shutdown: give the lease back so a restart resumes at once.
            if let Err(e) = app.store.release(&task.id, owner).await {
                tracing::warn!("releasing {} failed: {e}", task.id);
            }
        }
        Some(Ok(())) => {}
        Some(Err(Stop::LeaseLost)) => {
            tracing::warn!("task {}: lease lost, another worker continues it", task.id);
        }
        Some(Err(Stop::Store(e))) => {
            tracing::error!("task {}: store failed ({e}); it will be retried", task.id);
        }
        Some(Err(Stop::Failed(e))) => {
            fail(app, Some(owner), &task, e).await;
        }
    }
}

/// The terminal status for a failure of this task.
pub fn failure_status(kind: TaskKind, code: u16) -> &'static str {
    match (kind, code) {
        (TaskKind::Wav, _) => "GENERATE_WAV_FAILED",
        (TaskKind::Generate, 400 | 451) => "CREATE_TASK_FAILED",
        (TaskKind::Generate, _) => "GENERATE_AUDIO_FAILED",
    }
}

async fn fail(app: &App, owner: Option<&str>, task: &TaskRecord, e: StageError) {
    let status = failure_status(task.kind, e.code);
    let body = match task.kind {
        TaskKind::Generate => records::error_callback(e.code, &e.message, &task.id),
        TaskKind::Wav => records::wav_callback(e.code, &e.message, &task.id, None),
    };
    let failure = Failure {
        task_id: task.id.clone(),
        owner: owner.map(str::to_string),
        status: status.to_string(),
        code: i64::from(e.code),
        message: e.message.clone(),
        callback: Some(NewCallback {
            task_id: task.id.clone(),
            key_id: task.key_id.clone(),
            url: task.callback_url.clone(),
            stage: if task.kind == TaskKind::Wav {
                "wav"
            } else {
                "error"
            }
            .into(),
            body: body.to_string(),
        }),
    };
    match app.store.fail(failure, now_ms()).await {
        Ok(true) => {
            app.metrics.finished(status);
            app.wake_callbacks.notify_one();
            tracing::info!("task {} failed ({}): {}", task.id, e.code, e.message);
        }
        Ok(false) => {}
        Err(err) => tracing::error!("recording the failure of {} failed: {err}", task.id),
    }
}

async fn process(
    app: &Arc<App>,
    owner: &str,
    task: &TaskRecord,
    lost: &AtomicBool,
) -> Result<(), Stop> {
    if task.attempts > app.config.workers.max_attempts {
        return Err(Stop::Failed(internal(format!(
            "the task was interrupted {} times (worker crashes or restarts); giving up",
            app.config.workers.max_attempts
        ))));
    }
    match task.kind {
        TaskKind::Generate => generate(app, owner, task, lost).await,
        TaskKind::Wav => wav(app, owner, task, lost).await,
    }
}

/// Run a synchronous, CPU-bound engine call on a thread of its own at nice value `nice`;
/// a panic becomes a 500.
///
/// Not tokio's blocking pool: a nice value cannot be taken back without privileges, and the
/// pool's threads also serve other blocking work. The engine's own threads (scoped, started
/// from this one) inherit the nice value, so a render takes only the CPU that the API, the
/// callbacks and the database leave (`engine.nice`, docs/server.md).
pub async fn blocking<T: Send + 'static>(
    nice: i32,
    f: impl FnOnce() -> Result<T, StageError> + Send + 'static,
) -> Result<T, StageError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bandmate-engine".into())
        .spawn(move || {
            lower_priority(nice);
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        })
        .map_err(|e| internal(format!("cannot start an engine thread: {e}")))?;
    match rx.await {
        Ok(Ok(r)) => r,
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(internal(format!("the engine crashed ({msg})")))
        }
        Err(_) => Err(internal("the engine thread ended without an answer")),
    }
}

/// Lower the calling thread's priority to nice value `nice` (Linux keeps nice values per
/// thread; threads it starts inherit them). Best effort: a refusal leaves it as it was.
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) {
    if nice > 0
        && let Err(e) = rustix::process::setpriority_process(None, nice)
    {
        tracing::debug!("could not lower the engine thread to nice {nice}: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) {}

/// The engine's seed for a task: its id's first 16 hex digits (ids made before ids began with
/// the time were all random; a WAV re-render of an old task must get its song's seed back).
fn seed_of(task_id: &str) -> u64 {
    u64::from_str_radix(task_id.get(..16).unwrap_or("0"), 16).unwrap_or(0)
}

fn check_lease(lost: &AtomicBool) -> Result<(), Stop> {
    if lost.load(Ordering::SeqCst) {
        Err(Stop::LeaseLost)
    } else {
        Ok(())
    }
}

/// The file id in one of our own download URLs.
fn own_file_id<'a>(app: &App, url: &'a str) -> Option<&'a str> {
    let rest = url.strip_prefix(&app.base_url)?.strip_prefix("/files/")?;
    let id = rest.split('/').next()?;
    (id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())).then_some(id)
}

/// The vocal: stored by an earlier attempt, one of our own uploads, or fetched (and stored).
async fn load_input(
    app: &App,
    task: &TaskRecord,
    req: &AddInstrumental,
) -> Result<(Vec<u8>, Option<String>), Stop> {
    let stored = app.store.task_files(&task.id).await?;
    if let Some(f) = stored.iter().find(|f| f.kind == "input") {
        let bytes = app
            .files
            .read(&f.path)
            .await
            .map_err(|e| internal(format!("reading the stored input: {e}")))?;
        return Ok((bytes, crate::fetch::extension_of(&f.name)));
    }
    let started = Instant::now();
    let (bytes, name, mime) = match own_file_id(app, &req.upload_url) {
        Some(id) => {
            let f = app.store.file(id).await?.ok_or_else(|| {
                StageError {
                    code: 451,
                    message: "uploadUrl could not be retrieved: the uploaded file no longer exists (uploads are kept for a limited time)".into(),
                }
            })?;
            let bytes = app.files.read(&f.path).await.map_err(|_| StageError {
                code: 451,
                message: "uploadUrl could not be retrieved: the uploaded file no longer exists"
                    .into(),
            })?;
            (bytes, f.name, f.mime)
        }
        None => {
            let fetched = app
                .fetcher
                .fetch("uploadUrl", &req.upload_url, app.fetcher.max_bytes())
                .await
                .map_err(|e| StageError {
                    code: e.code(),
                    message: e.to_string(),
                })?;
            let name = match (&fetched.file_name, &fetched.extension) {
                (Some(n), Some(_)) => files::safe_name(n),
                (_, Some(ext)) => format!("input.{ext}"),
                _ => "input".to_string(),
            };
            let mime = fetched
                .content_type
                .clone()
                .unwrap_or_else(|| crate::fetch::mime_for_name(&name).to_string());
            (fetched.bytes, name, mime)
        }
    };
    app.metrics.stage("fetch", started.elapsed());
    let ext = crate::fetch::extension_of(&name);
    let id = keys::random_hex(16);
    let path = format!("media/{}/{id}", task.id);
    app.files
        .write(&path, &bytes)
        .await
        .map_err(|e| internal(format!("storing the input: {e}")))?;
    let now = now_ms();
    app.store
        .put_file(FileRecord {
            id,
            key_id: task.key_id.clone(),
            task_id: Some(task.id.clone()),
            kind: "input".into(),
            name,
            mime,
            size: bytes.len() as i64,
            path,
            upload_path: None,
            created_at: now,
            expires_at: now + media_lifetime_ms(app),
        })
        .await?;
    Ok((bytes, ext))
}

fn media_lifetime_ms(app: &App) -> i64 {
    (app.config.retention.media_hours * 3_600_000.0) as i64
}

async fn prepare(
    app: &App,
    bytes: Vec<u8>,
    ext: Option<String>,
    req: &AddInstrumental,
    seed: u64,
) -> Result<Arc<Prepared>, Stop> {
    let pipeline = app.pipeline.clone();
    let params = req.params(seed);
    let started = Instant::now();
    let prepared = blocking(app.config.engine.nice, move || {
        pipeline.prepare(&bytes, ext.as_deref(), &params)
    })
    .await?;
    app.metrics.stage("text", started.elapsed());
    Ok(Arc::new(prepared))
}

async fn generate(
    app: &Arc<App>,
    owner: &str,
    task: &TaskRecord,
    lost: &AtomicBool,
) -> Result<(), Stop> {
    let req: AddInstrumental = serde_json::from_str(&task.request)
        .map_err(|e| internal(format!("stored request does not parse: {e}")))?;
    let (bytes, ext) = load_input(app, task, &req).await?;
    check_lease(lost)?;
    let prepared = prepare(app, bytes, ext, &req, seed_of(&task.id)).await?;
    check_lease(lost)?;
    if task.status == "PENDING" {
        let body = records::stage_callback("text", &task.id, vec![], Some(prepared.plan.clone()));
        let step = Advance {
            task_id: task.id.clone(),
            owner: owner.to_string(),
            status: "TEXT_SUCCESS".into(),
            plan: Some(prepared.plan.to_string()),
            callback: Some(callback(task, "text", body)),
            ..Default::default()
        };
        if !app.store.advance(step, now_ms()).await? {
            return Err(Stop::LeaseLost);
        }
        app.wake_callbacks.notify_one();
    }
    let mut tracks = app.store.tracks(&task.id).await?;
    for variation in 1..=2u8 {
        if let Some(done) = tracks.iter().find(|t| t.variation == i64::from(variation)) {
            if variation == 1 && app.config.engine.stems && done.stems.is_empty() {
                // Delivered before its stems were attached (the process stopped in between):
                // render it again (the seed makes it the same song) and keep only the stems.
                let (track, pending) = songs(app, &prepared, variation).await?;
                let stems = match pending {
                    Some(p) => stems(app, &prepared, p).await?,
                    None => track.stems,
                };
                check_lease(lost)?;
                attach(app, owner, task, &req, &mut tracks, variation, stems).await?;
            }
            continue;
        }
        let started = Instant::now();
        let (mut track, mut pending) = songs(app, &prepared, variation).await?;
        if variation == 2
            && let Some(p) = pending.take()
        {
            track.stems = stems(app, &prepared, p).await?;
        }
        let stage = if variation == 1 { "first" } else { "complete" };
        app.metrics.stage(stage, started.elapsed());
        check_lease(lost)?;
        let (record, new_files) = store_track(app, task, &req, variation, track).await?;
        tracks.push(record.clone());
        let mut all_files = app.store.task_files(&task.id).await?;
        all_files.extend(new_files.iter().cloned());
        let items: Vec<Value> = tracks
            .iter()
            .filter(|t| variation == 2 || t.variation == 1)
            .map(|t| records::track_snake(&app.base_url, t, &all_files))
            .collect();
        let body = records::stage_callback(stage, &task.id, items, None);
        let status = if variation == 1 {
            "FIRST_SUCCESS"
        } else {
            "SUCCESS"
        };
        let step = Advance {
            task_id: task.id.clone(),
            owner: owner.to_string(),
            status: status.into(),
            terminal: variation == 2,
            files: new_files.clone(),
            track: Some(record),
            callback: Some(callback(task, stage, body)),
            ..Default::default()
        };
        if !app.store.advance(step, now_ms()).await? {
            remove_files(app, &new_files).await;
            return Err(Stop::LeaseLost);
        }
        if variation == 2 {
            app.metrics.finished("SUCCESS");
        }
        app.wake_callbacks.notify_one();
        // The first song is out; its stems follow, before the second variation.
        if let Some(p) = pending {
            let started = Instant::now();
            let stems = stems(app, &prepared, p).await?;
            app.metrics.stage("stems", started.elapsed());
            check_lease(lost)?;
            attach(app, owner, task, &req, &mut tracks, variation, stems).await?;
        }
    }
    Ok(())
}

/// One variation's songs, on an engine thread.
async fn songs(
    app: &App,
    prepared: &Arc<Prepared>,
    variation: u8,
) -> Result<(bandmate_engine::Track, Option<PendingStems>), Stop> {
    let pipeline = app.pipeline.clone();
    let p = prepared.clone();
    Ok(blocking(app.config.engine.nice, move || {
        pipeline.render_songs(&p, variation)
    })
    .await?)
}

/// The stems a songs render left pending, on an engine thread.
async fn stems(app: &App, prepared: &Arc<Prepared>, pending: PendingStems) -> Result<Stems, Stop> {
    let pipeline = app.pipeline.clone();
    let p = prepared.clone();
    Ok(blocking(app.config.engine.nice, move || {
        pipeline.render_stems(&p, pending)
    })
    .await?)
}

async fn remove_files(app: &App, files: &[FileRecord]) {
    for f in files {
        let _ = app.files.remove(&f.path).await;
    }
}

/// Write a stored track's stems and attach them to its record (in `tracks` too).
async fn attach(
    app: &App,
    owner: &str,
    task: &TaskRecord,
    req: &AddInstrumental,
    tracks: &mut [TrackRecord],
    variation: u8,
    stems: Stems,
) -> Result<(), Stop> {
    let Some(record) = tracks
        .iter_mut()
        .find(|t| t.variation == i64::from(variation))
    else {
        return Err(Stop::Failed(internal("attaching stems to a missing track")));
    };
    let mut out = NewFiles::new(app, task);
    let (stems_file, names) =
        store_stems(app, &mut out, &track_base(req, variation), stems).await?;
    let mut attached = record.clone();
    attached.stems_file = stems_file;
    attached.stems = names;
    if !app
        .store
        .attach_stems(&task.id, owner, &attached, &out.files, now_ms())
        .await?
    {
        remove_files(app, &out.files).await;
        return Err(Stop::LeaseLost);
    }
    *record = attached;
    Ok(())
}

fn callback(task: &TaskRecord, stage: &str, body: Value) -> NewCallback {
    NewCallback {
        task_id: task.id.clone(),
        key_id: task.key_id.clone(),
        url: task.callback_url.clone(),
        stage: stage.into(),
        body: body.to_string(),
    }
}

/// The files of one task made by one step, recorded as they are written.
struct NewFiles {
    task_id: String,
    key_id: String,
    now: i64,
    expires: i64,
    files: Vec<FileRecord>,
}

impl NewFiles {
    fn new(app: &App, task: &TaskRecord) -> Self {
        let now = now_ms();
        Self {
            task_id: task.id.clone(),
            key_id: task.key_id.clone(),
            now,
            expires: now + media_lifetime_ms(app),
            files: Vec::new(),
        }
    }

    /// Record a file; returns its id and the path its record points at (where it is written).
    fn put(&mut self, kind: &str, name: String, size: usize) -> (String, String) {
        let id = keys::random_hex(16);
        let path = format!("media/{}/{id}", self.task_id);
        self.files.push(FileRecord {
            id: id.clone(),
            key_id: self.key_id.clone(),
            task_id: Some(self.task_id.clone()),
            kind: kind.into(),
            mime: crate::fetch::mime_for_name(&name).into(),
            name,
            size: size as i64,
            path: path.clone(),
            upload_path: None,
            created_at: self.now,
            expires_at: self.expires,
        });
        (id, path)
    }
}

/// The start of a variation's file names.
fn track_base(req: &AddInstrumental, variation: u8) -> String {
    format!("{}-{variation}", files::slug(&req.title))
}

/// Write one variation's files and build its record (not yet committed).
async fn store_track(
    app: &App,
    task: &TaskRecord,
    req: &AddInstrumental,
    variation: u8,
    track: bandmate_engine::Track,
) -> Result<(TrackRecord, Vec<FileRecord>), Stop> {
    let base = track_base(req, variation);
    let mut out = NewFiles::new(app, task);
    // Each file is recorded, written and freed in turn (the stems' ZIP straight from the stems'
    // bytes): a 10-minute song's MP3s are ~120 MB, and holding them all with a copy for the ZIP
    // and the ZIP itself took the service over its memory bound.
    let (song, at) = out.put("song", format!("{base}.mp3"), track.song_mp3.len());
    write_file(app, &at, &[Cow::Borrowed(&track.song_mp3)]).await?;
    drop(track.song_mp3);
    let (instrumental, at) = out.put(
        "instrumental",
        format!("{base}-instrumental.mp3"),
        track.instrumental_mp3.len(),
    );
    write_file(app, &at, &[Cow::Borrowed(&track.instrumental_mp3)]).await?;
    drop(track.instrumental_mp3);
    let (midi, at) = out.put("midi", format!("{base}.mid"), track.midi.len());
    write_file(app, &at, &[Cow::Borrowed(&track.midi)]).await?;
    let (cover, at) = out.put("cover", format!("{base}.png"), track.cover_png.len());
    write_file(app, &at, &[Cow::Borrowed(&track.cover_png)]).await?;
    let (stems_file, stems) = store_stems(app, &mut out, &base, track.stems).await?;
    let idx = usize::from(variation - 1);
    let record = TrackRecord {
        id: task
            .track_ids
            .get(idx)
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        task_id: task.id.clone(),
        variation: i64::from(variation),
        title: req.title.clone(),
        tags: req.tags.clone(),
        prompt: req.tags.clone(),
        model_name: records::model_name(req.model.as_str()),
        // Milliseconds and hundredths of a dB are all these figures mean.
        duration: (track.duration_s * 1000.0).round() / 1000.0,
        song_file: song,
        instrumental_file: instrumental,
        midi_file: midi,
        cover_file: cover,
        stems_file,
        stems,
        plan: track.plan_json,
        loudness_lufs: (f64::from(track.loudness_lufs) * 100.0).round() / 100.0,
        true_peak_dbtp: (f64::from(track.true_peak_dbtp) * 100.0).round() / 100.0,
        created_at: out.now,
    };
    Ok((record, out.files))
}

/// Write a variation's stems (one MP3 each) and their ZIP; returns the ZIP's file id and
/// `(name, file id)` per stem. No stems (not made, or not yet): no files, `""` and `[]`.
async fn store_stems(
    app: &App,
    out: &mut NewFiles,
    base: &str,
    stems: Stems,
) -> Result<(String, Vec<(String, String)>), Stop> {
    let stems_file = if stems.is_empty() {
        String::new()
    } else {
        let zip_members: Vec<(String, &[u8])> = stems
            .iter()
            .map(|(n, b)| (format!("{base}-{}.mp3", files::safe_name(n)), b.as_slice()))
            .collect();
        let pieces = files::zip_stored_pieces(&zip_members);
        let zip_size = pieces.iter().map(|p| p.len()).sum();
        let (id, at) = out.put("stems", format!("{base}-stems.zip"), zip_size);
        write_file(app, &at, &pieces).await?;
        id
    };
    let mut names = Vec::new();
    for (name, bytes) in stems {
        let (id, at) = out.put(
            "stem",
            format!("{base}-{}.mp3", files::safe_name(&name)),
            bytes.len(),
        );
        write_file(app, &at, &[Cow::Borrowed(&bytes)]).await?;
        names.push((name, id));
    }
    Ok((stems_file, names))
}

/// Write a media file at `path` (its record's) from `pieces`, in order.
async fn write_file(app: &App, path: &str, pieces: &[Cow<'_, [u8]>]) -> Result<(), Stop> {
    app.files
        .write_pieces(path, pieces)
        .await
        .map_err(|e| Stop::Failed(internal(format!("storing a file: {e}"))))
}

async fn wav(
    app: &Arc<App>,
    owner: &str,
    task: &TaskRecord,
    lost: &AtomicBool,
) -> Result<(), Stop> {
    let parent_id = task.parent_task_id.clone().unwrap_or_default();
    let parent = app
        .store
        .task(&parent_id, None)
        .await?
        .ok_or_else(|| internal("the generation task no longer exists"))?;
    let track = app
        .store
        .track(task.audio_id.as_deref().unwrap_or(""))
        .await?
        .ok_or_else(|| internal("the track no longer exists"))?;
    let req: AddInstrumental = serde_json::from_str(&parent.request)
        .map_err(|e| internal(format!("stored request does not parse: {e}")))?;
    let input = app
        .store
        .task_files(&parent.id)
        .await?
        .into_iter()
        .find(|f| f.kind == "input")
        .ok_or_else(|| internal("the original vocal is no longer stored (retention)"))?;
    let bytes = app
        .files
        .read(&input.path)
        .await
        .map_err(|_| internal("the original vocal is no longer stored (retention)"))?;
    let ext = crate::fetch::extension_of(&input.name);
    let prepared = prepare(app, bytes, ext, &req, seed_of(&parent.id)).await?;
    check_lease(lost)?;
    let variation = u8::try_from(track.variation).unwrap_or(1);
    let started = Instant::now();
    let pipeline = app.pipeline.clone();
    let wav = blocking(app.config.engine.nice, move || {
        pipeline.render_wav(&prepared, variation)
    })
    .await?;
    app.metrics.stage("wav", started.elapsed());
    check_lease(lost)?;
    let id = keys::random_hex(16);
    let path = format!("media/{}/{id}", parent.id);
    app.files
        .write(&path, &wav)
        .await
        .map_err(|e| internal(format!("storing the WAV: {e}")))?;
    let now = now_ms();
    let name = format!("{}-{variation}.wav", files::slug(&req.title));
    let url = records::file_url(&app.base_url, &id, &name);
    let file = FileRecord {
        id: id.clone(),
        key_id: parent.key_id.clone(),
        task_id: Some(parent.id.clone()),
        kind: "wav".into(),
        name,
        mime: "audio/wav".into(),
        size: wav.len() as i64,
        path: path.clone(),
        upload_path: None,
        created_at: now,
        expires_at: now + media_lifetime_ms(app),
    };
    let body = records::wav_callback(200, "success", &task.id, Some(&url));
    let step = Advance {
        task_id: task.id.clone(),
        owner: owner.to_string(),
        status: "SUCCESS".into(),
        terminal: true,
        files: vec![file],
        result_file_id: Some(id),
        callback: Some(callback(task, "wav", body)),
        ..Default::default()
    };
    if !app.store.advance(step, now).await? {
        let _ = app.files.remove(&path).await;
        return Err(Stop::LeaseLost);
    }
    app.metrics.finished("SUCCESS");
    app.wake_callbacks.notify_one();
    Ok(())
}

/// One retention pass: delete expired files (disk and record) and old task records.
/// Returns (files deleted, tasks deleted).
pub async fn sweep_once(app: &App) -> Result<(usize, u64), StoreError> {
    let now = now_ms();
    let records_ms = (app.config.retention.records_hours * 3_600_000.0) as i64;
    let tasks = app.store.delete_tasks_before(now - records_ms).await?;
    let mut removed = 0;
    loop {
        let expired = app.store.expired_files(now, 500).await?;
        if expired.is_empty() {
            break;
        }
        for f in &expired {
            if let Err(e) = app.files.remove(&f.path).await {
                tracing::warn!("deleting {} failed: {e}", f.path);
            }
            app.store.delete_file(&f.id).await?;
            removed += 1;
        }
    }
    app.limiter.prune(
        Duration::from_secs_f64(app.config.rate_limit.window_s.max(3600.0)),
        Instant::now(),
    );
    Ok((removed, tasks))
}

/// The retention sweeper loop.
pub async fn sweeper(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_secs_f64(app.config.retention.sweep_interval_s);
    loop {
        match sweep_once(&app).await {
            Ok((0, 0)) => {}
            Ok((f, t)) => tracing::info!("retention: deleted {f} files and {t} task records"),
            Err(e) => tracing::error!("retention sweep failed: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
    }
}

/// Keeps maintenance mode in step with the config and the `<data_dir>/MAINTENANCE` file.
pub async fn maintenance_watcher(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let flag = app.config.server.data_dir.join("MAINTENANCE");
    loop {
        let on =
            app.config.server.maintenance || tokio::fs::try_exists(&flag).await.unwrap_or(false);
        app.maintenance.store(on, Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_codes() {
        assert_eq!(
            failure_status(TaskKind::Generate, 451),
            "CREATE_TASK_FAILED"
        );
        assert_eq!(
            failure_status(TaskKind::Generate, 400),
            "CREATE_TASK_FAILED"
        );
        assert_eq!(
            failure_status(TaskKind::Generate, 500),
            "GENERATE_AUDIO_FAILED"
        );
        assert_eq!(
            failure_status(TaskKind::Generate, 501),
            "GENERATE_AUDIO_FAILED"
        );
        assert_eq!(failure_status(TaskKind::Wav, 400), "GENERATE_WAV_FAILED");
    }

    #[test]
    fn seeds_come_from_the_task_id() {
        assert_eq!(seed_of("00000000000000ff0000000000000000"), 255);
        assert_ne!(seed_of(&keys::task_id()), seed_of(&keys::task_id()));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn engine_calls_run_at_their_nice_value_and_leave_the_caller_alone() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let inside = blocking(7, || {
            // The engine's own threads inherit the value.
            let own = std::thread::spawn(|| rustix::process::getpriority_process(None).unwrap());
            Ok((
                rustix::process::getpriority_process(None).unwrap(),
                own.join().unwrap(),
            ))
        })
        .await
        .unwrap();
        assert_eq!(inside, (7.max(before), 7.max(before)));
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
        let unchanged = blocking(
            0,
            || Ok(rustix::process::getpriority_process(None).unwrap()),
        )
        .await
        .unwrap();
        assert_eq!(unchanged, before);
    }

    #[tokio::test]
    async fn panics_become_internal_errors() {
        let r: Result<(), StageError> = blocking(0, || panic!("boom")).await;
        let e = r.unwrap_err();
        assert_eq!(e.code, 500);
        assert_eq!(e.message, "internal error: the engine crashed (boom)");
    }
}
