//! `bandmate analyze` and `bandmate synth-vocal` as a user runs them: real binary, real files.

mod common;

use common::{bin, scratch};

#[test]
fn analyze_json_is_the_prediction_format() {
    let dir = scratch("json");
    let wav = dir.join("take.wav");
    let truth = dir.join("take.json");
    let out = bin()
        .args(["synth-vocal", "-o"])
        .arg(&wav)
        .arg("--truth")
        .arg(&truth)
        .args([
            "--key", "A minor", "--bpm", "90", "--bars", "8", "--seed", "4",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = bin()
        .args(["analyze", "--json"])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in ["tempo", "beats", "downbeats", "key", "notes", "f0"] {
        assert!(p.get(field).is_some(), "missing {field}");
    }
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    // The melody was heard: most true notes have a predicted note within 50 ms.
    let est: Vec<f64> = p["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[0].as_f64().unwrap())
        .collect();
    let gt = truth["notes"].as_array().unwrap();
    let hit = gt
        .iter()
        .filter(|n| {
            est.iter()
                .any(|e| (e - n[0].as_f64().unwrap()).abs() < 0.05)
        })
        .count();
    assert!(hit * 10 >= gt.len() * 8, "{hit} of {}", gt.len());
    let f0 = &p["f0"];
    assert_eq!(
        f0["times"].as_array().unwrap().len(),
        f0["hz"].as_array().unwrap().len()
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_files_give_one_clear_line_and_fail() {
    let dir = scratch("bad");
    let html = dir.join("page.mp3");
    std::fs::write(&html, b"<html><body>404 Not Found</body></html>").unwrap();
    let out = bin().arg("analyze").arg(&html).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("the file is not audio"), "{err}");

    let missing = dir.join("nope.wav");
    let out = bin().arg("analyze").arg(&missing).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot read"), "{err}");

    let out = bin()
        .args(["analyze", "--vocal-gender", "x"])
        .arg(&html)
        .output()
        .unwrap();
    assert!(!out.status.success());
    std::fs::remove_dir_all(dir).ok();
}
