//! File storage under the data directory, downloads with HTTP Range, and the stems ZIP.
//!
//! Layout: `<data_dir>/media/<task id>/<file id>` for generated media and fetched inputs,
//! `<data_dir>/uploads/<file id>` for uploads. Every file is written to a temporary name and
//! renamed into place, so a reader never sees half a file. Download URLs are
//! `<public base>/files/<file id>/<name>`: the 128-bit random id is the secret (like
//! upstream's CDN links), the name is for people and browsers.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::keys::random_hex;

/// The files folder.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// Files under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.to_path_buf(),
        }
    }

    /// Absolute path of a stored relative path (refusing anything that climbs out).
    pub fn absolute(&self, rel: &str) -> Option<PathBuf> {
        let p = Path::new(rel);
        if p.is_absolute()
            || p.components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return None;
        }
        Some(self.root.join(p))
    }

    /// Write `bytes` atomically at `rel`.
    pub async fn write(&self, rel: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self
            .absolute(rel)
            .ok_or_else(|| std::io::Error::other(format!("bad path {rel}")))?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let tmp = path.with_extension(format!("tmp-{}", random_hex(4)));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await
    }

    /// A temporary path for streaming a file in, and the function that puts it in place.
    pub async fn temp_for(&self, rel: &str) -> std::io::Result<(PathBuf, PathBuf)> {
        let path = self
            .absolute(rel)
            .ok_or_else(|| std::io::Error::other(format!("bad path {rel}")))?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let tmp = path.with_extension(format!("tmp-{}", random_hex(4)));
        Ok((tmp, path))
    }

    /// Read a whole file.
    pub async fn read(&self, rel: &str) -> std::io::Result<Vec<u8>> {
        let path = self
            .absolute(rel)
            .ok_or_else(|| std::io::Error::other(format!("bad path {rel}")))?;
        tokio::fs::read(path).await
    }

    /// Delete a file (missing is fine) and its folder when it became empty.
    pub async fn remove(&self, rel: &str) -> std::io::Result<()> {
        let Some(path) = self.absolute(rel) else {
            return Ok(());
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = path.parent()
            && dir != self.root
        {
            // Fails while other files remain; that is the point.
            let _ = tokio::fs::remove_dir(dir).await;
        }
        Ok(())
    }
}

/// A file name safe for URLs and `Content-Disposition`: letters, digits, `-`, `_`, `.`.
pub fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c| c == '-' || c == '.').to_string();
    let mut out = String::new();
    for c in s.chars() {
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() {
        "file".into()
    } else {
        out.chars().take(120).collect()
    }
}

/// A slug of a title for file names (`My Song!` → `my-song`).
pub fn slug(title: &str) -> String {
    let s = safe_name(&title.to_lowercase()).replace('.', "-");
    if s == "file" { "bandmate".into() } else { s }
}

/// A `Range` that no byte of the file satisfies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// Which bytes of a file of `len` bytes a `Range` header asks for. `Ok(None)`: the whole
/// file (no header, a unit other than bytes, or several ranges, which may be answered with
/// the whole file); `Err(Unsatisfiable)`: answer 416.
pub fn parse_range(header: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(h) = header else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| Unsatisfiable)?;
        if n == 0 {
            return Err(Unsatisfiable);
        }
        (
            len.saturating_sub(n),
            len.checked_sub(1).ok_or(Unsatisfiable)?,
        )
    } else {
        let start: u64 = a.parse().map_err(|_| Unsatisfiable)?;
        let end = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| Unsatisfiable)?
                .min(len.saturating_sub(1))
        };
        (start, end)
    };
    if start >= len || end < start {
        return Err(Unsatisfiable);
    }
    Ok(Some((start, end)))
}

