-- Bandmate's task store (SQLite). Times are Unix epoch milliseconds.

-- API keys: only the SHA-256 of the secret is stored.
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,          -- public id, e.g. key_3f9a1c2b
    name           TEXT NOT NULL,
    key_hash       BLOB NOT NULL UNIQUE,      -- SHA-256 of the secret key
    key_prefix     TEXT NOT NULL,             -- first characters, for listings
    credits        INTEGER NOT NULL,
    rate_limit     INTEGER,                   -- submissions per window; NULL = server default
    rate_window_s  REAL,                      -- window length; NULL = server default
    webhook_secret TEXT,                      -- HMAC secret for callback signatures
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);

-- Tasks: add-instrumental generations and WAV conversions, one queue.
CREATE TABLE tasks (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order
    id             TEXT NOT NULL UNIQUE,               -- 32 lowercase hex
    kind           TEXT NOT NULL,                      -- 'generate' | 'wav'
    key_id         TEXT NOT NULL REFERENCES api_keys(id),
    status         TEXT NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1,         -- 1 until a terminal status
    param          TEXT NOT NULL,                      -- the request body as received
    request        TEXT NOT NULL,                      -- the validated request (JSON)
    model          TEXT NOT NULL,
    callback_url   TEXT NOT NULL,
    track_ids      TEXT NOT NULL DEFAULT '[]',         -- JSON array of the track UUIDs
    plan           TEXT,                               -- engine plan JSON (text stage)
    error_code     INTEGER,
    error_message  TEXT,
    cost           INTEGER NOT NULL DEFAULT 0,
    refunded       INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    lease_until    INTEGER NOT NULL DEFAULT 0,
    parent_task_id TEXT,                               -- wav: the generation task
    audio_id       TEXT,                               -- wav: the track
    wav_track      TEXT UNIQUE,                        -- wav: track id while a WAV exists or runs
    result_file_id TEXT,                               -- wav: the WAV file
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    completed_at   INTEGER
);
CREATE INDEX tasks_queue ON tasks(active, seq);
CREATE INDEX tasks_created ON tasks(created_at);

-- Finished variations.
CREATE TABLE tracks (
    id             TEXT PRIMARY KEY,                   -- UUID
    task_id        TEXT NOT NULL,
    variation      INTEGER NOT NULL,
    title          TEXT NOT NULL,
    tags           TEXT NOT NULL,
    prompt         TEXT NOT NULL,
    model_name     TEXT NOT NULL,
    duration       REAL NOT NULL,
    song_file      TEXT NOT NULL,
    instrumental_file TEXT NOT NULL,
    midi_file      TEXT NOT NULL,
    cover_file     TEXT NOT NULL,
    stems_file     TEXT NOT NULL,
    stems          TEXT NOT NULL,                      -- JSON [[name, file id], ...]
    plan           TEXT NOT NULL,
    loudness_lufs  REAL NOT NULL,
    true_peak_dbtp REAL NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (task_id, variation)
);

-- Stored files (generated media, fetched inputs, uploads). The id is the unguessable part
-- of the download URL.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    key_id       TEXT NOT NULL,
    task_id      TEXT,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    mime         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    path         TEXT NOT NULL,                        -- relative to the data directory
    upload_path  TEXT,                                 -- uploads: (key, uploadPath, fileName) is unique
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX files_task ON files(task_id);
CREATE INDEX files_expiry ON files(expires_at);
CREATE UNIQUE INDEX files_upload ON files(key_id, upload_path, name) WHERE upload_path IS NOT NULL;

-- Callback outbox: written in the same transaction as the state it reports.
CREATE TABLE callbacks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id      TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    url          TEXT NOT NULL,
    stage        TEXT NOT NULL,                        -- text | first | complete | error | wav
    body         TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',      -- pending | delivered | failed
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX callbacks_due ON callbacks(state, next_at);
CREATE INDEX callbacks_task ON callbacks(task_id, state, id);
