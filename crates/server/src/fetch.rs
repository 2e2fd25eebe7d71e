//! Downloads of user-supplied URLs (`uploadUrl`, `fileUrl`) with limits and the SSRF guard.
//!
//! Limits: total time (`fetch.timeout_s`, covering redirects and the body), connect time,
//! size (checked against `Content-Length` first, then while streaming, so an oversized body
//! is never held), and redirects (followed by hand, at most `fetch.max_redirects`, each hop
//! checked by the guard again). Names are resolved by [`crate::guard::GuardedResolver`], so
//! the guard sees the addresses actually connected to; literal IPs are checked before the
//! request. Proxies from the environment are ignored (they would bypass the guard).
//!
//! Failures are typed: [`FetchError::code`] is the callback code (451 when the file could not
//! be retrieved, 400 when what came back is not usable: too large, a web page).

use std::time::Duration;

use crate::config::FetchConfig;
use crate::guard::{Guard, find_refusal};

/// A downloaded file.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The body.
    pub bytes: Vec<u8>,
    /// `Content-Type` without parameters, if sent.
    pub content_type: Option<String>,
    /// A file extension hint (from the URL path or the content type).
    pub extension: Option<String>,
    /// A file name from the last URL's path.
    pub file_name: Option<String>,
}

/// Why a download failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// Could not be retrieved (callback code 451).
    #[error("{field} could not be retrieved: {reason}")]
    Unreachable {
        /// `uploadUrl` or `fileUrl`.
        field: &'static str,
        /// What happened.
        reason: String,
    },
    /// Larger than the limit (code 400).
    #[error("the file is too large: {size} (the limit is {limit})")]
    TooLarge {
        /// Its size, or "more than …" when streamed.
        size: String,
        /// The limit.
        limit: String,
    },
    /// A web page instead of audio (code 400).
    #[error("the file is not audio: the server sent a web page ({0})")]
    WebPage(String),
}

impl FetchError {
    /// The callback code.
    pub fn code(&self) -> u16 {
        match self {
            FetchError::Unreachable { .. } => 451,
            FetchError::TooLarge { .. } | FetchError::WebPage(_) => 400,
        }
    }
}

/// Human size (`100.0 MB`), as the decoder words it.
pub fn human_bytes(b: u64) -> String {
    let mb = b as f64 / 1e6;
    if mb >= 1.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{:.1} kB", b as f64 / 1e3)
    }
}

/// The downloader.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    guard: Guard,
    max_bytes: u64,
    timeout: Duration,
    max_redirects: usize,
}

