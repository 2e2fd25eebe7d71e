//! Service configuration, in layers: defaults < TOML file < `BANDMATE_*` environment < flags.
//!
//! Every key has a documented default (the example file `bandmate.example.toml` at the
//! repository root lists them all). Environment names are derived mechanically from the key
//! path: `callbacks.timeout_s` is `BANDMATE_CALLBACKS_TIMEOUT_S`. Flags are applied last by the
//! CLI, either through dedicated options or the generic `--set key.path=value`.
//!
//! [`Config::validate`] checks the whole thing once; the rest of the service trusts it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::guard::AllowList;

/// Errors loading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML (or an override) does not parse or has the wrong shape.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A value is out of its valid range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP listener, public URL, data directory, database.
    pub server: ServerConfig,
    /// Background workers and task leases.
    pub workers: WorkerConfig,
    /// Downloads of `uploadUrl` and `fileUrl`, and the SSRF guard.
    pub fetch: FetchConfig,
    /// Callback delivery.
    pub callbacks: CallbackConfig,
    /// Credits charged per task.
    pub credits: CreditConfig,
    /// Submissions per key.
    pub rate_limit: RateLimitConfig,
    /// How long files and records are kept.
    pub retention: RetentionConfig,
    /// Upload endpoints.
    pub uploads: UploadConfig,
    /// The engine (SoundFont, input limits, threads).
    pub engine: EngineSettings,
}

/// HTTP listener and storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (default `127.0.0.1:8080`; port 0 picks a free port).
    pub listen: String,
    /// Base of every absolute URL in answers and callbacks (default: `http://<listen address>`).
    pub public_url: String,
    /// Directory holding the SQLite database and all files (default `./data`).
    pub data_dir: PathBuf,
    /// Database URL (default empty: `sqlite://<data_dir>/bandmate.db`).
    pub database_url: String,
    /// Also send the envelope `code` as the HTTP status (default false: HTTP 200 like upstream).
    pub mirror_status: bool,
    /// Maintenance mode: submissions answer 455 (default false). Creating the file
    /// `<data_dir>/MAINTENANCE` switches it on at run time too.
    pub maintenance: bool,
    /// Largest JSON request body in bytes (default 1 MB).
    pub max_json_bytes: usize,
    /// Whether to print a development key on first start (default true).
    pub dev_key: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            mirror_status: false,
            maintenance: false,
            max_json_bytes: 1_000_000,
            dev_key: true,
        }
    }
}

/// Workers and leases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Tasks processed at once in this process (default 0: one per core; `serve` with
    /// `count = -1` runs no workers, for an API-only process).
    pub count: i64,
    /// How long a claim holds a task before another worker may take it (default 60 s).
    pub lease_s: f64,
    /// How often a running task renews its lease (default 10 s; must be below `lease_s`).
    pub heartbeat_s: f64,
    /// Claims of one task before it fails for good (default 3: a task that crashed its worker
    /// three times is not tried again).
    pub max_attempts: i64,
    /// How often idle workers look for tasks submitted by other processes (default 500 ms).
    pub poll_ms: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            count: 0,
            lease_s: 60.0,
            heartbeat_s: 10.0,
            max_attempts: 3,
            poll_ms: 500,
        }
    }
}

impl WorkerConfig {
    /// The number of workers to run (resolving 0 to the number of cores).
    pub fn resolved_count(&self) -> usize {
        match self.count {
            c if c < 0 => 0,
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            c => c as usize,
        }
    }
}

/// Downloads and the SSRF guard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// Largest download in bytes (default 100 MB, the engine's input limit).
    pub max_bytes: u64,
    /// Whole-download time limit (default 120 s).
    pub timeout_s: f64,
    /// Connection time limit (default 10 s).
    pub connect_timeout_s: f64,
    /// Redirects followed at most (default 5).
    pub max_redirects: usize,
    /// Addresses and hosts the SSRF guard lets through even though they are loopback,
    /// private, link-local or metadata: CIDRs (`127.0.0.0/8`), single IPs, or host names
    /// (`files.internal`). Default empty. Applies to `uploadUrl`, `fileUrl` and `callBackUrl`.
    pub allow: Vec<String>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            max_bytes: 100_000_000,
            timeout_s: 120.0,
            connect_timeout_s: 10.0,
            max_redirects: 5,
            allow: Vec::new(),
        }
    }
}

