//! `bandmate serve` as a user starts it: it prints where it listens, the player URL and — on
//! the first start only — a development key that works; `bandmate keys` manages keys in the
//! same data directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &std::path::Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bandmate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "-1",
            "--data-dir",
        ])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bandmate serve starts");
    let out = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Serve { child, lines }
}

/// Lines printed until the API line (the last of the start-up banner).
fn banner(s: &Serve) -> Vec<String> {
    let mut v = Vec::new();
    loop {
        let line = s
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("serve prints its banner");
        let done = line.contains("development API key") || line.contains("OpenAPI");
        v.push(line);
        if done && v.iter().any(|l| l.contains("OpenAPI")) {
            // The key line, if any, follows the API line immediately.
            if let Ok(next) = s.lines.recv_timeout(Duration::from_millis(500)) {
                v.push(next);
            }
            return v;
        }
    }
}

fn get(addr: &str, path: &str, key: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn serve_prints_its_addresses_and_a_key_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = serve(dir.path());
    let lines = banner(&first);
    let listen = lines
        .iter()
        .find_map(|l| l.strip_prefix("bandmate: listening on http://"))
        .expect("listening line");
    let addr = listen
        .split_whitespace()
        .next()
        .expect("address")
        .to_string();
    assert!(
        lines
            .iter()
            .any(|l| *l == format!("bandmate: web player at http://{addr}/")),
        "{lines:?}"
    );
    let key = lines
        .iter()
        .find_map(|l| l.split("keep it): ").nth(1))
        .expect("a development key on first start")
        .to_string();
    assert!(key.starts_with("bm_") && key.len() == 43, "{key}");
    let answer = get(&addr, "/api/v1/chat/credit", &key);
    assert!(answer.contains(r#""code":200"#), "{answer}");
    drop(first);

    // Second start on the same data: no new key; the old one still works.
    let second = serve(dir.path());
    let lines = banner(&second);
    assert!(
        !lines.iter().any(|l| l.contains("development API key")),
        "{lines:?}"
    );
    let addr = lines
        .iter()
        .find_map(|l| l.strip_prefix("bandmate: listening on http://"))
        .and_then(|l| l.split_whitespace().next())
        .expect("address")
        .to_string();
    assert!(get(&addr, "/api/v1/chat/credit", &key).contains(r#""code":200"#));
    drop(second);

    // keys list shows the dev key by prefix only; revoke works by name.
    let list = Command::new(env!("CARGO_BIN_EXE_bandmate"))
        .args(["keys", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("keys list");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("dev") && text.contains(&key[..9]) && !text.contains(&key),
        "{text}"
    );
    let revoke = Command::new(env!("CARGO_BIN_EXE_bandmate"))
        .args(["keys", "revoke", "dev", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("keys revoke");
    assert!(revoke.status.success());
}
