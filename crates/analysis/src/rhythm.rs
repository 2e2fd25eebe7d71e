//! Tempo, beats, meter and downbeats from the voice alone.
//!
//! A sung melody has no drums; its rhythm lives in where notes start and how long they last.
//!
//! 1. **Accent signal** (100 Hz): a bump at every note onset, weighted by loudness and by the
//!    time to the next onset (long notes fall on strong beats — Lerdahl & Jackendoff's metrical
//!    preference rule 5; Povel & Essens 1985), with extra weight where a phrase starts, plus a
//!    little of the raw onset function for attacks the note segmentation merged.
//! 2. **Periodicity**: the autocorrelation of the accent signal, read through a comb over the
//!    metrical levels above each candidate period (beat, 2 beats, bar), so a period scores by
//!    how well a whole metrical grid fits, not one lag; a period that wins as the dotted half
//!    bar of a quick waltz gives way to the waltz's beat when bars of three fit better.
//! 3. **Tempo octave**: a monophonic melody's rhythm is nearly scale-invariant (a ballad in 16ths
//!    at 65 BPM and an up-tempo song in 8ths at 130 BPM put their onsets at the same times), so
//!    the level is decided by a log-normal prior on the tactus (centre [`RhythmSettings::prior_bpm`],
//!    spread one octave = 2σ) times the periodicity evidence. Callers that know the style pass a
//!    narrower prior (the style's tempo range).
//! 4. **Beats**: dynamic programming (Ellis 2007) with the chosen period over the accent signal
//!    plus an onset-count template of the eighth lattice each beat implies (onsets on the beat
//!    and half beat for it, on the sixteenths against it), so a melody that anticipates the
//!    beat by a sixteenth and holds across it does not drag the grid onto the anticipation,
//!    plus the accent of each such held note again on the beat it anticipates (syncopation is
//!    heard as a displaced strong beat); it follows tempo drift and keeps a steady pulse
//!    through rests and breaths.
//! 5. **Meter**: 3/4 against 4/4 by the same autocorrelation at the bar and two bars of each
//!    (3 and 6 beats against 4 and 8), with a prior for 4/4 (the large majority of popular
//!    songs); where it leans to 3/4 without deciding, by how far the bar lines of threes stand
//!    out in the tracked beats' accents (long notes, phrase starts) against those of fours. A
//!    waltz found at two beats per tick is tracked again at its beat. **Downbeat**: the bar
//!    phase with the most accent.

use bandmate_core::{BeatGrid, Envelope, Note, Phrase};
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

use crate::frontend::HOP_S;

/// Settings of the rhythm analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct RhythmSettings {
    /// Centre of the tempo prior (BPM). 80 BPM: the tactus annotators tap on sung pop, between
    /// slow ballads (~60–75) and mid-tempo songs (~95–120).
    pub prior_bpm: f64,
    /// Standard deviation of the tempo prior in octaves (log2 units).
    pub prior_octaves: f64,
    /// Slowest tempo considered (BPM).
    pub min_bpm: f64,
    /// Fastest tempo considered (BPM).
    pub max_bpm: f64,
    /// How strongly the beat tracker holds the period (Ellis's α).
    pub tightness: f64,
    /// Prior probability of 4/4 against 3/4: 3/4's periodicity at its bar lags must beat
    /// 4/4's by these odds raised to a quarter (1.41 at 0.8).
    pub four_four_prior: f64,
}

impl Default for RhythmSettings {
    fn default() -> Self {
        Self {
            prior_bpm: 80.0,
            prior_octaves: 0.5,
            min_bpm: 40.0,
            max_bpm: 200.0,
            tightness: 200.0,
            four_four_prior: 0.8,
        }
    }
}

impl RhythmSettings {
    /// Check the settings make sense.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.min_bpm > 0.0 && self.max_bpm > self.min_bpm) {
            return Err(format!(
                "tempo range {}..{} BPM is empty",
                self.min_bpm, self.max_bpm
            ));
        }
        if !(self.prior_bpm > 0.0 && self.prior_octaves > 0.0) {
            return Err("the tempo prior needs a positive centre and spread".into());
        }
        if !(0.0..=1.0).contains(&self.four_four_prior) {
            return Err("four_four_prior must be in 0..=1".into());
        }
        Ok(())
    }
}

/// The rhythm found.
#[derive(Debug, Clone, PartialEq)]
pub struct Rhythm {
    /// Beats with meter and downbeat phase.
    pub grid: BeatGrid,
    /// Tempo in BPM (60 over the median beat interval).
    pub tempo_bpm: f64,
}

