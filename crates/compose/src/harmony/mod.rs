//! The harmoniser: chords for a sung melody, in its key, over its beat grid.
//!
//! A beat-level hidden Markov model in the MySong/Songsmith tradition (Simon, Morris & Basu,
//! CHI 2008). The hidden state is the chord sounding on each beat, drawn from a vocabulary
//! that grows with `weirdnessConstraint` (module `vocab`). Each beat's observation is the melody
//! heard over it: pitch classes weighted by how long they sound, by the metrical strength of
//! their onset and by their salience, scored against a chord-tone profile (module `model`); the
//! lowest note of each bar also counts as a likely root (the melody's low points meet the
//! bass), the one cue in a lone melody that tells I from iii and IV from ii. Between
//! beats the chord either stays or changes; the chance of a change depends on the metrical
//! position (bar lines first, then the half bar, weak beats rarely) and on the style's
//! harmonic rhythm, so one or two chords a bar is the habit and more appear only where the
//! melody insists. Where it changes, the style's chord habits (major and minor tables blended,
//! and for pop and ballads the East-Asian pop progressions: Canon, 4536251, royal road) and the
//! vocabulary cost decide where to.
//!
//! `audioWeight` (λ) sets the balance: the melody term is scaled by `1.3 (0.3 + 1.4 λ)` and
//! the habit term by `1.6 - 1.2 λ` (so at the default 0.65 one beat of a sung non-chord tone
//! weighs about as much as an unlikely chord change). Phrase ends (`Analysis::phrases`) pull
//! towards the cadence the phrase's final sung tone implies: the tonic on its last note and
//! the dominant just before where it ends on 1 or 3 (authentic), the dominant where it ends on
//! 2, 5 or 7 (half cadence), nothing where it ends elsewhere. On strong beats (the
//! downbeat and, in even meters, the middle of the bar) a chord must contain the sung note or
//! a tension the style allows — a hard constraint, which the vocabulary can always meet.
//!
//! Decoding runs in two passes. The first decides roots and triads. Below weirdness 0.35 it is
//! a minimum-risk decoding: each beat takes the chord with the highest posterior probability
//! (forward-backward), summed over the readings of the bar phase (the analysis's downbeat with
//! belief 0.6, the other phases sharing the rest; a major key is also read in its relative
//! minor, with 40 % of the weight), so a doubtful downbeat or an ambiguous
//! melody costs a beat where the single best path would lose a whole phrase; the chords are
//! then read off the posterior as the path with the most expected beats right less a small
//! cost per change (so near ties do not flicker beat by beat). From weirdness
//! 0.35 up, forward filtering and backward sampling at a temperature that grows with weirdness
//! (seeded). The second colours each chord (seventh, sixth, add9, ninth, sus) where the melody
//! over it supports the colour and the vocabulary offers it; a sus chord only where the singer
//! sings its suspended tone and not the third.

mod model;
mod vocab;

use bandmate_core::{
    Analysis, BeatGrid, Chord, ChordQuality, ChordSpan, Key, Mode, PitchClass, Rng,
};

/// A style's harmonic habits, as the harmoniser uses them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Habits {
    /// Typical chord changes per bar (0.5 = every two bars, 2 = every half bar).
    pub changes_per_bar: f32,
    /// Liking for sevenths, sixths and ninths, -1 (avoid) … 1 (jazz: the default colour).
    pub seventh_affinity: f32,
    /// Liking for sus chords, -1 … 1.
    pub sus_affinity: f32,
    /// Liking for added-note colours (add9, sixths), -1 … 1.
    pub add_affinity: f32,
    /// Liking for borrowed chords (bVII, bVI, iv …), -1 … 1.
    pub borrowed_affinity: f32,
    /// Pull towards the minor habits of the key pair, 0 … 1 (added to the key's own mode).
    pub minor_lean: f32,
    /// Strength of cadences at phrase ends, 0 … 1.
    pub cadence: f32,
    /// Share of the East-Asian pop progression habits (Canon, 4536251, royal road …) in the
    /// chord-to-chord habits, 0 … 1.
    pub east_asian: f32,
    /// Intervals above the root (bit n = n semitones) a melody note may sit on over a major
    /// chord on a strong beat without being a chord tone.
    pub tensions_major: u16,
    /// The same over a minor chord.
    pub tensions_minor: u16,
}

/// Bit mask of intervals.
pub(crate) const fn intervals(list: &[u8]) -> u16 {
    let mut m = 0u16;
    let mut i = 0;
    while i < list.len() {
        m |= 1 << list[i];
        i += 1;
    }
    m
}

impl Habits {
    /// The habits of the default band (pop): a chord or two a bar, triads coloured with
    /// sevenths and added ninths where the melody touches them (the everyday sound of current
    /// pop ballads, East-Asian pop above all), the added ninth as the one free tension on a
    /// strong beat, sus chords only when asked for weirder harmony, and the East-Asian pop
    /// progressions blended into the Western habits at 30 %.
    pub const POP: Habits = Habits {
        changes_per_bar: 1.5,
        seventh_affinity: 0.3,
        sus_affinity: -0.5,
        add_affinity: 0.0,
        borrowed_affinity: 0.0,
        minor_lean: 0.0,
        cadence: 0.6,
        east_asian: 0.3,
        tensions_major: intervals(&[2]),
        tensions_minor: intervals(&[2]),
    };
}

impl Default for Habits {
    /// [`Habits::POP`].
    fn default() -> Self {
        Self::POP
    }
}

/// Everything the harmoniser needs besides the analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HarmonySettings {
    /// `audioWeight`: melody against habits, 0 … 1.
    pub melody_weight: f32,
    /// `weirdnessConstraint`: vocabulary and temperature, 0 … 1.
    pub weirdness: f32,
    /// The style's habits.
    pub habits: Habits,
}

impl Default for HarmonySettings {
    fn default() -> Self {
        Self {
            melody_weight: 0.65,
            weirdness: 0.3,
            habits: Habits::default(),
        }
    }
}

/// The grid the harmony is written on: the analysis grid extended to whole bars covering
/// `[0, duration]` and every note (times may start before 0: a pickup bar).
pub fn harmony_grid(a: &Analysis) -> BeatGrid {
    let g = &a.beats;
    let bpb = usize::from(g.beats_per_bar);
    let n = g.len();
    let p0 = g.beats[1] - g.beats[0];
    let p1 = g.beats[n - 1] - g.beats[n - 2];
    let finite = a
        .notes
        .iter()
        .filter(|x| x.onset.is_finite() && x.offset.is_finite());
    let first_t = finite
        .clone()
        .map(|x| x.onset)
        .fold(0.0f64, f64::min)
        .min(g.beats[0]);
    let duration = if a.duration_s.is_finite() {
        a.duration_s
    } else {
        0.0
    };
    let last_t = finite
        .map(|x| x.offset)
        .fold(duration, f64::max)
        .max(g.beats[n - 1]);
    // extensions are capped past the arrangement limit: a longer song is refused later
    // (`ComposeError::TooLong`) instead of being allocated here
    let cap = (crate::MAX_BEATS + 64) as f64;
    let k0 = ((g.beats[0] - first_t) / p0 - 1e-9).ceil().clamp(0.0, cap) as usize;
    let fd = g.first_downbeat % bpb;
    let before = k0 + (bpb - (fd + k0) % bpb) % bpb;
    // beats after the last one so that the last beat's span reaches `last_t`
    let k1 = ((last_t - g.beats[n - 1]) / p1 - 1.0 + 1e-9)
        .ceil()
        .clamp(0.0, cap) as usize;
    let total = before + n + k1;
    let after = k1 + (bpb - total % bpb) % bpb;
    g.extended(before, after, 0.0)
}

