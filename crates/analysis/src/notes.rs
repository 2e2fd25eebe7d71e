//! Sung notes from the f0 track: tuning, a note-level Viterbi, onset refinement and
//! re-articulation splitting.
//!
//! 1. Tuning: the circular mean of the voiced frames' distance to the semitone grid (weighted
//!    by voicing), so a choir pitched 30 cents flat still lands on the right notes.
//! 2. A Viterbi over "rest" and one state per semitone: a voiced frame is scored by a Gaussian
//!    on its distance to the semitone (σ = 0.35 semitone: vibrato of ±50 cents stays inside a
//!    note because leaving it costs more than the half-way frames gain), unvoiced frames by
//!    their voicing probability; changing note or going to rest costs a fixed penalty, so
//!    scoops and glides are absorbed into the note they lead to.
//! 3. Notes shorter than 60 ms are glides and merge into the neighbour nearest in pitch.
//! 4. Onsets are refined to the onset-function peak that announces them: the f0 switches only
//!    when the new note dominates the old one's release, while the new partials' flux peaks
//!    at the true attack.
//! 5. A strong onset inside a note, with the level dipping before it, is a repeated note.

use bandmate_core::{Envelope, F0Track, Note, hz_to_midi};

use crate::frontend::HOP_S;
use crate::onsets::OnsetFunction;

/// Settings of the note segmenter.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteSettings {
    /// Standard deviation of a frame's pitch around its note (semitones).
    pub sigma_st: f32,
    /// Cost (nats) of changing from one note to another.
    pub change_cost: f32,
    /// Cost (nats) of going from a note to rest or from rest to a note.
    pub rest_cost: f32,
    /// Shortest note kept (s); shorter runs are glides.
    pub min_note_s: f64,
    /// How far before the pitch switch an onset may be found (s).
    pub lookback_s: f64,
    /// How far after the pitch switch an onset may be found (s).
    pub lookahead_s: f64,
    /// A sustained pitch splits into two notes at an onset inside it when
    /// `ln(strength) + split_dip_weight * dip_db >= split_threshold`, where strength is the onset
    /// peak relative to the 95th percentile of the onset function and dip_db how far the level
    /// fell just before it (capped at 12 dB): a clear new attack, or a softer one after a clear
    /// breath or consonant. Fitted on renders of POP909 melodies (`tools/` in the repository).
    pub split_threshold: f32,
    /// Weight of the level dip in the split score (per dB).
    pub split_dip_weight: f32,
}

impl Default for NoteSettings {
    fn default() -> Self {
        Self {
            sigma_st: 0.35,
            change_cost: 5.0,
            rest_cost: 4.0,
            min_note_s: 0.06,
            lookback_s: 0.12,
            lookahead_s: 0.03,
            split_threshold: 1.0,
            split_dip_weight: 0.1,
        }
    }
}

/// Global tuning offset in cents (-50..50) from the voiced frames.
pub fn estimate_tuning(f0: &F0Track) -> f32 {
    let (mut s, mut c, mut w) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..f0.len() {
        if !f0.is_voiced(i) {
            continue;
        }
        let m = hz_to_midi(f64::from(f0.hz[i]));
        let ang = std::f64::consts::TAU * (m - m.round());
        let v = f64::from(f0.voicing[i]);
        s += v * ang.sin();
        c += v * ang.cos();
        w += v;
    }
    if w <= 0.0 {
        return 0.0;
    }
    (s.atan2(c) / std::f64::consts::TAU * 100.0) as f32
}

/// A note in frame units before conversion.
#[derive(Debug, Clone, Copy)]
struct Seg {
    start: usize,
    end: usize, // exclusive
    semi: i32,
}