/// Phrases, by a local boundary model in the manner of Cambouropoulos (2001): each gap between
/// two notes gets a boundary strength from the rest (a breath: 0.4 s counts fully), from how
/// much longer than usual the note before it lasts (a phrase-final hold), and from a large
/// leap. Gaps strong enough become boundaries; phrases shorter than 1.5 s join their
/// neighbour; phrases longer than 12 s split at their strongest inner gap.
pub fn phrases(notes: &[Note]) -> Vec<Phrase> {
    if notes.is_empty() {
        return Vec::new();
    }
    let n = notes.len();
    let mut iois: Vec<f64> = notes.windows(2).map(|w| w[1].onset - w[0].onset).collect();
    iois.sort_by(f64::total_cmp);
    let median_ioi = iois.get(iois.len() / 2).copied().unwrap_or(0.4).max(0.05);
    // strength[i]: boundary after note i
    let strength: Vec<f64> = (0..n.saturating_sub(1))
        .map(|i| {
            let (a, b) = (&notes[i], &notes[i + 1]);
            let gap = (b.onset - a.offset).max(0.0);
            let ioi = b.onset - a.onset;
            let rest = (gap / 0.4).min(1.5) * 2.0;
            let hold = (ioi / median_ioi).log2().max(0.0);
            let leap = if (b.pitch - a.pitch).abs() >= 7.0 {
                0.3
            } else {
                0.0
            };
            rest + hold + leap
        })
        .collect();
    let mut cuts: Vec<usize> = (0..strength.len())
        .filter(|&i| strength[i] >= 2.0)
        .map(|i| i + 1)
        .collect();
    // join phrases shorter than 1.5 s to a neighbour (drop the weaker of their two boundaries)
    loop {
        let bounds: Vec<usize> = std::iter::once(0)
            .chain(cuts.iter().copied())
            .chain(std::iter::once(n))
            .collect();
        let short = bounds
            .windows(2)
            .position(|w| notes[w[1] - 1].offset - notes[w[0]].onset < 1.5);
        let Some(k) = short else { break };
        if cuts.is_empty() {
            break;
        }
        // candidate cuts to drop: the phrase's left (k-1 in cuts) or right (k in cuts)
        let left = k.checked_sub(1).filter(|&j| j < cuts.len());
        let right = (k < cuts.len()).then_some(k);
        let drop = match (left, right) {
            (Some(l), Some(r)) => {
                if strength[cuts[l] - 1] <= strength[cuts[r] - 1] {
                    l
                } else {
                    r
                }
            }
            (Some(l), None) => l,
            (None, Some(r)) => r,
            (None, None) => break,
        };
        cuts.remove(drop);
    }
    // split phrases longer than 12 s at their strongest inner boundary
    loop {
        let bounds: Vec<usize> = std::iter::once(0)
            .chain(cuts.iter().copied())
            .chain(std::iter::once(n))
            .collect();
        let long = bounds
            .windows(2)
            .find(|w| notes[w[1] - 1].offset - notes[w[0]].onset > 12.0 && w[1] - w[0] >= 4);
        let Some(w) = long else { break };
        let (a, b) = (w[0], w[1]);
        // keep at least 1.5 s on each side
        let best = (a + 1..b)
            .filter(|&c| {
                notes[c - 1].offset - notes[a].onset >= 1.5
                    && notes[b - 1].offset - notes[c].onset >= 1.5
            })
            .max_by(|&x, &y| strength[x - 1].total_cmp(&strength[y - 1]));
        match best {
            Some(c) => {
                cuts.push(c);
                cuts.sort_unstable();
            }
            None => break,
        }
    }
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(cuts)
        .chain(std::iter::once(n))
        .collect();
    bounds
        .windows(2)
        .map(|w| Phrase {
            start: notes[w[0]].onset,
            end: notes[w[1] - 1].offset,
            first_note: w[0],
            end_note: w[1],
        })
        .collect()
}

/// The accent of note `i`: loudness, time to the next onset (longer = more accent, log scale,
/// saturating at 2 s) and whether it starts a phrase.
fn note_accent(notes: &[Note], i: usize, phrase_start: bool) -> f32 {
    let n = &notes[i];
    let ioi = notes
        .get(i + 1)
        .map_or(n.duration(), |m| m.onset - n.onset)
        .clamp(0.05, 2.0);
    let dur_w = 1.0 + (ioi / 0.25).log2().max(0.0) as f32 * 0.5;
    let phrase_w = if phrase_start { 1.5 } else { 1.0 };
    n.salience.sqrt() * dur_w * phrase_w
}

/// The accent signal on the analysis hop.
pub fn accent_signal(notes: &[Note], phrases: &[Phrase], flux: &[f32], frames: usize) -> Vec<f32> {
    let mut a = vec![0.0f32; frames];
    let starts: std::collections::HashSet<usize> = phrases.iter().map(|p| p.first_note).collect();
    // Gaussian bump, σ = 20 ms.
    let bump: Vec<f32> = (-5i32..=5)
        .map(|k| (-(k * k) as f32 / (2.0 * 2.0 * 2.0)).exp())
        .collect();
    for (i, n) in notes.iter().enumerate() {
        let w = note_accent(notes, i, starts.contains(&i));
        let c = (n.onset / HOP_S).round() as isize;
        for (k, b) in bump.iter().enumerate() {
            let idx = c + k as isize - 5;
            if idx >= 0 && (idx as usize) < frames {
                a[idx as usize] += w * b;
            }
        }
    }
    // A little of the raw onset function (normalised to its 95th percentile).
    if !flux.is_empty() {
        let mut s: Vec<f32> = flux.to_vec();
        s.sort_by(f32::total_cmp);
        let p95 = s[(s.len() * 95 / 100).min(s.len() - 1)].max(1e-6);
        for (x, &f) in a.iter_mut().zip(flux) {
            *x += 0.15 * (f / p95).min(2.0);
        }
    }
    a
}