/// Metrical strength of a beat position in a bar (Lerdahl & Jackendoff's metrical grid,
/// reduced to numbers: downbeat 1, the middle of an even bar 0.8, other beats 0.6).
pub(crate) fn beat_strength(pos: usize, bpb: usize) -> f32 {
    if pos == 0 {
        1.0
    } else if bpb >= 4 && bpb.is_multiple_of(2) && pos == bpb / 2 {
        0.8
    } else {
        0.6
    }
}

/// Whether a beat is strong (the chord must contain the melody note there).
pub fn is_strong_beat(grid: &BeatGrid, i: usize) -> bool {
    let bpb = usize::from(grid.beats_per_bar);
    let pos = grid.position_in_bar(i);
    pos == 0 || (bpb >= 4 && bpb.is_multiple_of(2) && pos == bpb / 2)
}

/// The sung note that a strong beat carries, if any: the note overlapping the window from
/// an eighth before to half a beat after the beat the most, with at least a quarter beat of
/// overlap, sung with salience >= 0.25 and lasting >= 0.1 s. Returns its pitch class.
pub fn strong_beat_note(a: &Analysis, grid: &BeatGrid, i: usize) -> Option<PitchClass> {
    let lo = grid.time_at(i as f64 - 0.125);
    let hi = grid.time_at(i as f64 + 0.5);
    let span = hi - lo;
    let mut best: Option<(f64, PitchClass)> = None;
    let start = a.notes.partition_point(|n| n.offset <= lo);
    for n in &a.notes[start..] {
        if n.onset >= hi {
            break;
        }
        if n.salience < 0.25 || n.duration() < 0.1 {
            continue;
        }
        let ov = n.offset.min(hi) - n.onset.max(lo);
        if ov >= 0.25 * span / 0.625 && best.is_none_or(|b| ov > b.0) {
            best = Some((ov, PitchClass::new(n.midi(a.tuning_cents))));
        }
    }
    best.map(|b| b.1)
}

/// Share of sung time (duration x salience) on pitch classes outside a key's scale (the
/// minor scale counted with its raised sixth and seventh).
fn out_of_key(hist: &[f64; 12], key: Key) -> f64 {
    let total: f64 = hist.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut inside = 0.0;
    for (pc, &w) in hist.iter().enumerate() {
        let iv = key.tonic.interval_to(PitchClass::new(pc as i32));
        let ok = match key.mode {
            Mode::Major => bandmate_core::MAJOR_SCALE.contains(&iv),
            Mode::Minor => bandmate_core::MINOR_SCALE.contains(&iv) || iv == 9 || iv == 11,
        };
        if ok {
            inside += w;
        }
    }
    1.0 - inside / total
}

/// The key the harmony is written in: the analysis key, unless the sung notes plainly
/// contradict it. When more than 20 % of the sung time lies outside its scale and another
/// key's scale leaves out less than half as much, the better-fitting key is used (the
/// Krumhansl–Kessler 1982 profiles choose among keys whose scales fit equally well, so a
/// relative minor is not traded for its major). This guards against a key estimate that is
/// off by a semitone (a tuning error), which would otherwise make every chord wrong.
pub fn harmony_key(a: &Analysis) -> Key {
    let mut hist = [0.0f64; 12];
    for n in &a.notes {
        hist[PitchClass::new(n.midi(a.tuning_cents)).index()] +=
            n.duration().max(0.0) * f64::from(n.salience.clamp(0.0, 1.0));
    }
    let given = out_of_key(&hist, a.key);
    if given <= 0.2 {
        return a.key;
    }
    // Krumhansl & Kessler (1982) probe-tone profiles.
    const KK_MAJOR: [f64; 12] = [
        6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
    ];
    const KK_MINOR: [f64; 12] = [
        6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
    ];
    let mut best: Option<(f64, f64, Key)> = None;
    for t in 0..12 {
        for mode in [Mode::Major, Mode::Minor] {
            let key = Key::new(PitchClass::new(t), mode);
            let out = out_of_key(&hist, key);
            let prof = if mode == Mode::Major {
                &KK_MAJOR
            } else {
                &KK_MINOR
            };
            let fit: f64 = (0..12)
                .map(|pc| hist[pc] * prof[(pc + 12 - t as usize) % 12])
                .sum();
            let better = match best {
                None => true,
                Some((bo, bf, _)) => out < bo - 1e-9 || ((out - bo).abs() <= 1e-9 && fit > bf),
            };
            if better {
                best = Some((out, fit, key));
            }
        }
    }
    match best {
        Some((out, _, key)) if out < 0.5 * given => key,
        _ => a.key,
    }
}

/// Whether a melody pitch class may sound over a chord on a strong beat: a chord tone, or a
/// tension the habits allow over a major or minor chord (intervals above the root).
pub fn allowed_over(chord: Chord, pc: PitchClass, habits: &Habits) -> bool {
    if chord.contains(pc) {
        return true;
    }
    let iv = chord.root.interval_to(pc);
    let mask = match chord.quality.triad() {
        Some(Mode::Major) => habits.tensions_major,
        Some(Mode::Minor) => habits.tensions_minor,
        None => match chord.quality {
            ChordQuality::Sus2 | ChordQuality::Sus4 | ChordQuality::Dominant7Sus4 => {
                habits.tensions_major
            }
            _ => 0,
        },
    };
    mask & (1 << iv) != 0
}

/// Relative-major tonic and the key's own minor lean (0 major, 1 minor).
fn key_pair(key: Key) -> (PitchClass, f32) {
    match key.mode {
        Mode::Major => (key.tonic, 0.0),
        Mode::Minor => (key.tonic.transpose(3), 1.0),
    }
}

/// Chance that the harmony changes on a beat at `pos` of a bar of `bpb` beats, for a style
/// that changes `rate` times a bar on average and bars `bar_s` seconds long. Changes sit on bar
/// lines first, then half bars; weak beats get a small share; [`METRIC_DOUBT`] flattens the
/// preference a little. Slow songs change more per bar
/// and fast songs less, so chords last about 1.2–4 s (typical pop harmonic rhythm).
fn change_probability(pos: usize, bpb: usize, rate: f32, bar_s: f64) -> f32 {
    let tempo_scale = ((bar_s / 2.4).sqrt() as f32).clamp(0.7, 1.4);
    let r = (rate * tempo_scale).clamp(0.25, 3.0);
    let (p_bar, p_half) = if r <= 1.0 {
        (0.2 + 0.7 * r, 0.1 * r)
    } else {
        (0.9, (0.1 + 0.6 * (r - 1.0)).min(0.85))
    };
    let p = if pos == 0 {
        p_bar
    } else if bpb >= 4 && bpb.is_multiple_of(2) && pos == bpb / 2 {
        p_half
    } else {
        0.04 * r.min(1.5)
    };
    let mean = (p_bar + p_half + 0.04 * r.min(1.5) * (bpb as f32 - 2.0)) / bpb as f32;
    (1.0 - METRIC_DOUBT) * p + METRIC_DOUBT * mean
}