/// Callback delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackConfig {
    /// Time the receiver has to answer 2xx (default 15 s, the contract's figure).
    pub timeout_s: f64,
    /// Delays before each retry in milliseconds; its length is the number of retries
    /// (default `[2000, 10000, 30000]`: 3 retries, growing).
    pub retry_delays_ms: Vec<u64>,
    /// How often the dispatcher looks for due deliveries when nothing wakes it (default 500 ms).
    pub poll_ms: u64,
    /// Deliveries in flight at once (default 64).
    pub concurrency: usize,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            timeout_s: 15.0,
            retry_delays_ms: vec![2_000, 10_000, 30_000],
            poll_ms: 500,
            concurrency: 64,
        }
    }
}

/// Credits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreditConfig {
    /// Credits one add-instrumental task costs, taken at submit, refunded on failure
    /// (default 10).
    pub task_cost: i64,
    /// Credits one WAV conversion costs (default 0).
    pub wav_cost: i64,
    /// Credits a new key gets when `keys create` is not told otherwise (default 10000).
    pub default_credits: i64,
}

impl Default for CreditConfig {
    fn default() -> Self {
        Self {
            task_cost: 10,
            wav_cost: 0,
            default_credits: 10_000,
        }
    }
}

/// Rate limit of submissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Submissions per window per key, unless the key has its own (default 20, upstream's).
    pub submissions: u32,
    /// The window in seconds (default 10, upstream's).
    pub window_s: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            submissions: 20,
            window_s: 10.0,
        }
    }
}

/// Retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Generated media (songs, stems, MIDI, covers, WAVs, the fetched input) are deleted after
    /// this many hours (default 336 = 14 days, upstream's).
    pub media_hours: f64,
    /// Uploaded files are deleted after this many hours (default 72 = 3 days, upstream's).
    pub uploads_hours: f64,
    /// Task records are deleted after this many hours (default 1440 = 60 days, upstream's
    /// two months).
    pub records_hours: f64,
    /// How often the sweeper runs (default 600 s).
    pub sweep_interval_s: f64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            media_hours: 336.0,
            uploads_hours: 72.0,
            records_hours: 1440.0,
            sweep_interval_s: 600.0,
        }
    }
}

/// Uploads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadConfig {
    /// Largest uploaded file in bytes, any of the three endpoints (default 100 MB).
    pub max_bytes: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            max_bytes: 100_000_000,
        }
    }
}

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// General MIDI SoundFont (default Debian's `fluid-soundfont-gm`).
    pub soundfont: PathBuf,
    /// Longest accepted vocal in seconds (default 600).
    pub max_seconds: f64,
    /// Shortest accepted vocal in seconds (default 2).
    pub min_seconds: f64,
    /// Threads one render may use (default 0: cores divided by workers, at least 1).
    pub threads: usize,
    /// Make the per-part stems (MP3s and their ZIP) for every track (default true). Off, a
    /// task takes well under half the time (the stems are most of a variation's encoding)
    /// and its tracks carry no stems.
    pub stems: bool,
    /// Nice value (0-19) of the threads that run the engine (default 10): renders take what
    /// CPU the API, the callbacks and the database leave, so submissions and record-info stay
    /// fast while songs render. Linux only; 0 leaves them at the server's priority.
    pub nice: i32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        let e = bandmate_engine::EngineConfig::default();
        Self {
            soundfont: e.soundfont,
            max_seconds: e.decode_limits.max_seconds,
            min_seconds: e.decode_limits.min_seconds,
            threads: 0,
            stems: e.stems,
            nice: 10,
        }
    }
}

