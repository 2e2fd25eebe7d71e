//! `bandmate keys create|list|revoke|credit`: manage API keys directly in the database.
//! The secret is printed once, at creation; only its SHA-256 is stored.

use anyhow::Context;
use bandmate_server::keys::{KeySpec, create_key, webhook_secret};
use bandmate_server::store::KeyChange;
use bandmate_server::{now_ms, open_store};

use crate::serve::ConfigArgs;

/// `bandmate keys`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    common: ConfigArgs,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Create a key and print its secret (shown only now).
    Create {
        /// A name for people, not unique (revoke and credit accept it while only one live
        /// key has it).
        #[arg(long, default_value = "default")]
        name: String,
        /// Starting credits (default: credits.default_credits).
        #[arg(long)]
        credits: Option<i64>,
        /// Submissions allowed per window (default: rate_limit.submissions).
        #[arg(long)]
        rate_limit: Option<u32>,
        /// The rate-limit window in seconds (default: rate_limit.window_s).
        #[arg(long)]
        rate_window: Option<f64>,
        /// Sign callbacks with this secret (X-Webhook-Signature).
        #[arg(long, conflicts_with = "generate_webhook_secret")]
        webhook_secret: Option<String>,
        /// Sign callbacks with a newly generated secret (printed once).
        #[arg(long)]
        generate_webhook_secret: bool,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id, or by name when only one live key has that name.
    Revoke {
        /// Key id (key_…) or name.
        key: String,
    },
    /// Add credits to a key (negative to take), by id or by a name only one live key has.
    Credit {
        /// Key id or name.
        key: String,
        /// Credits to add.
        #[arg(allow_hyphen_values = true)]
        amount: i64,
    },
}

/// The id of the key `key` picked, or the one-line error saying why none was: unknown, or a
/// name several live keys share (names are not unique), listing their ids.
fn picked(change: KeyChange, key: &str, verb: &str) -> anyhow::Result<String> {
    match change {
        KeyChange::Done(id) => Ok(id),
        // A revoked key can still be credited by id, never revoked twice.
        KeyChange::NotFound if verb == "revoke" => {
            anyhow::bail!("no active key with id or name '{key}'")
        }
        KeyChange::NotFound => anyhow::bail!("no key with id or name '{key}'"),
        KeyChange::Ambiguous(ids) => anyhow::bail!(
            "{} active keys are named '{key}' ({}); nothing changed: {verb} one by its id, e.g. `bandmate keys {verb} {}`",
            ids.len(),
            ids.join(", "),
            ids[0]
        ),
    }
}

/// Run `keys`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.common.load()?;
    config.validate()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let store = open_store(&config).await?;
        match args.action {
            Action::Create {
                name,
                credits,
                rate_limit,
                rate_window,
                webhook_secret: secret,
                generate_webhook_secret,
            } => {
                if rate_limit == Some(0) {
                    anyhow::bail!("--rate-limit must be at least 1");
                }
                if rate_window.is_some_and(|w| w.is_nan() || w <= 0.0) {
                    anyhow::bail!("--rate-window must be positive");
                }
                let secret = match (secret, generate_webhook_secret) {
                    (Some(s), _) => Some(s),
                    (None, true) => Some(webhook_secret()),
                    (None, false) => None,
                };
                let (key, rec) = create_key(
                    store.as_ref(),
                    KeySpec {
                        name,
                        credits: credits.unwrap_or(config.credits.default_credits),
                        rate_limit,
                        rate_window_s: rate_window,
                        webhook_secret: secret.clone(),
                    },
                    now_ms(),
                )
                .await?;
                println!("{key}");
                eprintln!(
                    "created {} ({}) with {} credits; the key above is shown only now",
                    rec.id, rec.name, rec.credits
                );
                if let Some(s) = secret {
                    eprintln!("webhook signing secret: {s}");
                }
            }
            Action::List => {
                println!(
                    "{:<14} {:<16} {:<10} {:>10} {:>12} {:<7} {:<8}",
                    "ID", "NAME", "PREFIX", "CREDITS", "RATE", "SIGNED", "STATE"
                );
                for k in store.list_keys().await? {
                    let rate = match (k.rate_limit, k.rate_window_s) {
                        (None, None) => "default".to_string(),
                        (l, w) => format!(
                            "{}/{}s",
                            l.unwrap_or(config.rate_limit.submissions),
                            w.unwrap_or(config.rate_limit.window_s)
                        ),
                    };
                    println!(
                        "{:<14} {:<16} {:<10} {:>10} {:>12} {:<7} {:<8}",
                        k.id,
                        k.name,
                        format!("{}…", k.prefix),
                        k.credits,
                        rate,
                        if k.webhook_secret.is_some() {
                            "yes"
                        } else {
                            "no"
                        },
                        if k.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        }
                    );
                }
            }
            Action::Revoke { key } => {
                let id = picked(store.revoke_key(&key, now_ms()).await?, &key, "revoke")?;
                println!("revoked {id}");
            }
            Action::Credit { key, amount } => {
                let id = picked(store.add_credits(&key, amount).await?, &key, "credit")?;
                println!("added {amount} credits to {id}");
            }
        }
        Ok(())
    })
}