/// Share of the bar-position preference given up to doubt about the downbeat: a beat
/// tracker's bar phase is often a beat or two off on a lone voice (downbeat F about 0.4 on the
/// kit's clips), and harmony written strictly on wrong bar lines is wrong for whole beats.
/// With 0.3 the bar line still leads, but a change the melody asks for on another beat costs
/// less (measured on the development clips: +0.013 chord agreement with the analysis's own
/// beats, -0.004 with the true beats).
const METRIC_DOUBT: f32 = 0.3;

/// Harmonise the analysis over `grid` (normally [`harmony_grid`]): one chord per beat,
/// merged into spans. The result covers the whole grid.
pub fn harmonize(
    a: &Analysis,
    grid: &BeatGrid,
    settings: &HarmonySettings,
    rng: &mut Rng,
) -> Vec<ChordSpan> {
    let states = decode(a, grid, settings, rng);
    spans(grid, &states)
}

/// Minimum-risk decoding: the temperature the model's scores are divided by before each
/// beat's posterior chord is taken. At 1 the scores are read as log probabilities, as they are
/// written. (Measured on the development clips: 0.5 keeps more rare chords but loses 0.03 of
/// agreement through the analysis; 0.7 is best with the true beats and notes, 0.85 to 1.5 best
/// through the analysis; see `docs/compose.md`.)
const POSTERIOR_TEMPERATURE: f32 = 1.0;

/// Belief in the analysis's bar phase when decoding: the other phases of the bar share the
/// rest. A beat tracker's downbeats on a lone voice are right about 40 % of the time (downbeat
/// F on the kit's clips) and most often half a bar off; harmony read over the wrong bar lines
/// is wrong for whole beats, so the posterior is summed over the phases.
const PHASE_BELIEF: f32 = 0.6;

/// Share of the posterior given to the relative minor when the key is read as major. POP909's
/// major songs lean on vi (15 % of their chord time) and the analysis reads some minor songs
/// as their relative major; summing in the minor reading's posterior lets vi, its cadences and
/// the minor loops win where the melody supports them, while the major reading still leads.
/// (Measured on the development clips: 0.4 gives +0.012 agreement through the analysis, ±0
/// with the true key; 0.15–0.5 all gain through the analysis. Hedging a *minor* reading towards
/// its relative major loses 0.02 at 0.3, at any weight: the minor habits and the minor tonic's
/// cadences are what carry the minor songs; see `docs/compose.md`.)
const MAJOR_HEDGE: f32 = 0.4;

/// Log weight added, per unit of the note's melody weight, to the chords whose root is the
/// pitch class of the bar's lowest sung note. A melody dips to the chord's root, which the bass
/// plays, at its low points: in POP909's melodies the lowest note of a bar is the chord's root
/// 38 % of the time against 19 % for any sung note (chord tones 76 % against 65 %; counted
/// over the 20 development songs' true notes and chords), so the root is about twice as likely
/// there: ln 2. It is the cue that tells I from iii and IV from ii where the melody sings the
/// two tones they share. (Measured on the development clips: chord agreement through the
/// analysis 0.429 → 0.447, with the true notes and beats 0.474 → 0.478; the lowest note of
/// each half bar instead 0.453 and larger weights up to 0.456, but pitch consonance then falls
/// below the human figure; see `docs/compose.md`.)
const LOWEST_NOTE_ROOT: f32 = std::f32::consts::LN_2;

/// Weight of consonance with the melody when a triad takes a colour (seventh, sixth, add9 …),
/// in log-probability units per unit of melody weight: a colour tone a second, seventh or
/// tritone from what is sung over it costs, one a third, sixth or fifth from it gains. A
/// tie-breaker between colours the melody fits about equally, not a veto. (Measured on the
/// development clips through the analysis, pitch consonance / chord coverage of the flute
/// renders: 0 0.610 / 6.35, 0.1 0.622 / 6.10, 0.15 0.625 / 6.05, 0.25 0.631 / 5.90, 0.5 0.644 /
/// 5.80, 2 0.665 / 5.30 (human 0.620 / 7.60): past 0.1 the colours that go are ones the
/// melody allowed, and variety falls under 80 % of the human figure; agreement does not move,
/// the triads are chosen before. See `docs/compose.md`.)
const COLOUR_CONSONANCE: f32 = 0.1;

/// Cost of a chord change in the minimum-risk path, in expected beats with the right chord:
/// a change must gain more than this over staying. Small, so the harmonic rhythm stays the
/// model's, but enough that near ties do not flicker beat by beat; three times as much off the
/// strong beats, where changes are rarer. (0.02 and 0.06 measured on the development clips:
/// +0.005 agreement with the true notes and beats, +0.005 through the analysis, and fewer
/// one-beat chords; 0.1 and more cost agreement and chord variety.)
const CHANGE_COST_STRONG: f64 = 0.02;
/// See [`CHANGE_COST_STRONG`].
const CHANGE_COST_WEAK: f64 = 0.06;

/// The model of the song in its key: candidates, observation profiles, transitions, start
/// weights and the beat scores that do not depend on the bar phase (strong-beat constraints
/// and cadences).
struct Scorer {
    /// The full vocabulary (every colour).
    full: Vec<vocab::Candidate>,
    /// The plain triads the first pass chooses among.
    cands: Vec<vocab::Candidate>,
    /// Scale of the key pair (plus the leading tone of the relative minor when minor).
    key_mask: u16,
    /// Log observation profile per candidate.
    prof: Vec<[f32; 12]>,
    /// Habit-scaled log transition weights between different candidates (k x k).
    trans: Vec<f32>,
    /// Start weights.
    init: Vec<f32>,
    /// Phase-independent beat scores (n x k).
    fixed: Vec<f32>,
    /// Melody and habit weights.
    w_obs: f32,
    w_hab: f32,
}

