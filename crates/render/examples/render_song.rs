//! The whole render stage on a realistic input, timed: a vocal (a file, or the synthetic
//! singer) to both variations, each as a full-song MP3 and an instrumental MP3 (synthesis,
//! mix, encode), the way the engine runs it. Writes the files and prints the figures.
//!
//! ```text
//! cargo run --release -p bandmate-render --example render_song -- \
//!     [--sf2 /usr/share/sounds/sf2/FluidR3_GM.sf2] [--vocal take.wav] [--seconds 180] \
//!     [--profile V4_5PLUS|V5] [--weight 0.65] [--out /tmp/bandmate] [--wav [--float]] [--runs 1] \
//!     [--real [--tags "pop"]] [--stage-memory]
//! ```
//! By default the band is the test band (drums, bass, piano, strings, guitar over I–V–vi–IV
//! at 96 BPM; the synthetic vocal starts after its two-bar intro). With `--real` the vocal is
//! analysed and arranged by the real pipeline (`bandmate-analysis`, `bandmate-compose`) with
//! `--tags`, and only the render stage (vocal preparation, synthesis, mix, encode) is timed.

#[path = "../src/testband.rs"]
mod testband;

use std::time::Instant;

use bandmate_audio::{DecodeLimits, Mp3Settings, WavSampleFormat, decode_mono};
use bandmate_core::{
    AudioBuffer, GenerationParams, Key, Mode, ModelProfile, PitchClass, SampleRate, Weight,
};
use bandmate_render::{MixSettings, OutputRequest, Renderer, VocalTrack, cover_png};
use bandmate_testkit::{Melody, SingerSettings, sing};

