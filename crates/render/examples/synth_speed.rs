//! Synthesis alone, timed and kept: renders every part of the 3-minute test band and (with
//! `--vocal`) of both variations of the real arrangement of that vocal to stems on one thread,
//! prints the CPU seconds per part (median over `--runs`), and with `--dump DIR` writes each
//! stem as raw little-endian `f32` (left then right) so two builds can be compared bit for bit
//! with `--compare DIR_A DIR_B` (max abs difference and SNR of each stem).
//!
//! ```text
//! cargo build --release -p bandmate-render --examples
//! target/release/examples/synth_speed [--sf2 PATH] [--vocal /tmp/vocal3.wav] [--runs 3] [--dump DIR]
//! target/release/examples/synth_speed --compare DIR_A DIR_B
//! ```

#[path = "../src/testband.rs"]
mod testband;

use bandmate_audio::{DecodeLimits, decode_mono};
use bandmate_core::{Arrangement, GenerationParams, ModelProfile, Weight};
use bandmate_render::{RenderSettings, Renderer};

mod common;
use common::{arg, cpu};

fn read_f32(path: &std::path::Path) -> Vec<f32> {
    std::fs::read(path)
        .expect("stem file")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn compare(a: &str, b: &str) {
    let mut names: Vec<_> = std::fs::read_dir(a)
        .expect("first directory")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    println!(
        "{:28} {:>12} {:>12} {:>10}",
        "stem", "max |diff|", "peak", "SNR dB"
    );
    let mut worst = f64::INFINITY;
    for n in names {
        let x = read_f32(&std::path::Path::new(a).join(&n));
        let y = read_f32(&std::path::Path::new(b).join(&n));
        assert_eq!(x.len(), y.len(), "{n:?}: lengths differ");
        let (mut sig, mut err, mut max, mut peak) = (0f64, 0f64, 0f32, 0f32);
        for (&p, &q) in x.iter().zip(&y) {
            sig += f64::from(p) * f64::from(p);
            err += f64::from(p - q) * f64::from(p - q);
            max = max.max((p - q).abs());
            peak = peak.max(p.abs());
        }
        let snr = if err == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (sig / err).log10()
        };
        worst = worst.min(snr);
        println!(
            "{:28} {:>12.3e} {:>12.4} {:>10.1}",
            n.to_string_lossy(),
            max,
            peak,
            snr
        );
    }
    println!("lowest SNR: {worst:.1} dB (inf = bit-identical)");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--compare") {
        compare(&args[i + 1], &args[i + 2]);
        return;
    }
    let sf2 = arg(&args, "--sf2").unwrap_or_else(|| "/usr/share/sounds/sf2/FluidR3_GM.sf2".into());
    let runs: usize = arg(&args, "--runs")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let dump = arg(&args, "--dump").map(std::path::PathBuf::from);
    let renderer = Renderer::from_path(&sf2).expect("SoundFont");
    let mut sets: Vec<(String, Arrangement)> = (1..=2u8)
        .map(|v| {
            (
                format!("band{v}"),
                testband::band(180.0, ModelProfile::V45Plus, v, 7),
            )
        })
        .collect();
    if let Some(p) = arg(&args, "--vocal") {
        let bytes = std::fs::read(&p).expect("vocal file");
        let vocal = decode_mono(&bytes, Some("wav"), &DecodeLimits::default())
            .expect("decodable vocal")
            .audio;
        let params = GenerationParams {
            title: "Test song".into(),
            tags: arg(&args, "--tags").unwrap_or_else(|| "pop, acoustic".into()),
            model: ModelProfile::V45Plus,
            audio_weight: Weight::new(0.65).expect("weight"),
            seed: 7,
            ..GenerationParams::default()
        };
        let analysis = bandmate_analysis::analyze(
            &vocal,
            &bandmate_analysis::AnalysisSettings::for_voice(None),
        )
        .expect("analysis");
        let plan = bandmate_compose::plan(&analysis, &params).expect("plan");
        for v in 1..=2u8 {
            let a = bandmate_compose::arrange(&analysis, &plan, &params, v).expect("arrangement");
            sets.push((format!("real{v}"), a));
        }
    }
    let settings = RenderSettings {
        threads: 1,
        ..RenderSettings::default()
    };
    if let Some(d) = &dump {
        std::fs::create_dir_all(d).expect("dump directory");
    }
    let mut total = Vec::new();
    for run in 0..runs {
        let mut sum = 0.0;
        for (set, a) in &sets {
            for (i, p) in a.parts.iter().enumerate() {
                let mut one = a.clone();
                one.parts = vec![p.clone()];
                let c0 = cpu();
                let stem = renderer.render_stems(&one, &settings).expect("render");
                let c = cpu() - c0;
                sum += c;
                if run == 0 {
                    println!(
                        "{set:6} {:10} {:>6} notes {c:>7.3} s CPU",
                        p.name,
                        p.notes.len()
                    );
                    if let Some(d) = &dump {
                        let mut bytes = Vec::with_capacity(stem[0].audio.frames() * 8);
                        for ch in stem[0].audio.channels() {
                            for v in ch {
                                bytes.extend_from_slice(&v.to_le_bytes());
                            }
                        }
                        std::fs::write(d.join(format!("{set}-{i}-{}.f32", p.name)), bytes)
                            .expect("write stem");
                    }
                }
            }
        }
        println!("run {run}: synthesis {sum:.3} s CPU");
        total.push(sum);
    }
    total.sort_by(f64::total_cmp);
    println!(
        "median synthesis CPU over {runs} run(s): {:.3} s ({} arrangements)",
        total[total.len() / 2],
        sets.len()
    );
}
