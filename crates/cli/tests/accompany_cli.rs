//! `bandmate accompany` as a user runs it: the real binary on a sung take the test makes,
//! with the project's generated SoundFont, every output it can write, and every way its
//! arguments or input can be wrong.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use bandmate_audio::{DecodeLimits, decode, measure_loudness};
use common::{bin, scratch};

/// A sung take (the synthetic singer, C major, 100 BPM) and the test SoundFont in `dir`.
fn take_and_font(dir: &Path, bars: u32) -> (PathBuf, PathBuf) {
    let wav = dir.join("take.wav");
    let out = bin()
        .args(["synth-vocal", "-o"])
        .arg(&wav)
        .args(["--key", "C major", "--bpm", "100", "--bars"])
        .arg(bars.to_string())
        .args(["--seed", "11"])
        .output()
        .expect("run synth-vocal");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let font = dir.join("font.sf2");
    std::fs::write(&font, bandmate_testkit::soundfont::font()).expect("write the SoundFont");
    (wav, font)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under the root");
                out.push(rel.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn accompany_writes_every_output_and_a_summary() {
    let dir = scratch("accompany-all");
    let (wav, font) = take_and_font(&dir, 8);
    let out_dir = dir.join("out");
    let song = out_dir.join("song.mp3");
    let out = bin()
        .arg("accompany")
        .arg(&wav)
        .args(["--tags", "piano ballad, soothing", "--seed", "3"])
        .args(["--variations", "2", "--title", "Morning Take", "--wav"])
        .arg("-o")
        .arg(&song)
        .arg("--instrumental")
        .arg(out_dir.join("band.mp3"))
        .arg("--stems")
        .arg(out_dir.join("stems"))
        .arg("--midi")
        .arg(out_dir.join("song.mid"))
        .arg("--cover")
        .arg(out_dir.join("cover.png"))
        .arg("--soundfont")
        .arg(&font)
        .output()
        .unwrap();
    let summary = ok(&out);

    // The summary: key, tempo, chords, both songs' loudness, and every file written.
    let line = |head: &str| {
        summary
            .lines()
            .find(|l| l.starts_with(head))
            .unwrap_or_else(|| panic!("no `{head}` line in:\n{summary}"))
            .to_string()
    };
    assert!(line("key").ends_with("C major"), "{summary}");
    let tempo: f64 = line("tempo")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!((tempo - 100.0).abs() < 3.0, "{summary}");
    assert!(line("chords").split_whitespace().count() >= 4, "{summary}");
    for v in ["song 1", "song 2"] {
        let l = line(v);
        assert!(l.contains("LUFS") && l.contains("dBTP"), "{summary}");
    }

    let written = files(&out_dir);
    for f in [
        "band-1.mp3",
        "band-1.wav",
        "band-2.mp3",
        "band-2.wav",
        "cover-1.png",
        "cover-2.png",
        "song-1.mid",
        "song-1.mp3",
        "song-1.wav",
        "song-2.mid",
        "song-2.mp3",
        "song-2.wav",
    ] {
        assert!(written.contains(&f.to_string()), "{f} missing: {written:?}");
    }
    for v in 1..=2 {
        let stems: Vec<&String> = written
            .iter()
            .filter(|f| f.starts_with(&format!("stems/variation-{v}/")))
            .collect();
        assert!(stems.len() >= 4, "variation {v}: {stems:?}");
        assert!(
            stems.iter().all(|s| s.ends_with(".mp3")),
            "variation {v}: {stems:?}"
        );
        assert!(
            stems.iter().any(|s| s.contains("vocal")),
            "variation {v}: {stems:?}"
        );
    }
    // Each written file is listed under `written`, by the path it was given.
    for f in &written {
        let p = out_dir.join(f);
        assert!(
            summary.contains(&p.display().to_string()),
            "{f} not in the summary:\n{summary}"
        );
    }

    // The songs: tagged MP3s that decode to the take's length and more (intro and ending),
    // at the loudness target, the two variations different.
    let take_s = decode(
        &std::fs::read(&wav).unwrap(),
        Some("wav"),
        &DecodeLimits::default(),
    )
    .unwrap()
    .audio
    .duration_s();
    for name in ["song-1.mp3", "song-2.mp3", "band-1.mp3", "band-2.mp3"] {
        let bytes = std::fs::read(out_dir.join(name)).unwrap();
        assert_eq!(&bytes[..3], b"ID3", "{name}");
        let title = if name.starts_with("band") {
            "Morning Take (instrumental)"
        } else {
            "Morning Take"
        };
        assert!(
            bytes.windows(title.len()).any(|w| w == title.as_bytes()),
            "{name} lacks its title"
        );
        let audio = decode(&bytes, Some("mp3"), &DecodeLimits::default())
            .unwrap()
            .audio;
        assert_eq!(audio.channel_count(), 2, "{name}");
        assert!(
            audio.duration_s() > take_s,
            "{name}: {} s",
            audio.duration_s()
        );
        let l = measure_loudness(&audio);
        assert!(
            (l.integrated_lufs + 14.0).abs() <= 1.0,
            "{name}: {} LUFS",
            l.integrated_lufs
        );
        assert!(
            l.true_peak_dbtp <= -0.5,
            "{name}: {} dBTP",
            l.true_peak_dbtp
        );
    }
    let read = |f: &str| std::fs::read(out_dir.join(f)).unwrap();
    assert_ne!(read("song-1.mp3"), read("song-2.mp3"));
    assert_ne!(read("cover-1.png"), read("cover-2.png"));

    // WAVs: RIFF, 16-bit stereo at 44.1 kHz; MIDI: type 1; covers: 1024 x 1024 PNG.
    for f in ["song-1.wav", "band-2.wav"] {
        let w = read(f);
        assert_eq!((&w[..4], &w[8..12]), (&b"RIFF"[..], &b"WAVE"[..]), "{f}");
        assert_eq!(u16::from_le_bytes([w[22], w[23]]), 2, "{f} channels");
        assert_eq!(
            u32::from_le_bytes([w[24], w[25], w[26], w[27]]),
            44_100,
            "{f} rate"
        );
        assert_eq!(u16::from_le_bytes([w[34], w[35]]), 16, "{f} bits");
    }
    for f in ["song-1.mid", "song-2.mid"] {
        let m = read(f);
        assert_eq!(&m[..4], b"MThd", "{f}");
        assert_eq!(u16::from_be_bytes([m[8], m[9]]), 1, "{f}: SMF type");
        assert!(u16::from_be_bytes([m[10], m[11]]) >= 3, "{f}: tracks");
    }
    for f in ["cover-1.png", "cover-2.png"] {
        let p = read(f);
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n", "{f}");
        let size = |at: usize| u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        assert_eq!((size(16), size(20)), (1024, 1024), "{f}");
    }

    // The same request again is the same song, byte for byte, also without the MIDI file,
    // cover and stems (which the engine then does not make).
    let again = dir.join("again.mp3");
    let out = bin()
        .arg("accompany")
        .arg(&wav)
        .args(["--tags", "piano ballad, soothing", "--seed", "3"])
        .args(["--variations", "2", "--title", "Morning Take"])
        .arg("-o")
        .arg(&again)
        .arg("--soundfont")
        .arg(&font)
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(
        std::fs::read(dir.join("again-2.mp3")).unwrap(),
        read("song-2.mp3")
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Runs `accompany` with `args` before the usual `-o` and SoundFont, and returns its one line
/// of error; asserts it failed and wrote nothing.
fn fails(dir: &Path, font: &Path, args: &[&str]) -> String {
    let out_dir = dir.join("nothing");
    let out = bin()
        .arg("accompany")
        .args(args)
        .arg("-o")
        .arg(out_dir.join("song.mp3"))
        .arg("--soundfont")
        .arg(font)
        .output()
        .expect("run accompany");
    assert!(!out.status.success(), "{args:?} succeeded");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(files(&out_dir).is_empty(), "{args:?} wrote files");
    err.trim_end().to_string()
}

#[test]
fn accompany_errors_are_one_clear_line_and_write_nothing() {
    let dir = scratch("accompany-bad");
    let (take, font) = take_and_font(&dir, 2);
    let take = take.to_str().unwrap();
    let path = |name: &str| dir.join(name).display().to_string();

    let html = path("page.mp3");
    std::fs::write(&html, b"<html><body>404 Not Found</body></html>").unwrap();
    let rate = 44_100;
    let silent = path("silent.wav");
    let zeros = vec![vec![0.0f32; 3 * rate]];
    std::fs::write(
        &silent,
        bandmate_testkit::wav_bytes(&zeros, rate as u32, bandmate_testkit::WavFormat::Int16),
    )
    .unwrap();
    let short = path("short.wav");
    let blip: Vec<f32> = (0..rate)
        .map(|i| 0.3 * (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin())
        .collect();
    std::fs::write(
        &short,
        bandmate_testkit::wav_bytes(&[blip], rate as u32, bandmate_testkit::WavFormat::Int16),
    )
    .unwrap();
    let missing = path("nope.wav");

    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec![&missing],
            format!("bandmate: cannot read {missing}: No such file or directory (os error 2)"),
        ),
        (
            vec![&html],
            format!(
                "bandmate: {html}: the file is not audio (no known audio format was recognised)"
            ),
        ),
        (
            vec![&silent],
            format!("bandmate: {silent}: the audio is silent (loudest passage -120 dBFS)"),
        ),
        (
            vec![&short],
            format!("bandmate: {short}: the audio is too short: 1.0 s (at least 2 s are needed)"),
        ),
        (
            vec![take, "--variations", "3"],
            "bandmate: --variations must be 1 or 2".into(),
        ),
        (
            vec![take, "--model", "V3"],
            "bandmate: --model: 'V3' is not a valid model (V4_5PLUS or V5)".into(),
        ),
        (
            vec![take, "--style-weight", "1.5"],
            "bandmate: --style-weight must be between 0 and 1 (got 1.5)".into(),
        ),
        (
            vec![take, "--vocal-gender", "x"],
            "bandmate: --vocal-gender: 'x' is not a valid vocal gender (m or f)".into(),
        ),
    ];
    for (args, want) in &cases {
        assert_eq!(&fails(&dir, &font, args), want, "{args:?}");
    }

    // A SoundFont that is not one, or none: the engine cannot start, whatever the vocal.
    let not_font = dir.join("take.sf2");
    std::fs::write(&not_font, b"RIFF\x04\x00\x00\x00sfbk").unwrap();
    assert_eq!(
        fails(&dir, &not_font, &[take]),
        "bandmate: cannot start the engine: the SoundFont cannot be used: no sample data (smpl chunk)"
    );
    let none = dir.join("none.sf2");
    assert_eq!(
        fails(&dir, &none, &[take]),
        format!(
            "bandmate: cannot start the engine: cannot open the SoundFont {}: \
             No such file or directory (os error 2)",
            none.display()
        )
    );
    // Both wrong: the vocal is reported first, as the steps would run one after another
    // (the SoundFont loads beside the vocal's reading and decoding).
    assert_eq!(
        fails(&dir, &none, &[&missing]),
        format!("bandmate: cannot read {missing}: No such file or directory (os error 2)")
    );
    assert!(
        fails(&dir, &none, &[&html]).starts_with("bandmate: cannot start the engine: "),
        "a vocal that reads but does not decode comes after the engine"
    );
    std::fs::remove_dir_all(dir).ok();
}
