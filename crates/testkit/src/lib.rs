//! Inputs whose answer is known, for tests and benchmarks.
//!
//! - plain signals: [`sine`], [`click_track`], [`tone_sequence`];
//! - [`wav_bytes`]: any of those as a WAV file in memory, in several sample formats;
//! - [`singer`]: a synthetic singer that renders a note list as a voice-like signal with
//!   vibrato, drift, scoops, timing jitter, breaths, consonants and room reverb, and returns the
//!   ground truth (notes, f0, beats, key) next to the audio.
//!
//! Nothing here reads files or the network, so `cargo test` needs nothing installed.

pub mod singer;
pub mod soundfont;

pub use singer::{Melody, MelodyNote, SingerSettings, SungTake, sing};

use std::f64::consts::TAU;

/// A sine of `freq` Hz, `seconds` long, at `rate`, with peak `amp`, with 5 ms fades.
pub fn sine(freq: f64, seconds: f64, rate: u32, amp: f32) -> Vec<f32> {
    let n = (seconds * f64::from(rate)).round() as usize;
    let mut v: Vec<f32> = (0..n)
        .map(|i| amp * (TAU * freq * i as f64 / f64::from(rate)).sin() as f32)
        .collect();
    fade(&mut v, rate, 0.005);
    v
}

/// Apply linear fades of `seconds` at both ends.
pub fn fade(v: &mut [f32], rate: u32, seconds: f64) {
    let f = ((seconds * f64::from(rate)) as usize).min(v.len() / 2);
    let n = v.len();
    for i in 0..f {
        let g = i as f32 / f as f32;
        v[i] *= g;
        v[n - 1 - i] *= g;
    }
}

/// A click track: a short decaying 1 kHz burst on every beat at `bpm`, accented (louder and an
/// octave higher) on the first beat of each bar of `beats_per_bar`, starting at `start` s.
pub fn click_track(bpm: f64, beats_per_bar: u32, seconds: f64, start: f64, rate: u32) -> Vec<f32> {
    let n = (seconds * f64::from(rate)).round() as usize;
    let mut v = vec![0.0f32; n];
    let period = 60.0 / bpm;
    let mut k = 0u32;
    loop {
        let t = start + f64::from(k) * period;
        if t >= seconds {
            break;
        }
        let accent = k.is_multiple_of(beats_per_bar);
        let (f, a) = if accent { (2000.0, 0.8) } else { (1000.0, 0.5) };
        let i0 = (t * f64::from(rate)) as usize;
        for j in 0..(0.03 * f64::from(rate)) as usize {
            if i0 + j >= n {
                break;
            }
            let tt = j as f64 / f64::from(rate);
            v[i0 + j] += (a * (TAU * f * tt).sin() * (-tt / 0.006).exp()) as f32;
        }
        k += 1;
    }
    v
}

/// A sequence of pure tones `(midi, seconds)` back to back with short gaps, as a plain
/// melody with an exact answer.
pub fn tone_sequence(notes: &[(f64, f64)], rate: u32, amp: f32) -> Vec<f32> {
    let mut v = Vec::new();
    for &(midi, dur) in notes {
        let f = 440.0 * ((midi - 69.0) / 12.0).exp2();
        let mut t = sine(f, dur * 0.95, rate, amp);
        fade(&mut t, rate, 0.01);
        v.extend(t);
        v.extend(std::iter::repeat_n(
            0.0,
            (dur * 0.05 * f64::from(rate)) as usize,
        ));
    }
    v
}

/// WAV sample formats [`wav_bytes`] can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// 16-bit integer PCM.
    Int16,
    /// 24-bit integer PCM.
    Int24,
    /// 32-bit integer PCM.
    Int32,
    /// 32-bit IEEE float.
    Float32,
}

/// A complete WAV file (RIFF, `fmt ` + `data`) of planar channels.
pub fn wav_bytes(channels: &[Vec<f32>], rate: u32, format: WavFormat) -> Vec<u8> {
    let n_ch = channels.len() as u16;
    let frames = channels.first().map_or(0, Vec::len);
    let (bits, tag): (u16, u16) = match format {
        WavFormat::Int16 => (16, 1),
        WavFormat::Int24 => (24, 1),
        WavFormat::Int32 => (32, 1),
        WavFormat::Float32 => (32, 3),
    };
    let block = n_ch * bits / 8;
    let data_len = frames as u32 * u32::from(block);
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&n_ch.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    b.extend_from_slice(&block.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        for c in channels {
            let s = c[i].clamp(-1.0, 1.0);
            match format {
                WavFormat::Int16 => {
                    b.extend_from_slice(&((s * 32767.0).round() as i16).to_le_bytes())
                }
                WavFormat::Int24 => {
                    let v = (f64::from(s) * 8_388_607.0).round() as i32;
                    b.extend_from_slice(&v.to_le_bytes()[..3]);
                }
                WavFormat::Int32 => {
                    let v = (f64::from(s) * 2_147_483_647.0).round() as i32;
                    b.extend_from_slice(&v.to_le_bytes());
                }
                WavFormat::Float32 => b.extend_from_slice(&s.to_le_bytes()),
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_header_is_well_formed() {
        let b = wav_bytes(&[vec![0.0; 10], vec![0.0; 10]], 8000, WavFormat::Int24);
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(b.len(), 44 + 10 * 2 * 3);
        assert_eq!(u32::from_le_bytes([b[40], b[41], b[42], b[43]]), 60);
    }

    #[test]
    fn click_track_has_clicks_on_beats() {
        let v = click_track(120.0, 4, 2.0, 0.0, 8000);
        // energy right after each beat, silence in between
        for k in 0..4 {
            let i = k * 4000 + 10;
            assert!(v[i].abs() > 0.01 || v[i + 1].abs() > 0.01);
            assert_eq!(v[i + 2000], 0.0);
        }
    }
}