mod common;
use common::{arg, cpu, memory};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sf2 = arg(&args, "--sf2").unwrap_or_else(|| "/usr/share/sounds/sf2/FluidR3_GM.sf2".into());
    let seconds: f64 = arg(&args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(180.0);
    let weight: f32 = arg(&args, "--weight")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.65);
    let runs: usize = arg(&args, "--runs")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let profile: ModelProfile = arg(&args, "--profile").map_or(ModelProfile::V45Plus, |p| {
        p.parse().expect("V4_5PLUS or V5")
    });
    let out =
        std::path::PathBuf::from(arg(&args, "--out").unwrap_or_else(|| "/tmp/bandmate".into()));
    let wav = args.iter().any(|a| a == "--wav");
    // `--float` writes the WAVs as 32-bit float: the mix exactly as computed, for comparing
    // two builds bit for bit.
    let wav_format = if args.iter().any(|a| a == "--float") {
        WavSampleFormat::Float32
    } else {
        WavSampleFormat::Pcm16
    };
    std::fs::create_dir_all(&out).expect("output directory");

    let t = Instant::now();
    let renderer = Renderer::from_path(&sf2).expect("SoundFont");
    println!(
        "soundfont: {} presets, {:.0} MB of samples, loaded in {:.2} s",
        renderer.soundfont().presets().len(),
        renderer.soundfont().sample_bytes() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let vocal = match arg(&args, "--vocal") {
        Some(p) => {
            let bytes = std::fs::read(&p).expect("vocal file");
            let ext = std::path::Path::new(&p)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_owned);
            decode_mono(&bytes, ext.as_deref(), &DecodeLimits::default())
                .expect("decodable vocal")
                .audio
        }
        None => {
            // The synthetic singer in the band's key and tempo, as long as the song.
            let bars = ((seconds - 5.0) / 2.5).max(2.0) as u32;
            let m = Melody::generate(
                Key::new(PitchClass::new(0), Mode::Major),
                testband::BPM,
                4,
                bars,
                3,
            );
            let take = sing(&m, &SingerSettings::default(), 5);
            AudioBuffer::mono(SampleRate::new(take.rate).expect("rate"), take.audio)
        }
    };
    println!(
        "vocal: {:.1} s at {} x{}",
        vocal.duration_s(),
        vocal.rate(),
        vocal.channel_count()
    );

    let real = args.iter().any(|a| a == "--real");
    let tags = arg(&args, "--tags").unwrap_or_else(|| "pop, acoustic".into());
    let params = GenerationParams {
        title: "Test song".into(),
        tags,
        model: profile,
        audio_weight: Weight::new(f64::from(weight)).expect("weight"),
        seed: 7,
        ..GenerationParams::default()
    };
    let arrangements: Vec<bandmate_core::Arrangement> = if real {
        let t = Instant::now();
        let settings = bandmate_analysis::AnalysisSettings::for_voice(None);
        let analysis = bandmate_analysis::analyze(&vocal, &settings).expect("analysis");
        let plan = bandmate_compose::plan(&analysis, &params).expect("plan");
        let a: Vec<_> = (1..=2u8)
            .map(|v| bandmate_compose::arrange(&analysis, &plan, &params, v).expect("arrangement"))
            .collect();
        println!(
            "analysis + plan + arrange (not timed below): {:.2} s; {} at {:.1} BPM, style {}, parts {:?}",
            t.elapsed().as_secs_f64(),
            plan.key,
            plan.tempo_bpm,
            plan.style.name,
            a[0].parts
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
        );
        a
    } else {
        (1..=2u8)
            .map(|v| testband::band(seconds, profile, v, 7))
            .collect()
    };
    // The vocal is prepared once per task (the engine's prepare stage); the decoded buffer
    // is dropped afterwards, as the engine can.
    let (w0, c0) = (Instant::now(), cpu());
    let track = VocalTrack::new(&vocal, None).expect("vocal");
    println!(
        "vocal prepared once: {:.2} s wall, {:.2} s CPU, {:.0} MB held",
        w0.elapsed().as_secs_f64(),
        cpu() - c0,
        track.bytes() as f64 / 1e6
    );
    drop(vocal);
    let (rss, hwm) = memory();
    println!(
        "memory before rendering: {rss:.0} MB resident, {hwm:.0} MB peak so far (decoding, analysis, vocal preparation)"
    );
    // With --stage-memory, reset the peak (Linux: writing 5 to clear_refs resets VmHWM, and
    // with it what /usr/bin/time reports) so the figures below are the render stage's own.
    if args.iter().any(|a| a == "--stage-memory") {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    let mut walls = Vec::new();
    for run in 0..runs {
        let (w0, c0) = (Instant::now(), cpu());
        let mut settings = MixSettings {
            profile,
            audio_weight: weight,
            ..MixSettings::default()
        };
        settings.render.threads = 2;
        let mut lines = Vec::new();
        for variation in 1..=2u8 {
            let arr = arrangements[usize::from(variation) - 1].clone();
            let t1 = Instant::now();
            let mix = renderer.mix(&arr, &track, &settings).expect("mix");
            let t_mix = t1.elapsed().as_secs_f64();
            let t2 = Instant::now();
            let tags = |title: &str| Mp3Settings {
                title: title.into(),
                artist: "Bandmate".into(),
                genre: arr.style_name.clone(),
                ..Mp3Settings::default()
            };
            let req = OutputRequest {
                song_mp3: Some(tags(&format!("Test song {variation}"))),
                instrumental_mp3: Some(tags(&format!("Test song {variation} (instrumental)"))),
                song_wav: wav.then_some(wav_format),
                instrumental_wav: wav.then_some(wav_format),
            };
            let o = mix.encode(&req).expect("encode");
            let t_enc = t2.elapsed().as_secs_f64();
            let name = |kind: &str, ext: &str| out.join(format!("song-{variation}{kind}.{ext}"));
            if run == 0 {
                if let Some(b) = &o.song_mp3 {
                    std::fs::write(name("", "mp3"), b).expect("write");
                }
                if let Some(b) = &o.instrumental_mp3 {
                    std::fs::write(name("-instrumental", "mp3"), b).expect("write");
                }
                if let Some(b) = &o.song_wav {
                    std::fs::write(name("", "wav"), b).expect("write");
                }
                if let Some(b) = &o.instrumental_wav {
                    std::fs::write(name("-instrumental", "wav"), b).expect("write");
                }
            }
            let r = o.report;
            let (rss, hwm) = memory();
            lines.push(format!(
                "memory after variation {variation}: {rss:.0} MB resident, {hwm:.0} MB peak so far"
            ));
            lines.push(format!(
                "variation {variation}: synth+mix {t_mix:.2} s, master+encode {t_enc:.2} s | song {:.2} LUFS {:.2} dBTP | instrumental {:.2} LUFS {:.2} dBTP | vocal-to-band {:+.1} LU, duck {:.1} dB, {:.1} s from {:.2} s",
                r.song.integrated_lufs, r.song.true_peak_dbtp, r.instrumental.map_or(f32::NAN, |l| l.integrated_lufs), r.instrumental.map_or(f32::NAN, |l| l.true_peak_dbtp), r.vocal_to_band_db, r.duck_db, r.duration_s, r.start_s
            ));
        }
        let wall = w0.elapsed().as_secs_f64();
        walls.push(wall);
        println!(
            "run {run}: both variations {wall:.2} s wall, {:.2} s CPU",
            cpu() - c0
        );
        for l in lines {
            println!("  {l}");
        }
    }
    // Covers are not part of "arrangement to MP3 bytes": drawn after the timing.
    for (i, arr) in arrangements.iter().enumerate() {
        let t = Instant::now();
        std::fs::write(
            out.join(format!("song-{}.png", i + 1)),
            cover_png(arr, "Test song"),
        )
        .expect("write");
        println!("cover {}: {:.2} s", i + 1, t.elapsed().as_secs_f64());
    }
    walls.sort_by(f64::total_cmp);
    println!(
        "median wall over {runs} run(s): {:.2} s (both variations, song + instrumental MP3 each)",
        walls[walls.len() / 2]
    );
}
