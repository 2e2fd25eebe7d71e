//! A synthetic singer: renders a melody as a voice-like signal with the imperfections of real
//! singing, and keeps the ground truth.
//!
//! Source-filter synthesis: a band-limited glottal source (PolyBLEP sawtooth through a one-pole
//! tilt, about -12 dB/octave like a modal voice) shaped by three formant resonators that move
//! from vowel to vowel, note by note. On top: vibrato that fades in on long notes (5–6.5 Hz,
//! ±20–60 cents, Sundberg 1987), slow pitch drift, scoops from below into notes, overshoot-free
//! glides between legato notes, onset timing jitter, a global tuning offset, consonant noise
//! bursts before vowels, breaths between phrases, a room noise floor and a small Schroeder
//! reverb. Everything is seeded: the same melody, settings and seed give the same samples.

use std::f64::consts::{PI, TAU};

use bandmate_core::{Analysis, BeatGrid, Envelope, F0Track, Key, Mode, Note, PitchClass, Rng};

/// One note of a melody on a beat grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MelodyNote {
    /// Onset in beats from the first beat.
    pub beat: f64,
    /// Length in beats.
    pub beats: f64,
    /// MIDI note number.
    pub midi: i32,
}

/// A melody with its meter, tempo and key.
#[derive(Debug, Clone, PartialEq)]
pub struct Melody {
    /// The notes, in time order, not overlapping.
    pub notes: Vec<MelodyNote>,
    /// Tempo in BPM.
    pub bpm: f64,
    /// Beats per bar.
    pub beats_per_bar: u32,
    /// The key it was written in.
    pub key: Key,
    /// Seconds of silence before beat 0.
    pub lead_in_s: f64,
    /// Number of bars (the grid length).
    pub bars: u32,
}

/// Rhythm cells of one bar in 4/4 (beat offset, length), the building blocks of the generator.
const CELLS_4: &[&[(f64, f64)]] = &[
    &[(0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, 1.0)],
    &[(0.0, 1.5), (1.5, 0.5), (2.0, 2.0)],
    &[
        (0.0, 0.5),
        (0.5, 0.5),
        (1.0, 1.0),
        (2.0, 0.5),
        (2.5, 0.5),
        (3.0, 1.0),
    ],
    &[(0.0, 1.0), (1.0, 0.5), (1.5, 0.5), (2.0, 1.5), (3.5, 0.5)],
    &[(0.0, 2.0), (2.0, 1.0), (3.0, 1.0)],
    &[(0.5, 0.5), (1.0, 0.5), (1.5, 0.5), (2.0, 1.0), (3.0, 1.0)],
    &[
        (0.0, 0.75),
        (0.75, 0.25),
        (1.0, 1.0),
        (2.0, 0.75),
        (2.75, 0.25),
        (3.0, 1.0),
    ],
];
/// Phrase-ending cells in 4/4: a long note from the downbeat.
const END_CELLS_4: &[&[(f64, f64)]] = &[&[(0.0, 3.0)], &[(0.0, 1.0), (1.0, 2.5)], &[(0.0, 2.0)]];
/// Rhythm cells of one bar in 3/4.
const CELLS_3: &[&[(f64, f64)]] = &[
    &[(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)],
    &[(0.0, 2.0), (2.0, 1.0)],
    &[(0.0, 1.5), (1.5, 0.5), (2.0, 1.0)],
    &[(0.0, 1.0), (1.0, 0.5), (1.5, 0.5), (2.0, 1.0)],
];
/// Phrase-ending cells in 3/4.
const END_CELLS_3: &[&[(f64, f64)]] = &[&[(0.0, 2.5)], &[(0.0, 1.0), (1.0, 1.5)]];

