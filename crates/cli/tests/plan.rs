//! `bandmate plan` end to end: a synthetic sung take (known key and tempo) through decoding,
//! analysis, harmonisation and arrangement, printed as JSON and written as MIDI.

use std::path::Path;
use std::process::Command;

use bandmate_core::{Key, Mode, PitchClass, Plan};
use bandmate_testkit::{Melody, SingerSettings, WavFormat, sing, wav_bytes};

/// Runs the command, checks it succeeded (showing its stderr if not) and returns its stdout.
fn succeed(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run bandmate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

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
    // the request under test, from a recording or a saved analysis, its MIDI to `midi`
    let request = |input: &Path, midi: &Path| {
        succeed(
            Command::new(env!("CARGO_BIN_EXE_bandmate"))
                .arg("plan")
                .arg(input)
                .args(["--tags", "Lo-Fi, relaxing, zorblax"])
                .args(["--negative-tags", "drums", "--json", "--seed", "3"])
                .args(["--variation", "2", "--midi"])
                .arg(midi),
        )
    };
    let midi = dir.join("band.mid");
    let plan: Plan = serde_json::from_slice(&request(&wav, &midi)).unwrap();
    assert_eq!(plan.style.id, "lofi");
    assert!(plan.unknown_tags.contains(&"zorblax".to_string()));
    assert!(plan.excluded.iter().any(|e| e.contains("drums")));
    assert!(!plan.chords.is_empty());
    let bytes = std::fs::read(&midi).unwrap();
    assert_eq!(&bytes[..4], b"MThd");
    // the same request again gives the same file
    let again = dir.join("again.mid");
    request(&wav, &again);
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
    // an analysis saved by `bandmate analyze --save-analysis` plans to the same chart
    let saved = dir.join("take.analysis.json");
    succeed(
        Command::new(env!("CARGO_BIN_EXE_bandmate"))
            .arg("analyze")
            .arg(&wav)
            .arg("--save-analysis")
            .arg(&saved),
    );
    let replanned: Plan = serde_json::from_slice(&request(&saved, &dir.join("saved.mid"))).unwrap();
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
