//! Compare our SoundFont player with rustysynth (the reference) on the same band: CPU time per
//! part and the level of each part. `cargo run --release -p bandmate-render --example
//! synth_compare [SF2] [SECONDS]`.

#[path = "../src/testband.rs"]
mod testband;

use std::sync::Arc;

use bandmate_render::{RenderSettings, Renderer};

mod common;
use common::cpu;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .cloned()
        .unwrap_or("/usr/share/sounds/sf2/FluidR3_GM.sf2".into());
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(180.0);
    let arr = testband::band(secs, bandmate_core::ModelProfile::V45Plus, 1, 7);
    let ours = Renderer::from_path(&path).expect("font");
    let mut f = std::io::BufReader::new(std::fs::File::open(&path).expect("font"));
    let sf = Arc::new(rustysynth::SoundFont::new(&mut f).expect("font"));
    let settings = RenderSettings {
        threads: 1,
        ..RenderSettings::default()
    };
    let n = (arr.length_s * 44_100.0).ceil() as usize;
    let (mut t_ours, mut t_ref) = (0.0, 0.0);
    println!(
        "{:8} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "part", "notes", "ours s", "ref s", "ours dB", "ref dB"
    );
    for (i, p) in arr.parts.iter().enumerate() {
        let mut one = arr.clone();
        one.parts = vec![p.clone()];
        let c0 = cpu();
        let w0 = std::time::Instant::now();
        let stem = ours.render_stems(&one, &settings).expect("render");
        let c1 = cpu();
        let w1 = w0.elapsed().as_secs_f64();
        let mut s = rustysynth::SynthesizerSettings::new(44_100);
        s.enable_reverb_and_chorus = false;
        let mut syn = rustysynth::Synthesizer::new(&sf, &s).expect("synth");
        let ch = if p.role.is_percussion() {
            9
        } else {
            (i as i32) % 9
        };
        syn.process_midi_message(
            ch,
            0xB0,
            0,
            if p.role.is_percussion() {
                0
            } else {
                i32::from(p.bank)
            },
        );
        syn.process_midi_message(ch, 0xC0, i32::from(p.program), 0);
        let mut ev: Vec<(usize, u8, i32, i32, i32)> = Vec::new();
        for nn in &p.notes {
            let on = (nn.start * 44_100.0).round() as usize;
            let off = ((nn.start + nn.duration) * 44_100.0).round() as usize;
            ev.push((on, 2, 0x90, i32::from(nn.key), i32::from(nn.velocity)));
            ev.push((off.max(on + 1), 0, 0x80, i32::from(nn.key), 0));
        }
        for c in &p.controls {
            ev.push((
                (c.time * 44_100.0).round() as usize,
                1,
                0xB0,
                i32::from(c.controller),
                i32::from(c.value),
            ));
        }
        ev.sort();
        let (mut l, mut r) = (vec![0f32; n], vec![0f32; n]);
        let mut pos = 0;
        for e in ev {
            let at = e.0.min(n);
            if at > pos {
                syn.render(&mut l[pos..at], &mut r[pos..at]);
                pos = at;
            }
            syn.process_midi_message(ch, e.2, e.3, e.4);
        }
        syn.render(&mut l[pos..], &mut r[pos..]);
        let c2 = cpu();
        let rms = |x: &[f32]| {
            10.0 * (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).log10()
        };
        let a = stem[0].audio.to_mono();
        let b: Vec<f32> = l.iter().zip(&r).map(|(x, y)| 0.5 * (x + y)).collect();
        println!(
            "{:8} {:>6} {:>9.3} {:>9.3} {:>9.2} {:>9.2}  (ours wall {w1:.3})",
            p.name,
            p.notes.len(),
            c1 - c0,
            c2 - c1,
            rms(&a),
            rms(&b)
        );
        t_ours += c1 - c0;
        t_ref += c2 - c1;
    }
    println!(
        "total CPU: ours {t_ours:.3} s, rustysynth {t_ref:.3} s, for {:.0} s of music",
        arr.length_s
    );
}