/// Serve a stored file with Range support.
pub async fn serve(
    path: &Path,
    mime: &str,
    name: &str,
    attachment: bool,
    headers: &HeaderMap,
) -> Response {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(_) => return (StatusCode::NOT_FOUND, "file not found").into_response(),
    };
    let len = match file.metadata().await {
        Ok(m) => m.len(),
        Err(_) => return (StatusCode::NOT_FOUND, "file not found").into_response(),
    };
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        len,
    );
    let disposition = format!(
        "{}; filename=\"{}\"",
        if attachment { "attachment" } else { "inline" },
        safe_name(name)
    );
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "private, max-age=3600")
        .header(header::CONTENT_DISPOSITION, disposition);
    let (status, start, count) = match range {
        Err(Unsatisfiable) => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Body::empty())
                .unwrap_or_else(|_| StatusCode::RANGE_NOT_SATISFIABLE.into_response());
        }
        Ok(None) => (StatusCode::OK, 0, len),
        Ok(Some((a, b))) => {
            builder = builder.header(header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}"));
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
    };
    if start > 0 && file.seek(SeekFrom::Start(start)).await.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let stream = tokio_util::io::ReaderStream::new(file.take(count));
    builder
        .status(status)
        .header(
            header::CONTENT_LENGTH,
            HeaderValue::from_str(&count.to_string()).unwrap_or(HeaderValue::from_static("0")),
        )
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A ZIP archive (method "stored": the members are MP3s, which do not compress) of
/// `(name, bytes)` members. APPNOTE.TXT 6.3 layout: local headers, data, central directory,
/// end record; no ZIP64, so members and the archive stay below 4 GiB (stems are far smaller).
pub fn zip_stored(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    // 1980-01-01 00:00 in MS-DOS format: no clock in the archive keeps it reproducible.
    let (dos_time, dos_date) = (0u16, (1u16 << 5) | 1);
    for (name, data) in members {
        let crc = crc32fast::hash(data);
        let offset = out.len() as u32;
        let name = name.as_bytes();
        let size = data.len() as u32;
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&0u16.to_le_bytes()); // stored
        out.extend_from_slice(&dos_time.to_le_bytes());
        out.extend_from_slice(&dos_date.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        central.extend_from_slice(&20u16.to_le_bytes()); // needed
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&dos_time.to_le_bytes());
        central.extend_from_slice(&dos_date.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0u8; 12]); // extra, comment, disk, attrs (internal)
        central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = out.len() as u32;
    let n = members.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=-500"), 100), Ok(Some((0, 99))));
        assert_eq!(parse_range(Some("bytes=50-500"), 100), Ok(Some((50, 99))));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=9-2"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=x-"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(parse_range(Some("items=0-1"), 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=-0"), 100), Err(Unsatisfiable));
    }

    #[test]
    fn names() {
        assert_eq!(safe_name("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("My Song!  (take 2)"), "my-song-take-2");
        assert_eq!(slug("???"), "bandmate");
        let fs = FileStore::new(Path::new("/data"));
        assert!(fs.absolute("../x").is_none());
        assert!(fs.absolute("/etc/x").is_none());
        assert_eq!(
            fs.absolute("media/a/b").unwrap(),
            Path::new("/data/media/a/b")
        );
    }

    #[test]
    fn zip_layout_is_readable() {
        let z = zip_stored(&[
            ("a.mp3".into(), b"hello".to_vec()),
            ("b.mp3".into(), vec![7; 300]),
        ]);
        // End of central directory record: 2 entries, central directory at its offset.
        let eocd = z.len() - 22;
        assert_eq!(&z[eocd..eocd + 4], &0x0605_4b50u32.to_le_bytes());
        assert_eq!(u16::from_le_bytes([z[eocd + 10], z[eocd + 11]]), 2);
        let cd_off = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        assert_eq!(&z[cd_off..cd_off + 4], &0x0201_4b50u32.to_le_bytes());
        // First member's data follows its 30-byte header and name, with the right CRC.
        assert_eq!(&z[30 + 5..30 + 10], b"hello");
        assert_eq!(
            u32::from_le_bytes(z[14..18].try_into().unwrap()),
            crc32fast::hash(b"hello")
        );
    }
}
