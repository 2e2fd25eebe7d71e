//! A realistic band arrangement for tests, benchmarks and examples, written by hand so the
//! render crate can be exercised without the arranger: drums, bass, piano comping, a string
//! pad and a strummed guitar over I–V–vi–IV at 96 BPM in 4/4, with an intro before the vocal,
//! humanised timing and velocities, and a held final chord.
//!
//! Not part of the public API: `lib.rs` includes it under `cfg(test)`, and the benchmarks and
//! examples include it with `#[path]`.

#![allow(dead_code)]

use bandmate_core::{
    Arrangement, BeatGrid, Chord, ChordQuality, ChordSpan, ControlEvent, Key, Mode, ModelProfile,
    NoteEvent, Part, PartMix, PartRole, PitchClass, Rng,
};

/// Tempo of the test band.
pub const BPM: f64 = 96.0;
/// Bars of intro before the vocal comes in.
pub const INTRO_BARS: usize = 2;

/// A band that plays for about `seconds` (rounded up to whole bars, plus a held last chord
/// and its release), in C major, for the profile and variation given.
pub fn band(seconds: f64, profile: ModelProfile, variation: u8, seed: u64) -> Arrangement {
    let beat = 60.0 / BPM;
    let bar = 4.0 * beat;
    let bars = ((seconds / bar).ceil() as usize).max(INTRO_BARS + 2);
    let count = bars * 4 + 1;
    let grid = BeatGrid::steady(0.0, BPM, count, 4).expect("a steady grid is valid");
    let key = Key::new(PitchClass::new(0), Mode::Major);
    // I–V–vi–IV: C, G, Am, F.
    let prog = [
        Chord::new(PitchClass::new(0), ChordQuality::Major),
        Chord::new(PitchClass::new(7), ChordQuality::Major),
        Chord::new(PitchClass::new(9), ChordQuality::Minor),
        Chord::new(PitchClass::new(5), ChordQuality::Major),
    ];
    let chart: Vec<ChordSpan> = (0..bars)
        .map(|b| ChordSpan {
            start: b as f64 * bar,
            end: (b + 1) as f64 * bar,
            chord: Some(if b + 1 == bars { prog[0] } else { prog[b % 4] }),
        })
        .collect();
    let rng = Rng::new(seed ^ u64::from(variation) << 32);
    let end = bars as f64 * bar;
    let mut parts = vec![
        drums(&chart, bar, rng.fork("drums"), variation),
        bass(&chart, beat, rng.fork("bass")),
        piano(&chart, beat, rng.fork("piano"), variation),
        strings(&chart, rng.fork("strings")),
        guitar(&chart, beat, rng.fork("guitar"), variation),
    ];
    if profile == ModelProfile::V5 {
        // A lighter band: no strings pad.
        parts.retain(|p| p.role != PartRole::Strings);
    }
    Arrangement {
        variation,
        seed,
        profile,
        key,
        tempo_bpm: BPM,
        grid,
        vocal_offset_s: INTRO_BARS as f64 * bar,
        length_s: end + 3.0,
        chart,
        style_name: "Pop".into(),
        parts,
    }
}

fn jitter(rng: &mut Rng, t: f64, ms: f64) -> f64 {
    (t + rng.normal() * ms / 1000.0).max(0.0)
}

fn vel(rng: &mut Rng, base: f64, spread: f64) -> u8 {
    (base + rng.normal() * spread).round().clamp(1.0, 127.0) as u8
}

fn note(start: f64, duration: f64, key: i32, velocity: u8) -> NoteEvent {
    NoteEvent {
        start,
        duration,
        key: key.clamp(0, 127) as u8,
        velocity,
    }
}

fn part(name: &str, role: PartRole, program: u8, channel: u8, mix: PartMix) -> Part {
    Part {
        name: name.into(),
        role,
        program,
        bank: if role.is_percussion() { 128 } else { 0 },
        channel,
        notes: Vec::new(),
        controls: Vec::new(),
        mix,
    }
}

