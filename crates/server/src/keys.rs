//! API keys: generation, hashing, and the operations behind `bandmate keys`.
//!
//! A key is `bm_` followed by 40 lowercase hex characters (160 random bits from the OS).
//! Only its SHA-256 is stored: the secret is shown once, when it is created. Plain SHA-256
//! (not a slow password hash) is right here because the secret is random and long, so there
//! is nothing to guess; it also keeps authentication a single indexed lookup.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::{KeyRecord, NewKey, Store, StoreResult};

/// What `keys create` needs.
#[derive(Debug, Clone, Default)]
pub struct KeySpec {
    /// Human name (unique names make `revoke NAME` unambiguous; not enforced).
    pub name: String,
    /// Starting credits.
    pub credits: i64,
    /// Submissions per window (None: the server default).
    pub rate_limit: Option<u32>,
    /// Window in seconds.
    pub rate_window_s: Option<f64>,
    /// HMAC secret for callback signatures (None: callbacks are not signed).
    pub webhook_secret: Option<String>,
}

/// Random lowercase hex of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A new task id: 32 lowercase hex characters, like upstream's: the creation time in
/// milliseconds (12 hex) followed by 80 random bits (20 hex).
///
/// Time first, so that new ids sort after old ones: every submission inserts into the unique
/// index on `tasks.id`, and with uniformly random ids each insert dirtied a random page of
/// that index. On a database of 270,000 tasks that alone made each WAL checkpoint long enough
/// to stall the next commit, and the p99 of submissions at 2,000/s rose from 5 to 19 ms;
/// with time-ordered ids the inserts land on the index's last pages and the p99 stays at 4–5
/// ms (docs/server.md). The random part keeps ids unguessable and unique within a
/// millisecond; the worker's seed is the first 16 hex digits (time and 16 random bits).
pub fn task_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // 48 bits of milliseconds last until the year 10889.
    format!("{:012x}{}", ms & 0xffff_ffff_ffff, random_hex(10))
}

/// A new webhook secret (`whsec_` + 48 hex).
pub fn webhook_secret() -> String {
    format!("whsec_{}", random_hex(24))
}

/// SHA-256 of a key.
pub fn hash_key(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Create a key; returns the secret (shown once) and the record.
pub async fn create_key(
    store: &dyn Store,
    spec: KeySpec,
    now: i64,
) -> StoreResult<(String, KeyRecord)> {
    let secret = format!("bm_{}", random_hex(20));
    let record = store
        .create_key(
            NewKey {
                id: format!("key_{}", random_hex(4)),
                name: spec.name,
                hash: hash_key(&secret),
                prefix: secret[..9].to_string(),
                credits: spec.credits,
                rate_limit: spec.rate_limit,
                rate_window_s: spec.rate_window_s,
                webhook_secret: spec.webhook_secret,
            },
            now,
        )
        .await?;
    Ok((secret, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_contract_shape() {
        let t = task_id();
        assert_eq!(t.len(), 32);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(task_id(), t);
        assert_eq!(hash_key("a").len(), 32);
        assert_ne!(hash_key("a"), hash_key("b"));
    }

    #[test]
    fn task_ids_sort_by_creation_and_differ_within_a_millisecond() {
        let earlier = task_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = task_id();
        assert!(earlier < later, "{earlier} !< {later}");
        // Many ids in the same few milliseconds: all distinct, random tails all different.
        let ids: Vec<String> = (0..1000).map(|_| task_id()).collect();
        let tails: std::collections::HashSet<&str> = ids.iter().map(|t| &t[12..]).collect();
        assert_eq!(tails.len(), ids.len());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let stamped = u64::from_str_radix(&later[..12], 16).unwrap();
        assert!(now - stamped < 60_000, "{stamped} is not {now}");
    }
}
