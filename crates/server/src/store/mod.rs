//! The task store: keys, tasks, tracks, files and the callback outbox, behind one trait.
//!
//! The trait is shaped so a PostgreSQL version can follow the SQLite one ([`SqliteStore`]):
//!
//! - every state change of a task is one call, one transaction, and the callback that reports
//!   it is written to the outbox in that same transaction (webhooks fire after the state is
//!   committed, never before and never without it);
//! - [`Store::claim`] picks the oldest runnable task whose lease has expired and takes a lease
//!   on it in one statement (SQLite: `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`, under
//!   the database's single writer; PostgreSQL: the same with `FOR UPDATE SKIP LOCKED` in the
//!   sub-select), counting the attempt;
//! - every later write by a worker names the lease owner, so a worker that lost its lease
//!   (paused past expiry, another worker took over) cannot overwrite the new owner's work;
//! - credits move in the same transaction as the task they pay for.
//!
//! Times are Unix epoch milliseconds throughout.

mod sqlite;

pub use sqlite::SqliteStore;

use async_trait::async_trait;

/// A store failure (database unreachable, corrupt row …): always our fault, answered as 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not parse.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// Why a submission was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The key has fewer credits than the task costs.
    #[error("insufficient credits")]
    NoCredits,
    /// A WAV of that track already exists or is being made.
    #[error("WAV record already exists")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result alias.
pub type StoreResult<T> = Result<T, StoreError>;

/// An API key as stored (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Public id (`key_…`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// First characters of the secret, for listings.
    pub prefix: String,
    /// Credits left.
    pub credits: i64,
    /// Submissions per window (None: the server default).
    pub rate_limit: Option<u32>,
    /// Window in seconds (None: the server default).
    pub rate_window_s: Option<f64>,
    /// HMAC secret for callback signatures.
    pub webhook_secret: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Revocation time.
    pub revoked_at: Option<i64>,
}

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Public id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// SHA-256 of the secret.
    pub hash: Vec<u8>,
    /// First characters of the secret.
    pub prefix: String,
    /// Starting credits.
    pub credits: i64,
    /// Submissions per window.
    pub rate_limit: Option<u32>,
    /// Window in seconds.
    pub rate_window_s: Option<f64>,
    /// HMAC secret.
    pub webhook_secret: Option<String>,
}

/// The key an operator's "id or name" picked, and what was done to it. Names are for people
/// and not unique (the CLI's default is `default`), so a name only picks a key when exactly
/// one live key has it; an id always picks its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// The key with this id was changed.
    Done(String),
    /// No key has this id, and no live key has this name.
    NotFound,
    /// The name is shared by these live keys (ids, oldest first); nothing was changed.
    Ambiguous(Vec<String>),
}

/// The two kinds of task in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// add-instrumental.
    Generate,
    /// A WAV of one track.
    Wav,
}

impl TaskKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Generate => "generate",
            TaskKind::Wav => "wav",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "generate" => Ok(TaskKind::Generate),
            "wav" => Ok(TaskKind::Wav),
            _ => Err(StoreError::Corrupt(format!("task kind '{s}'"))),
        }
    }
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// 32 lowercase hex.
    pub id: String,
    /// Generation or WAV.
    pub kind: TaskKind,
    /// The key that made it.
    pub key_id: String,
    /// `PENDING`, `TEXT_SUCCESS`, … (generate) or the WAV `successFlag`.
    pub status: String,
    /// Not yet terminal.
    pub active: bool,
    /// The request body as received.
    pub param: String,
    /// The validated request (JSON).
    pub request: String,
    /// Model profile name.
    pub model: String,
    /// Where callbacks go.
    pub callback_url: String,
    /// The track UUIDs, assigned at submit.
    pub track_ids: Vec<String>,
    /// The plan (text stage), JSON.
    pub plan: Option<String>,
    /// Error code of a failure.
    pub error_code: Option<i64>,
    /// Error message of a failure.
    pub error_message: Option<String>,
    /// Credits charged.
    pub cost: i64,
    /// Claims so far.
    pub attempts: i64,
    /// WAV: the generation task.
    pub parent_task_id: Option<String>,
    /// WAV: the track.
    pub audio_id: Option<String>,
    /// WAV: the result file.
    pub result_file_id: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// When it reached a terminal status.
    pub completed_at: Option<i64>,
}

/// A task to create.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// 32 lowercase hex.
    pub id: String,
    /// Generation or WAV.
    pub kind: TaskKind,
    /// The key.
    pub key_id: String,
    /// The request body as received.
    pub param: String,
    /// The validated request.
    pub request: String,
    /// Model profile name.
    pub model: String,
    /// Callback URL.
    pub callback_url: String,
    /// Track UUIDs.
    pub track_ids: Vec<String>,
    /// Credits to take.
    pub cost: i64,
    /// WAV: the generation task.
    pub parent_task_id: Option<String>,
    /// WAV: the track (also the uniqueness key of a WAV).
    pub audio_id: Option<String>,
}

