//! The part writers: drums, bass, chord layers (comping, arpeggios, pads, stabs), lead fills
//! and hand percussion, plus humanisation. Each reads the song's bars (level, dynamics, fill,
//! crash), its chords per beat and the style's step patterns.

use bandmate_core::{Chord, ControlEvent, ModelProfile, NoteEvent, Part, PartMix, PartRole, Rng};

use super::voicing::{self, Spread, Window};
use super::{Section, Song};
use crate::style::{Fill, Groove, Instrument, Layer, gm};
use crate::tags::{DrumsMode, Feel};

/// Velocity of a step character: accent, normal, ghost (drum-programming convention: ghost
/// notes around 40 % of an accent).
fn step_velocity(c: u8) -> Option<f32> {
    match c {
        b'X' => Some(112.0),
        b'x' | b'd' | b'1' | b'2' | b'3' | b'4' | b'R' | b'5' | b'8' | b'7' | b'A' => Some(92.0),
        b'u' => Some(76.0),
        b'o' => Some(48.0),
        _ => None,
    }
}

fn vel(v: f32) -> u8 {
    v.round().clamp(1.0, 127.0) as u8
}

fn new_part(name: &str, role: PartRole, program: u8) -> Part {
    let (bank, program) = crate::style::preset_of(program, role);
    Part {
        name: name.to_string(),
        role,
        program,
        bank,
        channel: 0,
        notes: Vec::new(),
        controls: Vec::new(),
        mix: PartMix::default(),
    }
}

/// Steps of a bar: (step index into a 16-step pattern, fractional song beat). Half feel
/// stretches one pattern over two bars (a step is an eighth), double feel compresses it into
/// half a bar (a step is a thirty-second), for drums and bass only.
fn steps(bar: &super::Bar, bar_index: usize, feel: Feel) -> Vec<(usize, f64)> {
    let mut v = Vec::new();
    let per_beat = 4usize;
    for k in 0..bar.len * per_beat {
        let beat = bar.beat as f64 + k as f64 / per_beat as f64;
        let idx = match feel {
            Feel::Normal => k % 16,
            Feel::Half => {
                if k % 2 == 1 {
                    continue;
                }
                (k / 2 + (bar_index % 2) * bar.len * 2) % 16
            }
            Feel::Double => (k * 2) % 16,
        };
        v.push((idx, beat));
        if feel == Feel::Double {
            v.push(((k * 2 + 1) % 16, beat + 0.125));
        }
    }
    v
}