/// Segment the f0 track into notes.
pub fn segment(
    f0: &F0Track,
    odf: &OnsetFunction,
    level: &Envelope,
    tuning_cents: f32,
    s: &NoteSettings,
) -> Vec<Note> {
    let n = f0.len();
    if n == 0 {
        return Vec::new();
    }
    let tune = tuning_cents / 100.0;
    let m: Vec<f32> = (0..n)
        .map(|i| {
            if f0.hz[i] > 0.0 {
                hz_to_midi(f64::from(f0.hz[i])) as f32 - tune
            } else {
                f32::NAN
            }
        })
        .collect();
    let (lo, hi) = m
        .iter()
        .enumerate()
        .filter(|&(i, v)| v.is_finite() && f0.is_voiced(i))
        .fold((i32::MAX, i32::MIN), |(a, b), (_, &v)| {
            (a.min(v.floor() as i32), b.max(v.ceil() as i32))
        });
    if lo > hi {
        return Vec::new();
    }
    let (lo, hi) = (lo - 1, hi + 1);
    let k = (hi - lo + 1) as usize; // semitone states; state k is rest
    let inv2s2 = 0.5 / (s.sigma_st * s.sigma_st);
    let mut score = vec![0.0f32; k + 1];
    let mut next = vec![0.0f32; k + 1];
    let mut back = vec![0u16; n * (k + 1)];
    for i in 0..n {
        let v = if f0.is_voiced(i) {
            f0.voicing[i].clamp(0.02, 0.98)
        } else {
            f0.voicing[i].clamp(0.02, 0.49)
        };
        let (lv, lu) = (v.ln(), (1.0 - v).ln());
        let voiced = f0.is_voiced(i) && m[i].is_finite();
        // best note state of the previous frame
        let (mut best_note, mut best_idx) = (f32::MIN, 0usize);
        for (j, &sc) in score[..k].iter().enumerate() {
            if sc > best_note {
                best_note = sc;
                best_idx = j;
            }
        }
        let rest_prev = score[k];
        for j in 0..k {
            let emis = if voiced {
                let d = m[i] - (lo + j as i32) as f32;
                lv - d * d * inv2s2
            } else {
                lv
            };
            let stay = score[j];
            let change = best_note - s.change_cost;
            let from_rest = rest_prev - s.rest_cost;
            let (val, arg) = if i == 0 {
                (0.0, j)
            } else if stay >= change && stay >= from_rest {
                (stay, j)
            } else if change >= from_rest {
                (change, best_idx)
            } else {
                (from_rest, k)
            };
            next[j] = val + emis;
            back[i * (k + 1) + j] = arg as u16;
        }
        let (val, arg) = if i == 0 {
            (0.0, k)
        } else if rest_prev >= best_note - s.rest_cost {
            (rest_prev, k)
        } else {
            (best_note - s.rest_cost, best_idx)
        };
        next[k] = val + lu;
        back[i * (k + 1) + k] = arg as u16;
        std::mem::swap(&mut score, &mut next);
    }
    let mut state = (0..=k)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]))
        .unwrap_or(k);
    let mut path = vec![k; n];
    for i in (0..n).rev() {
        path[i] = state;
        state = usize::from(back[i * (k + 1) + state]);
    }

    // Runs of one semitone state.
    let mut segs: Vec<Seg> = Vec::new();
    let mut i = 0;
    while i < n {
        let st = path[i];
        let mut j = i;
        while j < n && path[j] == st {
            j += 1;
        }
        if st < k {
            segs.push(Seg {
                start: i,
                end: j,
                semi: lo + st as i32,
            });
        }
        i = j;
    }
    let min_frames = (s.min_note_s / HOP_S).ceil() as usize;
    absorb_transitions(&mut segs, &m, (0.1 / HOP_S) as usize);
    merge_glides(&mut segs, &m, min_frames);
    refine_onsets(&mut segs, odf, s);
    let mut segs = split_repeats(segs, odf, level, s, min_frames);
    refine_offsets(&mut segs, level, min_frames);

    // Notes with their sung pitch: the median over the settled part of the note.
    let peak_level = level.db.iter().fold(-120.0f32, |a, &b| a.max(b));
    segs.iter()
        .filter_map(|g| {
            let len = g.end - g.start;
            let skip = (len * 3 / 10).min(6);
            let mut vals: Vec<f32> = (g.start + skip
                ..g.end.saturating_sub(len / 10).max(g.start + skip + 1))
                .filter(|&i| i < n && m[i].is_finite() && (m[i] - g.semi as f32).abs() < 1.0)
                .map(|i| m[i])
                .collect();
            if vals.is_empty() {
                vals = (g.start..g.end)
                    .filter(|&i| m[i].is_finite())
                    .map(|i| m[i])
                    .collect();
            }
            if vals.is_empty() {
                return None;
            }
            vals.sort_by(f32::total_cmp);
            let pitch = vals[vals.len() / 2] + tune;
            let lv = (g.start..g.end)
                .map(|i| level.db.get(i).copied().unwrap_or(-120.0))
                .fold(-120.0f32, f32::max);
            let salience = (1.0 + (lv - peak_level) / 40.0).clamp(0.05, 1.0);
            Some(Note {
                onset: g.start as f64 * HOP_S,
                offset: g.end as f64 * HOP_S,
                pitch,
                salience,
            })
        })
        .collect()
}