/// A stored file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    /// Unguessable id (32 hex).
    pub id: String,
    /// Owner.
    pub key_id: String,
    /// The task it belongs to.
    pub task_id: Option<String>,
    /// `song`, `instrumental`, `midi`, `cover`, `stems`, `stem`, `wav`, `input`, `upload`.
    pub kind: String,
    /// File name in the download URL.
    pub name: String,
    /// Content type.
    pub mime: String,
    /// Bytes.
    pub size: i64,
    /// Path relative to the data directory.
    pub path: String,
    /// Uploads: the `uploadPath`.
    pub upload_path: Option<String>,
    /// Creation (or last overwrite) time.
    pub created_at: i64,
    /// When the sweeper deletes it.
    pub expires_at: i64,
}

/// A finished variation.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRecord {
    /// UUID.
    pub id: String,
    /// Its task.
    pub task_id: String,
    /// 1 or 2.
    pub variation: i64,
    /// Title.
    pub title: String,
    /// Tags.
    pub tags: String,
    /// Prompt.
    pub prompt: String,
    /// Model name.
    pub model_name: String,
    /// Seconds.
    pub duration: f64,
    /// File ids.
    pub song_file: String,
    /// Instrumental MP3.
    pub instrumental_file: String,
    /// MIDI.
    pub midi_file: String,
    /// Cover PNG.
    pub cover_file: String,
    /// ZIP of all stems.
    pub stems_file: String,
    /// `(part name, file id)` per stem.
    pub stems: Vec<(String, String)>,
    /// Plan and arrangement JSON.
    pub plan: String,
    /// Integrated loudness.
    pub loudness_lufs: f64,
    /// True peak.
    pub true_peak_dbtp: f64,
    /// Creation time.
    pub created_at: i64,
}

/// A callback to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCallback {
    /// The task.
    pub task_id: String,
    /// The key (for its webhook secret).
    pub key_id: String,
    /// Receiver.
    pub url: String,
    /// `text`, `first`, `complete`, `error`, `wav`.
    pub stage: String,
    /// JSON body.
    pub body: String,
}

/// A callback due for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackRecord {
    /// Outbox id.
    pub id: i64,
    /// The task.
    pub task_id: String,
    /// The key.
    pub key_id: String,
    /// Receiver.
    pub url: String,
    /// Stage.
    pub stage: String,
    /// JSON body.
    pub body: String,
    /// Attempts before this one.
    pub attempts: i64,
}

/// One forward step of a running task, applied atomically (and only while `owner` holds
/// the lease).
#[derive(Debug, Clone, Default)]
pub struct Advance {
    /// The task.
    pub task_id: String,
    /// The lease owner.
    pub owner: String,
    /// The new status.
    pub status: String,
    /// Whether the status is terminal.
    pub terminal: bool,
    /// The plan, when the text stage finished.
    pub plan: Option<String>,
    /// Files to record.
    pub files: Vec<FileRecord>,
    /// A finished track.
    pub track: Option<TrackRecord>,
    /// WAV: the result file.
    pub result_file_id: Option<String>,
    /// The callback reporting this step.
    pub callback: Option<NewCallback>,
}

/// A terminal failure, applied atomically: status, error, refund, callback.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The task.
    pub task_id: String,
    /// The lease owner (None: whoever holds it, e.g. the exhausted-retries path).
    pub owner: Option<String>,
    /// Terminal status.
    pub status: String,
    /// `errorCode`.
    pub code: i64,
    /// `errorMessage`.
    pub message: String,
    /// The error callback.
    pub callback: Option<NewCallback>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// 2xx.
    Delivered,
    /// Try again at this time.
    Retry {
        /// When.
        next_at: i64,
        /// Why the attempt failed.
        error: String,
    },
    /// Given up.
    Failed {
        /// Why.
        error: String,
    },
}