/// Weight of the subdivision template in the beat tracker's salience, against the accent.
const SUBDIVISION_WEIGHT: f32 = 1.0;
/// How much an onset on a sixteenth (a quarter or three quarters into the beat) counts
/// against a beat, relative to an onset on the beat or the half beat counting for it.
const SIXTEENTH_PENALTY: f32 = 0.5;

/// Note onsets as unit bumps (σ = 20 ms) weighted only by loudness: how many notes start
/// where, whatever their length.
fn onset_count_signal(notes: &[Note], frames: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; frames];
    for n in notes {
        let centre = (n.onset / HOP_S).round() as isize;
        for k in -5i32..=5 {
            let idx = centre + k as isize;
            if idx >= 0 && (idx as usize) < frames {
                c[idx as usize] += n.salience.sqrt() * (-(k * k) as f32 / 8.0).exp();
            }
        }
    }
    c
}

/// The accent of anticipations, heard on the beat they anticipate: every note held past the
/// point a sixteenth (a quarter of `period_s`) after its onset, with its full accent there.
/// Pop and rock syncopation is heard as a displaced strong beat (Temperley 1999): a long note
/// on the last sixteenth of a beat, held across the next one, belongs to that next beat in the
/// listener's metre. The note keeps its accent at its own onset too, so between the two
/// readings (the beat on the anticipation, or a sixteenth later) the accent no longer decides
/// and the onset lattice of [`beat_salience`] does.
fn anticipation_signal(
    notes: &[Note],
    phrases: &[Phrase],
    period_s: f64,
    frames: usize,
) -> Vec<f32> {
    let mut a = vec![0.0f32; frames];
    let starts: std::collections::HashSet<usize> = phrases.iter().map(|p| p.first_note).collect();
    let push = ANTICIPATION * period_s;
    for (i, n) in notes.iter().enumerate() {
        let until = notes.get(i + 1).map_or(n.offset, |m| m.onset.min(n.offset));
        let beat = n.onset + push;
        // held across the anticipated beat (by more than the onset bump's reach)
        if until <= beat + 0.05 {
            continue;
        }
        let w = note_accent(notes, i, starts.contains(&i));
        let centre = (beat / HOP_S).round() as isize;
        for k in -5i32..=5 {
            let idx = centre + k as isize;
            if idx >= 0 && (idx as usize) < frames {
                a[idx as usize] += w * (-(k * k) as f32 / 8.0).exp();
            }
        }
    }
    a
}

/// How far before the beat an anticipation starts, in beats (a sixteenth).
const ANTICIPATION: f64 = 0.25;

/// Beat salience for the tracker: the accent at a candidate beat plus how well the eighth
/// lattice it implies holds the note onsets. A beat scores the onsets on itself and on its
/// half beat and loses by those on the sixteenths between. Pop melodies anticipate the beat
/// by a sixteenth and hold across it (the longest notes of a ballad often start on the
/// "a" of the beat), so the accent alone, which rewards long notes, pulls the grid a
/// sixteenth early; the shifted grid then leaves its half beats nearly empty while its
/// sixteenths fill, which no metrical hierarchy does. Counting onsets, not durations, is
/// what sees the anticipation as an anticipation.
fn beat_salience(accent: &[f32], pushed: &[f32], counts: &[f32], period: f64) -> Vec<f32> {
    let n = accent.len();
    let at = |t: usize, frac: f64| -> f32 {
        let i = t + (period * frac).round() as usize;
        counts.get(i).copied().unwrap_or(0.0)
    };
    (0..n)
        .map(|t| {
            let lattice = at(t, 0.0) + at(t, 0.5) - SIXTEENTH_PENALTY * (at(t, 0.25) + at(t, 0.75));
            accent[t] + pushed[t] + SUBDIVISION_WEIGHT * lattice
        })
        .collect()
}

/// Autocorrelation of `a` (mean removed) for lags `0..max_lag`, normalised by overlap.
/// Through the FFT (zero-padded past `n + max_lag`, so no lag wraps around): eight slow beats
/// of lags over three minutes of 100 Hz frames are ~20 million products directly.
fn autocorrelation(a: &[f32], max_lag: usize) -> Vec<f64> {
    let n = a.len();
    let lags = max_lag.min(n);
    if lags == 0 {
        return Vec::new();
    }
    let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let size = (n + lags).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let mut x = vec![0.0f64; size];
    for (d, &v) in x.iter_mut().zip(a) {
        *d = f64::from(v) - mean;
    }
    let mut spectrum = forward.make_output_vec();
    // Lengths come from the plans themselves; the transforms cannot fail.
    forward
        .process(&mut x, &mut spectrum)
        .expect("buffer lengths from the plan");
    for c in &mut spectrum {
        *c = Complex::new(c.norm_sqr(), 0.0);
    }
    inverse
        .process(&mut spectrum, &mut x)
        .expect("buffer lengths from the plan");
    (0..lags)
        .map(|lag| x[lag] / size as f64 / (n - lag) as f64)
        .collect()
}