fn sort(p: &mut Part) {
    p.notes.sort_by(|a, b| a.start.total_cmp(&b.start));
    p.controls.sort_by(|a, b| a.time.total_cmp(&b.time));
}

fn drums(chart: &[ChordSpan], bar: f64, mut rng: Rng, variation: u8) -> Part {
    let mut p = part(
        "Drums",
        PartRole::Drums,
        0,
        9,
        PartMix {
            gain_db: 0.0,
            pan: 0.0,
            reverb_send: 0.12,
            low_cut_hz: 0.0,
        },
    );
    let e = bar / 8.0;
    let last = chart.len() - 1;
    for (b, span) in chart.iter().enumerate() {
        let t0 = span.start;
        if b == last {
            p.notes.push(note(t0, 2.0, 36, 110));
            p.notes.push(note(t0, 2.0, 49, 110));
            break;
        }
        if b % 8 == 0 {
            p.notes.push(note(t0, 1.5, 49, vel(&mut rng, 105.0, 6.0)));
        }
        let fill = b % 8 == 7;
        for s in 0..8 {
            let t = jitter(&mut rng, t0 + s as f64 * e, 4.0);
            // Hats on eighths, accented on the beat; ride on variation 2.
            let cymbal = if variation == 2 { 51 } else { 42 };
            if !(fill && s >= 4) {
                let base = if s % 2 == 0 { 86.0 } else { 66.0 };
                p.notes
                    .push(note(t, e * 0.5, cymbal, vel(&mut rng, base, 5.0)));
            }
            // Kick on 1 and 3, plus the "and" of 3 now and then.
            if s == 0 || s == 4 || (s == 5 && rng.chance(0.4)) {
                p.notes.push(note(t, e, 36, vel(&mut rng, 108.0, 5.0)));
            }
            // Snare on 2 and 4.
            if (s == 2 || s == 6) && !(fill && s == 6) {
                p.notes.push(note(t, e, 38, vel(&mut rng, 104.0, 5.0)));
            }
        }
        if fill {
            // A sixteenth-note tom fill over the last two beats.
            for k in 0..8 {
                let t = jitter(&mut rng, t0 + bar / 2.0 + k as f64 * e / 2.0, 3.0);
                let tom = [50, 50, 48, 48, 47, 47, 45, 45][k];
                p.notes.push(note(
                    t,
                    e / 2.0,
                    tom,
                    vel(&mut rng, 90.0 + k as f64 * 3.0, 4.0),
                ));
            }
        }
    }
    sort(&mut p);
    p
}

fn root_midi(c: &Chord, base: i32) -> i32 {
    base + c.root.index() as i32
}

fn chord_tones(c: &Chord, low: i32, count: usize) -> Vec<i32> {
    // Close voicing from the lowest chord tone at or above `low`.
    let pcs: Vec<usize> = c.pitch_classes().iter().map(|p| p.index()).collect();
    let mut out = Vec::new();
    let mut m = low;
    while out.len() < count {
        if pcs.contains(&(m.rem_euclid(12) as usize)) {
            out.push(m);
        }
        m += 1;
    }
    out
}

fn bass(chart: &[ChordSpan], beat: f64, mut rng: Rng) -> Part {
    let mut p = part(
        "Bass",
        PartRole::Bass,
        33,
        1,
        PartMix {
            gain_db: 0.0,
            pan: 0.0,
            reverb_send: 0.02,
            low_cut_hz: 30.0,
        },
    );
    let last = chart.len() - 1;
    for (b, span) in chart.iter().enumerate() {
        let Some(c) = span.chord else { continue };
        let r = root_midi(&c, 36);
        if b == last {
            p.notes.push(note(span.start, 2.5, r, 100));
            break;
        }
        // Root on 1, root on the "and" of 2, fifth on 3, root on 4.
        let pattern = [(0.0, 1.4, 0), (1.5, 0.45, 0), (2.0, 0.9, 7), (3.0, 0.9, 0)];
        for (off, len, iv) in pattern {
            let t = jitter(&mut rng, span.start + off * beat, 5.0);
            p.notes
                .push(note(t, len * beat, r + iv, vel(&mut rng, 98.0, 6.0)));
        }
    }
    sort(&mut p);
    p
}