/// The drum part, and the kick times per bar (for the bass to lock to).
pub(crate) fn drums(
    song: &Song<'_>,
    groove: &Groove,
    kit: u8,
    mode: DrumsMode,
    rng: &mut Rng,
) -> (Part, Vec<Vec<f64>>) {
    let mut part = new_part("Drums", PartRole::Drums, kit);
    part.bank = 128;
    part.channel = 9;
    let mut kicks = vec![Vec::new(); song.bars.len()];
    let bpb = song.grid.beats_per_bar;
    let waltz: &[(u8, &str)] = &[
        (gm::KICK, "X..............."),
        (gm::SNARE, "....x...x......."),
        (gm::HAT, "x.x.x.x.x.x....."),
    ];
    for (bi, bar) in song.bars.iter().enumerate() {
        let level = bar.level;
        let final_bar = bi + 1 == song.bars.len();
        if final_bar {
            // the held final chord: kick and crash together
            let t = song.time(bar.beat as f64);
            push(&mut part, t, 1.5, gm::CRASH, 110.0 * bar.dynamics);
            push(&mut part, t, 0.3, gm::KICK, 110.0 * bar.dynamics);
            kicks[bi].push(t);
            continue;
        }
        if level == 0
            || (bar.section == super::Section::Intro && level <= 1 && mode == DrumsMode::Sparse)
        {
            // quiet bars: nothing, or a soft pulse on the last intro bar
            if bar.fill && bar.section == super::Section::Intro {
                fill(song, &mut part, bar, Fill::Light, rng);
            }
            continue;
        }
        let lines: &[(u8, &str)] = if bpb == 3 { waltz } else { groove.lines };
        let fill_from = if bar.fill && mode == DrumsMode::Normal && level >= 1 {
            let beats = match groove.fill {
                Fill::Light | Fill::Kicks => 1.0,
                Fill::Build => bar.len as f64,
                _ => 2.0,
            };
            (bar.beat + bar.len) as f64 - beats.min(bar.len as f64)
        } else {
            f64::INFINITY
        };
        for &(key, pat) in lines {
            let pat = pat.as_bytes();
            let key = match (mode, level, key) {
                // quiet bars: side stick for the snare, closed hats only
                (_, 1, gm::SNARE) => gm::RIM,
                (_, 1, gm::OPEN_HAT) => continue,
                (_, 3, gm::HAT) if song.variation == 2 && groove.lines.len() <= 3 => gm::RIDE,
                _ => key,
            };
            // extra lines (tambourine, congas …) only from level 2
            let core = matches!(
                key,
                gm::KICK | gm::SNARE | gm::RIM | gm::HAT | gm::RIDE | gm::CLAP | gm::PEDAL_HAT
            );
            if !core && level < 2 {
                continue;
            }
            for (idx, beat) in steps(bar, bi, song.feel) {
                if beat >= fill_from {
                    break;
                }
                let Some(v) = step_velocity(pat[idx % pat.len()]) else {
                    continue;
                };
                if mode == DrumsMode::Sparse && !sparse_keep(key, idx, bpb) {
                    continue;
                }
                if level == 1 && key == gm::HAT && idx % 4 != 0 {
                    continue;
                }
                let t = song.time(beat);
                let d = (song.grid.time_at(beat + 0.25) - song.grid.time_at(beat)).max(0.05);
                push(&mut part, t, d, key, v * bar.dynamics);
                if key == gm::KICK {
                    kicks[bi].push(t);
                }
            }
        }
        if bar.crash && level >= 2 && mode == DrumsMode::Normal {
            push(
                &mut part,
                song.time(bar.beat as f64),
                1.0,
                gm::CRASH,
                105.0 * bar.dynamics,
            );
        }
        if fill_from.is_finite() {
            fill(song, &mut part, bar, groove.fill, rng);
        }
    }
    sort(&mut part);
    (part, kicks)
}

/// What the sparse drums keep: the kick on the bar's first and third beats, the back-beat
/// snare/rim (beats 2 and 4; in 3/4 beats 2 and 3, as the waltz pattern has it), quarter
/// hats; nothing else.
fn sparse_keep(key: u8, idx: usize, bpb: u8) -> bool {
    let back_beat = if bpb == 3 { 8 } else { 12 };
    match key {
        gm::KICK => idx == 0 || idx == 8,
        gm::SNARE | gm::RIM | gm::CLAP => idx == 4 || idx == back_beat,
        gm::HAT | gm::RIDE | gm::PEDAL_HAT => idx.is_multiple_of(4),
        _ => false,
    }
}