impl Config {
    /// Defaults, then `file` (if any), then `BANDMATE_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut tree = to_table(&Config::default())?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let file_tree: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                ConfigError::Parse(format!("{}: {e}", path.display()))
            })?;
            merge(&mut tree, file_tree);
        }
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("BANDMATE_"))
            .collect();
        for path in leaf_paths(&tree) {
            let name = env_name(&path);
            if let Some((_, v)) = env.iter().find(|(k, _)| *k == name) {
                set_path(&mut tree, &path, v)
                    .map_err(|e| ConfigError::Parse(format!("{name}: {e}")))?;
            }
        }
        from_table(tree)
    }

    /// Apply one `key.path=value` override (a flag). The value is read as TOML when it parses
    /// as the key's type, otherwise as a string.
    pub fn set(&mut self, assignment: &str) -> Result<(), ConfigError> {
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| ConfigError::Parse(format!("'{assignment}' is not key=value")))?;
        let mut tree = to_table(self)?;
        let path: Vec<String> = key.trim().split('.').map(str::to_string).collect();
        if !leaf_paths(&tree).contains(&path) {
            return Err(ConfigError::Parse(format!(
                "unknown configuration key '{key}'"
            )));
        }
        set_path(&mut tree, &path, value.trim())
            .map_err(|e| ConfigError::Parse(format!("{key}: {e}")))?;
        *self = from_table(tree)?;
        Ok(())
    }

    /// Every key path with its environment variable name, for docs and `--help`.
    pub fn keys() -> Vec<(String, String)> {
        let tree = to_table(&Config::default()).unwrap_or_default();
        leaf_paths(&tree)
            .into_iter()
            .map(|p| (p.join("."), env_name(&p)))
            .collect()
    }

    /// Check every value once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return bad(format!(
                "server.listen '{}' is not an address like 127.0.0.1:8080",
                self.server.listen
            ));
        }
        if !self.server.public_url.is_empty() {
            match url::Url::parse(&self.server.public_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return bad(format!(
                        "server.public_url '{}' must be an http(s) URL",
                        self.server.public_url
                    ));
                }
            }
        }
        if self.server.max_json_bytes < 1024 {
            return bad("server.max_json_bytes must be at least 1024".into());
        }
        let w = &self.workers;
        if !(w.lease_s > 0.0 && w.heartbeat_s > 0.0 && w.heartbeat_s < w.lease_s) {
            return bad(format!(
                "workers.heartbeat_s ({}) must be positive and below workers.lease_s ({})",
                w.heartbeat_s, w.lease_s
            ));
        }
        if !(0..=19).contains(&self.engine.nice) {
            return bad(format!(
                "engine.nice ({}) must be between 0 and 19",
                self.engine.nice
            ));
        }
        if w.max_attempts < 1 {
            return bad("workers.max_attempts must be at least 1".into());
        }
        if w.poll_ms == 0 || self.callbacks.poll_ms == 0 {
            return bad("workers.poll_ms and callbacks.poll_ms must be positive".into());
        }
        let f = &self.fetch;
        if f.max_bytes == 0
            || f.timeout_s.is_nan()
            || f.timeout_s <= 0.0
            || f.connect_timeout_s.is_nan()
            || f.connect_timeout_s <= 0.0
        {
            return bad(
                "fetch.max_bytes, fetch.timeout_s and fetch.connect_timeout_s must be positive"
                    .into(),
            );
        }
        AllowList::parse(&f.allow).map_err(ConfigError::Invalid)?;
        if self.callbacks.timeout_s.is_nan()
            || self.callbacks.timeout_s <= 0.0
            || self.callbacks.concurrency == 0
        {
            return bad("callbacks.timeout_s and callbacks.concurrency must be positive".into());
        }
        let c = &self.credits;
        if c.task_cost < 0 || c.wav_cost < 0 || c.default_credits < 0 {
            return bad("credits.* must not be negative".into());
        }
        if self.rate_limit.submissions == 0
            || self.rate_limit.window_s.is_nan()
            || self.rate_limit.window_s <= 0.0
        {
            return bad("rate_limit.submissions and rate_limit.window_s must be positive".into());
        }
        let r = &self.retention;
        for (name, v) in [
            ("media_hours", r.media_hours),
            ("uploads_hours", r.uploads_hours),
            ("records_hours", r.records_hours),
            ("sweep_interval_s", r.sweep_interval_s),
        ] {
            if v.is_nan() || v <= 0.0 {
                return bad(format!("retention.{name} must be positive"));
            }
        }
        if self.uploads.max_bytes == 0 {
            return bad("uploads.max_bytes must be positive".into());
        }
        self.engine_config().map(|_| ())
    }

    /// The engine configuration these settings describe.
    pub fn engine_config(&self) -> Result<bandmate_engine::EngineConfig, ConfigError> {
        let mut e = bandmate_engine::EngineConfig {
            soundfont: self.engine.soundfont.clone(),
            stems: self.engine.stems,
            ..Default::default()
        };
        e.decode_limits.max_seconds = self.engine.max_seconds;
        e.decode_limits.min_seconds = self.engine.min_seconds;
        e.decode_limits.max_bytes = self.fetch.max_bytes.max(self.uploads.max_bytes);
        e.threads = if self.engine.threads > 0 {
            self.engine.threads
        } else {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / self.workers.resolved_count().max(1)).max(1)
        };
        e.decode_limits
            .validate()
            .map_err(|m| ConfigError::Invalid(format!("engine: {m}")))?;
        Ok(e)
    }

    /// The database URL (the SQLite file in the data directory unless set).
    pub fn database_url(&self) -> String {
        if self.server.database_url.is_empty() {
            format!(
                "sqlite://{}",
                self.server.data_dir.join("bandmate.db").display()
            )
        } else {
            self.server.database_url.clone()
        }
    }

    /// The lease length.
    pub fn lease(&self) -> Duration {
        Duration::from_secs_f64(self.workers.lease_s)
    }

    /// The public base URL without a trailing slash, given the address actually bound.
    pub fn public_base(&self, bound: SocketAddr) -> String {
        if self.server.public_url.is_empty() {
            let host = match bound.ip() {
                IpAddr::V4(v) if v.is_unspecified() => "127.0.0.1".to_string(),
                IpAddr::V6(v) if v.is_unspecified() => "[::1]".to_string(),
                IpAddr::V4(v) => v.to_string(),
                IpAddr::V6(v) => format!("[{v}]"),
            };
            format!("http://{host}:{}", bound.port())
        } else {
            self.server.public_url.trim_end_matches('/').to_string()
        }
    }
}