impl Melody {
    /// A generated song melody: `bars` bars in `key` at `bpm`, phrases of four bars over a
    /// I–V–vi–IV (major) or i–VI–III–VII (minor) progression, chord tones on strong beats,
    /// stepwise motion between them, long notes at phrase ends on stable degrees, and rests
    /// between phrases.
    pub fn generate(key: Key, bpm: f64, beats_per_bar: u32, bars: u32, seed: u64) -> Melody {
        let mut rng = Rng::new(seed).fork("melody");
        let scale = key.scale();
        // Chord roots as scale degrees (0-based) per bar of a 4-bar phrase.
        let prog: [usize; 4] = match key.mode {
            Mode::Major => [0, 4, 5, 3],
            Mode::Minor => [0, 5, 2, 6],
        };
        // Centre the melody around the 4th octave (a comfortable range for either voice).
        let tonic_midi = 60 + key.tonic.index() as i32 - if key.tonic.index() > 6 { 12 } else { 0 };
        let degree_to_midi = |deg: i32| -> i32 {
            let oct = deg.div_euclid(7);
            tonic_midi + 12 * oct + i32::from(scale[deg.rem_euclid(7) as usize])
        };
        let (cells, ends) = if beats_per_bar == 3 {
            (CELLS_3, END_CELLS_3)
        } else {
            (CELLS_4, END_CELLS_4)
        };
        let mut notes = Vec::new();
        let mut deg: i32 = 4; // start on the fifth above the tonic
        for bar in 0..bars {
            let phrase_pos = bar % 4;
            let chord_root = prog[phrase_pos as usize] as i32;
            let chord_tones = [chord_root, chord_root + 2, chord_root + 4];
            let end_of_phrase = phrase_pos == 3;
            let cell: &[(f64, f64)] = if end_of_phrase {
                ends[rng.below(ends.len())]
            } else {
                cells[rng.below(cells.len())]
            };
            for (k, &(off, len)) in cell.iter().enumerate() {
                let strong = off.fract() == 0.0 && (off == 0.0 || off as u32 * 2 == beats_per_bar);
                let target = if end_of_phrase && k + 1 == cell.len() {
                    // phrase end: tonic, or the fifth/third for half cadences
                    let stable = [0, 2, 4, 7];
                    let c = stable[rng.below(stable.len())];
                    nearest_with_pc(deg, c, 7)
                } else if strong {
                    let c = chord_tones[rng.below(3)];
                    nearest_with_pc(deg, c, 7)
                } else {
                    deg + [-2, -1, -1, 1, 1, 2][rng.below(6)]
                };
                deg = target.clamp(-3, 10);
                notes.push(MelodyNote {
                    beat: f64::from(bar * beats_per_bar) + off,
                    beats: len * if len >= 1.0 { 0.92 } else { 0.98 },
                    midi: degree_to_midi(deg),
                });
            }
        }
        Melody {
            notes,
            bpm,
            beats_per_bar,
            key,
            lead_in_s: 0.6,
            bars,
        }
    }

    /// An ascending and descending major scale, one note per beat, in 4/4.
    pub fn scale(tonic_midi: i32, bpm: f64) -> Melody {
        let steps = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2, 0, 0];
        let notes = steps
            .iter()
            .enumerate()
            .map(|(i, &s)| MelodyNote {
                beat: i as f64,
                beats: 0.9,
                midi: tonic_midi + s,
            })
            .collect();
        Melody {
            notes,
            bpm,
            beats_per_bar: 4,
            key: Key::new(PitchClass::new(tonic_midi), Mode::Major),
            lead_in_s: 0.5,
            bars: 4,
        }
    }

    /// Length of the grid in seconds, lead-in included.
    pub fn duration_s(&self) -> f64 {
        self.lead_in_s + f64::from(self.bars * self.beats_per_bar) * 60.0 / self.bpm
    }

    /// An analysis that hears this melody exactly: its notes, beats, tempo and key, a flat
    /// loudness envelope and no phrases (the arranger derives them from the notes). For
    /// tests that need an arrangement without running the analysis.
    pub fn analysis(&self) -> Analysis {
        let spb = 60.0 / self.bpm;
        let beats = (self.bars * self.beats_per_bar).max(2) as usize;
        let grid = BeatGrid::new(
            (0..beats)
                .map(|i| self.lead_in_s + i as f64 * spb)
                .collect(),
            self.beats_per_bar.clamp(2, 12) as u8,
            0,
        )
        .expect("an increasing grid");
        let notes = self
            .notes
            .iter()
            .map(|n| Note {
                onset: self.lead_in_s + n.beat * spb,
                offset: self.lead_in_s + (n.beat + n.beats) * spb,
                pitch: n.midi as f32,
                salience: 1.0,
            })
            .collect();
        let duration_s = self.duration_s() + spb;
        let hop_s = 0.01;
        Analysis {
            duration_s,
            tuning_cents: 0.0,
            f0: F0Track {
                hop_s,
                hz: vec![],
                voicing: vec![],
            },
            loudness: Envelope {
                hop_s,
                db: vec![-20.0; (duration_s / hop_s) as usize],
            },
            notes,
            phrases: vec![],
            onsets: vec![],
            tempo_bpm: self.bpm,
            beats: grid,
            key: self.key,
            key_confidence: 0.9,
        }
    }
}