impl Scorer {
    /// The model in the harmony key, or with `relative` in its relative mode (same scale and
    /// vocabulary, the other mode's habits and cadences).
    fn new(a: &Analysis, grid: &BeatGrid, s: &HarmonySettings, relative: bool) -> Self {
        let (major_tonic, key_lean) = key_pair(harmony_key(a));
        let key_lean = if relative { 1.0 - key_lean } else { key_lean };
        let habits = s.habits;
        let lean = (key_lean * 0.85 + 0.075 + habits.minor_lean * 0.5).clamp(0.0, 1.0);
        let habits_l = Habits {
            minor_lean: lean,
            ..habits
        };
        let full = vocab::vocabulary(major_tonic, s.weirdness, &habits_l);
        // First pass on the plain triads of every family: roots and kinds.
        let cands: Vec<vocab::Candidate> = full.iter().filter(|c| c.is_plain()).copied().collect();
        let k = cands.len();
        let n = grid.len();
        let bpb = usize::from(grid.beats_per_bar);
        let lam = s.melody_weight.clamp(0.0, 1.0);
        let w_obs = 1.3 * (0.3 + 1.4 * lam);
        let w_hab = 1.6 - 1.2 * lam;

        // key mask of the relative-major scale plus the harmonic-minor leading tone when minor
        let mut key_mask = 0u16;
        for d in [0u8, 2, 4, 5, 7, 9, 11] {
            key_mask |= 1 << major_tonic.transpose(i32::from(d)).index();
        }
        if lean > 0.5 {
            key_mask |= 1 << major_tonic.transpose(8).index();
        }
        let prof: Vec<[f32; 12]> = cands
            .iter()
            .map(|c| model::observation_profile(c, key_mask))
            .collect();

        let mut fixed = vec![0.0f32; n * k];
        // strong beats: the chord must hold the sung note or a tension the style allows
        for i in 0..n {
            if is_strong_beat(grid, i)
                && let Some(pc) = strong_beat_note(a, grid, i)
            {
                let bit = 1u16 << pc.index();
                for (c, cand) in cands.iter().enumerate() {
                    if (cand.mask | cand.tension_mask) & bit == 0 {
                        fixed[i * k + c] -= HARD;
                    }
                }
            }
        }
        // cadences where a phrase's last note lands, of the kind its final sung tone implies:
        // the tonic after the dominant where it ends on 1 or 3, the dominant (a half cadence)
        // where it ends on 2, 5 or 7, none elsewhere (`model::cadence_for`)
        let targets = model::cadence_targets(lean);
        let cad = habits.cadence.clamp(0.0, 1.0) * 1.6 * w_hab;
        for ph in &a.phrases {
            if ph.end_note == 0 || ph.end_note > a.notes.len() || ph.first_note >= ph.end_note {
                continue;
            }
            let last = &a.notes[ph.end_note - 1];
            let arrive = grid.beat_at(last.onset).round().max(0.0) as usize;
            if arrive >= n {
                continue;
            }
            // the phrase's final tone: its last note sung clearly enough to trust (the
            // strong-beat rule's thresholds), so a short glitch at the end does not name it
            let final_note = a.notes[ph.first_note..ph.end_note]
                .iter()
                .rev()
                .find(|x| x.salience >= 0.25 && x.duration() >= 0.1)
                .unwrap_or(last);
            let rel = major_tonic.interval_to(PitchClass::new(final_note.midi(a.tuning_cents)));
            let ending = model::cadence_for(lean, rel);
            let until = (grid.beat_at(last.offset).floor().max(arrive as f64) as usize).min(n - 1);
            for i in arrive..=until.min(arrive + bpb) {
                for (c, cand) in cands.iter().enumerate() {
                    for &(fam, w_arr, _) in &ending {
                        if cand.family == fam {
                            fixed[i * k + c] += cad * w_arr;
                        }
                    }
                }
            }
            for i in arrive.saturating_sub(2)..arrive {
                for (c, cand) in cands.iter().enumerate() {
                    for &(fam, _, w_app) in &ending {
                        if cand.family == fam {
                            fixed[i * k + c] += 0.6 * cad * w_app;
                        }
                    }
                }
            }
        }

        // transitions between different chords (log), habit-scaled; each move is measured
        // against the row's most likely move, so the metrical change probabilities, not the
        // row's entropy, set the harmonic rhythm
        let mut trans = vec![f32::NEG_INFINITY; k * k];
        for (i, a_c) in cands.iter().enumerate() {
            let mut row: Vec<f32> = cands
                .iter()
                .enumerate()
                .map(|(j, b_c)| {
                    if i == j {
                        0.0
                    } else if a_c.family == b_c.family {
                        model::quality_change(a_c, b_c)
                    } else {
                        model::family_transition(a_c.family, b_c.family, lean, habits.east_asian)
                    }
                })
                .collect();
            let best = seen_max(&row, &cands, a_c.family).max(1e-9);
            for (j, x) in row.iter_mut().enumerate() {
                if cands[j].family != a_c.family {
                    *x /= best;
                }
            }
            for (j, b_c) in cands.iter().enumerate() {
                if i != j {
                    trans[i * k + j] = w_hab * (row[j].max(1e-6).ln() + b_c.log_prior);
                }
            }
        }
        // start: tonic families favoured, vocabulary cost paid
        let init: Vec<f32> = cands
            .iter()
            .map(|c| {
                let t: f32 = targets
                    .iter()
                    .filter(|(f, ..)| *f == c.family)
                    .map(|x| x.1)
                    .sum();
                w_hab * (c.log_prior + 1.5 * t)
            })
            .collect();
        Self {
            full,
            cands,
            key_mask,
            prof,
            trans,
            init,
            fixed,
            w_obs,
            w_hab,
        }
    }

    /// Beat scores for one reading of the bar phase: the melody heard over each beat
    /// (weighted by the metrical strength that phase gives it) plus the fixed scores.
    fn unary(&self, pcw: &[[f32; 12]], low: &[[f32; 12]]) -> Vec<f32> {
        let k = self.cands.len();
        let mut u = self.fixed.clone();
        // the bar's lowest note: twice as likely the chord's root as any note sung
        for (i, w) in low.iter().enumerate() {
            if w.iter().all(|&x| x <= 0.0) {
                continue;
            }
            for (c, cand) in self.cands.iter().enumerate() {
                u[i * k + c] += self.w_obs * LOWEST_NOTE_ROOT * w[cand.chord.root.index()];
            }
        }
        for (i, w) in pcw.iter().enumerate() {
            if w.iter().all(|&x| x <= 0.0) {
                continue;
            }
            for (c, p) in self.prof.iter().enumerate() {
                let acc: f32 = (0..12).map(|pc| w[pc] * p[pc]).sum();
                u[i * k + c] += self.w_obs * acc;
            }
        }
        u
    }
}

/// Log chance of a change and of staying, per beat, for a grid's bar phase.
fn change_logs(grid: &BeatGrid, rate: f32) -> Vec<(f32, f32)> {
    let bpb = usize::from(grid.beats_per_bar);
    let bar_s = grid.period() * bpb as f64;
    (0..grid.len())
        .map(|i| {
            let p = change_probability(grid.position_in_bar(i), bpb, rate, bar_s);
            (p.ln(), (1.0 - p).ln())
        })
        .collect()
}

/// The chord per beat.
fn decode(a: &Analysis, grid: &BeatGrid, s: &HarmonySettings, rng: &mut Rng) -> Vec<Chord> {
    decode_with(a, grid, s, COLOUR_CONSONANCE, rng)
}