fn to_table(c: &Config) -> Result<toml::Table, ConfigError> {
    match toml::Value::try_from(c) {
        Ok(toml::Value::Table(t)) => Ok(t),
        Ok(_) => Err(ConfigError::Parse("configuration is not a table".into())),
        Err(e) => Err(ConfigError::Parse(e.to_string())),
    }
}

fn from_table(t: toml::Table) -> Result<Config, ConfigError> {
    toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))
}

/// `BANDMATE_` + the path joined with `_`, upper case.
fn env_name(path: &[String]) -> String {
    format!("BANDMATE_{}", path.join("_").to_uppercase())
}

fn leaf_paths(t: &toml::Table) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (k, v) in t {
        match v {
            toml::Value::Table(sub) => {
                for mut p in leaf_paths(sub) {
                    p.insert(0, k.clone());
                    out.push(p);
                }
            }
            _ => out.push(vec![k.clone()]),
        }
    }
    out
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Set a leaf from text: parsed as a TOML value of the existing value's type when possible,
/// otherwise as a string (or, for arrays, as a comma-separated list).
fn set_path(tree: &mut toml::Table, path: &[String], text: &str) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut t = tree;
    for p in parents {
        t = match t.get_mut(p) {
            Some(toml::Value::Table(sub)) => sub,
            _ => return Err(format!("unknown section '{p}'")),
        };
    }
    let current = t.get(last).cloned();
    let parsed = format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut tb| tb.remove("v"));
    let value = match (&current, parsed) {
        (Some(toml::Value::String(_)), _) | (None, None) => toml::Value::String(text.to_string()),
        (Some(cur), Some(p)) if cur.same_type(&p) => p,
        (
            Some(toml::Value::Float(_) | toml::Value::Integer(_)),
            Some(p @ (toml::Value::Float(_) | toml::Value::Integer(_))),
        ) => p,
        (Some(toml::Value::Array(_)), _) => toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<i64>()
                        .map(toml::Value::Integer)
                        .unwrap_or_else(|_| toml::Value::String(s.to_string()))
                })
                .collect(),
        ),
        (Some(cur), _) => {
            return Err(format!("'{text}' is not a valid {}", cur.type_str()));
        }
        (None, Some(p)) => p,
    };
    t.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9000\"\n[callbacks]\ntimeout_s = 5\n",
        )
        .unwrap();
        let env = vec![
            (
                "BANDMATE_CALLBACKS_TIMEOUT_S".to_string(),
                "7.5".to_string(),
            ),
            (
                "BANDMATE_FETCH_ALLOW".to_string(),
                "127.0.0.0/8, localhost".to_string(),
            ),
            (
                "BANDMATE_CALLBACKS_RETRY_DELAYS_MS".to_string(),
                "[1, 2]".to_string(),
            ),
            ("OTHER".to_string(), "x".to_string()),
        ];
        let mut c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9000");
        assert_eq!(c.callbacks.timeout_s, 7.5);
        assert_eq!(c.fetch.allow, vec!["127.0.0.0/8", "localhost"]);
        assert_eq!(c.callbacks.retry_delays_ms, vec![1, 2]);
        c.set("callbacks.timeout_s=3").unwrap();
        assert_eq!(c.callbacks.timeout_s, 3.0);
        c.set("server.maintenance=true").unwrap();
        assert!(c.server.maintenance);
        assert!(c.set("server.nope=1").is_err());
        assert!(c.set("workers.max_attempts=many").is_err());
        c.validate().unwrap();
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.toml");
        std::fs::write(&file, "[server]\nlisten_on = \"x\"\n").unwrap();
        let e = Config::load(Some(&file), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("listen_on"), "{e}");
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = Config::default();
        c.workers.heartbeat_s = 100.0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("heartbeat_s")
        );
        let mut c = Config::default();
        c.fetch.allow = vec!["300.1.1.1/8".into()];
        assert!(c.validate().is_err());
        for nice in [-1, 20] {
            let mut c = Config::default();
            c.engine.nice = nice;
            assert_eq!(
                c.validate().unwrap_err().to_string(),
                format!("invalid configuration: engine.nice ({nice}) must be between 0 and 19")
            );
        }
    }

    #[test]
    fn the_example_file_lists_every_key_with_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bandmate.example.toml");
        let loaded = Config::load(Some(&path), Vec::new()).unwrap();
        assert_eq!(loaded, Config::default());
        let text = std::fs::read_to_string(&path).unwrap();
        let table: toml::Table = text.parse().unwrap();
        let mut in_file = leaf_paths(&table);
        let mut all = leaf_paths(&to_table(&Config::default()).unwrap());
        in_file.sort();
        all.sort();
        assert_eq!(in_file, all);
    }

    #[test]
    fn every_key_has_an_env_name() {
        let keys = Config::keys();
        assert!(keys.contains(&(
            "callbacks.retry_delays_ms".to_string(),
            "BANDMATE_CALLBACKS_RETRY_DELAYS_MS".to_string()
        )));
        assert!(keys.len() > 30);
    }
}
