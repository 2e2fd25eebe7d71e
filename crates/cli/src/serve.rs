//! `bandmate serve` and `bandmate worker`: the HTTP service with its workers, or workers
//! alone (sharing the database and the data directory with a `serve`).
//!
//! Configuration layers: defaults < TOML file (`--config`, `$BANDMATE_CONFIG`, or
//! `./bandmate.toml` when present) < `BANDMATE_*` environment < the flags below and
//! `--set key.path=value`. `bandmate.example.toml` lists every key.

use std::path::PathBuf;

use anyhow::Context;
use bandmate_server::{Config, Roles};

/// Options shared by `serve`, `worker` and `keys`.
#[derive(clap::Args, Debug, Clone)]
pub struct ConfigArgs {
    /// TOML configuration file (default: $BANDMATE_CONFIG, else ./bandmate.toml if present).
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Directory holding the database and all files (server.data_dir).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Any configuration key, e.g. --set callbacks.timeout_s=5 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    pub set: Vec<String>,
}

impl ConfigArgs {
    /// Load the layered configuration.
    pub fn load(&self) -> anyhow::Result<Config> {
        let file = self
            .config
            .clone()
            .or_else(|| std::env::var_os("BANDMATE_CONFIG").map(PathBuf::from))
            .or_else(|| {
                let p = PathBuf::from("bandmate.toml");
                p.exists().then_some(p)
            });
        let mut config = Config::load(file.as_deref(), std::env::vars())?;
        if let Some(d) = &self.data_dir {
            config.server.data_dir = d.clone();
        }
        for s in &self.set {
            config.set(s)?;
        }
        Ok(config)
    }
}

/// `bandmate serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    common: ConfigArgs,
    /// Address to listen on, e.g. 0.0.0.0:8080 (server.listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Base of the absolute URLs in answers, e.g. https://bandmate.example.com (server.public_url).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Workers in this process; 0 = one per core, -1 = none (API only) (workers.count).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    workers: Option<i64>,
    /// Refuse submissions with 455 (server.maintenance).
    #[arg(long)]
    maintenance: bool,
}

/// `bandmate worker`.
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    #[command(flatten)]
    common: ConfigArgs,
    /// Workers in this process; 0 = one per core (workers.count).
    #[arg(long, value_name = "N")]
    workers: Option<i64>,
}

fn init_logs() {
    let level = match std::env::var("BANDMATE_LOG").as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("warn") => tracing::Level::WARN,
        Ok("error") => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Run `serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.common.load()?;
    if let Some(l) = args.listen {
        config.server.listen = l;
    }
    if let Some(u) = args.public_url {
        config.server.public_url = u;
    }
    if let Some(w) = args.workers {
        config.workers.count = w;
    }
    if args.maintenance {
        config.server.maintenance = true;
    }
    config.validate()?;
    init_logs();
    let rt = runtime()?;
    let result = rt.block_on(async move {
        let data_dir = config.server.data_dir.clone();
        let workers = config.workers.resolved_count();
        let running = bandmate_server::start_with_engine(
            config,
            Roles {
                http: true,
                workers: true,
            },
        )
        .await?;
        let base = running.app.base_url.clone();
        if let Some(addr) = running.addr {
            println!(
                "bandmate: listening on http://{addr} ({workers} workers, data in {})",
                data_dir.display()
            );
        }
        println!("bandmate: web player at {base}/");
        println!("bandmate: API at {base}/api/v1/  (OpenAPI: {base}/openapi.json)");
        if let Some(key) = &running.dev_key {
            println!("bandmate: development API key (shown only now, keep it): {key}");
        }
        if running.app.in_maintenance() {
            println!("bandmate: maintenance mode is on: submissions answer 455");
        }
        running.run_until(shutdown_signal()).await;
        println!("bandmate: stopped");
        Ok(())
    });
    // A render still running on the blocking pool was abandoned (its lease given back); do
    // not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

/// Run `worker`.
pub fn run_worker(args: WorkerArgs) -> anyhow::Result<()> {
    let mut config = args.common.load()?;
    if let Some(w) = args.workers {
        config.workers.count = w.max(0);
    }
    config.validate()?;
    init_logs();
    let rt = runtime()?;
    let result = rt.block_on(async move {
        let workers = config.workers.resolved_count();
        let running = bandmate_server::start_with_engine(
            config,
            Roles {
                http: false,
                workers: true,
            },
        )
        .await?;
        println!(
            "bandmate: {workers} workers running; links use {}",
            running.app.base_url
        );
        running.run_until(shutdown_signal()).await;
        Ok(())
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}
