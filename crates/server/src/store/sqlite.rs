//! The SQLite store: one file in the data directory, WAL mode.
//!
//! Two pools: one connection for every write (SQLite has one writer; serialising writes in
//! the process avoids lock churn, and `BEGIN IMMEDIATE` takes the write lock up front so a
//! second process — `bandmate worker` — waits on `busy_timeout` instead of failing), and a
//! few connections for reads, which WAL lets run beside the writer.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::*;

/// The SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    submits: tokio::sync::mpsc::Sender<SubmitJob>,
}

/// One submission waiting for the group commit.
#[derive(Debug)]
struct SubmitJob {
    task: NewTask,
    now: i64,
    reply: tokio::sync::oneshot::Sender<Result<(), SubmitError>>,
}

/// Most submissions committed in one transaction.
const MAX_BATCH: usize = 256;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl SqliteStore {
    /// Open (creating if needed) and migrate the database at `url` (`sqlite://path`).
    pub async fn open(url: &str) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            // Bounds the WAL file left behind after a burst.
            .pragma("journal_size_limit", "67108864");
        // Checkpoints: a background connection copies WAL frames back every 200 ms (PASSIVE:
        // it never blocks the writer), so the writer's own automatic checkpoint, moved from
        // 1000 to 4096 pages, mostly finds the work done and only resets the WAL. Checkpoints
        // inside a submitter's commit are what set the tail latency otherwise.
        let writer_opts = opts.clone().pragma("wal_autocheckpoint", "4096");
        if let Some(dir) = opts.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(writer_opts)
            .await?;
        MIGRATOR.run(&writer).await?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.read_only(true))
            .await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4 * MAX_BATCH);
        let store = Self {
            writer,
            reader,
            submits: tx,
        };
        tokio::spawn(group_commit(store.writer.clone(), rx));
        tokio::spawn(checkpoints(checkpointer, store.submits.downgrade()));
        Ok(store)
    }

    /// Open the database file at `path`.
    pub async fn open_path(path: &Path) -> StoreResult<Self> {
        Self::open(&format!("sqlite://{}", path.display())).await
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn key_from_row(r: &SqliteRow) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("key_prefix")?,
        credits: r.try_get("credits")?,
        rate_limit: r
            .try_get::<Option<i64>, _>("rate_limit")?
            .map(|v| v.clamp(0, i64::from(u32::MAX)) as u32),
        rate_window_s: r.try_get("rate_window_s")?,
        webhook_secret: r.try_get("webhook_secret")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

fn task_from_row(r: &SqliteRow) -> StoreResult<TaskRecord> {
    let track_ids: String = r.try_get("track_ids")?;
    Ok(TaskRecord {
        id: r.try_get("id")?,
        kind: TaskKind::parse(&r.try_get::<String, _>("kind")?)?,
        key_id: r.try_get("key_id")?,
        status: r.try_get("status")?,
        active: r.try_get::<i64, _>("active")? != 0,
        param: r.try_get("param")?,
        request: r.try_get("request")?,
        model: r.try_get("model")?,
        callback_url: r.try_get("callback_url")?,
        track_ids: serde_json::from_str(&track_ids)
            .map_err(|e| StoreError::Corrupt(format!("track_ids: {e}")))?,
        plan: r.try_get("plan")?,
        error_code: r.try_get("error_code")?,
        error_message: r.try_get("error_message")?,
        cost: r.try_get("cost")?,
        attempts: r.try_get("attempts")?,
        parent_task_id: r.try_get("parent_task_id")?,
        audio_id: r.try_get("audio_id")?,
        result_file_id: r.try_get("result_file_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        completed_at: r.try_get("completed_at")?,
    })
}

fn track_from_row(r: &SqliteRow) -> StoreResult<TrackRecord> {
    let stems: String = r.try_get("stems")?;
    Ok(TrackRecord {
        id: r.try_get("id")?,
        task_id: r.try_get("task_id")?,
        variation: r.try_get("variation")?,
        title: r.try_get("title")?,
        tags: r.try_get("tags")?,
        prompt: r.try_get("prompt")?,
        model_name: r.try_get("model_name")?,
        duration: r.try_get("duration")?,
        song_file: r.try_get("song_file")?,
        instrumental_file: r.try_get("instrumental_file")?,
        midi_file: r.try_get("midi_file")?,
        cover_file: r.try_get("cover_file")?,
        stems_file: r.try_get("stems_file")?,
        stems: serde_json::from_str(&stems)
            .map_err(|e| StoreError::Corrupt(format!("stems: {e}")))?,
        plan: r.try_get("plan")?,
        loudness_lufs: r.try_get("loudness_lufs")?,
        true_peak_dbtp: r.try_get("true_peak_dbtp")?,
        created_at: r.try_get("created_at")?,
    })
}

fn file_from_row(r: &SqliteRow) -> StoreResult<FileRecord> {
    Ok(FileRecord {
        id: r.try_get("id")?,
        key_id: r.try_get("key_id")?,
        task_id: r.try_get("task_id")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        mime: r.try_get("mime")?,
        size: r.try_get("size")?,
        path: r.try_get("path")?,
        upload_path: r.try_get("upload_path")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

fn callback_from_row(r: &SqliteRow) -> StoreResult<CallbackRecord> {
    Ok(CallbackRecord {
        id: r.try_get("id")?,
        task_id: r.try_get("task_id")?,
        key_id: r.try_get("key_id")?,
        url: r.try_get("url")?,
        stage: r.try_get("stage")?,
        body: r.try_get("body")?,
        attempts: r.try_get("attempts")?,
    })
}

async fn insert_callback(
    tx: &mut Transaction<'static, Sqlite>,
    cb: &NewCallback,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO callbacks (task_id, key_id, url, stage, body, next_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&cb.task_id)
    .bind(&cb.key_id)
    .bind(&cb.url)
    .bind(&cb.stage)
    .bind(&cb.body)
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The key `id_or_name` picks (see [`KeyChange`]): the key with that id (a revoked one only
/// when `revoked_id_too`), else the one live key with that name. Nothing is changed here.
async fn pick_key(
    tx: &mut Transaction<'static, Sqlite>,
    id_or_name: &str,
    revoked_id_too: bool,
) -> StoreResult<KeyChange> {
    let by_id: Option<String> =
        sqlx::query_scalar("SELECT id FROM api_keys WHERE id = ? AND (? OR revoked_at IS NULL)")
            .bind(id_or_name)
            .bind(revoked_id_too)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some(id) = by_id {
        return Ok(KeyChange::Done(id));
    }
    let mut ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM api_keys WHERE name = ? AND revoked_at IS NULL ORDER BY created_at, id",
    )
    .bind(id_or_name)
    .fetch_all(&mut **tx)
    .await?;
    Ok(match ids.len() {
        0 => KeyChange::NotFound,
        1 => KeyChange::Done(ids.remove(0)),
        _ => KeyChange::Ambiguous(ids),
    })
}

async fn insert_file(tx: &mut Transaction<'static, Sqlite>, f: &FileRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO files (id, key_id, task_id, kind, name, mime, size, path, upload_path, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&f.id)
    .bind(&f.key_id)
    .bind(&f.task_id)
    .bind(&f.kind)
    .bind(&f.name)
    .bind(&f.mime)
    .bind(f.size)
    .bind(&f.path)
    .bind(&f.upload_path)
    .bind(f.created_at)
    .bind(f.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Insert one task and take its credits inside the caller's transaction. A unique conflict
/// (a WAV that exists) or missing credits leave nothing behind.
async fn insert_task(
    tx: &mut Transaction<'static, Sqlite>,
    t: &NewTask,
    now: i64,
) -> StoreResult<Result<(), SubmitError>> {
    let wav_track = match t.kind {
        TaskKind::Wav => t.audio_id.clone(),
        TaskKind::Generate => None,
    };
    let track_ids =
        serde_json::to_string(&t.track_ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let r = sqlx::query(
        "INSERT INTO tasks (id, kind, key_id, status, param, request, model, callback_url, track_ids, cost,
                            parent_task_id, audio_id, wav_track, created_at, updated_at)
         VALUES (?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&t.id)
    .bind(t.kind.as_str())
    .bind(&t.key_id)
    .bind(&t.param)
    .bind(&t.request)
    .bind(&t.model)
    .bind(&t.callback_url)
    .bind(&track_ids)
    .bind(t.cost)
    .bind(&t.parent_task_id)
    .bind(&t.audio_id)
    .bind(&wav_track)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match r {
        Ok(_) => {}
        Err(sqlx::Error::Database(e))
            if e.is_unique_violation() && e.message().contains("wav_track") =>
        {
            return Ok(Err(SubmitError::Conflict));
        }
        Err(e) => return Err(e.into()),
    }
    if t.cost > 0 {
        let r =
            sqlx::query("UPDATE api_keys SET credits = credits - ? WHERE id = ? AND credits >= ?")
                .bind(t.cost)
                .bind(&t.key_id)
                .bind(t.cost)
                .execute(&mut **tx)
                .await?;
        if r.rows_affected() == 0 {
            sqlx::query("DELETE FROM tasks WHERE id = ?")
                .bind(&t.id)
                .execute(&mut **tx)
                .await?;
            return Ok(Err(SubmitError::NoCredits));
        }
    }
    Ok(Ok(()))
}

/// Group commit of submissions: whatever queued while the previous transaction ran is
/// committed in the next one (one `BEGIN`/`COMMIT` for up to [`MAX_BATCH`] tasks), each
/// task still all-or-nothing with its credits. Under load this is what keeps the single
/// SQLite writer ahead; alone, a submission waits for nothing.
async fn group_commit(writer: SqlitePool, mut rx: tokio::sync::mpsc::Receiver<SubmitJob>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        match submit_batch(&writer, &batch).await {
            Ok(results) => {
                for (job, r) in batch.drain(..).zip(results) {
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for job in batch.drain(..) {
                    let _ = job
                        .reply
                        .send(Err(SubmitError::Store(StoreError::Corrupt(msg.clone()))));
                }
            }
        }
    }
}

async fn submit_batch(
    writer: &SqlitePool,
    batch: &[SubmitJob],
) -> StoreResult<Vec<Result<(), SubmitError>>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        results.push(insert_task(&mut tx, &job.task, job.now).await?);
    }
    tx.commit().await?;
    Ok(results)
}

/// Passive WAL checkpoints every 200 ms on their own connection; stops when the store is
/// dropped.
async fn checkpoints(pool: SqlitePool, alive: tokio::sync::mpsc::WeakSender<SubmitJob>) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if alive.upgrade().is_none() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!("WAL checkpoint failed: {e}");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_key(&self, key: NewKey, now: i64) -> StoreResult<KeyRecord> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, key_prefix, credits, rate_limit, rate_window_s, webhook_secret, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.hash)
        .bind(&key.prefix)
        .bind(key.credits)
        .bind(key.rate_limit.map(i64::from))
        .bind(key.rate_window_s)
        .bind(&key.webhook_secret)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(KeyRecord {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            credits: key.credits,
            rate_limit: key.rate_limit,
            rate_window_s: key.rate_window_s,
            webhook_secret: key.webhook_secret,
            created_at: now,
            revoked_at: None,
        })
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        sqlx::query(
            "SELECT id, name, key_prefix, credits, rate_limit, rate_window_s, webhook_secret, created_at, revoked_at
             FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    async fn revoke_key(&self, id_or_name: &str, now: i64) -> StoreResult<KeyChange> {
        let mut tx = self.begin().await?;
        let picked = pick_key(&mut tx, id_or_name, false).await?;
        if let KeyChange::Done(id) = &picked {
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ?")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(picked)
    }

    async fn key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<KeyRecord>> {
        sqlx::query(
            "SELECT id, name, key_prefix, credits, rate_limit, rate_window_s, webhook_secret, created_at, revoked_at
             FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
    }

    async fn key_by_id(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        sqlx::query(
            "SELECT id, name, key_prefix, credits, rate_limit, rate_window_s, webhook_secret, created_at, revoked_at
             FROM api_keys WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
    }

    async fn count_keys(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(&self.reader)
            .await?)
    }

    async fn add_credits(&self, id_or_name: &str, delta: i64) -> StoreResult<KeyChange> {
        let mut tx = self.begin().await?;
        let picked = pick_key(&mut tx, id_or_name, true).await?;
        if let KeyChange::Done(id) = &picked {
            sqlx::query("UPDATE api_keys SET credits = MAX(0, credits + ?) WHERE id = ?")
                .bind(delta)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(picked)
    }

    async fn credits(&self, key_id: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT credits FROM api_keys WHERE id = ?")
                .bind(key_id)
                .fetch_optional(&self.reader)
                .await?
                .unwrap_or(0),
        )
    }

    async fn submit(&self, task: NewTask, now: i64) -> Result<(), SubmitError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.submits
            .send(SubmitJob { task, now, reply })
            .await
            .map_err(|_| StoreError::Corrupt("the store is closed".into()))?;
        rx.await
            .map_err(|_| StoreError::Corrupt("the store is closed".into()))?
    }

    async fn task(&self, id: &str, key_id: Option<&str>) -> StoreResult<Option<TaskRecord>> {
        let row = sqlx::query("SELECT * FROM tasks WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        match row {
            Some(r) => {
                let t = task_from_row(&r)?;
                Ok(match key_id {
                    Some(k) if k != t.key_id => None,
                    _ => Some(t),
                })
            }
            None => Ok(None),
        }
    }

    async fn tracks(&self, task_id: &str) -> StoreResult<Vec<TrackRecord>> {
        sqlx::query("SELECT * FROM tracks WHERE task_id = ? ORDER BY variation")
            .bind(task_id)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(track_from_row)
            .collect()
    }

    async fn track(&self, id: &str) -> StoreResult<Option<TrackRecord>> {
        sqlx::query("SELECT * FROM tracks WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(track_from_row)
            .transpose()
    }

    async fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<TaskRecord>> {
        let row = sqlx::query(
            "UPDATE tasks SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
             WHERE id = (SELECT id FROM tasks WHERE active = 1 AND lease_until <= ? ORDER BY seq LIMIT 1)
             RETURNING *",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn heartbeat(&self, task_id: &str, owner: &str, lease_until: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE tasks SET lease_until = ? WHERE id = ? AND lease_owner = ? AND active = 1",
        )
        .bind(lease_until)
        .bind(task_id)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn release(&self, task_id: &str, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE tasks SET lease_until = 0, lease_owner = NULL, attempts = MAX(0, attempts - 1)
             WHERE id = ? AND lease_owner = ? AND active = 1",
        )
        .bind(task_id)
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn release_instance(&self, instance: &str) -> StoreResult<u64> {
        let r = sqlx::query(
            "UPDATE tasks SET lease_until = 0, lease_owner = NULL
             WHERE active = 1 AND substr(lease_owner, 1, length(?) + 1) = ? || '-'",
        )
        .bind(instance)
        .bind(instance)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }

    async fn advance(&self, step: Advance, now: i64) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE tasks SET status = ?, active = ?, plan = COALESCE(?, plan),
                    result_file_id = COALESCE(?, result_file_id), updated_at = ?,
                    completed_at = CASE WHEN ? THEN ? ELSE completed_at END,
                    lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END
             WHERE id = ? AND lease_owner = ? AND active = 1",
        )
        .bind(&step.status)
        .bind(if step.terminal { 0i64 } else { 1 })
        .bind(&step.plan)
        .bind(&step.result_file_id)
        .bind(now)
        .bind(step.terminal)
        .bind(now)
        .bind(step.terminal)
        .bind(&step.task_id)
        .bind(&step.owner)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        for f in &step.files {
            insert_file(&mut tx, f).await?;
        }
        if let Some(t) = &step.track {
            let stems =
                serde_json::to_string(&t.stems).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO tracks (id, task_id, variation, title, tags, prompt, model_name, duration,
                     song_file, instrumental_file, midi_file, cover_file, stems_file, stems, plan,
                     loudness_lufs, true_peak_dbtp, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&t.id)
            .bind(&t.task_id)
            .bind(t.variation)
            .bind(&t.title)
            .bind(&t.tags)
            .bind(&t.prompt)
            .bind(&t.model_name)
            .bind(t.duration)
            .bind(&t.song_file)
            .bind(&t.instrumental_file)
            .bind(&t.midi_file)
            .bind(&t.cover_file)
            .bind(&t.stems_file)
            .bind(&stems)
            .bind(&t.plan)
            .bind(t.loudness_lufs)
            .bind(t.true_peak_dbtp)
            .bind(t.created_at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(cb) = &step.callback {
            insert_callback(&mut tx, cb, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn attach_stems(
        &self,
        task_id: &str,
        owner: &str,
        track: &TrackRecord,
        files: &[FileRecord],
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE tasks SET updated_at = ? WHERE id = ? AND lease_owner = ? AND active = 1",
        )
        .bind(now)
        .bind(task_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        for f in files {
            insert_file(&mut tx, f).await?;
        }
        let stems =
            serde_json::to_string(&track.stems).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("UPDATE tracks SET stems_file = ?, stems = ? WHERE id = ? AND task_id = ?")
            .bind(&track.stems_file)
            .bind(&stems)
            .bind(&track.id)
            .bind(task_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fail(&self, f: Failure, now: i64) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE tasks SET status = ?, active = 0, error_code = ?, error_message = ?,
                    updated_at = ?, completed_at = ?, lease_owner = NULL,
                    refunded = CASE WHEN cost > 0 THEN 1 ELSE refunded END,
                    wav_track = NULL
             WHERE id = ? AND active = 1 AND (? IS NULL OR lease_owner = ?)
             RETURNING key_id, cost, refunded",
        )
        .bind(&f.status)
        .bind(f.code)
        .bind(&f.message)
        .bind(now)
        .bind(now)
        .bind(&f.task_id)
        .bind(&f.owner)
        .bind(&f.owner)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let key_id: String = row.try_get("key_id")?;
        let cost: i64 = row.try_get("cost")?;
        if cost > 0 {
            sqlx::query("UPDATE api_keys SET credits = credits + ? WHERE id = ?")
                .bind(cost)
                .bind(&key_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(cb) = &f.callback {
            insert_callback(&mut tx, cb, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn status_counts(&self) -> StoreResult<Vec<(String, String, i64)>> {
        let rows =
            sqlx::query("SELECT kind, status, COUNT(*) AS n FROM tasks GROUP BY kind, status")
                .fetch_all(&self.reader)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }

    async fn queue_depth(&self, now: i64) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE active = 1 AND lease_until <= ?")
                .bind(now)
                .fetch_one(&self.reader)
                .await?,
        )
    }

    async fn delete_tasks_before(&self, cutoff: i64) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "DELETE FROM tracks WHERE task_id IN (SELECT id FROM tasks WHERE created_at < ? AND active = 0)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM callbacks WHERE state != 'pending' AND task_id IN (SELECT id FROM tasks WHERE created_at < ? AND active = 0)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        // Files of deleted tasks expire now; the sweeper removes them from disk.
        sqlx::query(
            "UPDATE files SET expires_at = 0 WHERE task_id IN (SELECT id FROM tasks WHERE created_at < ? AND active = 0)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let r = sqlx::query(
            "DELETE FROM tasks WHERE created_at < ? AND active = 0
             AND NOT EXISTS (SELECT 1 FROM callbacks c WHERE c.task_id = tasks.id AND c.state = 'pending')",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    async fn put_file(&self, file: FileRecord) -> StoreResult<FileRecord> {
        let mut tx = self.begin().await?;
        if let Some(up) = &file.upload_path {
            let existing = sqlx::query(
                "SELECT * FROM files WHERE key_id = ? AND upload_path = ? AND name = ?",
            )
            .bind(&file.key_id)
            .bind(up)
            .bind(&file.name)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                let old = file_from_row(&row)?;
                sqlx::query(
                    "UPDATE files SET mime = ?, size = ?, path = ?, created_at = ?, expires_at = ? WHERE id = ?",
                )
                .bind(&file.mime)
                .bind(file.size)
                .bind(&file.path)
                .bind(file.created_at)
                .bind(file.expires_at)
                .bind(&old.id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(FileRecord { id: old.id, ..file });
            }
        }
        insert_file(&mut tx, &file).await?;
        tx.commit().await?;
        Ok(file)
    }

    async fn file(&self, id: &str) -> StoreResult<Option<FileRecord>> {
        sqlx::query("SELECT * FROM files WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(file_from_row)
            .transpose()
    }

    async fn upload(
        &self,
        key_id: &str,
        upload_path: &str,
        name: &str,
    ) -> StoreResult<Option<FileRecord>> {
        sqlx::query("SELECT * FROM files WHERE key_id = ? AND upload_path = ? AND name = ?")
            .bind(key_id)
            .bind(upload_path)
            .bind(name)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(file_from_row)
            .transpose()
    }

    async fn task_files(&self, task_id: &str) -> StoreResult<Vec<FileRecord>> {
        sqlx::query("SELECT * FROM files WHERE task_id = ? ORDER BY created_at, id")
            .bind(task_id)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(file_from_row)
            .collect()
    }

    async fn expired_files(&self, now: i64, limit: i64) -> StoreResult<Vec<FileRecord>> {
        sqlx::query("SELECT * FROM files WHERE expires_at <= ? ORDER BY expires_at LIMIT ?")
            .bind(now)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(file_from_row)
            .collect()
    }

    async fn delete_file(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM files WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn due_callbacks(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<CallbackRecord>> {
        let rows = sqlx::query(
            "UPDATE callbacks SET lease_until = ?
             WHERE id IN (
                SELECT c.id FROM callbacks c
                WHERE c.state = 'pending' AND c.next_at <= ? AND c.lease_until <= ?
                  AND NOT EXISTS (SELECT 1 FROM callbacks p
                                  WHERE p.task_id = c.task_id AND p.state = 'pending' AND p.id < c.id)
                ORDER BY c.id LIMIT ?)
             RETURNING *",
        )
        .bind(lease_until)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        let mut v: Vec<CallbackRecord> = rows
            .iter()
            .map(callback_from_row)
            .collect::<StoreResult<_>>()?;
        v.sort_by_key(|c| c.id);
        Ok(v)
    }

    async fn callback_outcome(&self, id: i64, outcome: Delivery, now: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        match outcome {
            Delivery::Delivered => {
                sqlx::query(
                    "UPDATE callbacks SET state = 'delivered', attempts = attempts + 1, lease_until = 0,
                            updated_at = ?, last_error = NULL WHERE id = ?",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            Delivery::Retry { next_at, error } => {
                sqlx::query(
                    "UPDATE callbacks SET attempts = attempts + 1, next_at = ?, lease_until = 0,
                            updated_at = ?, last_error = ? WHERE id = ?",
                )
                .bind(next_at)
                .bind(now)
                .bind(&error)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            Delivery::Failed { error } => {
                let row = sqlx::query(
                    "UPDATE callbacks SET state = 'failed', attempts = attempts + 1, lease_until = 0,
                            updated_at = ?, last_error = ? WHERE id = ? RETURNING task_id, stage",
                )
                .bind(now)
                .bind(&error)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = row {
                    let task_id: String = row.try_get("task_id")?;
                    let stage: String = row.try_get("stage")?;
                    if stage == "complete" || stage == "wav" {
                        sqlx::query(
                            "UPDATE tasks SET status = 'CALLBACK_EXCEPTION', updated_at = ?,
                                    error_message = COALESCE(error_message, ?)
                             WHERE id = ? AND status = 'SUCCESS'",
                        )
                        .bind(now)
                        .bind(format!("callback delivery failed: {error}"))
                        .bind(&task_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn next_callback_at(&self) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(MAX(next_at, lease_until)) FROM callbacks WHERE state = 'pending'",
        )
        .fetch_one(&self.reader)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open_path(&dir.path().join("t.db"))
            .await
            .unwrap();
        (dir, s)
    }

    fn new_key(id: &str, credits: i64) -> NewKey {
        NewKey {
            id: id.into(),
            name: id.into(),
            hash: id.as_bytes().to_vec(),
            prefix: "bm_x".into(),
            credits,
            rate_limit: None,
            rate_window_s: None,
            webhook_secret: None,
        }
    }

    fn new_task(id: &str, key: &str, cost: i64) -> NewTask {
        NewTask {
            id: id.into(),
            kind: TaskKind::Generate,
            key_id: key.into(),
            param: "{}".into(),
            request: "{}".into(),
            model: "V4_5PLUS".into(),
            callback_url: "http://cb".into(),
            track_ids: vec!["a".into(), "b".into()],
            cost,
            parent_task_id: None,
            audio_id: None,
        }
    }

    #[tokio::test]
    async fn a_shared_name_picks_no_key_and_an_id_always_does() {
        let (_d, s) = store().await;
        for (id, name) in [("key_a", "team"), ("key_b", "team"), ("key_c", "solo")] {
            let k = NewKey {
                name: name.into(),
                ..new_key(id, 10)
            };
            s.create_key(k, 0).await.unwrap();
        }
        let both = KeyChange::Ambiguous(vec!["key_a".into(), "key_b".into()]);
        assert_eq!(s.revoke_key("team", 1).await.unwrap(), both);
        assert_eq!(s.add_credits("team", 5).await.unwrap(), both);
        let live = |k: &KeyRecord| k.revoked_at.is_none();
        assert!(
            s.list_keys().await.unwrap().iter().all(live),
            "none revoked"
        );
        assert_eq!(s.credits("key_a").await.unwrap(), 10, "none credited");

        assert_eq!(
            s.revoke_key("solo", 2).await.unwrap(),
            KeyChange::Done("key_c".into())
        );
        assert_eq!(
            s.revoke_key("key_a", 3).await.unwrap(),
            KeyChange::Done("key_a".into())
        );
        // One live key left with the name: the name picks it now.
        assert_eq!(
            s.add_credits("team", 5).await.unwrap(),
            KeyChange::Done("key_b".into())
        );
        assert_eq!(s.credits("key_b").await.unwrap(), 15);
        assert_eq!(s.revoke_key("key_a", 4).await.unwrap(), KeyChange::NotFound);
        assert_eq!(s.revoke_key("solo", 4).await.unwrap(), KeyChange::NotFound);
        // Credits by id reach a revoked key; by name only live ones.
        assert_eq!(
            s.add_credits("key_c", 1).await.unwrap(),
            KeyChange::Done("key_c".into())
        );
        assert_eq!(
            s.add_credits("nobody", 1).await.unwrap(),
            KeyChange::NotFound
        );
        assert_eq!(
            s.key_by_id("key_a").await.unwrap().unwrap().revoked_at,
            Some(3)
        );
    }

    #[tokio::test]
    async fn credits_are_taken_and_refunded_atomically() {
        let (_d, s) = store().await;
        s.create_key(new_key("k1", 25), 0).await.unwrap();
        s.submit(new_task("t1", "k1", 10), 1).await.unwrap();
        s.submit(new_task("t2", "k1", 10), 2).await.unwrap();
        assert!(matches!(
            s.submit(new_task("t3", "k1", 10), 3).await,
            Err(SubmitError::NoCredits)
        ));
        assert!(s.task("t3", None).await.unwrap().is_none());
        assert_eq!(s.credits("k1").await.unwrap(), 5);
        let claimed = s.claim("w1", 10, 100).await.unwrap().unwrap();
        assert_eq!(claimed.id, "t1");
        assert_eq!(claimed.attempts, 1);
        let failed = Failure {
            task_id: "t1".into(),
            owner: Some("w1".into()),
            status: "GENERATE_AUDIO_FAILED".into(),
            code: 500,
            message: "boom".into(),
            callback: None,
        };
        assert!(s.fail(failed.clone(), 11).await.unwrap());
        assert!(!s.fail(failed, 12).await.unwrap(), "refund happens once");
        assert_eq!(s.credits("k1").await.unwrap(), 15);
    }

    #[tokio::test]
    async fn leases_expire_and_owners_are_checked() {
        let (_d, s) = store().await;
        s.create_key(new_key("k1", 100), 0).await.unwrap();
        s.submit(new_task("t1", "k1", 0), 1).await.unwrap();
        let a = s.claim("w1", 10, 100).await.unwrap().unwrap();
        assert_eq!(a.id, "t1");
        assert!(s.claim("w2", 50, 150).await.unwrap().is_none(), "leased");
        assert!(s.heartbeat("t1", "w1", 200).await.unwrap());
        assert!(s.claim("w2", 150, 250).await.unwrap().is_none(), "renewed");
        let b = s.claim("w2", 201, 300).await.unwrap().unwrap();
        assert_eq!((b.id.as_str(), b.attempts), ("t1", 2));
        assert!(!s.heartbeat("t1", "w1", 400).await.unwrap(), "w1 lost it");
        let step = Advance {
            task_id: "t1".into(),
            owner: "w1".into(),
            status: "TEXT_SUCCESS".into(),
            ..Default::default()
        };
        assert!(!s.advance(step.clone(), 210).await.unwrap());
        assert!(
            s.advance(
                Advance {
                    owner: "w2".into(),
                    ..step
                },
                211
            )
            .await
            .unwrap()
        );
        assert_eq!(
            s.task("t1", None).await.unwrap().unwrap().status,
            "TEXT_SUCCESS"
        );
        assert!(s.task("t1", Some("other")).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn stems_are_attached_only_by_the_lease_holder() {
        let (_d, s) = store().await;
        s.create_key(new_key("k1", 100), 0).await.unwrap();
        s.submit(new_task("t1", "k1", 0), 1).await.unwrap();
        s.claim("w1", 10, 100).await.unwrap().unwrap();
        let track = TrackRecord {
            id: "a".into(),
            task_id: "t1".into(),
            variation: 1,
            title: "T".into(),
            tags: String::new(),
            prompt: String::new(),
            model_name: "m".into(),
            duration: 9.0,
            song_file: "f-song".into(),
            instrumental_file: "f-inst".into(),
            midi_file: "f-midi".into(),
            cover_file: "f-cover".into(),
            stems_file: String::new(),
            stems: Vec::new(),
            plan: "{}".into(),
            loudness_lufs: -14.0,
            true_peak_dbtp: -1.0,
            created_at: 20,
        };
        let step = Advance {
            task_id: "t1".into(),
            owner: "w1".into(),
            status: "FIRST_SUCCESS".into(),
            track: Some(track.clone()),
            ..Default::default()
        };
        assert!(s.advance(step, 20).await.unwrap());
        let file = |id: &str, kind: &str| FileRecord {
            id: id.into(),
            key_id: "k1".into(),
            task_id: Some("t1".into()),
            kind: kind.into(),
            name: format!("{id}.bin"),
            mime: "application/octet-stream".into(),
            size: 3,
            path: format!("media/t1/{id}"),
            upload_path: None,
            created_at: 30,
            expires_at: 1000,
        };
        let files = [file("zip1", "stems"), file("piano1", "stem")];
        let with_stems = TrackRecord {
            stems_file: "zip1".into(),
            stems: vec![("piano".into(), "piano1".into())],
            ..track
        };
        // Another worker took the task over: nothing is written.
        let b = s.claim("w2", 101, 300).await.unwrap().unwrap();
        assert_eq!(b.id, "t1");
        assert!(
            !s.attach_stems("t1", "w1", &with_stems, &files, 110)
                .await
                .unwrap()
        );
        let stored = s.track("a").await.unwrap().unwrap();
        assert_eq!((stored.stems_file.as_str(), stored.stems.len()), ("", 0));
        assert!(s.file("zip1").await.unwrap().is_none());
        // The holder's attach writes the files and the track's stems together.
        assert!(
            s.attach_stems("t1", "w2", &with_stems, &files, 120)
                .await
                .unwrap()
        );
        let stored = s.track("a").await.unwrap().unwrap();
        assert_eq!(stored.stems_file, "zip1");
        assert_eq!(stored.stems, with_stems.stems);
        assert_eq!(s.file("piano1").await.unwrap().unwrap().kind, "stem");
        assert_eq!(s.task_files("t1").await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn callbacks_are_delivered_in_order_per_task() {
        let (_d, s) = store().await;
        s.create_key(new_key("k1", 100), 0).await.unwrap();
        s.submit(new_task("t1", "k1", 0), 1).await.unwrap();
        s.claim("w", 1, 1000).await.unwrap().unwrap();
        for (i, stage) in ["text", "first"].iter().enumerate() {
            let cb = NewCallback {
                task_id: "t1".into(),
                key_id: "k1".into(),
                url: "http://x".into(),
                stage: stage.to_string(),
                body: "{}".into(),
            };
            s.advance(
                Advance {
                    task_id: "t1".into(),
                    owner: "w".into(),
                    status: "TEXT_SUCCESS".into(),
                    callback: Some(cb),
                    ..Default::default()
                },
                2 + i as i64,
            )
            .await
            .unwrap();
        }
        let due = s.due_callbacks(10, 20, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].stage, "text");
        assert!(
            s.due_callbacks(10, 20, 10).await.unwrap().is_empty(),
            "leased"
        );
        s.callback_outcome(
            due[0].id,
            Delivery::Retry {
                next_at: 30,
                error: "503".into(),
            },
            11,
        )
        .await
        .unwrap();
        assert!(
            s.due_callbacks(12, 20, 10).await.unwrap().is_empty(),
            "first waits for text"
        );
        let due = s.due_callbacks(30, 40, 10).await.unwrap();
        assert_eq!((due[0].stage.as_str(), due[0].attempts), ("text", 1));
        s.callback_outcome(due[0].id, Delivery::Delivered, 31)
            .await
            .unwrap();
        let due = s.due_callbacks(32, 40, 10).await.unwrap();
        assert_eq!(due[0].stage, "first");
    }

    #[tokio::test]
    async fn uploads_overwrite_in_place() {
        let (_d, s) = store().await;
        let f = FileRecord {
            id: "f1".into(),
            key_id: "k".into(),
            task_id: None,
            kind: "upload".into(),
            name: "a.mp3".into(),
            mime: "audio/mpeg".into(),
            size: 1,
            path: "uploads/f1".into(),
            upload_path: Some("vocals".into()),
            created_at: 1,
            expires_at: 100,
        };
        s.put_file(f.clone()).await.unwrap();
        let again = s
            .put_file(FileRecord {
                id: "f2".into(),
                size: 2,
                path: "uploads/f2".into(),
                ..f.clone()
            })
            .await
            .unwrap();
        assert_eq!(again.id, "f1");
        let got = s.file("f1").await.unwrap().unwrap();
        assert_eq!((got.size, got.path.as_str()), (2, "uploads/f2"));
        assert!(s.file("f2").await.unwrap().is_none());
        assert_eq!(s.expired_files(100, 10).await.unwrap().len(), 1);
        assert!(s.expired_files(99, 10).await.unwrap().is_empty());
    }
}
