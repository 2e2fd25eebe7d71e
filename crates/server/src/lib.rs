//! The Suno-style add-instrumental HTTP service: API, task store and queue, workers, fetcher,
//! callbacks, uploads, web player.
//!
//! ```text
//! api (axum) ──submit──► store (SQLite, one transaction: credits + task) ──wake──► workers
//! workers: claim (lease) ─► fetch (guard, limits) ─► pipeline on the blocking pool
//!          ─► advance (state + files + callback row, one transaction) ─► dispatcher ─► POST
//! sweeper: retention of files and records · maintenance watcher
//! ```
//!
//! Modules: [`config`] (layers), [`keys`] (API keys), [`store`] (the trait and SQLite),
//! [`validate`] (422s), [`ratelimit`], [`guard`] (SSRF), [`fetch`], [`callbacks`],
//! [`files`] (storage, Range, ZIP), [`pipeline`] (the engine behind a trait), [`worker`],
//! [`records`] (answer and callback shapes), [`api`] (handlers), [`openapi`], [`metrics`],
//! [`player`] (the web page).
//!
//! Threading: everything runs on one tokio runtime; the engine runs on tokio's blocking pool,
//! at most one call per worker, and workers default to one per core.

pub mod api;
pub mod callbacks;
pub mod config;
pub mod envelope;
pub mod fetch;
pub mod files;
pub mod guard;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod pipeline;
pub mod player;
pub mod ratelimit;
pub mod records;
pub mod store;
pub mod validate;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use config::Config;
pub use pipeline::{EnginePipeline, PendingStems, Pipeline, Prepared, StageError};
pub use store::{SqliteStore, Store};

use crate::fetch::Fetcher;
use crate::files::FileStore;
use crate::guard::{AllowList, Guard};
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Everything the handlers, workers and background loops share.
pub struct App {
    /// The configuration (validated).
    pub config: Config,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Files under the data directory.
    pub files: FileStore,
    /// The SSRF guard.
    pub guard: Guard,
    /// Downloads.
    pub fetcher: Fetcher,
    /// Callback HTTP client.
    pub callback_client: reqwest::Client,
    /// Metrics.
    pub metrics: Metrics,
    /// Submissions per key.
    pub limiter: RateLimiter,
    /// The engine stages.
    pub pipeline: Arc<dyn Pipeline>,
    /// Base of absolute URLs, no trailing slash.
    pub base_url: String,
    /// Wakes idle workers after a submit.
    pub wake_workers: Notify,
    /// Wakes the callback dispatcher after a state change.
    pub wake_callbacks: Notify,
    /// Maintenance mode (config or the `MAINTENANCE` file).
    pub maintenance: AtomicBool,
    /// This process's id in lease owners.
    pub instance: String,
}

impl App {
    /// Build the shared state.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        pipeline: Arc<dyn Pipeline>,
        base_url: String,
    ) -> Result<Arc<Self>, config::ConfigError> {
        config.validate()?;
        let guard = Guard::new(
            AllowList::parse(&config.fetch.allow).map_err(config::ConfigError::Invalid)?,
        );
        let fetcher = Fetcher::new(&config.fetch, guard.clone());
        let callback_client = fetch::guarded_client(
            &guard,
            Duration::from_secs_f64(config.callbacks.timeout_s.min(10.0)),
        );
        Ok(Arc::new(Self {
            files: FileStore::new(&config.server.data_dir),
            maintenance: AtomicBool::new(config.server.maintenance),
            config,
            store,
            guard,
            fetcher,
            callback_client,
            metrics: Metrics::new(),
            limiter: RateLimiter::new(),
            pipeline,
            base_url,
            wake_workers: Notify::new(),
            wake_callbacks: Notify::new(),
            instance: keys::random_hex(4),
        }))
    }

    /// Whether submissions are refused with 455.
    pub fn in_maintenance(&self) -> bool {
        self.maintenance.load(Ordering::Relaxed)
    }
}

/// Which background loops a process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    /// Serve HTTP.
    pub http: bool,
    /// Workers (count from the config).
    pub workers: bool,
}

/// A running server (or worker process).
pub struct Running {
    /// The shared state.
    pub app: Arc<App>,
    /// Where HTTP listens, if it does.
    pub addr: Option<SocketAddr>,
    /// The development key created at this start (first start only).
    pub dev_key: Option<String>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// Held (locked) while this process lives; see [`claim_dead_instances`].
    _alive: Option<std::fs::File>,
}

