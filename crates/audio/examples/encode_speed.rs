//! MP3 encoding speed and fidelity on a real file:
//!
//! ```sh
//! cargo build --release -p bandmate-audio --example encode_speed
//! target/release/examples/encode_speed SONG.wav --runs 5
//! ```
//!
//! Encodes the file (any format `decode` reads, resampled to 44.1 kHz stereo) `--runs` times with
//! the default settings (192 kbps CBR, quality 7, joint stereo) and prints the median wall time,
//! each run's CPU time (of the encoding thread: a fair figure on a shared machine) and their
//! median, and the fidelity of the result: the encoded file decoded back, aligned to the
//! input, as the error's level under the signal (SNR, dB) overall and in the 2-16 kHz band where
//! an encoder's shortcuts are heard first. Compare builds by CPU time and SNR, run alternately.

use std::time::Instant;

use bandmate_audio::dsp::{Biquad, FilterKind};
use bandmate_audio::resample::{Quality, resample};
use bandmate_audio::{DecodeLimits, Mp3Settings, decode, encode_mp3};
use bandmate_core::{AudioBuffer, SampleRate};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: encode_speed FILE [--runs N]");
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map_or(3, |n| n.parse().expect("--runs N"));
    let bytes = std::fs::read(path).expect("read the input");
    let limits = DecodeLimits {
        max_seconds: 1200.0,
        ..DecodeLimits::default()
    };
    let audio = decode(&bytes, None, &limits).expect("decode").audio;
    let audio = to_cd_stereo(&audio);
    let settings = Mp3Settings::default();
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    let mut mp3 = Vec::new();
    for _ in 0..runs {
        let (t, c) = (Instant::now(), thread_cpu_s());
        mp3 = encode_mp3(&audio, &settings).expect("encode");
        walls.push(t.elapsed().as_secs_f64());
        cpus.push(thread_cpu_s().zip(c).map(|(b, a)| b - a));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let wall = median(&mut walls);
    println!(
        "{:.1} s of audio, {runs} runs, {} bytes: wall median {wall:.3} s ({:.0}x real time)",
        audio.duration_s(),
        mp3.len(),
        audio.duration_s() / wall
    );
    if let Some(mut cpu) = cpus.into_iter().collect::<Option<Vec<f64>>>() {
        let all: Vec<f64> = cpu.iter().map(|t| (t * 1000.0).round() / 1000.0).collect();
        let m = median(&mut cpu);
        println!(
            "CPU of the encoding thread: {all:?} s, median {m:.3} s ({:.0}x real time)",
            audio.duration_s() / m
        );
    }
    let back = decode(&mp3, Some("mp3"), &limits)
        .expect("decode the MP3")
        .audio;
    let (snr, snr_hi) = fidelity(&audio, &back);
    println!("fidelity: SNR {snr:.2} dB, 2-16 kHz {snr_hi:.2} dB");
}

/// CPU time of this thread in seconds (Linux's `/proc/thread-self/schedstat`; None elsewhere).
/// Unlike wall time it does not grow when other processes share the cores.
fn thread_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

fn to_cd_stereo(audio: &AudioBuffer) -> AudioBuffer {
    let chans: Vec<Vec<f32>> = (0..2)
        .map(|c| {
            let x = audio.channel(c.min(audio.channel_count() - 1));
            resample(x, audio.rate().hz(), 44_100, Quality::Mix)
        })
        .collect();
    AudioBuffer::new(SampleRate::CD, chans).expect("stereo buffer")
}

/// Error level under the signal after aligning the decoded file to the input (the decoder may
/// keep the encoder's delay), over the whole band and in 2-16 kHz.
fn fidelity(input: &AudioBuffer, decoded: &AudioBuffer) -> (f64, f64) {
    let x = input.channel(0);
    let y = decoded.channel(0);
    let probe = 44_100.min(x.len() / 2);
    let from = x.len() / 3;
    let best = (0..=2_400usize)
        .min_by(|&a, &b| {
            let err = |d: usize| -> f64 {
                (from..from + probe)
                    .map(|i| f64::from(x[i] - y.get(i + d).copied().unwrap_or(0.0)).powi(2))
                    .sum()
            };
            err(a).total_cmp(&err(b))
        })
        .unwrap_or(0);
    let band = |s: &[f32]| -> Vec<f32> {
        let mut hp = Biquad::design(FilterKind::HighPass, 2_000.0, 0.707, 44_100.0);
        let mut lp = Biquad::design(FilterKind::LowPass, 16_000.0, 0.707, 44_100.0);
        s.iter().map(|&v| lp.run(hp.run(v))).collect()
    };
    let snr = |a: &[f32], b: &[f32]| -> f64 {
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (i, &v) in a.iter().enumerate() {
            let w = b.get(i + best).copied().unwrap_or(0.0);
            s += f64::from(v).powi(2);
            e += f64::from(v - w).powi(2);
        }
        10.0 * (s / e.max(1e-30)).log10()
    };
    let n = x.len().min(y.len().saturating_sub(best));
    let full = snr(&x[..n], y);
    let (xb, yb) = (band(&x[..n]), band(y));
    (full, snr(&xb, &yb))
}