/// [`decode`] with the colour pass's weight on consonance with the melody given.
fn decode_with(
    a: &Analysis,
    grid: &BeatGrid,
    s: &HarmonySettings,
    clash_weight: f32,
    rng: &mut Rng,
) -> Vec<Chord> {
    let sc = Scorer::new(a, grid, s, false);
    let k = sc.cands.len();
    let n = grid.len();
    let bpb = usize::from(grid.beats_per_bar);
    let rate = s.habits.changes_per_bar;
    let pcw = melody_per_beat(a, grid);
    let low = lowest_per_bar(a, grid);

    let temperature = if s.weirdness < 0.35 {
        0.0
    } else {
        (s.weirdness - 0.3) * 1.2
    };
    let triads: Vec<usize> = if temperature > 0.0 {
        let unary = sc.unary(&pcw, &low);
        let change = change_logs(grid, rate);
        sample(&unary, &sc.trans, &change, &sc.init, n, k, temperature, rng)
    } else {
        // Minimum-risk decoding: each beat takes the chord most likely there, summed over
        // every harmonisation the model allows (the posterior marginal, which maximises the
        // expected share of time with the right chord, where the single best path maximises
        // the chance of getting every chord right at once) and over the readings of the bar
        // phase.
        let mut post = vec![0.0f64; n * k];
        // a major reading is also heard in its relative minor (same candidates, in the same
        // order: the vocabulary does not depend on the mode)
        let hedged = (key_pair(harmony_key(a)).1 < 0.5)
            .then(|| Scorer::new(a, grid, s, true))
            .filter(|h| h.cands.len() == k);
        let readings: Vec<(&Scorer, f32)> = match &hedged {
            Some(h) => vec![(&sc, 1.0 - MAJOR_HEDGE), (h, MAJOR_HEDGE)],
            None => vec![(&sc, 1.0)],
        };
        for ph in 0..bpb {
            let w = if ph == 0 {
                PHASE_BELIEF
            } else {
                (1.0 - PHASE_BELIEF) / (bpb - 1) as f32
            };
            let (shifted, shifted_pcw, shifted_low);
            let (g, p, lw) = if ph == 0 {
                (grid, &pcw, &low)
            } else {
                let mut g = grid.clone();
                g.first_downbeat = (grid.first_downbeat + ph) % bpb;
                shifted = g;
                shifted_pcw = melody_per_beat(a, &shifted);
                shifted_low = lowest_per_bar(a, &shifted);
                (&shifted, &shifted_pcw, &shifted_low)
            };
            let change = change_logs(g, rate);
            for &(scm, wm) in &readings {
                let unary = scm.unary(p, lw);
                let m = marginals(
                    &unary,
                    &scm.trans,
                    &change,
                    &scm.init,
                    n,
                    k,
                    POSTERIOR_TEMPERATURE,
                );
                for (x, y) in post.iter_mut().zip(&m) {
                    *x += f64::from(w * wm) * y;
                }
            }
        }
        // the best path through the posterior that pays a small cost per change, so near ties
        // do not flicker beat by beat; strong-beat constraints stay hard
        let cost: Vec<f64> = (0..n)
            .map(|i| {
                if is_strong_beat(grid, i) {
                    CHANGE_COST_STRONG
                } else {
                    CHANGE_COST_WEAK
                }
            })
            .collect();
        let forbidden: Vec<bool> = sc.fixed.iter().map(|&x| x <= -0.5 * HARD).collect();
        smooth_path(&post, &forbidden, &cost, n, k)
    };
    colour(
        a,
        grid,
        &pcw,
        &triads,
        &sc.cands,
        &sc.full,
        &sc.key_mask,
        sc.w_obs,
        sc.w_hab,
        clash_weight,
        temperature,
        rng,
    )
}

/// The path that maximises the summed posterior (the expected number of beats with the right
/// chord) minus `cost[i]` for a change on beat `i`, never through a forbidden chord.
fn smooth_path(post: &[f64], forbidden: &[bool], cost: &[f64], n: usize, k: usize) -> Vec<usize> {
    let gain = |i: usize, c: usize| -> f64 {
        if forbidden[i * k + c] {
            f64::NEG_INFINITY
        } else {
            post[i * k + c]
        }
    };
    let mut score: Vec<f64> = (0..k).map(|c| gain(0, c)).collect();
    let mut back = vec![0u32; n * k];
    let mut next = vec![0.0f64; k];
    for i in 1..n {
        let (best_j, best_v) =
            score
                .iter()
                .enumerate()
                .fold((0usize, f64::NEG_INFINITY), |b, (j, &v)| {
                    if v > b.1 { (j, v) } else { b }
                });
        for c in 0..k {
            let moved = best_v - cost[i];
            let (v, from) = if score[c] >= moved || best_j == c {
                (score[c], c)
            } else {
                (moved, best_j)
            };
            next[c] = v + gain(i, c);
            back[i * k + c] = from as u32;
        }
        std::mem::swap(&mut score, &mut next);
    }
    let mut c = (0..k)
        .max_by(|&x, &y| score[x].total_cmp(&score[y]))
        .unwrap_or(0);
    let mut path = vec![0usize; n];
    for i in (0..n).rev() {
        path[i] = c;
        if i > 0 {
            c = back[i * k + c] as usize;
        }
    }
    path
}

/// Posterior marginals of every candidate on every beat (each beat's row sums to 1) by the
/// scaled forward-backward algorithm (Rabiner 1989, "A tutorial on hidden Markov models"),
/// on the scores divided by `t`.
#[allow(clippy::too_many_arguments)]
fn marginals(
    unary: &[f32],
    trans: &[f32],
    change: &[(f32, f32)],
    init: &[f32],
    n: usize,
    k: usize,
    t: f32,
) -> Vec<f64> {
    let t = f64::from(t.max(0.05));
    // transition weights between different chords, linear
    let tr: Vec<f64> = trans
        .iter()
        .map(|&x| {
            if x.is_finite() {
                (f64::from(x) / t).exp()
            } else {
                0.0
            }
        })
        .collect();
    // each beat's emission weights, scaled by the beat's best score (the scale cancels)
    let emit = |i: usize| -> Vec<f64> {
        let row = &unary[i * k..(i + 1) * k];
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.iter().map(|&x| (f64::from(x - m) / t).exp()).collect()
    };
    let normalise = |v: &mut [f64]| {
        let s: f64 = v.iter().sum();
        if s > 0.0 && s.is_finite() {
            v.iter_mut().for_each(|x| *x /= s);
        } else {
            v.iter_mut().for_each(|x| *x = 1.0 / k as f64);
        }
    };
    let mut alpha = vec![0.0f64; n * k];
    {
        let e = emit(0);
        let m = init.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for c in 0..k {
            alpha[c] = (f64::from(init[c] - m) / t).exp() * e[c];
        }
        normalise(&mut alpha[..k]);
    }
    let mut buf = vec![0.0f64; k];
    for i in 1..n {
        let (lc, ls) = change[i];
        let (pc, ps) = ((f64::from(lc) / t).exp(), (f64::from(ls) / t).exp());
        let e = emit(i);
        let (done, rest) = alpha.split_at_mut(i * k);
        let prev = &done[(i - 1) * k..];
        for c in 0..k {
            let moved: f64 = (0..k).map(|j| prev[j] * tr[j * k + c]).sum();
            buf[c] = e[c] * (ps * prev[c] + pc * moved);
        }
        rest[..k].copy_from_slice(&buf);
        normalise(&mut rest[..k]);
    }
    let mut beta = vec![1.0f64; n * k];
    for i in (0..n.saturating_sub(1)).rev() {
        let (lc, ls) = change[i + 1];
        let (pc, ps) = ((f64::from(lc) / t).exp(), (f64::from(ls) / t).exp());
        let e = emit(i + 1);
        let (done, later) = beta.split_at_mut((i + 1) * k);
        let next = &later[..k];
        for j in 0..k {
            let moved: f64 = (0..k).map(|c| tr[j * k + c] * e[c] * next[c]).sum();
            buf[j] = ps * e[j] * next[j] + pc * moved;
        }
        done[i * k..].copy_from_slice(&buf);
        normalise(&mut done[i * k..]);
    }
    let mut post: Vec<f64> = alpha.iter().zip(&beta).map(|(x, y)| x * y).collect();
    for row in post.chunks_mut(k) {
        normalise(row);
    }
    post
}