/// Make the f0 track agree with the notes where the tracker lags them: from a note's onset until
/// the tracked pitch reaches the note (within 0.6 semitone), the frames still follow the previous
/// note's release tail or have no pitch; they take the note's pitch and count as voiced.
pub fn align_f0(f0: &mut F0Track, notes: &[Note]) {
    for note in notes {
        let a = (note.onset / f0.hop_s).round() as usize;
        let b = ((note.offset / f0.hop_s).round() as usize).min(f0.len());
        let hz = bandmate_core::midi_to_hz(f64::from(note.pitch)) as f32;
        for i in a..b {
            let close = f0.hz[i] > 0.0
                && (hz_to_midi(f64::from(f0.hz[i])) as f32 - note.pitch).abs() < 0.6
                && f0.is_voiced(i);
            if close {
                break;
            }
            f0.hz[i] = hz;
            f0.voicing[i] = f0.voicing[i].max(0.5);
        }
        // Unvoiced frames inside the note (a consonant, a dip) carry the note's pitch.
        for i in a..b {
            if !f0.is_voiced(i) {
                f0.hz[i] = hz;
            }
        }
    }
}

/// Mean tracked pitch over a run (its semitone when no frame has a pitch).
fn mean_pitch(g: &Seg, m: &[f32]) -> f32 {
    let (sum, n) = m[g.start..g.end]
        .iter()
        .filter(|x| x.is_finite())
        .fold((0.0f32, 0usize), |(s, n), &x| (s + x, n + 1));
    if n == 0 {
        g.semi as f32
    } else {
        sum / n as f32
    }
}