/// A reqwest client that resolves through the guard, ignores proxies and follows no redirect
/// by itself.
pub fn guarded_client(guard: &Guard, connect_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(guard.resolver())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(connect_timeout)
        .user_agent(concat!("bandmate/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

impl Fetcher {
    /// A fetcher with these limits and guard.
    pub fn new(config: &FetchConfig, guard: Guard) -> Self {
        Self {
            client: guarded_client(&guard, Duration::from_secs_f64(config.connect_timeout_s)),
            guard,
            max_bytes: config.max_bytes,
            timeout: Duration::from_secs_f64(config.timeout_s),
            max_redirects: config.max_redirects,
        }
    }

    /// The byte limit.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Download `url` (the value of the request field `field`) with a byte `limit` (at most
    /// the configured one).
    pub async fn fetch(
        &self,
        field: &'static str,
        url: &str,
        limit: u64,
    ) -> Result<Fetched, FetchError> {
        let limit = limit.min(self.max_bytes);
        match tokio::time::timeout(self.timeout, self.fetch_inner(field, url, limit)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Unreachable {
                field,
                reason: format!("timed out after {} s", self.timeout.as_secs_f64()),
            }),
        }
    }

    async fn fetch_inner(
        &self,
        field: &'static str,
        url: &str,
        limit: u64,
    ) -> Result<Fetched, FetchError> {
        let unreachable = |reason: String| FetchError::Unreachable { field, reason };
        let mut current =
            url::Url::parse(url).map_err(|e| unreachable(format!("invalid URL ({e})")))?;
        let mut redirects = 0usize;
        let mut resp = loop {
            if !matches!(current.scheme(), "http" | "https") {
                return Err(unreachable(format!(
                    "redirect to a non-HTTP URL ({current})"
                )));
            }
            self.guard
                .check_url(&current)
                .map_err(|r| unreachable(r.to_string()))?;
            let resp = self
                .client
                .get(current.clone())
                .send()
                .await
                .map_err(|e| unreachable(describe(&e)))?;
            if resp.status().is_redirection() {
                let Some(loc) = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                else {
                    return Err(unreachable(format!(
                        "the server answered {} without a Location",
                        resp.status()
                    )));
                };
                redirects += 1;
                if redirects > self.max_redirects {
                    return Err(unreachable(format!(
                        "too many redirects (more than {})",
                        self.max_redirects
                    )));
                }
                current = current
                    .join(loc)
                    .map_err(|e| unreachable(format!("invalid redirect ({e})")))?;
                continue;
            }
            break resp;
        };
        let status = resp.status();
        if !status.is_success() {
            return Err(unreachable(format!("the server answered {status}")));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|v| !v.is_empty());
        if let Some(ct) = &content_type
            && (ct == "text/html" || ct == "application/xhtml+xml")
        {
            return Err(FetchError::WebPage(ct.clone()));
        }
        if let Some(len) = resp.content_length()
            && len > limit
        {
            return Err(FetchError::TooLarge {
                size: human_bytes(len),
                limit: human_bytes(limit),
            });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| unreachable(format!("the download broke off ({})", describe(&e))))?
        {
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge {
                    size: format!("more than {}", human_bytes(limit)),
                    limit: human_bytes(limit),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if looks_like_html(&bytes) {
            return Err(FetchError::WebPage(
                content_type.clone().unwrap_or_else(|| "HTML".into()),
            ));
        }
        let file_name = current
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|s| !s.is_empty())
            .map(percent_decode);
        let extension = file_name.as_deref().and_then(extension_of).or_else(|| {
            content_type
                .as_deref()
                .and_then(extension_for_mime)
                .map(str::to_string)
        });
        Ok(Fetched {
            bytes,
            content_type,
            extension,
            file_name,
        })
    }
}

/// A short reason for a transport error.
pub fn describe(e: &reqwest::Error) -> String {
    if let Some(r) = find_refusal(e) {
        return r.to_string();
    }
    let host = e
        .url()
        .map(|u| {
            format!(
                "{}{}",
                u.host_str().unwrap_or(""),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            )
        })
        .unwrap_or_default();
    if e.is_timeout() {
        format!("{host} did not answer in time")
    } else if e.is_connect() {
        // The innermost cause says whether DNS or the connection failed.
        let mut cause: &dyn std::error::Error = e;
        while let Some(s) = cause.source() {
            cause = s;
        }
        format!("could not connect to {host} ({cause})")
    } else {
        let mut cause: &dyn std::error::Error = e;
        while let Some(s) = cause.source() {
            cause = s;
        }
        cause.to_string()
    }
}

fn looks_like_html(b: &[u8]) -> bool {
    let head: Vec<u8> = b
        .iter()
        .skip_while(|c| c.is_ascii_whitespace() || **c == 0xEF || **c == 0xBB || **c == 0xBF)
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    head.starts_with(b"<!doctype html") || head.starts_with(b"<html")
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(s.replace('+', "%2B").as_bytes())
        .map(|(k, v)| {
            if v.is_empty() {
                k.into_owned()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The audio extension of a file name, lower case, if it has a known one.
pub fn extension_of(name: &str) -> Option<String> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    const KNOWN: &[&str] = &[
        "mp3", "wav", "wave", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "aif", "aiff",
        "caf", "webm", "mka", "mkv",
    ];
    KNOWN.contains(&ext.as_str()).then_some(ext)
}

/// An extension for an audio content type.
pub fn extension_for_mime(mime: &str) -> Option<&'static str> {
    Some(match mime {
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
        "audio/flac" | "audio/x-flac" => "flac",
        "audio/ogg" | "application/ogg" => "ogg",
        "audio/opus" => "opus",
        "audio/mp4" | "audio/x-m4a" | "audio/m4a" => "m4a",
        "audio/aac" => "aac",
        "audio/aiff" | "audio/x-aiff" => "aiff",
        "audio/webm" => "webm",
        _ => return None,
    })
}

/// A content type for a file name.
pub fn mime_for_name(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp3" => "audio/mpeg",
        "wav" | "wave" => "audio/wav",
        "flac" => "audio/flac",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "m4a" | "mp4" => "audio/mp4",
        "aac" => "audio/aac",
        "aif" | "aiff" => "audio/aiff",
        "webm" => "audio/webm",
        "mid" | "midi" => "audio/midi",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "json" => "application/json",
        "zip" => "application/zip",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_sniffed() {
        assert!(looks_like_html(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<html><body>404</body>"));
        assert!(!looks_like_html(b"RIFF....WAVE"));
        assert!(!looks_like_html(b"ID3\x04"));
    }

    #[test]
    fn extensions_and_types() {
        assert_eq!(extension_of("take.MP3").as_deref(), Some("mp3"));
        assert_eq!(extension_of("take.txt"), None);
        assert_eq!(extension_for_mime("audio/x-wav"), Some("wav"));
        assert_eq!(mime_for_name("a.mid"), "audio/midi");
        assert_eq!(percent_decode("my%20take.wav"), "my take.wav");
    }

    #[test]
    fn error_codes_follow_the_contract() {
        let e = FetchError::Unreachable {
            field: "uploadUrl",
            reason: "the server answered 404 Not Found".into(),
        };
        assert_eq!(e.code(), 451);
        assert_eq!(
            e.to_string(),
            "uploadUrl could not be retrieved: the server answered 404 Not Found"
        );
        assert_eq!(FetchError::WebPage("text/html".into()).code(), 400);
        assert_eq!(human_bytes(100_000_000), "100.0 MB");
    }
}
