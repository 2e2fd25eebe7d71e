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

/// `bandmate keys ARGS --data-dir DIR`: (success, stdout, stderr).
fn keys(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bandmate"))
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("bandmate keys runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `keys list` as rows of its columns: ID NAME PREFIX CREDITS RATE SIGNED STATE.
fn key_rows(data: &std::path::Path) -> Vec<Vec<String>> {
    let (ok, out, err) = keys(data, &["list"]);
    assert!(ok, "{err}");
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "NAME", "PREFIX", "CREDITS", "RATE", "SIGNED", "STATE"]
    );
    lines
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// Create a key; returns (secret, id, stderr).
fn create(data: &std::path::Path, args: &[&str]) -> (String, String, String) {
    let mut all = vec!["create"];
    all.extend_from_slice(args);
    let (ok, out, err) = keys(data, &all);
    assert!(ok, "keys {all:?}: {err}");
    let secret = out.trim().to_string();
    assert!(secret.starts_with("bm_") && secret.len() == 43, "{out}");
    let id = err
        .strip_prefix("created ")
        .and_then(|r| r.split_whitespace().next())
        .expect("created line")
        .to_string();
    (secret, id, err)
}

#[test]
fn keys_create_options_show_in_the_list_and_a_shared_name_revokes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path();

    // Every option of `keys create`, and what `keys list` makes of it.
    let (alice_key, alice, err) = create(
        data,
        &[
            "--name",
            "alice",
            "--credits",
            "500",
            "--rate-limit",
            "40",
            "--rate-window",
            "2.5",
            "--webhook-secret",
            "s3cr3t",
        ],
    );
    assert!(
        err.contains(&format!("created {alice} (alice) with 500 credits")),
        "{err}"
    );
    let (_, bob, err) = create(
        data,
        &[
            "--name",
            "bob",
            "--rate-limit",
            "5",
            "--generate-webhook-secret",
        ],
    );
    let bob_secret = err
        .lines()
        .find_map(|l| l.strip_prefix("webhook signing secret: "))
        .expect("the generated secret is printed once")
        .to_string();
    assert!(bob_secret.len() >= 32, "{bob_secret}");
    let (_, first, _) = create(data, &["--credits", "7"]);
    let (_, second, _) = create(data, &["--credits", "0"]);
    let row = |id: &str| -> Vec<String> {
        key_rows(data)
            .into_iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("{id} is listed"))
    };
    let prefix = format!("{}…", &alice_key[..9]);
    assert_eq!(
        row(&alice),
        [
            alice.as_str(),
            "alice",
            &prefix,
            "500",
            "40/2.5s",
            "yes",
            "active"
        ]
    );
    // Defaults: credits.default_credits, rate_limit.window_s; no secret unless asked.
    assert_eq!(
        row(&bob)[1..],
        ["bob", &row(&bob)[2], "10000", "5/10s", "yes", "active"]
    );
    assert_eq!(
        row(&first)[1..],
        ["default", &row(&first)[2], "7", "default", "no", "active"]
    );
    assert_eq!(row(&second)[3], "0");
    assert!(
        !key_rows(data)
            .iter()
            .flatten()
            .any(|c| c.contains(&alice_key)),
        "no secret listed"
    );

    // The secrets are stored as given (the list only says "yes").
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stored = rt.block_on(async {
        use bandmate_server::Store as _;
        let store = bandmate_server::SqliteStore::open_path(&data.join("bandmate.db"))
            .await
            .expect("store");
        store.list_keys().await.expect("keys")
    });
    let secret_of = |id: &str| {
        stored
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| k.webhook_secret.clone())
    };
    assert_eq!(secret_of(&alice).as_deref(), Some("s3cr3t"));
    assert_eq!(secret_of(&bob), Some(bob_secret));
    assert_eq!(secret_of(&first), None);
    drop(rt);

    // Bad options are refused, and nothing is created.
    for (args, msg) in [
        (
            &["--rate-limit", "0"][..],
            "bandmate: --rate-limit must be at least 1",
        ),
        (
            &["--rate-window", "0"][..],
            "bandmate: --rate-window must be positive",
        ),
        (
            &["--rate-window=-1"][..],
            "bandmate: --rate-window must be positive",
        ),
        (
            &["--rate-window", "NaN"][..],
            "bandmate: --rate-window must be positive",
        ),
    ] {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let (ok, out, err) = keys(data, &all);
        assert!(!ok && out.is_empty(), "{args:?}: {out}");
        assert_eq!(err.trim(), msg, "{args:?}");
    }
    let (ok, _, err) = keys(
        data,
        &[
            "create",
            "--webhook-secret",
            "x",
            "--generate-webhook-secret",
        ],
    );
    assert!(!ok && err.contains("cannot be used with"), "{err}");
    assert_eq!(key_rows(data).len(), 4);

    // Two live keys share the name "default": revoke and credit by that name change nothing
    // and say, on one line, which ids to use instead.
    for verb in ["revoke", "credit"] {
        let mut args = vec![verb, "default"];
        if verb == "credit" {
            args.push("100");
        }
        let (ok, out, err) = keys(data, &args);
        assert!(!ok && out.is_empty(), "{verb}: {out}");
        assert_eq!(
            err,
            format!(
                "bandmate: 2 active keys are named 'default' ({first}, {second}); nothing changed: {verb} one by its id, e.g. `bandmate keys {verb} {first}`\n"
            )
        );
    }
    assert_eq!(row(&first)[3..], ["7", "default", "no", "active"]);
    assert_eq!(row(&second)[3..], ["0", "default", "no", "active"]);

    // By id always works; then the name is no longer shared by live keys and works too.
    let (ok, out, err) = keys(data, &["revoke", &first]);
    assert!(ok, "{err}");
    assert_eq!(out, format!("revoked {first}\n"));
    assert_eq!(row(&first)[6], "revoked");
    assert_eq!(row(&second)[6], "active");
    let (ok, out, err) = keys(data, &["credit", "default", "5"]);
    assert!(ok, "{err}");
    assert_eq!(out, format!("added 5 credits to {second}\n"));
    assert_eq!(row(&second)[3], "5");
    assert_eq!(
        row(&first)[3],
        "7",
        "the revoked key is not credited by name"
    );
    let (ok, out, _) = keys(data, &["revoke", "default"]);
    assert!(ok);
    assert_eq!(out, format!("revoked {second}\n"));
    let (ok, _, err) = keys(data, &["revoke", "default"]);
    assert!(!ok);
    assert_eq!(err, "bandmate: no active key with id or name 'default'\n");
    let (ok, _, err) = keys(data, &["revoke", &first]);
    assert!(!ok);
    assert_eq!(
        err,
        format!("bandmate: no active key with id or name '{first}'\n")
    );
    let (ok, out, _) = keys(data, &["revoke", "alice"]);
    assert!(ok);
    assert_eq!(out, format!("revoked {alice}\n"));
    let states: Vec<String> = key_rows(data).into_iter().map(|r| r[6].clone()).collect();
    assert_eq!(states, ["revoked", "active", "revoked", "revoked"]);
}