fn is_sus(q: ChordQuality) -> bool {
    matches!(
        q,
        ChordQuality::Sus2 | ChordQuality::Sus4 | ChordQuality::Dominant7Sus4
    )
}

/// Share of the melody weight on the third of a triad.
fn third_share(triad: Chord, hist: &[f32; 12]) -> f32 {
    let total: f32 = hist.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let third = triad.quality.intervals().get(1).copied().unwrap_or(4);
    hist[triad.root.transpose(i32::from(third)).index()] / total
}

/// Whether the melody asks for a sus chord over a triad's span: it sings the suspended tone
/// (the 2nd or 4th) for at least 15 % of the span and leaves out the third.
fn sus_sung(sus: Chord, triad: Chord, hist: &[f32; 12]) -> bool {
    let total: f32 = hist.iter().sum();
    if total <= 0.0 {
        return false;
    }
    let tone = sus
        .pitch_classes()
        .into_iter()
        .find(|&pc| !triad.contains(pc) && matches!(sus.root.interval_to(pc), 2 | 5));
    tone.is_some_and(|pc| hist[pc.index()] / total >= 0.15) && third_share(triad, hist) <= 0.02
}

/// Second pass: each run of one triad may take a colour of its family (seventh, sixth, add9,
/// sus …) where the melody over it supports the colour and the vocabulary allows it. A sus
/// chord drops the third, so it is only taken when every strong-beat note of the run is
/// still a chord tone or an allowed tension of it.
#[allow(clippy::too_many_arguments)]
fn colour(
    a: &Analysis,
    grid: &BeatGrid,
    pcw: &[[f32; 12]],
    triads: &[usize],
    cands: &[vocab::Candidate],
    full: &[vocab::Candidate],
    key_mask: &u16,
    w_obs: f32,
    w_hab: f32,
    clash_weight: f32,
    temperature: f32,
    rng: &mut Rng,
) -> Vec<Chord> {
    let n = triads.len();
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && triads[j] == triads[i] {
            j += 1;
        }
        let base = &cands[triads[i]];
        let mut hist = [0.0f32; 12];
        for w in &pcw[i..j] {
            for pc in 0..12 {
                hist[pc] += w[pc];
            }
        }
        let strong: Vec<u16> = (i..j)
            .filter(|&b| is_strong_beat(grid, b))
            .filter_map(|b| strong_beat_note(a, grid, b))
            .map(|pc| 1u16 << pc.index())
            .collect();
        let base_consonance = consonance(base.mask, &hist);
        let options: Vec<(&vocab::Candidate, f32)> = full
            .iter()
            .filter(|c| c.family == base.family)
            .filter(|c| {
                strong
                    .iter()
                    .all(|&bit| (c.mask | c.tension_mask) & bit != 0)
            })
            // a sus chord is only taken where the melody sings its suspended tone and leaves
            // out the third it replaces (the fourth against a sung third is the clash the
            // suspension avoids)
            .filter(|c| !is_sus(c.chord.quality) || sus_sung(c.chord, base.chord, &hist))
            .map(|c| {
                let prof = model::observation_profile(c, *key_mask);
                let fit: f32 = (0..12).map(|pc| hist[pc] * prof[pc]).sum();
                let clash = consonance(c.mask, &hist) - base_consonance;
                (
                    c,
                    w_obs * (fit + clash_weight * clash) + w_hab * c.log_prior,
                )
            })
            .collect();
        let pick = if options.is_empty() {
            base.chord
        } else if temperature <= 0.0 {
            options
                .iter()
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .map_or(base.chord, |o| o.0.chord)
        } else {
            let m = options
                .iter()
                .map(|o| o.1)
                .fold(f32::NEG_INFINITY, f32::max);
            let p: Vec<f64> = options
                .iter()
                .map(|o| f64::from(((o.1 - m) / temperature).exp()))
                .collect();
            options[rng.weighted(&p)].0.chord
        };
        out.extend(std::iter::repeat_n(pick, j - i));
        i = j;
    }
    out
}

/// Consonance of a sung pitch class against one chord tone, by the interval from the chord
/// tone up to the sung note: unison, thirds, fifth and sixths consonant (+1), the fourth
/// neutral, seconds, sevenths and the tritone dissonant (−1).
const CONSONANCE: [f32; 12] = [
    1.0, -1.0, -1.0, 1.0, 1.0, 0.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0,
];

/// How consonant a chord (pitch-class mask) is with the melody weights over it: the sum over
/// sung pitch classes of their weight times the mean consonance against the chord's tones.
/// A colour tone a second or seventh from what is sung (a major seventh under a sung root,
/// an added ninth against a sung third) lowers it: the clash voicing books tell players to
/// avoid.
fn consonance(mask: u16, hist: &[f32; 12]) -> f32 {
    let tones = mask.count_ones();
    if tones == 0 {
        return 0.0;
    }
    let mut sum = 0.0;
    for (pc, &w) in hist.iter().enumerate() {
        if w > 0.0 {
            let c: f32 = (0..12)
                .filter(|t| mask & (1 << t) != 0)
                .map(|t| CONSONANCE[(pc + 12 - t) % 12])
                .sum();
            sum += w * c / tones as f32;
        }
    }
    sum
}

/// The largest transition weight from a row to another family.
fn seen_max(row: &[f32], cands: &[vocab::Candidate], from: vocab::Family) -> f32 {
    row.iter()
        .zip(cands)
        .filter(|(_, c)| c.family != from)
        .map(|(x, _)| *x)
        .fold(0.0, f32::max)
}

/// A hard-constraint penalty (finite so arithmetic stays clean).
const HARD: f32 = 1.0e4;

/// Pitch-class weights per beat: each note adds its overlap with the beat (in beats) times the
/// metrical strength of its onset times its salience. A note that starts off the beat and
/// sustains over a stronger beat (an anticipation, common in pop) is weighed by that beat.
fn melody_per_beat(a: &Analysis, grid: &BeatGrid) -> Vec<[f32; 12]> {
    let mut pcw = vec![[0.0f32; 12]; grid.len()];
    for note in &a.notes {
        add_note(a, grid, note, &mut pcw);
    }
    pcw
}