/// Autocorrelation near a fractional lag: the largest value within ±1.5 % of the lag (at least
/// one frame), so a sung tempo that drifts a little does not hide a peak at long lags.
fn ac_at(ac: &[f64], lag: f64) -> f64 {
    if lag < 1.0 || lag >= (ac.len() - 1) as f64 {
        return 0.0;
    }
    let tol = (lag * 0.015).max(1.0);
    let lo = (lag - tol).floor().max(0.0) as usize;
    let hi = ((lag + tol).ceil() as usize).min(ac.len() - 1);
    ac[lo..=hi].iter().copied().fold(f64::MIN, f64::max)
}

/// Evidence for a beat period (frames): every level of the metrical hierarchy built on it
/// must be periodic — the subdivision, the beat, two beats and the bar of four — so a
/// period scores by how well a whole grid fits. A dotted period (3/4 of the beat, common
/// with dotted rhythms) fits its own lag but not its subdivision or its bar.
fn period_evidence(ac: &[f64], p: f64) -> f64 {
    ac_at(ac, p / 2.0) + ac_at(ac, p) + bar_lags(ac, p, 2.0)
}

/// Periodicity at a bar of `beats` beats of `p` frames and at two of those bars.
fn bar_lags(ac: &[f64], p: f64, beats: f64) -> f64 {
    ac_at(ac, beats * p) + ac_at(ac, 2.0 * beats * p)
}

/// Estimate the beat period in frames.
fn estimate_period(ac: &[f64], s: &RhythmSettings) -> f64 {
    let max_p = 60.0 / s.min_bpm / HOP_S;
    let min_p = 60.0 / s.max_bpm / HOP_S;
    let mut best = (f64::MIN, 60.0 / s.prior_bpm / HOP_S);
    let mut p = min_p;
    while p <= max_p {
        let bpm = 60.0 / (p * HOP_S);
        let z = (bpm / s.prior_bpm).log2() / s.prior_octaves;
        let prior = (-0.5 * z * z).exp();
        let ev = period_evidence(ac, p).max(0.0);
        let score = ev * prior;
        if score > best.0 {
            best = (score, p);
        }
        p *= 1.005;
    }
    // A quick waltz is heard by the duple hierarchy as its half bars (dotted quarters, two to
    // the bar): the bar lines fall on that reading's two-beat lags, and the prior prefers its
    // slower tempo. The three-beat hierarchy on two thirds of that period (the true beat, its
    // eighths, the bar of three and two bars) then fits better than the dotted one — on the
    // development renders and the synthetic takes the two ratios are 1.14–1.31 for quick
    // waltzes and at most 0.70 for everything else (`docs/analysis.md`).
    let dotted = best.1;
    let beat = 2.0 * dotted / 3.0;
    if beat >= min_p && triple_evidence(ac, beat) > period_evidence(ac, dotted) {
        return beat;
    }
    dotted
}

/// Evidence for a beat period (frames) in bars of three: the half beat, the beat, the bar
/// and two bars.
fn triple_evidence(ac: &[f64], p: f64) -> f64 {
    ac_at(ac, p / 2.0) + ac_at(ac, p) + bar_lags(ac, p, 3.0)
}

/// Longest lag the tempo and meter evidence reads, in frames: eight of the slowest beats.
fn max_lag(s: &RhythmSettings) -> usize {
    (60.0 / s.min_bpm / HOP_S * 8.0) as usize + 4
}

/// What the accent's periodicity says of the bar above beats `period` frames apart.
#[derive(Debug, Clone, Copy)]
struct BarPeriodicity {
    /// Periodicity at 3 and 6 beats over that at 4 and 8 (above 1: bars of three fit better).
    three_over_four: f64,
    /// The lag of a beat and a half is periodic too (more than half as much as three beats):
    /// no level of a bar of three, so bars of three found here are bars of three half beats.
    half_beats: bool,
}

fn bar_periodicity(ac: &[f64], period: f64) -> BarPeriodicity {
    let three = bar_lags(ac, period, 3.0);
    let four = bar_lags(ac, period, 4.0);
    BarPeriodicity {
        three_over_four: if four > 0.0 {
            three / four
        } else if three > 0.0 {
            f64::INFINITY
        } else {
            0.0
        },
        half_beats: ac_at(ac, 1.5 * period) > 0.5 * ac_at(ac, 3.0 * period),
    }
}

/// Whether the accent's periodicity alone decides for 3/4: its ratio beats the 4/4 prior's
/// odds raised to a quarter (1.41 at the default 0.8). On the development renders and the
/// synthetic takes the ratio is 1.57–1.77 for waltzes and at most 1.26 for songs in 4/4
/// (`docs/analysis.md`).
fn periodicity_says_three(bars: BarPeriodicity, s: &RhythmSettings) -> bool {
    let odds = s.four_four_prior / (1.0 - s.four_four_prior).max(1e-6);
    bars.three_over_four > odds.powf(0.25)
}