/// A run shorter than `max_frames` that leads straight into the next note and whose pitch lies
/// between the previous note's and the next one's (a legato slide), or that starts from rest
/// below the next note (a scoop), is the start of the next note.
fn absorb_transitions(segs: &mut Vec<Seg>, m: &[f32], max_frames: usize) {
    let mut i = 0;
    while i + 1 < segs.len() {
        let g = segs[i];
        let next = segs[i + 1];
        let touches_next = next.start == g.end;
        let short = g.end - g.start < max_frames;
        if !(short && touches_next) {
            i += 1;
            continue;
        }
        let mean = mean_pitch(&g, m);
        let prev = (i > 0 && segs[i - 1].end == g.start).then(|| segs[i - 1]);
        let transition = match prev {
            Some(p) => {
                let (lo, hi) = (p.semi.min(next.semi) as f32, p.semi.max(next.semi) as f32);
                p.semi != next.semi && mean >= lo - 0.5 && mean <= hi + 0.5
            }
            None => mean < next.semi as f32 && next.semi as f32 - mean <= 3.0,
        };
        if transition {
            segs[i + 1].start = g.start;
            segs.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Merge runs shorter than `min_frames` into the adjacent note nearest in pitch (if it touches
/// them), or drop them when they stand alone.
fn merge_glides(segs: &mut Vec<Seg>, m: &[f32], min_frames: usize) {
    while let Some(idx) = (0..segs.len())
        .filter(|&i| segs[i].end - segs[i].start < min_frames)
        .min_by_key(|&i| segs[i].end - segs[i].start)
    {
        let g = segs[idx];
        let prev = (idx > 0 && segs[idx - 1].end == g.start).then(|| idx - 1);
        let next = (idx + 1 < segs.len() && segs[idx + 1].start == g.end).then_some(idx + 1);
        let centre = mean_pitch(&g, m);
        let target = match (prev, next) {
            (Some(p), Some(q)) => {
                if (segs[p].semi as f32 - centre).abs() <= (segs[q].semi as f32 - centre).abs() {
                    Some(p)
                } else {
                    Some(q)
                }
            }
            (Some(p), None) => Some(p),
            (None, Some(q)) => Some(q),
            (None, None) => None,
        };
        match target {
            Some(t) if t < idx => segs[t].end = g.end,
            Some(t) => segs[t].start = g.start,
            None => {}
        }
        segs.remove(idx);
    }
}

/// Move each note's start to the strongest onset peak that announces it.
fn refine_onsets(segs: &mut [Seg], odf: &OnsetFunction, s: &NoteSettings) {
    let back = (s.lookback_s / HOP_S).round() as usize;
    let ahead = (s.lookahead_s / HOP_S).round() as usize;
    let f = &odf.flux;
    for i in 0..segs.len() {
        let b = segs[i].start;
        let floor = if i > 0 { segs[i - 1].start + 6 } else { 0 };
        let lo = b.saturating_sub(back).max(floor);
        let hi = (b + ahead)
            .min(f.len().saturating_sub(1))
            .min(segs[i].end.saturating_sub(1));
        if lo > hi {
            continue;
        }
        // strongest local maximum in the window
        let mut best: Option<usize> = None;
        for t in lo..=hi {
            let left = if t > 0 { f[t - 1] } else { 0.0 };
            let right = f.get(t + 1).copied().unwrap_or(0.0);
            if f[t] >= left && f[t] >= right && f[t] > 0.0 && best.is_none_or(|bi| f[t] > f[bi]) {
                best = Some(t);
            }
        }
        if let Some(t) = best {
            // The flux at frame t compares spectra LAG frames apart centred on t and t-LAG:
            // the new energy arrived half-way, one frame before t.
            let on = t.saturating_sub(1).max(lo);
            if i > 0 && segs[i - 1].end == b {
                segs[i - 1].end = on.max(segs[i - 1].start + 1);
            }
            segs[i].start = on;
        }
    }
}

/// End each note where its release starts: the first frame after the note's peak from which the
/// level falls by 6 dB within 50 ms and stays more than 9 dB under the peak. A voice (or a
/// synthesizer's release) keeps sounding after the singer stops sustaining; without this the
/// tail would run into the next phrase and hide the breath between them.
fn refine_offsets(segs: &mut [Seg], level: &Envelope, min_frames: usize) {
    let lv = |i: usize| level.db.get(i).copied().unwrap_or(-120.0);
    for g in segs.iter_mut() {
        if g.end <= g.start + min_frames {
            continue;
        }
        let peak_at = (g.start..g.end)
            .max_by(|&a, &b| lv(a).total_cmp(&lv(b)))
            .unwrap_or(g.start);
        let peak = lv(peak_at);
        let from = (peak_at + 1).max(g.start + min_frames);
        for t in from..g.end {
            let later = lv((t + 5).min(g.end.saturating_sub(1)));
            if lv(t) - later >= 6.0 && later < peak - 9.0 {
                g.end = t + 1;
                break;
            }
        }
    }
}

/// Split notes at strong onsets preceded by a level dip (repeated notes).
fn split_repeats(
    segs: Vec<Seg>,
    odf: &OnsetFunction,
    level: &Envelope,
    s: &NoteSettings,
    min_frames: usize,
) -> Vec<Seg> {
    let peaks = crate::onsets::pick_peaks(&odf.flux, 0.1);
    let mut out = Vec::with_capacity(segs.len());
    for g in segs {
        let mut cur = g;
        for &(t, strength) in &peaks {
            if t < cur.start + min_frames + 2 || t + min_frames > cur.end {
                continue;
            }
            let lv = |i: usize| level.db.get(i).copied().unwrap_or(-120.0);
            let dip = (t.saturating_sub(6)..t).map(lv).fold(f32::MAX, f32::min);
            let before = (cur.start..t.saturating_sub(4))
                .map(lv)
                .fold(-120.0f32, f32::max);
            let after = (t..(t + 6).min(cur.end)).map(lv).fold(-120.0f32, f32::max);
            let score =
                strength.max(1e-3).ln() + s.split_dip_weight * (before - dip).clamp(0.0, 12.0);
            if score >= s.split_threshold && after - dip >= 0.5 {
                let on = t.saturating_sub(1);
                out.push(Seg {
                    start: cur.start,
                    end: on,
                    semi: cur.semi,
                });
                cur = Seg {
                    start: on,
                    end: cur.end,
                    semi: cur.semi,
                };
            }
        }
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(midi: &[f32]) -> F0Track {
        F0Track {
            hop_s: HOP_S,
            hz: midi
                .iter()
                .map(|&m| {
                    if m > 0.0 {
                        bandmate_core::midi_to_hz(f64::from(m)) as f32
                    } else {
                        0.0
                    }
                })
                .collect(),
            voicing: midi
                .iter()
                .map(|&m| if m > 0.0 { 0.9 } else { 0.1 })
                .collect(),
        }
    }

    fn quiet_odf(n: usize) -> OnsetFunction {
        OnsetFunction {
            flux: vec![0.0; n],
            bands: Vec::new(),
            n_bands: 0,
            band_hz: Vec::new(),
        }
    }

    fn flat_level(n: usize) -> Envelope {
        Envelope {
            hop_s: HOP_S,
            db: vec![-20.0; n],
        }
    }

    #[test]
    fn tuning_offset_is_found() {
        let t = track(&[60.3; 100]);
        assert!((estimate_tuning(&t) - 30.0).abs() < 0.5);
        let t = track(&[61.8; 100]);
        assert!((estimate_tuning(&t) + 20.0).abs() < 0.5);
    }

    #[test]
    fn vibrato_stays_one_note_and_scoops_are_absorbed() {
        let mut midi = Vec::new();
        // scoop from 58.5 up to 60 over 5 frames, then 60 with ±0.5 st vibrato for 1 s
        for k in 0..5 {
            midi.push(58.5 + 0.3 * k as f32);
        }
        for k in 0..100 {
            midi.push(60.0 + 0.5 * (k as f32 * 0.35).sin());
        }
        midi.extend([0.0; 20]);
        let n = midi.len();
        let notes = segment(
            &track(&midi),
            &quiet_odf(n),
            &flat_level(n),
            0.0,
            &NoteSettings::default(),
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!((notes[0].pitch - 60.0).abs() < 0.2);
        assert!(notes[0].onset < 0.03);
    }

    #[test]
    fn steps_and_rests_make_notes() {
        let mut midi = vec![0.0; 10];
        midi.extend([62.0; 30]);
        midi.extend([64.0; 30]);
        midi.extend([0.0; 15]);
        midi.extend([64.0; 30]);
        midi.extend([0.0; 10]);
        let n = midi.len();
        let notes = segment(
            &track(&midi),
            &quiet_odf(n),
            &flat_level(n),
            0.0,
            &NoteSettings::default(),
        );
        let got: Vec<(i32, i32)> = notes
            .iter()
            .map(|x| ((x.onset / HOP_S).round() as i32, x.midi(0.0)))
            .collect();
        assert_eq!(got, vec![(10, 62), (40, 64), (85, 64)]);
    }
}