/// The degree nearest to `from` whose pitch class (mod `n`) equals `pc`.
fn nearest_with_pc(from: i32, pc: i32, n: i32) -> i32 {
    let base = from - (from - pc).rem_euclid(n);
    [base, base + n]
        .into_iter()
        .min_by_key(|d| (d - from).abs())
        .unwrap_or(base)
}

/// How the singer sings.
#[derive(Debug, Clone, PartialEq)]
pub struct SingerSettings {
    /// Output sample rate.
    pub rate: u32,
    /// Peak vibrato extent in cents (± around the note).
    pub vibrato_cents: f64,
    /// Vibrato rate in Hz.
    pub vibrato_hz: f64,
    /// Standard deviation of each note's pitch error in cents.
    pub note_error_cents: f64,
    /// Slow random drift of pitch in cents (standard deviation).
    pub drift_cents: f64,
    /// Probability of scooping into a note from below.
    pub scoop_probability: f64,
    /// Depth of a scoop in cents.
    pub scoop_cents: f64,
    /// Standard deviation of onset timing in milliseconds.
    pub jitter_ms: f64,
    /// Global tuning offset in cents against A4 = 440 Hz.
    pub tuning_cents: f64,
    /// Consonant noise before vowels.
    pub consonants: bool,
    /// Breaths between phrases.
    pub breaths: bool,
    /// Reverb wet level, 0 dry … 0.5 very roomy.
    pub reverb: f32,
    /// Room noise floor in dBFS.
    pub noise_dbfs: f64,
    /// Formant scale: 1.0 an adult male tract, about 1.17 female.
    pub formant_scale: f64,
}

impl Default for SingerSettings {
    /// A realistic amateur take: noticeable vibrato, a little flat, scoops, loose timing.
    fn default() -> Self {
        Self {
            rate: 44_100,
            vibrato_cents: 45.0,
            vibrato_hz: 5.6,
            note_error_cents: 12.0,
            drift_cents: 10.0,
            scoop_probability: 0.4,
            scoop_cents: 150.0,
            jitter_ms: 18.0,
            tuning_cents: -20.0,
            consonants: true,
            breaths: true,
            reverb: 0.18,
            noise_dbfs: -62.0,
            formant_scale: 1.0,
        }
    }
}

impl SingerSettings {
    /// A clean, exact performance: no vibrato, no errors, dry, in tune.
    pub fn clean() -> Self {
        Self {
            vibrato_cents: 0.0,
            note_error_cents: 0.0,
            drift_cents: 0.0,
            scoop_probability: 0.0,
            jitter_ms: 0.0,
            tuning_cents: 0.0,
            consonants: false,
            breaths: false,
            reverb: 0.0,
            noise_dbfs: -120.0,
            ..Self::default()
        }
    }
}

/// A rendered take with its ground truth (times in seconds from the start of the audio).
#[derive(Debug, Clone)]
pub struct SungTake {
    /// Mono samples, peak about -3 dBFS.
    pub audio: Vec<f32>,
    /// Sample rate.
    pub rate: u32,
    /// Notes as sung: `(onset, offset, midi)` with the intended MIDI pitch (integer; the
    /// singer's tuning offset is in `tuning_cents`).
    pub notes: Vec<(f64, f64, f64)>,
    /// The true f0 on a 10 ms grid (0 = unvoiced).
    pub f0_hz: Vec<f32>,
    /// Beat times of the grid.
    pub beats: Vec<f64>,
    /// Downbeat times.
    pub downbeats: Vec<f64>,
    /// Tempo in BPM.
    pub bpm: f64,
    /// The key.
    pub key: Key,
    /// Global tuning offset in cents.
    pub tuning_cents: f64,
}