/// How far the bar lines of `bpb`-beat bars stand out in the beat accents at their best
/// phase: the mean accent on them minus the mean elsewhere, in standard deviations of the
/// accents.
fn bar_contrast(acc: &[f64], bpb: usize) -> f64 {
    let n = acc.len();
    if n < 2 * bpb {
        return 0.0;
    }
    let mean = acc.iter().sum::<f64>() / n as f64;
    let sd = (acc.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    if sd <= 0.0 {
        return 0.0;
    }
    bar_line_means(acc, bpb)
        .iter()
        .map(|(on, off)| (on - off) / sd)
        .fold(f64::MIN, f64::max)
}

/// For each phase of bars of `bpb` beats: the mean accent on its bar lines and the mean on
/// the other beats (0 where there are none).
fn bar_line_means(acc: &[f64], bpb: usize) -> Vec<(f64, f64)> {
    let n = acc.len();
    (0..bpb)
        .map(|ph| {
            let (mut on, mut n_on, mut off) = (0.0, 0usize, 0.0);
            for (j, a) in acc.iter().enumerate() {
                if j % bpb == ph {
                    on += a;
                    n_on += 1;
                } else {
                    off += a;
                }
            }
            (on / n_on.max(1) as f64, off / (n - n_on).max(1) as f64)
        })
        .collect()
}

/// How much more the bar lines of 3/4 must stand out than those of 4/4 (in standard
/// deviations of the beat accents) when the periodicity leans to 3/4 without deciding. On the
/// development renders, the synthetic set and 40 further takes, the 4/4 songs whose
/// periodicity leans to 3/4 reach 0.31, the waltzes found at their beat 0.42 and more but for
/// two (`docs/analysis.md`, "Meter").
const THREE_FOUR_CONTRAST: f64 = 0.4;

/// Ellis (2007) dynamic-programming beat tracker: beat times (in frames) maximising accent at
/// the beats minus `tightness` times the squared log deviation of each interval from `period`.
fn track_beats(accent: &[f32], period: f64, tightness: f64) -> Vec<usize> {
    let n = accent.len();
    if n == 0 {
        return Vec::new();
    }
    // Normalise the accent so tightness has a fixed meaning.
    let sd = {
        let m = accent.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        (accent
            .iter()
            .map(|&v| (f64::from(v) - m).powi(2))
            .sum::<f64>()
            / n as f64)
            .sqrt()
            .max(1e-9)
    };
    let local: Vec<f64> = accent.iter().map(|&v| f64::from(v) / sd).collect();
    let mut score = vec![0.0f64; n];
    let mut back = vec![usize::MAX; n];
    let (lo, hi) = (
        (period * 0.5).round() as usize,
        (period * 2.0).round() as usize,
    );
    for t in 0..n {
        let mut best = 0.0f64;
        let mut arg = usize::MAX;
        if t >= lo {
            let first = t.saturating_sub(hi);
            for (prev, &sc) in score.iter().enumerate().take(t - lo + 1).skip(first) {
                let d = (t - prev) as f64;
                let pen = -tightness * (d / period).ln().powi(2);
                let v = sc + pen;
                if arg == usize::MAX || v > best {
                    best = v;
                    arg = prev;
                }
            }
        }
        // A beat may also start a chain (only near the beginning is that ever best).
        if arg == usize::MAX || best < 0.0 && t < hi {
            best = 0.0;
            arg = usize::MAX;
        }
        score[t] = local[t] + best;
        back[t] = arg;
    }
    // The last beat: best score within the last period.
    let tail = n.saturating_sub(hi.max(1));
    let mut end = (tail..n)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]))
        .unwrap_or(n - 1);
    let mut beats = vec![end];
    while back[end] != usize::MAX {
        end = back[end];
        beats.push(end);
    }
    beats.reverse();
    beats
}

/// Metrical fit of a beat grid: the summed weight of notes starting within an eighth of a
/// beat of a beat, each note weighted by its length in beats (capped at two) and doubled at
/// phrase starts.
fn on_beat_weight(notes: &[Note], phrases: &[Phrase], beats: &[f64]) -> f64 {
    let starts: std::collections::HashSet<usize> = phrases.iter().map(|p| p.first_note).collect();
    let n = beats.len();
    let mut total = 0.0;
    for (i, note) in notes.iter().enumerate() {
        let k = beats.partition_point(|&b| b < note.onset);
        if k == 0 || k >= n {
            continue;
        }
        let period = beats[k] - beats[k - 1];
        let d = (note.onset - beats[k - 1]).min(beats[k] - note.onset);
        if d <= period / 8.0 {
            let ioi = notes
                .get(i + 1)
                .map_or(note.duration(), |m| m.onset - note.onset);
            let w = (ioi / period).clamp(0.25, 2.0) * if starts.contains(&i) { 2.0 } else { 1.0 };
            total += w * f64::from(note.salience.sqrt());
        }
    }
    total
}