impl Running {
    /// Stop gracefully: stop accepting, let workers give their leases back, wait.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        if self._alive.is_some() {
            let lock = self
                .app
                .config
                .server
                .data_dir
                .join("instances")
                .join(format!("{}.lock", self.app.instance));
            let _ = std::fs::remove_file(lock);
        }
    }

    /// Stop abruptly, as a killed process would: no lease is given back.
    pub fn kill(self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Wait until a shutdown is asked for by `signal`, then shut down.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }
}

/// Open the store named by the configuration.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.server.data_dir)?;
        Ok(Arc::new(SqliteStore::open(&url).await?))
    } else {
        anyhow::bail!(
            "unsupported database URL '{url}': this build supports SQLite (sqlite://PATH)"
        )
    }
}

/// Start the service with the real engine.
pub async fn start_with_engine(config: Config, roles: Roles) -> anyhow::Result<Running> {
    config.validate()?;
    let engine = bandmate_engine::Engine::new(config.engine_config()?)
        .map_err(|e| anyhow::anyhow!("cannot start the engine: {e}"))?;
    start(config, Arc::new(EnginePipeline::new(engine)), roles).await
}

/// Start the service: bind (when `roles.http`), open the store, create the development key
/// on first start, spawn workers, dispatcher, sweeper and maintenance watcher.
pub async fn start(
    config: Config,
    pipeline: Arc<dyn Pipeline>,
    roles: Roles,
) -> anyhow::Result<Running> {
    config.validate()?;
    std::fs::create_dir_all(&config.server.data_dir)?;
    let store = open_store(&config).await?;
    let listener = if roles.http {
        Some(tokio::net::TcpListener::bind(&config.server.listen).await?)
    } else {
        None
    };
    let addr = match &listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let base = match addr {
        Some(a) => config.public_base(a),
        None => config.public_base(config.server.listen.parse()?),
    };
    let dev_key = if roles.http && config.server.dev_key && store.count_keys().await? == 0 {
        let (secret, _) = keys::create_key(
            store.as_ref(),
            keys::KeySpec {
                name: "dev".into(),
                credits: config.credits.default_credits,
                ..Default::default()
            },
            now_ms(),
        )
        .await?;
        Some(secret)
    } else {
        None
    };
    let app = App::new(config, store, pipeline, base)?;
    let alive = if roles.workers {
        Some(claim_dead_instances(&app).await?)
    } else {
        None
    };
    let (tx, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(listener) = listener {
        let router = api::router(app.clone());
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = rx.wait_for(|v| *v).await;
            });
            if let Err(e) = serve.await {
                tracing::error!("HTTP server failed: {e}");
            }
        }));
    }
    if roles.workers {
        for i in 0..app.config.workers.resolved_count() {
            tasks.push(tokio::spawn(worker::run(app.clone(), i, rx.clone())));
        }
    }
    tasks.push(tokio::spawn(callbacks::run(app.clone(), rx.clone())));
    tasks.push(tokio::spawn(worker::sweeper(app.clone(), rx.clone())));
    tasks.push(tokio::spawn(worker::maintenance_watcher(app.clone(), rx)));
    Ok(Running {
        app,
        addr,
        dev_key,
        shutdown: tx,
        tasks,
        _alive: alive,
    })
}

/// Liveness of worker processes on this data directory, so a restart resumes a killed
/// process's tasks at once instead of after their leases expire.
///
/// Each process with workers holds an exclusive lock on `<data_dir>/instances/<id>.lock` for
/// its lifetime (the OS drops the lock when the process dies, however it dies). At start, a
/// lock file that can be locked belongs to a dead process: its leases are released and the
/// file removed. Processes on other machines (a shared PostgreSQL) are not seen here; their
/// leases expire as usual.
async fn claim_dead_instances(app: &App) -> anyhow::Result<std::fs::File> {
    let dir = app.config.server.data_dir.join("instances");
    std::fs::create_dir_all(&dir)?;
    let mine = std::fs::File::create(dir.join(format!("{}.lock", app.instance)))?;
    mine.try_lock()
        .map_err(|e| anyhow::anyhow!("cannot lock this process's instance file: {e}"))?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".lock"))
            .map(str::to_string)
        else {
            continue;
        };
        if id == app.instance {
            continue;
        }
        let Ok(other) = std::fs::File::open(&path) else {
            continue;
        };
        if other.try_lock().is_ok() {
            let released = app.store.release_instance(&id).await?;
            if released > 0 {
                tracing::info!("resuming {released} tasks of a stopped process ({id})");
            }
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(mine)
}