fn piano(chart: &[ChordSpan], beat: f64, mut rng: Rng, variation: u8) -> Part {
    let mut p = part(
        "Piano",
        PartRole::Piano,
        0,
        0,
        PartMix {
            gain_db: -1.0,
            pan: -0.25,
            reverb_send: 0.25,
            low_cut_hz: 90.0,
        },
    );
    let last = chart.len() - 1;
    for (b, span) in chart.iter().enumerate() {
        let Some(c) = span.chord else { continue };
        let voicing = chord_tones(&c, if variation == 2 { 60 } else { 55 }, 4);
        p.controls.push(ControlEvent {
            time: span.start,
            controller: 64,
            value: 0,
        });
        p.controls.push(ControlEvent {
            time: span.start + 0.03,
            controller: 64,
            value: 127,
        });
        if b == last {
            for &k in &voicing {
                p.notes.push(note(span.start, 3.0, k, 80));
            }
            break;
        }
        // Comping: beat 1, the "and" of 2, beat 4.
        for (off, len, v) in [(0.0, 1.2, 78.0), (1.5, 0.8, 64.0), (3.0, 0.9, 70.0)] {
            let t = span.start + off * beat;
            for &k in &voicing {
                p.notes.push(note(
                    jitter(&mut rng, t, 6.0),
                    len * beat,
                    k,
                    vel(&mut rng, v, 5.0),
                ));
            }
        }
    }
    sort(&mut p);
    p
}

fn strings(chart: &[ChordSpan], mut rng: Rng) -> Part {
    let mut p = part(
        "Strings",
        PartRole::Strings,
        48,
        2,
        PartMix {
            gain_db: -3.0,
            pan: 0.2,
            reverb_send: 0.4,
            low_cut_hz: 120.0,
        },
    );
    for (b, span) in chart.iter().enumerate() {
        let Some(c) = span.chord else { continue };
        if b < INTRO_BARS {
            continue;
        }
        let len = span.end - span.start;
        for k in chord_tones(&c, 52, 3) {
            p.notes
                .push(note(span.start, len * 0.98, k, vel(&mut rng, 70.0, 4.0)));
        }
        p.controls.push(ControlEvent {
            time: span.start,
            controller: 11,
            value: if b % 2 == 0 { 100 } else { 115 },
        });
    }
    sort(&mut p);
    p
}

fn guitar(chart: &[ChordSpan], beat: f64, mut rng: Rng, variation: u8) -> Part {
    let mut p = part(
        "Guitar",
        PartRole::Guitar,
        if variation == 2 { 27 } else { 25 },
        3,
        PartMix {
            gain_db: -2.0,
            pan: 0.4,
            reverb_send: 0.2,
            low_cut_hz: 100.0,
        },
    );
    let last = chart.len() - 1;
    for (b, span) in chart.iter().enumerate() {
        let Some(c) = span.chord else { continue };
        if b < 1 || b == last {
            continue;
        }
        let shape = chord_tones(&c, 52, 5);
        // Down-up strums on a "1 . 2 + . + 4 +" pattern, strings 12 ms apart.
        for (off, down) in [
            (0.0, true),
            (1.0, true),
            (1.5, false),
            (2.5, false),
            (3.0, true),
            (3.5, false),
        ] {
            let t = jitter(&mut rng, span.start + off * beat, 5.0);
            let order: Vec<i32> = if down {
                shape.clone()
            } else {
                shape.iter().rev().take(3).copied().collect()
            };
            for (i, &k) in order.iter().enumerate() {
                let base = if down { 82.0 } else { 62.0 };
                p.notes.push(note(
                    t + i as f64 * 0.012,
                    0.45 * beat,
                    k,
                    vel(&mut rng, base, 5.0),
                ));
            }
        }
    }
    sort(&mut p);
    p
}