/// The tracker may lock onto the off-beats of a syncopated melody; keep the grid or its
/// half-beat shift, whichever puts more metrical weight on the beats.
fn best_half_beat_phase(
    notes: &[Note],
    phrases: &[Phrase],
    beats: Vec<f64>,
    duration_s: f64,
) -> Vec<f64> {
    if beats.len() < 3 {
        return beats;
    }
    let mut shifted: Vec<f64> = beats.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
    let p0 = beats[1] - beats[0];
    if shifted[0] - p0 >= 0.0 {
        shifted.insert(0, shifted[0] - p0);
    }
    let n = beats.len();
    let last = shifted[shifted.len() - 1] + (beats[n - 1] - beats[n - 2]);
    if last <= duration_s {
        shifted.push(last);
    }
    if on_beat_weight(notes, phrases, &shifted) > 1.15 * on_beat_weight(notes, phrases, &beats) {
        shifted
    } else {
        beats
    }
}

/// The accent of each beat: the notes starting within a quarter period of it, weighted by
/// length (capped) and phrase starts.
fn beat_accents(notes: &[Note], phrases: &[Phrase], beats: &[f64]) -> Vec<f64> {
    let n = beats.len();
    let mut acc = vec![0.0f64; n];
    let starts: std::collections::HashSet<usize> = phrases.iter().map(|p| p.first_note).collect();
    for (i, note) in notes.iter().enumerate() {
        let k = beats.partition_point(|&b| b < note.onset);
        let cand = [k.saturating_sub(1), k.min(n - 1)];
        let Some(&j) = cand.iter().min_by(|&&a, &&b| {
            (beats[a] - note.onset)
                .abs()
                .total_cmp(&(beats[b] - note.onset).abs())
        }) else {
            continue;
        };
        let period = if j + 1 < n {
            beats[j + 1] - beats[j]
        } else if j > 0 {
            beats[j] - beats[j - 1]
        } else {
            0.5
        };
        if (beats[j] - note.onset).abs() > period * 0.25 {
            continue;
        }
        let ioi = notes
            .get(i + 1)
            .map_or(note.duration(), |m| m.onset - note.onset);
        let length = 0.5 * (ioi + note.duration());
        let w = (length / period).clamp(0.25, 4.0) * if starts.contains(&i) { 1.5 } else { 1.0 };
        acc[j] += w * f64::from(note.salience.sqrt());
    }
    acc
}

/// The first downbeat of bars of `bpb` beats: the bar line with the most accent.
fn downbeat_phase(acc: &[f64], bpb: u8) -> usize {
    let means = bar_line_means(acc, usize::from(bpb));
    (0..means.len())
        .max_by(|&x, &y| means[x].0.total_cmp(&means[y].0))
        .unwrap_or(0)
}

/// Beats padded at their edge periods to cover the whole recording (a regular grid of
/// `period_s` when the tracker found fewer than two).
fn cover(mut beats: Vec<f64>, period_s: f64, duration_s: f64) -> Vec<f64> {
    if beats.len() < 2 {
        beats = (0..((duration_s / period_s).ceil() as usize).max(2))
            .map(|k| k as f64 * period_s)
            .collect();
    }
    let p0 = beats[1] - beats[0];
    while beats[0] - p0 >= -1e-9 {
        beats.insert(0, beats[0] - p0);
    }
    let n = beats.len();
    let p1 = beats[n - 1] - beats[n - 2];
    while beats[beats.len() - 1] + p1 <= duration_s + 1e-9 {
        let last = beats[beats.len() - 1];
        beats.push(last + p1);
    }
    beats.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
    beats
}

