//! Callback delivery from the outbox.
//!
//! Workers write each callback in the same transaction as the state it reports; this loop
//! leases due rows (the oldest undelivered one per task, so a task's stages arrive in
//! order), POSTs them as JSON and records the outcome. A receiver must answer 2xx within
//! `callbacks.timeout_s` (15 s); otherwise the delivery is retried after each delay of
//! `callbacks.retry_delays_ms` (3 growing delays by default), then given up. Giving up on a
//! `complete` (or WAV) callback turns the task into `CALLBACK_EXCEPTION`, as the contract
//! says; the results stay in the record. Failed `text`/`first` deliveries do not change the
//! status, and the next stage is still attempted. Refusals of the SSRF guard are final at
//! once (retrying cannot help).
//!
//! Signing: when the key has a webhook secret, `X-Webhook-Timestamp` (Unix seconds) and
//! `X-Webhook-Signature` = base64(HMAC-SHA256(secret, task_id + "." + timestamp)).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{Semaphore, watch};

use crate::store::{CallbackRecord, Delivery};
use crate::{App, now_ms};

/// The signature header value for a task id and timestamp.
pub fn signature(secret: &str, task_id: &str, timestamp: i64) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(format!("{task_id}.{timestamp}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Deliver one callback once; `Ok` on 2xx, otherwise why not and whether retrying can help.
async fn attempt(app: &App, cb: &CallbackRecord) -> Result<(), (String, bool)> {
    if cb.url.starts_with(&format!("{}/", app.base_url)) {
        // Our own URL (the web player's sink, which polls instead): nothing to send.
        return Ok(());
    }
    let url = url::Url::parse(&cb.url).map_err(|e| (format!("invalid URL: {e}"), false))?;
    if let Err(r) = app.guard.check_url(&url) {
        return Err((r.to_string(), false));
    }
    let mut req = app
        .callback_client
        .post(url)
        .timeout(Duration::from_secs_f64(app.config.callbacks.timeout_s))
        .header("content-type", "application/json")
        .body(cb.body.clone());
    if let Ok(Some(key)) = app.store.key_by_id(&cb.key_id).await
        && let Some(secret) = key.webhook_secret.filter(|s| !s.is_empty())
    {
        let ts = now_ms() / 1000;
        req = req
            .header("X-Webhook-Timestamp", ts.to_string())
            .header("X-Webhook-Signature", signature(&secret, &cb.task_id, ts));
    }
    match req.send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err((format!("the receiver answered {}", resp.status()), true)),
        Err(e) => {
            let refused = crate::guard::find_refusal(&e).is_some();
            let reason = if e.is_timeout() {
                format!(
                    "the receiver did not answer within {} s",
                    app.config.callbacks.timeout_s
                )
            } else {
                crate::fetch::describe(&e)
            };
            Err((reason, !refused))
        }
    }
}

async fn deliver(app: Arc<App>, cb: CallbackRecord) {
    let outcome = match attempt(&app, &cb).await {
        Ok(()) => {
            app.metrics.callback(&cb.stage, "delivered");
            Delivery::Delivered
        }
        Err((error, retryable)) => {
            let delays = &app.config.callbacks.retry_delays_ms;
            let n = usize::try_from(cb.attempts).unwrap_or(usize::MAX);
            if retryable && n < delays.len() {
                app.metrics.callback(&cb.stage, "retry");
                Delivery::Retry {
                    next_at: now_ms() + delays[n] as i64,
                    error,
                }
            } else {
                app.metrics.callback(&cb.stage, "failed");
                tracing::warn!(
                    "callback {} of task {} to {} failed for good: {error}",
                    cb.stage,
                    cb.task_id,
                    cb.url
                );
                Delivery::Failed { error }
            }
        }
    };
    if let Err(e) = app.store.callback_outcome(cb.id, outcome, now_ms()).await {
        tracing::error!("recording a callback outcome failed: {e}");
    }
    // The task's next stage may be due now.
    app.wake_callbacks.notify_one();
}

/// The dispatcher loop.
pub async fn run(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let cfg = &app.config.callbacks;
    let slots = Arc::new(Semaphore::new(cfg.concurrency));
    let poll = Duration::from_millis(cfg.poll_ms);
    // A leased delivery that never reported back (process killed) is due again after this.
    let lease = (cfg.timeout_s * 1000.0) as i64 + 30_000;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let free = slots.available_permits() as i64;
        let mut due = Vec::new();
        if free > 0 {
            let now = now_ms();
            match app.store.due_callbacks(now, now + lease, free).await {
                Ok(v) => due = v,
                Err(e) => tracing::error!("reading due callbacks failed: {e}"),
            }
        }
        for cb in due {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let app = app.clone();
            tokio::spawn(async move {
                deliver(app, cb).await;
                drop(permit);
            });
        }
        let wait = match app.store.next_callback_at().await {
            Ok(Some(t)) => {
                Duration::from_millis((t - now_ms()).clamp(0, poll.as_millis() as i64) as u64)
            }
            _ => poll,
        };
        tokio::select! {
            _ = app.wake_callbacks.notified() => {}
            _ = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_base64_hmac_sha256() {
        // Reference value computed independently:
        // printf 'abc.1700000000' | openssl dgst -sha256 -hmac whsec_test -binary | base64
        let s = signature("whsec_test", "abc", 1_700_000_000);
        assert_eq!(s, "hFQTvSD9gxffsmdhMjDoI2U94MB/Q37G7gypA5tHwSM=");
        assert_ne!(s, signature("whsec_test", "abd", 1_700_000_000));
        assert_ne!(s, signature("whsec_test", "abc", 1_700_000_001));
    }
}