/// Adds one note's weight to the beats it sounds over (see [`melody_per_beat`]).
fn add_note(a: &Analysis, grid: &BeatGrid, note: &bandmate_core::Note, pcw: &mut [[f32; 12]]) {
    let n = grid.len();
    let bpb = usize::from(grid.beats_per_bar);
    let ob = grid.beat_at(note.onset);
    let fb = grid.beat_at(note.offset);
    if fb <= ob || fb <= 0.0 {
        return;
    }
    let pc = PitchClass::new(note.midi(a.tuning_cents)).index();
    let frac = ob - ob.floor();
    let near = ob.round();
    let onset_strength = |b: f64| -> f32 {
        let bi = b.rem_euclid(n.max(1) as f64) as usize;
        beat_strength(grid.position_in_bar(bi.min(n - 1)), bpb)
    };
    let mut acc = if (ob - near).abs() < 0.125 {
        onset_strength(near)
    } else if (frac - 0.5).abs() < 0.125 {
        0.5
    } else {
        0.4
    };
    // anticipation: a note crossing the next beat early in its life takes that beat's weight
    let next = ob.floor() + 1.0;
    if next < fb && next - ob < 0.6 {
        acc = acc.max(0.9 * onset_strength(next));
    }
    let weight = acc * note.salience.clamp(0.05, 1.0);
    let first = ob.floor().max(0.0) as usize;
    let last = (fb.ceil() as usize).min(n);
    for (i, slot) in pcw.iter_mut().enumerate().take(last).skip(first) {
        let ov = fb.min(i as f64 + 1.0) - ob.max(i as f64);
        if ov > 0.0 {
            slot[pc] += weight * ov as f32;
        }
    }
}

/// The weights of each bar's lowest sung note (the bar of the beat nearest its onset; salience
/// at least 0.25, at least 0.1 s long), on the beats it sounds over, weighed as in
/// [`melody_per_beat`]; the other pitch classes stay 0. See [`LOWEST_NOTE_ROOT`].
fn lowest_per_bar(a: &Analysis, grid: &BeatGrid) -> Vec<[f32; 12]> {
    let n = grid.len();
    let mut low = vec![[0.0f32; 12]; n];
    let mut lowest: Vec<Option<&bandmate_core::Note>> = vec![None; n];
    for note in &a.notes {
        if note.salience < 0.25 || note.duration() < 0.1 || !note.onset.is_finite() {
            continue;
        }
        let b = grid.beat_at(note.onset).round();
        if b < 0.0 || b >= n as f64 {
            continue;
        }
        let b = b as usize;
        let bar = b - grid.position_in_bar(b).min(b);
        if lowest[bar].is_none_or(|l| note.pitch < l.pitch) {
            lowest[bar] = Some(note);
        }
    }
    for note in lowest.into_iter().flatten() {
        add_note(a, grid, note, &mut low);
    }
    low
}