fn fill(song: &Song<'_>, part: &mut Part, bar: &super::Bar, kind: Fill, rng: &mut Rng) {
    let end = (bar.beat + bar.len) as f64;
    let dynv = bar.dynamics;
    let (beats, hits): (f64, Vec<(f64, u8, f32)>) = match kind {
        Fill::Toms => {
            let toms = [
                gm::HIGH_TOM,
                gm::HIGH_TOM,
                gm::MID_TOM,
                gm::MID_TOM,
                gm::LOW_TOM,
                gm::LOW_TOM,
                gm::FLOOR_TOM,
                gm::FLOOR_TOM,
            ];
            (
                2.0,
                (0..8)
                    .map(|k| (k as f64 * 0.25, toms[k], 88.0 + 3.0 * k as f32))
                    .collect(),
            )
        }
        Fill::SnareRoll => (
            2.0,
            (0..4)
                .map(|k| (k as f64 * 0.5, gm::SNARE, 80.0))
                .chain((0..4).map(|k| (1.0 + k as f64 * 0.25, gm::SNARE, 86.0 + 6.0 * k as f32)))
                .collect(),
        ),
        Fill::Light => {
            let variant = rng.below(3);
            let pat: &[(f64, u8, f32)] = match variant {
                0 => &[
                    (0.0, gm::SNARE, 80.0),
                    (0.5, gm::MID_TOM, 84.0),
                    (0.75, gm::LOW_TOM, 88.0),
                ],
                1 => &[
                    (0.0, gm::SNARE, 70.0),
                    (0.25, gm::SNARE, 60.0),
                    (0.5, gm::SNARE, 85.0),
                ],
                _ => &[(0.5, gm::HIGH_TOM, 80.0), (0.75, gm::FLOOR_TOM, 90.0)],
            };
            (1.0, pat.to_vec())
        }
        Fill::Kicks => (
            1.0,
            vec![
                (0.0, gm::SNARE, 90.0),
                (0.66, gm::SNARE, 80.0),
                (0.66, gm::KICK, 95.0),
            ],
        ),
        Fill::Build => {
            let n = (bar.len * 4) as f64;
            (
                bar.len as f64,
                (0..bar.len * 4)
                    .map(|k| {
                        (
                            k as f64 * 0.25,
                            gm::CLAP,
                            50.0 + 60.0 * (k as f32 / n as f32),
                        )
                    })
                    .collect(),
            )
        }
    };
    let start = end - beats.min(bar.len as f64);
    for (off, key, v) in hits {
        let b = start + off;
        let t = song.time(b);
        push(part, t, 0.12, key, v * dynv);
    }
    // keep time under the fill
    push(part, song.time(start), 0.1, gm::KICK, 90.0 * dynv);
}

fn push(part: &mut Part, t: f64, d: f64, key: u8, v: f32) {
    if t.is_finite() && d.is_finite() && d > 0.0 {
        part.notes.push(NoteEvent {
            start: t.max(0.0),
            duration: d,
            key,
            velocity: vel(v),
        });
    }
}

fn sort(part: &mut Part) {
    part.notes
        .sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
    part.controls.sort_by(|a, b| a.time.total_cmp(&b.time));
}

