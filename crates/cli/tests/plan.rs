//! `bandmate plan` end to end: a synthetic sung take (known key and tempo) through decoding,
//! analysis, harmonisation and arrangement, printed as JSON and written as MIDI.

use std::process::Command;

use bandmate_core::{Key, Mode, PitchClass, Plan};
use bandmate_testkit::{Melody, SingerSettings, WavFormat, sing, wav_bytes};

#[test]
fn plan_a_sung_take_to_json_and_midi() {
    let dir = std::env::temp_dir().join(format!("bandmate-plan-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let melody = Melody::generate(Key::new(PitchClass::new(7), Mode::Major), 100.0, 4, 8, 5);
    let take = sing(&melody, &SingerSettings::default(), 5);
    let wav = dir.join("take.wav");
    std::fs::write(
        &wav,
        wav_bytes(
            std::slice::from_ref(&take.audio),
            take.rate,
            WavFormat::Int16,
        ),
    )
    .unwrap();
    let midi = dir.join("band.mid");
    let out = Command::new(env!("CARGO_BIN_EXE_bandmate"))
        .args([
            "plan",
            wav.to_str().unwrap(),
            "--tags",
            "Lo-Fi, relaxing, zorblax",
        ])
        .args([
            "--negative-tags",
            "drums",
            "--json",
            "--seed",
            "3",
            "--variation",
            "2",
        ])
        .arg("--midi")
        .arg(&midi)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Plan = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan.style.id, "lofi");
    assert!(plan.unknown_tags.contains(&"zorblax".to_string()));
    assert!(plan.excluded.iter().any(|e| e.contains("drums")));
    assert!(!plan.chords.is_empty());
    let bytes = std::fs::read(&midi).unwrap();
    assert_eq!(&bytes[..4], b"MThd");
    // the same request again gives the same file
    let again = dir.join("again.mid");
    let out2 = Command::new(env!("CARGO_BIN_EXE_bandmate"))
        .args([
            "plan",
            wav.to_str().unwrap(),
            "--tags",
            "Lo-Fi, relaxing, zorblax",
        ])
        .args([
            "--negative-tags",
            "drums",
            "--json",
            "--seed",
            "3",
            "--variation",
            "2",
        ])
        .arg("--midi")
        .arg(&again)
        .output()
        .unwrap();
    assert!(out2.status.success());
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
    // an analysis saved by `bandmate analyze --save-analysis` plans to the same chart
    let saved = dir.join("take.analysis.json");
    let analyzed = Command::new(env!("CARGO_BIN_EXE_bandmate"))
        .args(["analyze", wav.to_str().unwrap(), "--save-analysis"])
        .arg(&saved)
        .output()
        .unwrap();
    assert!(
        analyzed.status.success(),
        "{}",
        String::from_utf8_lossy(&analyzed.stderr)
    );
    let from_saved = Command::new(env!("CARGO_BIN_EXE_bandmate"))
        .args([
            "plan",
            saved.to_str().unwrap(),
            "--tags",
            "Lo-Fi, relaxing, zorblax",
        ])
        .args(["--negative-tags", "drums", "--json", "--seed", "3"])
        .output()
        .unwrap();
    assert!(
        from_saved.status.success(),
        "{}",
        String::from_utf8_lossy(&from_saved.stderr)
    );
    let replanned: Plan = serde_json::from_slice(&from_saved.stdout).unwrap();
    assert_eq!(replanned.chords, plan.chords);
    assert_eq!(replanned.key, plan.key);
    // a bad weight is a clear error naming the flag
    let bad = Command::new(env!("CARGO_BIN_EXE_bandmate"))
        .args(["plan", wav.to_str().unwrap(), "--style-weight", "1.5"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--style-weight"));
    std::fs::remove_dir_all(&dir).ok();
}