/// Tempo, beats, meter and downbeats for the whole recording.
pub fn analyse(
    notes: &[Note],
    phrases: &[Phrase],
    flux: &[f32],
    level: &Envelope,
    duration_s: f64,
    s: &RhythmSettings,
) -> Result<Rhythm, String> {
    let frames = ((duration_s / HOP_S).ceil() as usize)
        .max(level.db.len())
        .max(2);
    let accent = accent_signal(notes, phrases, flux, frames);
    let ac = autocorrelation(&accent, max_lag(s));
    let counts = onset_count_signal(notes, frames);
    let beats_at = |period: f64| -> Vec<f64> {
        let pushed = anticipation_signal(notes, phrases, period * HOP_S, frames);
        let salience = beat_salience(&accent, &pushed, &counts, period);
        let beats = track_beats(&salience, period, s.tightness)
            .into_iter()
            .map(|f| f as f64 * HOP_S)
            .collect();
        let beats = cover(beats, period * HOP_S, duration_s);
        best_half_beat_phase(notes, phrases, beats, duration_s)
    };
    // Meter: 3/4 when the accent's periodicity decides for it, or leans to it and the bar
    // lines of threes stand out in the tracked beats' accents more than those of fours. A
    // waltz found at two beats per tick (its lag of a beat and a half periodic too) is
    // tracked again at its beat; where the periodicity leans to 3/4 without the bar lines
    // standing out at that tick, they are looked for at half of it.
    let period = estimate_period(&ac, s);
    let bars = bar_periodicity(&ac, period);
    let mut beats = beats_at(period);
    let mut acc = beat_accents(notes, phrases, &beats);
    let threes_stand_out =
        |acc: &[f64]| bar_contrast(acc, 3) - bar_contrast(acc, 4) > THREE_FOUR_CONTRAST;
    let can_halve = bars.half_beats && period / 2.0 >= 60.0 / s.max_bpm / HOP_S;
    let mut three =
        periodicity_says_three(bars, s) || bars.three_over_four > 1.0 && threes_stand_out(&acc);
    if three && can_halve {
        beats = beats_at(period / 2.0);
        acc = beat_accents(notes, phrases, &beats);
    } else if !three && bars.three_over_four > 1.0 && can_halve {
        let half_beats = beats_at(period / 2.0);
        let half_acc = beat_accents(notes, phrases, &half_beats);
        if threes_stand_out(&half_acc) {
            (three, beats, acc) = (true, half_beats, half_acc);
        }
    }
    let bpb = if three { 3 } else { 4 };
    let phase = downbeat_phase(&acc, bpb);
    let grid = BeatGrid::new(beats, bpb, phase % usize::from(bpb)).map_err(|e| e.to_string())?;
    let tempo_bpm = grid.tempo_bpm();
    Ok(Rhythm { grid, tempo_bpm })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rhythm of a note list alone (no onset function, no loudness), default settings.
    fn track(notes: &[Note], duration_s: f64) -> Rhythm {
        let envelope = Envelope {
            hop_s: HOP_S,
            db: vec![],
        };
        analyse(
            notes,
            &phrases(notes),
            &[],
            &envelope,
            duration_s,
            &RhythmSettings::default(),
        )
        .unwrap()
    }

    fn notes_on(times: &[f64], dur: f64) -> Vec<Note> {
        times
            .iter()
            .map(|&t| Note {
                onset: t,
                offset: t + dur,
                pitch: 60.0,
                salience: 1.0,
            })
            .collect()
    }

    #[test]
    fn steady_quarter_notes_give_their_tempo() {
        // 90 BPM quarters with an accent (long note) every 4 beats.
        let p = 60.0 / 90.0;
        let mut notes = Vec::new();
        for k in 0..48 {
            let t = 0.5 + k as f64 * p;
            let d = if k % 4 == 0 { p * 0.95 } else { p * 0.5 };
            notes.push(Note {
                onset: t,
                offset: t + d,
                pitch: 60.0,
                salience: 1.0,
            });
        }
        let r = track(&notes, 33.0);
        assert!((r.tempo_bpm - 90.0).abs() < 1.5, "{}", r.tempo_bpm);
        // beats land on the notes
        for n in notes.iter().skip(2).take(40) {
            let near = r
                .grid
                .beats
                .iter()
                .map(|b| (b - n.onset).abs())
                .fold(f64::MAX, f64::min);
            assert!(near < 0.04, "note at {} nearest beat {near}", n.onset);
        }
    }

    #[test]
    fn anticipated_long_notes_do_not_pull_the_beat_a_sixteenth_early() {
        // 80 BPM, a two-beat cell: eighth on the beat, sixteenth on the half beat, then a long
        // note on the last sixteenth of the beat held across the next beat (a pop anticipation).
        let p = 0.75;
        let mut notes = Vec::new();
        for cell in 0..20 {
            let t = 1.0 + cell as f64 * 2.0 * p;
            for (at, len) in [(0.0, 0.5), (0.5, 0.25), (0.75, 1.25)] {
                notes.push(Note {
                    onset: t + at * p,
                    offset: t + (at + len) * p - 0.02,
                    pitch: 60.0 + (cell % 5) as f32,
                    salience: 1.0,
                });
            }
        }
        let r = track(&notes, 32.0);
        assert!((r.tempo_bpm - 80.0).abs() < 2.0, "{}", r.tempo_bpm);
        // every beat between the first and last cell sits on the cell grid (k·p after 1.0 s)
        let inner = beats_on_grid(&r, 2.5, 29.0, 1.0, p);
        assert!(inner > 30, "{inner} beats");
    }

    #[test]
    fn a_fully_syncopated_passage_keeps_the_beat_it_anticipates() {
        // 80 BPM: four bars of plain quarters and eighths, then four bars where no note starts
        // on a beat (an eighth on the half beat, then a long note on the last sixteenth held
        // across the next beat), then four plain bars again.
        let p = 0.75;
        let t0 = 1.0;
        let mut notes = Vec::new();
        let mut add = |at: f64, len: f64, pitch: f32| {
            notes.push(Note {
                onset: t0 + at * p,
                offset: t0 + (at + len) * p - 0.03,
                pitch,
                salience: 1.0,
            });
        };
        for beat in 0..48 {
            let b = f64::from(beat);
            let pitch = 60.0 + (beat % 7) as f32;
            if (16..32).contains(&beat) {
                add(b + 0.5, 0.25, pitch);
                add(b + 0.75, 0.75, pitch + 2.0);
            } else if beat % 2 == 0 {
                add(b, 1.0, pitch);
            } else {
                add(b, 0.5, pitch);
                add(b + 0.5, 0.5, pitch + 1.0);
            }
        }
        let r = track(&notes, t0 + 49.0 * p);
        assert!((r.tempo_bpm - 80.0).abs() < 2.0, "{}", r.tempo_bpm);
        // the beats of the syncopated bars stay on the grid of the plain ones
        let inner = beats_on_grid(&r, t0 + 16.5 * p, t0 + 31.5 * p, t0, p);
        assert!(inner >= 14, "{inner} beats");
    }

    /// Asserts that every tracked beat strictly between `from` and `to` (seconds) lies within
    /// 0.08 of a beat of the grid `t0 + k·p`, and returns how many there are.
    fn beats_on_grid(r: &Rhythm, from: f64, to: f64, t0: f64, p: f64) -> usize {
        let inner: Vec<f64> = r
            .grid
            .beats
            .iter()
            .copied()
            .filter(|&b| b > from && b < to)
            .collect();
        for &b in &inner {
            let x = (b - t0) / p;
            assert!(
                (x - x.round()).abs() < 0.08,
                "beat at {b} is {x} beats into the grid"
            );
        }
        inner.len()
    }

    #[test]
    fn beats_continue_through_rests() {
        let p = 0.6;
        let mut times: Vec<f64> = (0..16).map(|k| 1.0 + k as f64 * p).collect();
        times.extend((24..40).map(|k| 1.0 + k as f64 * p)); // 8 beats of silence between
        let notes = notes_on(&times, 0.3);
        let ph = phrases(&notes);
        assert_eq!(ph.len(), 2, "{ph:?}");
        let r = track(&notes, 26.0);
        let ibis: Vec<f64> = r.grid.beats.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(ibis.iter().all(|&d| (d - p).abs() < 0.06), "{ibis:?}");
        assert!(r.grid.beats[0] < 0.61 && *r.grid.beats.last().unwrap() > 25.3);
    }

    #[test]
    fn phrases_break_at_breaths_and_holds() {
        // two 8-note phrases of eighths ending in a long note, the second after no rest at all
        let mut notes = Vec::new();
        let mut t = 0.0;
        for _ in 0..3 {
            for k in 0..8 {
                let d = if k == 7 { 1.6 } else { 0.3 };
                notes.push(Note {
                    onset: t,
                    offset: t + d,
                    pitch: 60.0 + k as f32,
                    salience: 1.0,
                });
                t += d;
            }
        }
        let ph = phrases(&notes);
        assert_eq!(
            ph.iter().map(|p| p.end_note).collect::<Vec<_>>(),
            vec![8, 16, 24],
            "{ph:?}"
        );
    }

    /// Bars starting at 0.4 s, 1.5 s apart: heard in 3/4 at 120 BPM, a downbeat on bar 4.
    fn assert_waltz_at_120(notes: &[Note]) {
        let r = track(notes, 25.0);
        assert_eq!(r.grid.beats_per_bar, 3);
        assert!((r.tempo_bpm - 120.0).abs() < 4.0, "{}", r.tempo_bpm);
        let db = r.grid.downbeats();
        assert!(db.iter().any(|&d| (d - 0.4 - 6.0).abs() < 0.05), "{db:?}");
    }

    #[test]
    fn waltz_of_equal_quarters_is_three_four_at_its_tempo() {
        // One note on every beat at 120 BPM, the first of each bar held longer and louder:
        // the accent's periodicity hardly tells 3/4 (all onsets are a beat apart), the bar
        // lines' contrast in the beat accents does. (Before this session this passed with
        // beats two quarters apart, a 6/4 reading at half tempo; the tempo is checked now.)
        let p = 0.5;
        let mut notes = Vec::new();
        for bar in 0..16 {
            let t = 0.4 + f64::from(bar) * 3.0 * p;
            for (k, (held, pitch, salience)) in
                [(0.45, 60.0, 1.0), (0.2, 64.0, 0.7), (0.2, 67.0, 0.7)]
                    .into_iter()
                    .enumerate()
            {
                let onset = t + k as f64 * p;
                notes.push(Note {
                    onset,
                    offset: onset + held,
                    pitch,
                    salience,
                });
            }
        }
        assert_waltz_at_120(&notes);
    }

    #[test]
    fn waltz_is_three_four() {
        // 120 BPM in 3/4, bars of a half note and a quarter, a dotted quarter, an eighth and a
        // quarter, and a quarter, two eighths and a quarter.
        let p = 0.5;
        let mut notes = Vec::new();
        let mut note = |onset: f64, beats: f64, pitch: f32, salience: f32| {
            notes.push(Note {
                onset,
                offset: onset + beats * p - 0.05,
                pitch,
                salience,
            });
        };
        for bar in 0..16 {
            let t = 0.4 + f64::from(bar) * 3.0 * p;
            let figure: &[(f64, f64)] = match bar % 4 {
                0 | 2 => &[(0.0, 2.0), (2.0, 1.0)],
                1 => &[(0.0, 1.5), (1.5, 0.5), (2.0, 1.0)],
                _ => &[(0.0, 1.0), (1.0, 0.5), (1.5, 0.5), (2.0, 1.0)],
            };
            for (k, &(at, beats)) in figure.iter().enumerate() {
                let salience = if k == 0 { 1.0 } else { 0.7 };
                note(t + at * p, beats, 60.0 + 2.0 * k as f32, salience);
            }
        }
        assert_waltz_at_120(&notes);
    }
}