/// The bass: the style's pattern on the chords, in the bass register (A1–E3), with
/// approach notes into chord changes; `K` plays on the kicks.
pub(crate) fn bass(
    song: &Song<'_>,
    inst: Instrument,
    pattern: &str,
    kicks: &[Vec<f64>],
    rng: &mut Rng,
) -> Part {
    let mut part = new_part(inst.name, PartRole::Bass, inst.program);
    let pat = pattern.as_bytes();
    let mut prev = 40i32;
    let lo: i32 = 33; // A1
    let hi: i32 = 52; // E3
    let root_near = |pc: usize, prev: i32| -> i32 {
        let mut best = lo;
        let mut bd = i32::MAX;
        for n in lo..=hi {
            if n.rem_euclid(12) as usize == pc && (n - prev).abs() < bd {
                bd = (n - prev).abs();
                best = n;
            }
        }
        best
    };
    for (bi, bar) in song.bars.iter().enumerate() {
        if bar.level == 0 {
            continue;
        }
        let final_bar = bi + 1 == song.bars.len();
        // events: (beat, note)
        let mut events: Vec<(f64, Option<i32>, f32)> = Vec::new();
        if final_bar {
            let c = song.chord_at(bar.beat as f64);
            let n = root_near(c.bass_note().index(), prev);
            events.push((bar.beat as f64, Some(n), 100.0));
            events.push(((bar.beat + bar.len) as f64 + 1.0, None, 0.0));
        } else if pattern == "K" {
            let times = &kicks[bi];
            let beats: Vec<f64> = if times.is_empty() {
                vec![bar.beat as f64, bar.beat as f64 + bar.len as f64 / 2.0]
            } else {
                times.iter().map(|&t| song.grid.beat_at(t)).collect()
            };
            for b in beats {
                let c = song.chord_at(b + 0.01);
                let n = root_near(c.bass_note().index(), prev);
                prev = n;
                events.push((b, Some(n), 96.0));
            }
        } else {
            // density by section: a quiet bar (level 1) keeps a busy line's on-beat notes
            let thin =
                bar.level <= 1 && pat.iter().filter(|&&c| c.is_ascii_alphanumeric()).count() > 6;
            for (idx, beat) in steps(bar, bi, song.feel) {
                let ch = pat[idx % pat.len()];
                if thin && (beat - beat.floor()).abs() > 1e-6 && ch != b'-' {
                    continue;
                }
                let c = song.chord_at(beat + 0.01);
                let note = match ch {
                    b'R' => Some(root_near(c.bass_note().index(), prev)),
                    b'5' => {
                        let r = root_near(c.root.index(), prev);
                        Some(if r + 7 <= hi { r + 7 } else { r - 5 })
                    }
                    b'8' => {
                        let r = root_near(c.root.index(), prev);
                        Some(if r + 12 <= hi + 5 { r + 12 } else { r })
                    }
                    b'3' => {
                        let third = c.quality.intervals()[1];
                        let r = root_near(c.root.index(), prev);
                        Some(r + i32::from(third))
                    }
                    b'7' => {
                        let r = root_near(c.root.index(), prev);
                        let iv = c
                            .quality
                            .intervals()
                            .get(3)
                            .copied()
                            .filter(|x| (9..=11).contains(x))
                            .unwrap_or(12);
                        Some(r + i32::from(iv))
                    }
                    b'A' => {
                        // chromatic approach to the next beat's chord root
                        let next = song.chord_at(beat.floor() + 1.0 + 0.01);
                        let target = root_near(next.bass_note().index(), prev);
                        Some(if rng.chance(0.5) {
                            target - 1
                        } else {
                            target + 1
                        })
                    }
                    b'-' => continue,
                    b'.' => {
                        events.push((beat, None, 0.0));
                        continue;
                    }
                    _ => continue,
                };
                if let Some(n) = note {
                    prev = n.clamp(lo - 5, hi + 7);
                    let v = step_velocity(ch).unwrap_or(90.0) + if idx == 0 { 10.0 } else { 0.0 };
                    events.push((beat, Some(prev), v));
                }
            }
        }
        // re-articulate at chord changes inside held notes
        for k in 0..bar.len {
            let b = bar.beat + k;
            if k > 0 && b < song.chords.len() && song.chords[b] != song.chords[b - 1] && !final_bar
            {
                let bb = b as f64;
                if !events.iter().any(|e| (e.0 - bb).abs() < 0.2) {
                    let n = root_near(song.chords[b].bass_note().index(), prev);
                    events.push((bb, Some(n), 88.0));
                }
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let bar_end = (bar.beat + bar.len) as f64;
        for (i, e) in events.iter().enumerate() {
            let Some(n) = e.1 else { continue };
            let end = events
                .get(i + 1)
                .map_or(bar_end, |x| x.0)
                .min(if final_bar { bar_end + 1.0 } else { bar_end });
            let t0 = song.time(e.0);
            let t1 = song.grid.time_at(end) - 0.02;
            push(
                &mut part,
                t0,
                (t1 - t0).max(0.06),
                n.clamp(20, 70) as u8,
                e.2 * bar.dynamics,
            );
        }
    }
    sort(&mut part);
    part
}

/// A chord layer, lead, or percussion layer; `None` when it ends up silent.
pub(crate) fn layer(song: &Song<'_>, l: &Layer, rng: &mut Rng) -> Option<Part> {
    let mut part = new_part(l.instrument.name, l.role, l.instrument.program);
    match l.role {
        PartRole::Percussion => percussion(song, l, &mut part),
        PartRole::Lead => lead(song, l, &mut part, rng),
        PartRole::Brass if l.pattern.is_empty() => stabs(song, l, &mut part),
        _ if l.pattern.is_empty() => sustain(song, l, &mut part),
        _ => comp(song, l, &mut part, rng),
    }
    sort(&mut part);
    if part.notes.is_empty() {
        None
    } else {
        Some(part)
    }
}

fn active(l: &Layer, bar: &super::Bar) -> bool {
    bar.level >= l.from_level
}

/// Comping and arpeggios from a step pattern.
fn comp(song: &Song<'_>, l: &Layer, part: &mut Part, rng: &mut Rng) {
    let pat = l.pattern.as_bytes();
    let spread = match (song.variation, l.role) {
        (1, _) => Spread::Close,
        (_, PartRole::Guitar) => Spread::Drop2,
        (_, PartRole::Arp) => Spread::Close,
        _ => Spread::Drop2,
    };
    let window = if l.role == PartRole::Arp || l.instrument.family == crate::style::Family::Mallets
    {
        // arps and bells sparkle above the voice, within an octave and a tone of it: higher
        // they turn shrill (and past a vibraphone's compass, F6, or a celesta's)
        let lo = (song.vocal_range.1 + 3).min(84);
        Some(Window { lo, hi: lo + 14 })
    } else {
        None
    };
    let voices = if song.style.main.habits.seventh_affinity > 0.5 {
        4
    } else {
        3
    };
    let arp_notes: Vec<u8> = pat.iter().copied().filter(u8::is_ascii_digit).collect();
    let mut prev: Option<Vec<i32>> = None;
    let mut pedal_down = false;
    for bar in &song.bars {
        let final_bar = std::ptr::eq(bar, song.bars.last().unwrap_or(bar));
        if !active(l, bar) && !final_bar {
            continue;
        }
        if final_bar {
            let c = song.chord_at(bar.beat as f64);
            let w = window.unwrap_or_else(|| song.comp_window(bar.beat as f64));
            let v = voicing::voice(c, voices, w, spread, prev.as_deref());
            let t = song.time(bar.beat as f64);
            let d = song.grid.time_at((bar.beat + bar.len) as f64) - t + 1.0;
            for &n in &v {
                push(part, t, d, n as u8, 84.0 * bar.dynamics);
            }
            continue;
        }
        // hits of this bar: (beat, char)
        let mut hits: Vec<(f64, u8)> = Vec::new();
        // density by section: in a quiet bar (level 1) a busy pattern keeps its on-beat hits
        let thin = bar.level <= 1 && pat.iter().filter(|&&c| c != b'.' && c != b'-').count() > 6;
        for k in 0..bar.len * 4 {
            let mut c = pat[k % pat.len()];
            if thin {
                if k % 4 != 0 {
                    continue;
                }
                // a thinned arpeggio walks through the pattern's notes in their order, one a
                // beat (1-2-3-4), rather than keeping the notes that happen to fall on beats
                // (1-3-3-3 for the ballad arpeggio: one note repeated)
                if c.is_ascii_digit()
                    && let Some(&d) = arp_notes.get((k / 4) % arp_notes.len().max(1))
                {
                    c = d;
                }
            }
            if c != b'.' && c != b'-' {
                hits.push((bar.beat as f64 + k as f64 / 4.0, c));
            }
        }
        // follow the harmony: strike where the chord changes if the pattern does not
        for k in 0..bar.len {
            let b = bar.beat + k;
            if k > 0 && b < song.chords.len() && song.chords[b] != song.chords[b - 1] {
                let bb = b as f64;
                if !hits.iter().any(|h| (h.0 - bb).abs() < 0.01) {
                    hits.push((bb, b'x'));
                }
            }
        }
        hits.sort_by(|a, b| a.0.total_cmp(&b.0));
        let bar_end = (bar.beat + bar.len) as f64;
        for (i, &(beat, c)) in hits.iter().enumerate() {
            let chord = song.chord_at(beat + 0.01);
            // pattern temperature: weaker hits are left out now and then, more as
            // weirdness grows and in V5's looser playing (never a chord's first hit)
            let changes_here = i == 0 || song.chord_at(hits[i - 1].0 + 0.01) != chord;
            let skip_p = 0.12 * song.weirdness
                + if song.profile == ModelProfile::V5 {
                    0.05
                } else {
                    0.0
                };
            if !changes_here && c != b'X' && rng.chance(f64::from(skip_p)) {
                continue;
            }
            let w = window.unwrap_or_else(|| song.comp_window(beat));
            let v = voicing::voice(chord, voices, w, spread, prev.as_deref());
            // the length: until the next hit, held through '-'
            let next = hits.get(i + 1).map_or(bar_end, |h| h.0);
            let t0 = song.time(beat);
            let t1 = song.grid.time_at(next);
            let mut dur = (t1 - t0) * 0.92;
            let mut base = step_velocity(c).unwrap_or(88.0) * bar.dynamics;
            // lock to the singer: hits that meet a sung onset speak a little louder
            if song.vocal.iter().any(|n| (n.0 - t0).abs() < 0.06) {
                base += 12.0 * song.audio_weight;
            }
            match c {
                b'1'..=b'4' => {
                    // a step past the voicing's top climbs on an octave higher (1-3-5-8 on
                    // a triad) or, where that would leave the register, turns back down;
                    // never the top note twice
                    let idx = usize::from(c - b'1');
                    let key = if idx < v.len() {
                        v[idx]
                    } else {
                        let up = v[idx % v.len()] + 12 * (idx / v.len()) as i32;
                        if up <= w.hi {
                            up
                        } else {
                            v[v.len().saturating_sub(2)]
                        }
                    };
                    // arpeggios ring to the end of the chord
                    let chord_end = (beat.floor() as usize..song.chords.len())
                        .find(|&j| song.chords[j] != song.chords[beat.floor() as usize])
                        .map_or(bar_end, |j| (j as f64).min(bar_end));
                    dur = (song.grid.time_at(chord_end) - t0).max(dur);
                    push(part, t0, dur, key.min(108) as u8, base);
                }
                b'd' | b'u' => {
                    // strums: 12 ms between strings, up-strums lighter and on the top strings
                    let order: Vec<i32> = if c == b'd' {
                        v.clone()
                    } else {
                        v.iter().rev().take(3).copied().collect()
                    };
                    for (s, &n) in order.iter().enumerate() {
                        push(
                            part,
                            t0 + s as f64 * 0.012,
                            dur,
                            n as u8,
                            base - s as f32 * 3.0,
                        );
                    }
                }
                _ => {
                    for &n in &v {
                        push(part, t0, dur, n as u8, base);
                    }
                }
            }
            prev = Some(v);
            // piano and keys arpeggios use the sustain pedal, changed with the chord
            if matches!(l.role, PartRole::Piano) && matches!(c, b'1'..=b'4') {
                let chord_change = i == 0 || song.chord_at(hits[i - 1].0 + 0.01) != chord;
                if chord_change {
                    if pedal_down {
                        part.controls.push(ControlEvent {
                            time: (t0 - 0.01).max(0.0),
                            controller: 64,
                            value: 0,
                        });
                    }
                    part.controls.push(ControlEvent {
                        time: t0 + 0.01,
                        controller: 64,
                        value: 127,
                    });
                    pedal_down = true;
                }
            }
        }
    }
    if pedal_down {
        let end = song.grid.beats[song.grid.len() - 1] + 2.0;
        part.controls.push(ControlEvent {
            time: end,
            controller: 64,
            value: 0,
        });
    }
}

/// Sustained chords (pads, strings, organ, choir): one voicing per chord, held, with an
/// expression swell (CC 11) into each chord.
fn sustain(song: &Song<'_>, l: &Layer, part: &mut Part) {
    let spread = if song.variation == 1 {
        Spread::Wide
    } else {
        Spread::Close
    };
    let mut prev: Option<Vec<i32>> = None;
    let n = song.chords.len();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && song.chords[j] == song.chords[i] && !song.grid.is_downbeat(j) {
            j += 1;
        }
        let bar = &song.bars[song.bar_of(i)];
        let final_bar = song.bar_of(i) + 1 == song.bars.len();
        if active(l, bar) || final_bar {
            let window = song.pad_window(i as f64);
            let v = voicing::voice(song.chords[i], 4, window, spread, prev.as_deref());
            let t0 = song.grid.beats[i];
            let t1 = song.grid.time_at(j as f64) + if final_bar { 1.5 } else { -0.03 };
            for &nn in &v {
                push(part, t0, t1 - t0, nn as u8, 70.0 * bar.dynamics + 10.0);
            }
            part.controls.push(ControlEvent {
                time: t0,
                controller: 11,
                value: 80,
            });
            let mid = t0 + (t1 - t0) * 0.5;
            part.controls.push(ControlEvent {
                time: mid,
                controller: 11,
                value: vel(90.0 + 30.0 * bar.dynamics),
            });
            prev = Some(v);
        }
        i = j;
    }
}

/// Brass stabs on chord changes in loud bars; a held chord at the end.
fn stabs(song: &Song<'_>, l: &Layer, part: &mut Part) {
    let mut prev: Option<Vec<i32>> = None;
    for (bi, bar) in song.bars.iter().enumerate() {
        let final_bar = bi + 1 == song.bars.len();
        if !active(l, bar) && !final_bar {
            continue;
        }
        for k in 0..bar.len {
            let b = bar.beat + k;
            let change = b == 0 || song.chords[b] != song.chords[b - 1];
            if !(change || (k == bar.len - 1 && bar.len >= 4 && !final_bar)) {
                continue;
            }
            let beat = if change { b as f64 } else { b as f64 + 0.5 };
            let v = voicing::voice(
                song.chord_at(beat + 0.01),
                3,
                song.comp_window(beat),
                Spread::Close,
                prev.as_deref(),
            );
            let t0 = song.time(beat);
            let d = if final_bar {
                2.0
            } else {
                (song.grid.time_at(beat + 0.5) - t0) * 0.8
            };
            for &n in &v {
                push(part, t0, d, n as u8, 100.0 * bar.dynamics);
            }
            prev = Some(v);
        }
    }
}

/// Counter-melody fills in the singer's gaps: a short line of chord tones and pentatonic
/// steps in the voice's own register, only where the voice is silent for at least a beat and
/// a half.
fn lead(song: &Song<'_>, l: &Layer, part: &mut Part, rng: &mut Rng) {
    let (vlo, vhi) = song.vocal_range;
    let centre = (vlo + vhi) / 2;
    let scale: [i32; 5] = match song.key.mode {
        bandmate_core::Mode::Major => [0, 2, 4, 7, 9],
        bandmate_core::Mode::Minor => [0, 3, 5, 7, 10],
    };
    let tonic = song.key.tonic.index() as i32;
    for bar in &song.bars {
        if !active(l, bar) || bar.section == Section::Ending && bar.level < 1 {
            continue;
        }
        // the second half of the bar, if the voice rests there
        let half = bar.len as f64 / 2.0;
        let b0 = bar.beat as f64 + half;
        let b1 = (bar.beat + bar.len) as f64;
        if b1 - b0 < 1.5 {
            continue;
        }
        let (t0, t1) = (song.time(b0), song.grid.time_at(b1));
        if song.singing(t0 - 0.15, t1 + 0.3) || bar.section == Section::Intro && bar.level < 1 {
            continue;
        }
        let chord: Chord = song.chord_at(b0 + 0.01);
        let mut pitch = centre;
        let count = 2 + rng.below(3);
        let step = (b1 - b0) / count as f64;
        for k in 0..count {
            let b = b0 + k as f64 * step;
            // chord tone on the first and last note, scale steps between
            let target_pc = if k == 0 || k + 1 == count {
                chord.root.index() as i32 + i32::from(*rng.pick(chord.quality.intervals()) % 12)
            } else {
                tonic + scale[rng.below(5)]
            };
            let mut best = pitch;
            let mut bd = i32::MAX;
            for n in (vlo - 3)..=(vhi + 3) {
                if (n - target_pc).rem_euclid(12) == 0 && (n - pitch).abs() < bd {
                    bd = (n - pitch).abs();
                    best = n;
                }
            }
            pitch = best;
            let t = song.time(b);
            let d = (song.grid.time_at(b + step) - t) * 0.9;
            push(part, t, d, pitch.clamp(36, 96) as u8, 86.0 * bar.dynamics);
        }
    }
}

/// Hand percussion lines by instrument: shaker sixteenths, tambourine back-beats, conga
/// tumbao.
fn percussion(song: &Song<'_>, l: &Layer, part: &mut Part) {
    part.bank = 128;
    part.channel = 9;
    let lines: &[(u8, &str)] = match l.instrument.name {
        "Congas" => &[
            (gm::MUTE_CONGA, "..x.......x....."),
            (gm::HIGH_CONGA, "......xx......xx"),
            (gm::LOW_CONGA, "...............x"),
        ],
        "Tambourine" => &[(gm::TAMBOURINE, "....x.......x...")],
        _ => &[(gm::SHAKER, "xoxoxoxoxoxoxoxo")],
    };
    for (bi, bar) in song.bars.iter().enumerate() {
        if !active(l, bar) || bi + 1 == song.bars.len() {
            continue;
        }
        for &(key, pat) in lines {
            let pat = pat.as_bytes();
            for (idx, beat) in steps(bar, bi, Feel::Normal) {
                if let Some(v) = step_velocity(pat[idx % pat.len()]) {
                    push(part, song.time(beat), 0.1, key, v * 0.8 * bar.dynamics);
                }
            }
        }
    }
}

/// No two notes of one key overlap in a part: a repeated key cuts the one before it (on one
/// MIDI channel the earlier note's note-off would otherwise cut the later note short).
pub(crate) fn untangle(part: &mut Part) {
    sort(part);
    let mut last_of_key: [Option<usize>; 128] = [None; 128];
    for i in 0..part.notes.len() {
        let k = usize::from(part.notes[i].key.min(127));
        if let Some(j) = last_of_key[k] {
            let gap = part.notes[i].start - part.notes[j].start;
            if part.notes[j].duration > gap - 0.005 {
                part.notes[j].duration = (gap - 0.005).max(0.01);
            }
        }
        last_of_key[k] = Some(i);
    }
    // a note cut to nothing by a simultaneous twin is dropped
    part.notes.retain(|n| n.duration > 0.011);
}

/// Humanise: timing jitter (normal, σ 4 ms for drums and 7 ms for the rest in `V4_5PLUS`,
/// 9 / 14 ms in `V5`, the spread of good session players' timing, Friberg & Sundström 2002)
/// and velocity jitter (σ 4 or 8), with a slight lay-back of the back-beat in swung styles.
pub(crate) fn humanize(part: &mut Part, profile: ModelProfile, rng: &mut Rng) {
    let drums = part.role.is_percussion();
    let (t_sd, v_sd) = match (profile, drums) {
        (ModelProfile::V45Plus, true) => (0.004, 4.0),
        (ModelProfile::V45Plus, false) => (0.007, 4.0),
        (ModelProfile::V5, true) => (0.009, 8.0),
        (ModelProfile::V5, false) => (0.014, 8.0),
    };
    for n in &mut part.notes {
        let dt = (rng.normal() * t_sd).clamp(-2.5 * t_sd, 2.5 * t_sd);
        let dv = (rng.normal() * v_sd).clamp(-2.5 * v_sd, 2.5 * v_sd);
        n.start = (n.start + dt).max(0.0);
        n.velocity = vel(f32::from(n.velocity) + dv as f32);
    }
    sort(part);
}