/// The store.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- keys
    /// Create a key.
    async fn create_key(&self, key: NewKey, now: i64) -> StoreResult<KeyRecord>;
    /// All keys, oldest first.
    async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>>;
    /// Revoke a live key by id, or by name when exactly one live key has that name (see
    /// [`KeyChange`]).
    async fn revoke_key(&self, id_or_name: &str, now: i64) -> StoreResult<KeyChange>;
    /// Find an active key by the hash of its secret.
    async fn key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<KeyRecord>>;
    /// A key by id (revoked ones included).
    async fn key_by_id(&self, id: &str) -> StoreResult<Option<KeyRecord>>;
    /// Number of keys ever created (revoked ones included).
    async fn count_keys(&self) -> StoreResult<i64>;
    /// Add (or with a negative delta take) credits to a key by id, or by name when exactly
    /// one live key has that name (see [`KeyChange`]); credits never go below 0.
    async fn add_credits(&self, id_or_name: &str, delta: i64) -> StoreResult<KeyChange>;
    /// Credits left of a key.
    async fn credits(&self, key_id: &str) -> StoreResult<i64>;

    // --- tasks
    /// Store a task and take its cost from the key, atomically.
    async fn submit(&self, task: NewTask, now: i64) -> Result<(), SubmitError>;
    /// A task, if it exists and (when `key_id` is given) belongs to that key.
    async fn task(&self, id: &str, key_id: Option<&str>) -> StoreResult<Option<TaskRecord>>;
    /// The finished tracks of a task, by variation.
    async fn tracks(&self, task_id: &str) -> StoreResult<Vec<TrackRecord>>;
    /// A track by id.
    async fn track(&self, id: &str) -> StoreResult<Option<TrackRecord>>;
    /// Claim the oldest runnable task whose lease expired: lease it to `owner` until
    /// `lease_until` and count the attempt.
    async fn claim(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<TaskRecord>>;
    /// Renew a lease; false when `owner` no longer holds it.
    async fn heartbeat(&self, task_id: &str, owner: &str, lease_until: i64) -> StoreResult<bool>;
    /// Give a lease back without counting the attempt (graceful shutdown).
    async fn release(&self, task_id: &str, owner: &str) -> StoreResult<()>;
    /// Expire every lease held by a process that is known to be dead (lease owners are
    /// `<instance>-w<n>`); returns how many tasks were released. Their attempt stays counted.
    async fn release_instance(&self, instance: &str) -> StoreResult<u64>;
    /// Apply one step; false when `owner` lost the lease (nothing was written).
    async fn advance(&self, step: Advance, now: i64) -> StoreResult<bool>;
    /// Give a stored track the stems made after it (`stems_file`, `stems`) and record their
    /// files, in one transaction; false when `owner` lost the lease (nothing was written).
    async fn attach_stems(
        &self,
        task_id: &str,
        owner: &str,
        track: &TrackRecord,
        files: &[FileRecord],
        now: i64,
    ) -> StoreResult<bool>;
    /// Fail a task for good, refund its credits, enqueue the error callback; false when it
    /// was already terminal or the lease was lost.
    async fn fail(&self, failure: Failure, now: i64) -> StoreResult<bool>;
    /// Tasks per (kind, status).
    async fn status_counts(&self) -> StoreResult<Vec<(String, String, i64)>>;
    /// Runnable tasks waiting for a worker.
    async fn queue_depth(&self, now: i64) -> StoreResult<i64>;
    /// Delete task records (their tracks and callbacks) created before `cutoff`; returns how
    /// many tasks went.
    async fn delete_tasks_before(&self, cutoff: i64) -> StoreResult<u64>;

    // --- files
    /// Record a file. For uploads (`upload_path` set) an existing (key, path, name) is
    /// overwritten in place and keeps its id; the stored record is returned.
    async fn put_file(&self, file: FileRecord) -> StoreResult<FileRecord>;
    /// A file by id.
    async fn file(&self, id: &str) -> StoreResult<Option<FileRecord>>;
    /// An upload by (key, path, name).
    async fn upload(
        &self,
        key_id: &str,
        upload_path: &str,
        name: &str,
    ) -> StoreResult<Option<FileRecord>>;
    /// Files of a task of a given kind.
    async fn task_files(&self, task_id: &str) -> StoreResult<Vec<FileRecord>>;
    /// Files whose lifetime ended (up to `limit`).
    async fn expired_files(&self, now: i64, limit: i64) -> StoreResult<Vec<FileRecord>>;
    /// Forget a file record.
    async fn delete_file(&self, id: &str) -> StoreResult<()>;

    // --- callbacks
    /// Lease up to `limit` due deliveries, at most one per task and always the oldest
    /// undelivered one of its task (so stages arrive in order).
    async fn due_callbacks(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<CallbackRecord>>;
    /// Record how an attempt ended. A `complete` (or `wav`) callback that failed for good
    /// turns a successful task into `CALLBACK_EXCEPTION`; its results stay.
    async fn callback_outcome(&self, id: i64, outcome: Delivery, now: i64) -> StoreResult<()>;
    /// Earliest pending delivery time, if any.
    async fn next_callback_at(&self) -> StoreResult<Option<i64>>;
}