/// Formants (F1, F2, F3 in Hz, bandwidths) of five vowels for an adult male (Peterson &
/// Barney 1952 averages).
const VOWELS: [[f64; 3]; 5] = [
    [730.0, 1090.0, 2440.0], // a
    [530.0, 1840.0, 2480.0], // e
    [270.0, 2290.0, 3010.0], // i
    [570.0, 840.0, 2410.0],  // o
    [300.0, 870.0, 2240.0],  // u
];
const FORMANT_BW: [f64; 3] = [80.0, 100.0, 140.0];
const FORMANT_GAIN: [f64; 3] = [1.0, 0.6, 0.3];

/// A two-pole resonator (constant peak gain) whose centre can move per sample.
#[derive(Clone, Copy, Default)]
struct Resonator {
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn tick(&mut self, x: f64, f: f64, bw: f64, rate: f64) -> f64 {
        let r = (-PI * bw / rate).exp();
        let a1 = 2.0 * r * (TAU * f / rate).cos();
        let a2 = -r * r;
        let y = (1.0 - r) * x + a1 * self.y1 + a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

fn poly_blep(t: f64, dt: f64) -> f64 {
    if t < dt {
        let x = t / dt;
        x + x - x * x - 1.0
    } else if t > 1.0 - dt {
        let x = (t - 1.0) / dt;
        x * x + x + x + 1.0
    } else {
        0.0
    }
}

/// Render `melody` as a sung take.
pub fn sing(melody: &Melody, s: &SingerSettings, seed: u64) -> SungTake {
    let root = Rng::new(seed);
    let mut rng = root.fork("singer");
    let rate = f64::from(s.rate);
    let spb = 60.0 / melody.bpm;
    let dur = melody.duration_s() + 1.0;
    let n = (dur * rate) as usize;

    // Sung timing: onsets jittered, offsets follow (keep order and a minimum length).
    struct Sung {
        on: f64,
        off: f64,
        midi: f64,
        err: f64,
        scoop: f64,
        vowel: usize,
        legato: bool,
        consonant: bool,
    }
    let mut sung: Vec<Sung> = Vec::with_capacity(melody.notes.len());
    for (i, note) in melody.notes.iter().enumerate() {
        let grid_on = melody.lead_in_s + note.beat * spb;
        let grid_off = grid_on + note.beats * spb;
        let mut on = grid_on + rng.normal() * s.jitter_ms / 1000.0;
        if let Some(prev) = sung.last() {
            on = on.max(prev.on + 0.06);
        }
        let mut off = grid_off + rng.normal() * s.jitter_ms / 2000.0;
        if let Some(next) = melody.notes.get(i + 1) {
            let next_on = melody.lead_in_s + next.beat * spb;
            off = off.min(next_on - 0.01);
        }
        off = off.max(on + 0.05);
        let legato = sung.last().is_some_and(|p| on - p.off < 0.08);
        sung.push(Sung {
            on,
            off,
            midi: f64::from(note.midi),
            err: rng.normal() * s.note_error_cents,
            scoop: if rng.chance(s.scoop_probability) {
                s.scoop_cents * rng.range(0.6, 1.2)
            } else {
                0.0
            },
            vowel: rng.below(VOWELS.len()),
            legato,
            consonant: s.consonants && !legato && rng.chance(0.7),
        });
    }

    // Control curves on a 1 ms grid: f0 in cents (relative to MIDI 0), amplitude, formants.
    let ctl_rate = 1000.0;
    let m = (dur * ctl_rate) as usize + 2;
    let mut cents = vec![f64::NAN; m];
    let mut amp = vec![0.0f64; m];
    let mut vowel_f = vec![VOWELS[0]; m];
    let mut drift = 0.0f64;
    let drift_k = (-1.0 / (ctl_rate * 0.8)).exp(); // 0.8 s correlation time
    let mut drift_curve = vec![0.0f64; m];
    for d in drift_curve.iter_mut() {
        drift = drift * drift_k + rng.normal() * s.drift_cents * (1.0 - drift_k * drift_k).sqrt();
        *d = drift;
    }
    let vib_phase0 = rng.range(0.0, TAU);
    for (i, note) in sung.iter().enumerate() {
        let a = (note.on * ctl_rate) as usize;
        let b = ((note.off * ctl_rate) as usize).min(m - 1);
        let target = note.midi * 100.0 + s.tuning_cents + note.err;
        let prev_cents = if note.legato && i > 0 {
            Some(sung[i - 1].midi * 100.0 + s.tuning_cents + sung[i - 1].err)
        } else {
            None
        };
        let len_s = note.off - note.on;
        let vib_depth = s.vibrato_cents * rng.range(0.7, 1.2);
        let vib_rate = s.vibrato_hz * rng.range(0.92, 1.08);
        let f = VOWELS[note.vowel];
        for (k, j) in (a..=b).enumerate() {
            let t = k as f64 / ctl_rate;
            let mut c = target + drift_curve[j];
            if let Some(pc) = prev_cents {
                // legato glide: 60 ms raised-cosine from the previous pitch
                if t < 0.06 {
                    let w = 0.5 - 0.5 * (PI * t / 0.06).cos();
                    c = pc + (c - pc) * w;
                }
            } else if note.scoop > 0.0 {
                c -= note.scoop * (-t / 0.045).exp();
            }
            if len_s > 0.35 && t > 0.15 {
                let ramp = ((t - 0.15) / 0.25).min(1.0);
                c += ramp * vib_depth * (TAU * vib_rate * t + vib_phase0).sin();
            }
            cents[j] = c;
            // amplitude: 40 ms attack (legato: none), gentle decay, 50 ms release
            let att = if note.legato {
                1.0
            } else {
                (t / 0.04).min(1.0)
            };
            let rel = ((note.off - note.on - t) / 0.05).clamp(0.0, 1.0);
            let body = 1.0 - 0.25 * (t / len_s.max(0.1));
            amp[j] = att * rel * body * if i % 4 == 0 { 1.0 } else { 0.85 };
            vowel_f[j] = f;
        }
        // a short release tail after the offset, at the final pitch, so the note does not click
        let tail = (0.04 * ctl_rate) as usize;
        for j in b + 1..(b + tail).min(m) {
            if cents[j].is_nan() {
                cents[j] = cents[b];
                vowel_f[j] = f;
            }
        }
    }
    // Fill unvoiced control points with the nearest pitch so the oscillator stays smooth.
    let mut last = cents
        .iter()
        .copied()
        .find(|c| !c.is_nan())
        .unwrap_or(6000.0);
    for c in cents.iter_mut() {
        if c.is_nan() {
            *c = last;
        } else {
            last = *c;
        }
    }
    // Smooth the formant track (20 ms) so vowels glide.
    let mut smooth = vowel_f[0];
    for v in vowel_f.iter_mut() {
        for k in 0..3 {
            smooth[k] += (v[k] - smooth[k]) * 0.05;
        }
        *v = smooth;
    }

    // Audio.
    let mut out = vec![0.0f32; n];
    let mut phase = 0.0f64;
    let mut tilt = 0.0f64;
    let mut res = [Resonator::default(); 3];
    let mut noise_rng = root.fork("noise");
    for (i, o) in out.iter_mut().enumerate() {
        let tc = i as f64 / rate * ctl_rate;
        let j = (tc as usize).min(m - 2);
        let fr = tc - j as f64;
        let c = cents[j] + (cents[j + 1] - cents[j]) * fr;
        let a = amp[j] + (amp[j + 1] - amp[j]) * fr;
        let f0 = 440.0 * ((c / 100.0 - 69.0) / 12.0).exp2();
        let dt = f0 / rate;
        phase += dt;
        if phase >= 1.0 {
            phase -= 1.0;
        }
        // sawtooth with PolyBLEP, then a one-pole tilt; a little aspiration noise
        let saw = 2.0 * phase - 1.0 - poly_blep(phase, dt);
        tilt += (saw - tilt) * 0.25;
        let src = a * (tilt + 0.03 * noise_rng.normal());
        let vf = vowel_f[j];
        let mut y = 0.0;
        for k in 0..3 {
            y += FORMANT_GAIN[k]
                * res[k].tick(
                    src,
                    vf[k] * s.formant_scale,
                    FORMANT_BW[k] * s.formant_scale,
                    rate,
                );
        }
        *o = y as f32;
    }

    // Consonants: 25–70 ms noise bursts ending at the vowel onset (fricatives high, plosives
    // broad and short).
    for note in sung.iter().filter(|x| x.consonant) {
        let len = rng.range(0.025, 0.07);
        let fricative = rng.chance(0.5);
        let a0 = ((note.on - len) * rate).max(0.0) as usize;
        let a1 = ((note.on * rate) as usize).min(n);
        let mut hp = 0.0f64;
        let mut prev = 0.0f64;
        for (k, o) in out[a0..a1].iter_mut().enumerate() {
            let x = noise_rng.normal();
            // first difference = high-pass; fricatives keep more of it
            let y = if fricative {
                x - prev
            } else {
                0.6 * x + 0.4 * (x - prev)
            };
            prev = x;
            hp += (y - hp) * 0.8;
            let t = k as f64 / (a1 - a0).max(1) as f64;
            let env = if fricative {
                (PI * t).sin()
            } else {
                (-(t * 6.0)).exp()
            };
            *o += (0.035 * env * hp) as f32;
        }
    }
    // Breaths before phrases that follow a rest of more than 0.5 s.
    if s.breaths {
        for w in sung.windows(2) {
            let gap = w[1].on - w[0].off;
            if gap > 0.5 {
                let len = (gap * 0.6).min(0.45);
                let a0 = ((w[1].on - 0.08 - len) * rate) as usize;
                let a1 = (((w[1].on - 0.08) * rate) as usize).min(n);
                let mut lp = 0.0f64;
                for (k, o) in out[a0.min(a1)..a1].iter_mut().enumerate() {
                    let x = noise_rng.normal();
                    lp += (x - lp) * 0.3;
                    let t = k as f64 / (a1 - a0).max(1) as f64;
                    *o += (0.012 * (PI * t).sin() * (x - lp)) as f32;
                }
            }
        }
    }
    normalize(&mut out, 0.5);
    if s.reverb > 0.0 {
        schroeder_reverb(&mut out, s.rate, s.reverb);
    }
    if s.noise_dbfs > -119.0 {
        let g = 10f64.powf(s.noise_dbfs / 20.0);
        let mut lp = 0.0f64;
        for o in out.iter_mut() {
            lp += (noise_rng.normal() - lp) * 0.1;
            *o += (g * 3.0 * lp) as f32;
        }
    }
    normalize(&mut out, 0.707);

    // Ground truth.
    let notes = sung.iter().map(|x| (x.on, x.off, x.midi)).collect();
    let frames = (dur / 0.01) as usize;
    let mut f0_hz = vec![0.0f32; frames];
    for x in &sung {
        let a = (x.on / 0.01).ceil() as usize;
        let b = ((x.off / 0.01).floor() as usize).min(frames.saturating_sub(1));
        for (k, f) in f0_hz.iter_mut().enumerate().take(b + 1).skip(a) {
            let j = ((k as f64 * 0.01 * ctl_rate) as usize).min(m - 1);
            *f = (440.0 * ((cents[j] / 100.0 - 69.0) / 12.0).exp2()) as f32;
        }
    }
    let total_beats = melody.bars * melody.beats_per_bar;
    let beats: Vec<f64> = (0..total_beats)
        .map(|k| melody.lead_in_s + f64::from(k) * spb)
        .collect();
    let downbeats = beats
        .iter()
        .step_by(melody.beats_per_bar as usize)
        .copied()
        .collect::<Vec<_>>();
    SungTake {
        audio: out,
        rate: s.rate,
        notes,
        f0_hz,
        beats,
        downbeats,
        bpm: melody.bpm,
        key: melody.key,
        tuning_cents: s.tuning_cents,
    }
}

impl SungTake {
    /// The ground truth in the evaluation kit's format (`../shared/eval/make_inputs.py`), so
    /// `scoring.py` scores synthetic takes exactly like the POP909 renders. Note pitches are
    /// given as sung (intended MIDI plus the singer's tuning offset).
    pub fn truth_json(&self, id: &str, beats_per_bar: u32) -> String {
        let r4 = |x: f64| (x * 1e4).round() / 1e4;
        serde_json::json!({
            "id": id,
            "source": "synthetic",
            "audio": format!("audio/{id}.wav"),
            "sr": self.rate,
            "duration": r4(self.audio.len() as f64 / f64::from(self.rate)),
            "render": null,
            "song": {"id": id},
            "tempo": self.bpm,
            "beats": self.beats.iter().map(|&t| r4(t)).collect::<Vec<_>>(),
            "downbeats": self.downbeats.iter().map(|&t| r4(t)).collect::<Vec<_>>(),
            "beats_per_bar": beats_per_bar,
            "key": self.key.to_string(),
            "chords": null,
            // the pitch as sung: on the singer's own tuning grid
            "notes": self.notes.iter().map(|&(a, b, m)| [r4(a), r4(b), r4(m + self.tuning_cents / 100.0)]).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

fn normalize(v: &mut [f32], peak: f32) {
    let p = v.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    if p > 0.0 {
        let g = peak / p;
        v.iter_mut().for_each(|x| *x *= g);
    }
}

/// Schroeder reverb (four parallel combs, two series all-passes; Schroeder 1962 delays scaled
/// to the rate), mixed in at `wet`.
fn schroeder_reverb(v: &mut [f32], rate: u32, wet: f32) {
    let scale = f64::from(rate) / 44_100.0;
    let combs = [1557, 1617, 1491, 1422].map(|d| ((f64::from(d) * scale) as usize).max(1));
    let allp = [225, 556].map(|d| ((f64::from(d) * scale) as usize).max(1));
    let fb = 0.78f32;
    let mut acc = vec![0.0f32; v.len()];
    for &d in &combs {
        let mut buf = vec![0.0f32; d];
        let mut damp = 0.0f32;
        for (i, &x) in v.iter().enumerate() {
            let y = buf[i % d];
            damp = y * 0.6 + damp * 0.4;
            buf[i % d] = x + damp * fb;
            acc[i] += y * 0.25;
        }
    }
    for &d in &allp {
        let mut buf = vec![0.0f32; d];
        for (i, a) in acc.iter_mut().enumerate() {
            let b = buf[i % d];
            let y = -*a + b;
            buf[i % d] = *a + b * 0.5;
            *a = y;
        }
    }
    for (x, a) in v.iter_mut().zip(acc) {
        *x = *x * (1.0 - wet) + a * wet;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_melody_is_in_key_and_ordered() {
        let key = Key::new(PitchClass::new(7), Mode::Major);
        let m = Melody::generate(key, 96.0, 4, 8, 3);
        assert!(m.notes.len() > 16);
        assert!(
            m.notes
                .windows(2)
                .all(|w| w[0].beat + w[0].beats <= w[1].beat + 1e-9)
        );
        assert!(
            m.notes
                .iter()
                .all(|n| key.contains(PitchClass::new(n.midi)))
        );
        assert!(m.notes.iter().all(|n| (50..=84).contains(&n.midi)));
    }

    #[test]
    fn take_is_deterministic_and_bounded() {
        let m = Melody::scale(60, 100.0);
        let a = sing(
            &m,
            &SingerSettings {
                rate: 16_000,
                ..SingerSettings::default()
            },
            1,
        );
        let b = sing(
            &m,
            &SingerSettings {
                rate: 16_000,
                ..SingerSettings::default()
            },
            1,
        );
        assert_eq!(a.audio, b.audio);
        assert!(a.audio.iter().all(|x| x.is_finite() && x.abs() <= 0.71));
        assert_eq!(a.notes.len(), 16);
        assert_eq!(a.beats.len(), 16);
        assert_eq!(a.downbeats.len(), 4);
    }

    #[test]
    fn clean_take_has_exact_pitch() {
        let m = Melody::scale(57, 90.0);
        let t = sing(
            &m,
            &SingerSettings {
                rate: 16_000,
                ..SingerSettings::clean()
            },
            2,
        );
        let (on, off, midi) = t.notes[0];
        let mid = ((on + off) / 2.0 / 0.01) as usize;
        let hz = f64::from(t.f0_hz[mid]);
        assert!((hz - 220.0).abs() < 0.5, "{hz}");
        assert_eq!(midi, 57.0);
    }
}
