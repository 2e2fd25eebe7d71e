//! File storage under the data directory, downloads with HTTP Range, and the stems ZIP.
//!
//! Layout: `<data_dir>/media/<task id>/<file id>` for generated media and fetched inputs,
//! `<data_dir>/uploads/<file id>` for uploads. Every file is written to a temporary name and
//! renamed into place, so a reader never sees half a file. Download URLs are
//! `<public base>/files/<file id>/<name>`: the 128-bit random id is the secret (like
//! upstream's CDN links), the name is for people and browsers.

use std::borrow::Cow;
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
        self.write_pieces(rel, &[Cow::Borrowed(bytes)]).await
    }

    /// Write the concatenation of `pieces` atomically at `rel`, without joining them in
    /// memory first.
    pub async fn write_pieces(&self, rel: &str, pieces: &[Cow<'_, [u8]>]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let (tmp, path) = self.temp_for(rel).await?;
        let written = async {
            let mut f = tokio::fs::File::create(&tmp).await?;
            for p in pieces {
                f.write_all(p).await?;
            }
            f.flush().await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
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
pub fn zip_stored(members: &[(String, &[u8])]) -> Vec<u8> {
    zip_stored_pieces(members).concat()
}

/// [`zip_stored`] as the pieces to write one after another: the headers (owned) and the
/// members' own bytes (borrowed), so an archive of large members is written without a copy of
/// them ([`FileStore::write_pieces`]).
pub fn zip_stored_pieces<'a>(members: &[(String, &'a [u8])]) -> Vec<Cow<'a, [u8]>> {
    let mut pieces: Vec<Cow<'a, [u8]>> = Vec::with_capacity(2 * members.len() + 1);
    let mut offset = 0usize;
    let mut central = Vec::new();
    // 1980-01-01 00:00 in MS-DOS format: no clock in the archive keeps it reproducible.
    let (dos_time, dos_date) = (0u16, (1u16 << 5) | 1);
    for (name, data) in members {
        let crc = crc32fast::hash(data);
        let local_offset = offset as u32;
        let name = name.as_bytes();
        let size = data.len() as u32;
        // What a local header and its central entry share (APPNOTE 4.3.7 / 4.3.12): version
        // needed, flags, method 0 (stored), time, date, CRC, both sizes, name length.
        let mut shared = Vec::with_capacity(26);
        for half in [20u16, 0, 0, dos_time, dos_date] {
            shared.extend_from_slice(&half.to_le_bytes());
        }
        for word in [crc, size, size] {
            shared.extend_from_slice(&word.to_le_bytes());
        }
        shared.extend_from_slice(&(name.len() as u16).to_le_bytes());

        let mut head = Vec::with_capacity(30 + name.len());
        head.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        head.extend_from_slice(&shared);
        head.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        head.extend_from_slice(name);
        offset += head.len() + data.len();
        pieces.push(Cow::Owned(head));
        pieces.push(Cow::Borrowed(data));

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        central.extend_from_slice(&shared);
        // extra field, comment, disk number, internal attributes (2 bytes each)
        central.extend_from_slice(&[0u8; 8]);
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&local_offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = offset as u32;
    let n = members.len() as u16;
    let cd_len = central.len() as u32;
    central.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    central.extend_from_slice(&[0u8; 4]);
    central.extend_from_slice(&n.to_le_bytes());
    central.extend_from_slice(&n.to_le_bytes());
    central.extend_from_slice(&cd_len.to_le_bytes());
    central.extend_from_slice(&cd_offset.to_le_bytes());
    central.extend_from_slice(&0u16.to_le_bytes());
    pieces.push(Cow::Owned(central));
    pieces
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

    /// The members of a stored ZIP, read the way unzip tools read it (APPNOTE.TXT 4.3): from
    /// the end record to the central directory, and from each central entry to its local
    /// header and data, checking signatures, names, sizes and CRCs on the way.
    fn read_zip(z: &[u8]) -> Vec<(String, Vec<u8>)> {
        let u16_at = |at: usize| u16::from_le_bytes([z[at], z[at + 1]]) as usize;
        let u32_at = |at: usize| u32::from_le_bytes(z[at..at + 4].try_into().unwrap()) as usize;
        let eocd = z.len() - 22;
        assert_eq!(u32_at(eocd), 0x0605_4b50, "end record");
        let (count, cd_size, cd_off) = (u16_at(eocd + 10), u32_at(eocd + 12), u32_at(eocd + 16));
        assert_eq!(
            cd_off + cd_size,
            eocd,
            "the central directory ends at the end record"
        );
        let mut at = cd_off;
        let mut out = Vec::new();
        for _ in 0..count {
            assert_eq!(u32_at(at), 0x0201_4b50, "central entry at {at}");
            let (crc, size) = (u32_at(at + 16), u32_at(at + 24));
            let (n, m, k) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
            let local = u32_at(at + 42);
            let name = z[at + 46..at + 46 + n].to_vec();
            assert_eq!(u32_at(local), 0x0403_4b50, "local header at {local}");
            assert_eq!(&z[local + 30..local + 30 + n], &name[..]);
            let data_at = local + 30 + n + u16_at(local + 28);
            let data = z[data_at..data_at + size].to_vec();
            assert_eq!(crc32fast::hash(&data) as usize, crc);
            out.push((String::from_utf8(name).unwrap(), data));
            at += 46 + n + m + k;
        }
        assert_eq!(at, eocd);
        out
    }

    #[test]
    fn a_zip_reads_back_as_its_members() {
        let b = vec![7u8; 300];
        let members = [
            ("a.mp3".to_string(), &b"hello"[..]),
            ("drums-and-more.mp3".to_string(), &b[..]),
            ("c.mp3".to_string(), &b""[..]),
        ];
        let got = read_zip(&zip_stored(&members));
        let want: Vec<(String, Vec<u8>)> = members
            .iter()
            .map(|(n, d)| (n.clone(), d.to_vec()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn zip_layout_is_readable() {
        let b = vec![7u8; 300];
        let z = zip_stored(&[("a.mp3".into(), &b"hello"[..]), ("b.mp3".into(), &b[..])]);
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

    #[tokio::test]
    async fn an_archive_is_written_from_its_pieces_as_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FileStore::new(dir.path());
        let big = vec![9u8; 100_000];
        let members = [
            ("x.mp3".to_string(), &big[..]),
            ("y.mp3".to_string(), &b"abc"[..]),
        ];
        let pieces = zip_stored_pieces(&members);
        // The members' bytes are borrowed, not copied.
        assert!(pieces.iter().any(|p| p.as_ptr() == big.as_ptr()));
        fs.write_pieces("media/t/z", &pieces).await.unwrap();
        assert_eq!(fs.read("media/t/z").await.unwrap(), zip_stored(&members));
        // Written in place: no temporary file is left beside it.
        let left = std::fs::read_dir(dir.path().join("media/t"))
            .unwrap()
            .count();
        assert_eq!(left, 1);
    }
}