fn log_sum_exp(xs: impl Iterator<Item = f32> + Clone) -> f32 {
    let m = xs.clone().fold(f32::NEG_INFINITY, f32::max);
    if !m.is_finite() {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f32>().ln()
}

/// Forward filtering, backward sampling at `temperature` (scores divided by it).
#[allow(clippy::too_many_arguments)]
fn sample(
    unary: &[f32],
    trans: &[f32],
    change: &[(f32, f32)],
    init: &[f32],
    n: usize,
    k: usize,
    temperature: f32,
    rng: &mut Rng,
) -> Vec<usize> {
    let t = temperature.max(0.05);
    let step = |j: usize, c: usize, i: usize| -> f32 {
        let (lc, ls) = change[i];
        if j == c { ls } else { lc + trans[j * k + c] }
    };
    let mut alpha = vec![0.0f32; n * k];
    for c in 0..k {
        alpha[c] = (init[c] + unary[c]) / t;
    }
    for i in 1..n {
        for c in 0..k {
            let prev = &alpha[(i - 1) * k..i * k];
            let v = log_sum_exp((0..k).map(|j| prev[j] + step(j, c, i) / t));
            alpha[i * k + c] = v + unary[i * k + c] / t;
        }
    }
    let mut path = vec![0usize; n];
    let draw = |weights: Vec<f32>, rng: &mut Rng| -> usize {
        let m = weights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let p: Vec<f64> = weights.iter().map(|&x| f64::from((x - m).exp())).collect();
        rng.weighted(&p)
    };
    path[n - 1] = draw(alpha[(n - 1) * k..n * k].to_vec(), rng);
    for i in (0..n - 1).rev() {
        let c = path[i + 1];
        let w: Vec<f32> = (0..k)
            .map(|j| alpha[i * k + j] + step(j, c, i + 1) / t)
            .collect();
        path[i] = draw(w, rng);
    }
    path
}

/// Merge per-beat chords into spans over the grid; the last beat lasts one period.
fn spans(grid: &BeatGrid, chords: &[Chord]) -> Vec<ChordSpan> {
    let n = grid.len();
    let mut out: Vec<ChordSpan> = Vec::new();
    for (i, &c) in chords.iter().enumerate() {
        let start = grid.beats[i];
        let end = if i + 1 < n {
            grid.beats[i + 1]
        } else {
            grid.beats[n - 1] + (grid.beats[n - 1] - grid.beats[n - 2])
        };
        match out.last_mut() {
            Some(last) if last.chord == Some(c) => last.end = end,
            _ => out.push(ChordSpan {
                start,
                end,
                chord: Some(c),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force posterior of a tiny chain: every path scored, marginals summed.
    fn brute_marginals(
        unary: &[f32],
        trans: &[f32],
        change: &[(f32, f32)],
        init: &[f32],
        n: usize,
        k: usize,
    ) -> Vec<f64> {
        let mut post = vec![0.0f64; n * k];
        let mut total = 0.0f64;
        for code in 0..k.pow(n as u32) {
            let path: Vec<usize> = (0..n).map(|i| (code / k.pow(i as u32)) % k).collect();
            let mut s = f64::from(init[path[0]] + unary[path[0]]);
            for i in 1..n {
                let (a, b) = (path[i - 1], path[i]);
                let (lc, ls) = change[i];
                s += f64::from(if a == b { ls } else { lc + trans[a * k + b] });
                s += f64::from(unary[i * k + b]);
            }
            let w = s.exp();
            total += w;
            for (i, &c) in path.iter().enumerate() {
                post[i * k + c] += w;
            }
        }
        post.iter().map(|x| x / total).collect()
    }

    #[test]
    fn forward_backward_matches_brute_force() {
        let mut rng = Rng::new(7);
        for _ in 0..20 {
            let (n, k) = (4, 3);
            let unary: Vec<f32> = (0..n * k).map(|_| rng.range(-3.0, 0.0) as f32).collect();
            let mut trans: Vec<f32> = (0..k * k).map(|_| rng.range(-2.0, 0.0) as f32).collect();
            for c in 0..k {
                trans[c * k + c] = f32::NEG_INFINITY;
            }
            let change: Vec<(f32, f32)> = (0..n)
                .map(|_| {
                    let p = rng.range(0.1, 0.9) as f32;
                    (p.ln(), (1.0 - p).ln())
                })
                .collect();
            let init: Vec<f32> = (0..k).map(|_| rng.range(-1.0, 0.0) as f32).collect();
            let fast = marginals(&unary, &trans, &change, &init, n, k, 1.0);
            let slow = brute_marginals(&unary, &trans, &change, &init, n, k);
            for (f, s) in fast.iter().zip(&slow) {
                assert!((f - s).abs() < 1e-6, "{fast:?} vs {slow:?}");
            }
        }
    }

    /// An analysis hearing `notes` (beat, length in beats, MIDI) exactly, in C major at
    /// 100 BPM in 4/4, `bars` bars, no phrases.
    fn heard(notes: &[(f64, f64, i32)], bars: usize) -> Analysis {
        let spb = 0.6;
        let grid = BeatGrid::new((0..bars * 4).map(|i| i as f64 * spb).collect(), 4, 0)
            .expect("valid grid");
        Analysis {
            duration_s: (bars * 4) as f64 * spb,
            tuning_cents: 0.0,
            f0: bandmate_core::F0Track {
                hop_s: 0.01,
                hz: vec![],
                voicing: vec![],
            },
            loudness: bandmate_core::Envelope {
                hop_s: 0.01,
                db: vec![],
            },
            notes: notes
                .iter()
                .map(|&(b, l, m)| bandmate_core::Note {
                    onset: b * spb,
                    offset: (b + l) * spb,
                    pitch: m as f32,
                    salience: 1.0,
                })
                .collect(),
            phrases: vec![],
            onsets: vec![],
            tempo_bpm: 100.0,
            beats: grid,
            key: Key::new(PitchClass::C, Mode::Major),
            key_confidence: 0.9,
        }
    }

    #[test]
    fn lowest_note_of_the_bar_is_heard_as_the_root() {
        // every bar sings E then G (half notes): C major and E minor both hold them; only the
        // register tells them apart, and the bar's lowest note is likely the root
        let bars = 8;
        let tune = |e: i32, g: i32| -> Vec<(f64, f64, i32)> {
            (0..bars)
                .flat_map(|b| [(b as f64 * 4.0, 2.0, e), (b as f64 * 4.0 + 2.0, 2.0, g)])
                .collect()
        };
        let count_root = |a: &Analysis, root: PitchClass| -> usize {
            let grid = harmony_grid(a);
            let chords = decode(a, &grid, &HarmonySettings::default(), &mut Rng::new(1));
            chords.iter().filter(|c| c.root == root).count()
        };
        let e = PitchClass::new(4);
        // E4 under G4: E is the low point; E5 over G4: G is
        let low_e = count_root(&heard(&tune(64, 67), bars), e);
        let high_e = count_root(&heard(&tune(76, 67), bars), e);
        assert!(
            low_e > high_e,
            "E-rooted beats: {low_e} with E low, {high_e} with E high"
        );
        // the cue takes the bar's lowest note only, nothing quieter or shorter than a blip
        let mut a = heard(&[(0.0, 1.0, 67), (1.0, 1.0, 64), (2.0, 0.1, 50)], 2);
        a.notes[2].salience = 0.1;
        let grid = harmony_grid(&a);
        let low = lowest_per_bar(&a, &grid);
        let heard_pcs: Vec<usize> = low
            .iter()
            .flat_map(|w| (0..12).filter(|&pc| w[pc] > 0.0))
            .collect();
        assert_eq!(heard_pcs, [4], "{low:?}");
    }

    #[test]
    fn consonance_scores_each_sung_note_against_every_chord_tone() {
        let c = |q| Chord::new(PitchClass::C, q).mask();
        let mut sung_c = [0.0f32; 12];
        sung_c[0] = 2.0;
        // C over C–E–G: unison +1, a minor sixth above E +1, a fourth above G 0
        assert!((consonance(c(ChordQuality::Major), &sung_c) - 2.0 * 2.0 / 3.0).abs() < 1e-6);
        // a major seventh under the sung root is the clash: (1 + 1 + 0 − 1) / 4
        assert!((consonance(c(ChordQuality::Major7), &sung_c) - 2.0 * 0.25).abs() < 1e-6);
        // the sixth is a minor third under it: (1 + 1 + 0 + 1) / 4
        assert!((consonance(c(ChordQuality::Major6), &sung_c) - 2.0 * 0.75).abs() < 1e-6);
        assert_eq!(consonance(0, &sung_c), 0.0);
    }

    #[test]
    fn colours_are_chosen_for_consonance_with_the_melody() {
        // the same triads either way; with the weight on, the colours they take sound better
        // against the tune over them and at least one song's colours change
        let (mut with_total, mut without_total, mut changed) = (0.0, 0.0, 0);
        for seed in 0..12 {
            let key = Key::new(PitchClass::new((seed * 5 % 12) as i32), Mode::Major);
            let a = bandmate_testkit::Melody::generate(key, 96.0, 4, 16, seed).analysis();
            let grid = harmony_grid(&a);
            let s = HarmonySettings::default();
            let with = decode_with(&a, &grid, &s, COLOUR_CONSONANCE, &mut Rng::new(seed));
            let without = decode_with(&a, &grid, &s, 0.0, &mut Rng::new(seed));
            // (a colour keeps its family's root)
            assert!(
                with.iter()
                    .map(|c| c.root)
                    .eq(without.iter().map(|c| c.root))
            );
            let pcw = melody_per_beat(&a, &grid);
            let heard = |chords: &[Chord]| -> f32 {
                chords
                    .iter()
                    .zip(&pcw)
                    .map(|(c, w)| consonance(c.mask(), w))
                    .sum()
            };
            let (w, wo) = (heard(&with), heard(&without));
            assert!(w >= wo - 1e-3, "seed {seed}: {w} with, {wo} without");
            with_total += w;
            without_total += wo;
            changed += usize::from(with != without);
        }
        assert!(changed > 0 && with_total > without_total);
    }

    #[test]
    fn smooth_path_trades_expected_beats_against_changes() {
        // two chords, a one-beat lean towards chord 1 in the middle of chord 0
        let post = [0.9, 0.1, 0.9, 0.1, 0.45, 0.55, 0.9, 0.1, 0.9, 0.1];
        let free = [false; 10];
        let (n, k) = (5, 2);
        // no cost: the per-beat best
        assert_eq!(smooth_path(&post, &free, &[0.0; 5], n, k), [0, 0, 1, 0, 0]);
        // a small cost removes the flicker (0.1 gained < two changes)
        assert_eq!(smooth_path(&post, &free, &[0.06; 5], n, k), [0, 0, 0, 0, 0]);
        // a forbidden chord is never taken, whatever the cost
        let mut forbidden = free;
        forbidden[2 * k] = true;
        assert_eq!(smooth_path(&post, &forbidden, &[5.0; 5], n, k)[2], 1);
    }
}
