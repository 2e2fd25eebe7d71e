//! What the analysis hears in a vocal: the f0 track, sung notes, phrases, loudness, the beat
//! grid with its meter, and the key. All times are seconds from the start of the input file.

use serde::{Deserialize, Serialize};

use crate::{CoreError, Key};

/// Frame-wise fundamental frequency with voicing, on a fixed hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct F0Track {
    /// Seconds between frames; frame `i` is centred at `i as f64 * hop_s`.
    pub hop_s: f64,
    /// Best pitch guess per frame in hertz (also for unvoiced frames, where the tracker had a
    /// guess), `0` where there is none.
    pub hz: Vec<f32>,
    /// Probability that the frame is voiced (sung), `0..=1`.
    pub voicing: Vec<f32>,
}

impl F0Track {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.hz.len()
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.hz.is_empty()
    }

    /// Time of frame `i` in seconds.
    pub fn time(&self, i: usize) -> f64 {
        i as f64 * self.hop_s
    }

    /// Whether frame `i` is voiced (voicing probability at least one half).
    pub fn is_voiced(&self, i: usize) -> bool {
        self.voicing.get(i).is_some_and(|&v| v >= 0.5) && self.hz[i] > 0.0
    }
}

/// A frame-wise level envelope (dBFS per hop), for dynamics that follow the singer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Seconds between frames; frame `i` is centred at `i as f64 * hop_s`.
    pub hop_s: f64,
    /// Level in dBFS per frame (RMS), floored at -120.
    pub db: Vec<f32>,
}

impl Envelope {
    /// The level at time `t` (nearest frame; -120 outside).
    pub fn at(&self, t: f64) -> f32 {
        if self.hop_s <= 0.0 || t < 0.0 {
            return -120.0;
        }
        let i = (t / self.hop_s).round() as usize;
        self.db.get(i).copied().unwrap_or(-120.0)
    }

    /// Mean level over `[start, end)` in dB (mean of the power, not of the dB values).
    pub fn mean_db(&self, start: f64, end: f64) -> f32 {
        if self.hop_s <= 0.0 || end <= start {
            return -120.0;
        }
        let a = (start.max(0.0) / self.hop_s).floor() as usize;
        let b = ((end / self.hop_s).ceil() as usize).min(self.db.len());
        if a >= b {
            return -120.0;
        }
        let p: f64 = self.db[a..b]
            .iter()
            .map(|&d| 10f64.powf(f64::from(d) / 10.0))
            .sum::<f64>()
            / (b - a) as f64;
        (10.0 * p.max(1e-12).log10()) as f32
    }
}

/// One sung note.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// When the note starts (s).
    pub onset: f64,
    /// When it ends (s).
    pub offset: f64,
    /// Its pitch as sung, as a fractional MIDI note number (69.0 = A4 = 440 Hz).
    pub pitch: f32,
    /// How strongly it was sung relative to the loudest note, `0..=1`.
    pub salience: f32,
}

impl Note {
    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.offset - self.onset
    }

    /// The nearest MIDI note after removing a global tuning offset (cents).
    pub fn midi(&self, tuning_cents: f32) -> i32 {
        (self.pitch - tuning_cents / 100.0).round() as i32
    }
}

/// A phrase: a run of notes between breaths or long rests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Phrase {
    /// Onset of its first note (s).
    pub start: f64,
    /// Offset of its last note (s).
    pub end: f64,
    /// Index of its first note in `Analysis::notes`.
    pub first_note: usize,
    /// One past the index of its last note.
    pub end_note: usize,
}

/// Beats with their meter: the metrical skeleton the band plays on.
///
/// Beat `i` is a downbeat when `i >= first_downbeat` and `(i - first_downbeat)` is a multiple
/// of `beats_per_bar`; beats before `first_downbeat` are a pickup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeatGrid {
    /// Beat times in seconds, strictly increasing.
    pub beats: Vec<f64>,
    /// Beats in a bar (3 or 4 in practice; 2..=12 accepted).
    pub beats_per_bar: u8,
    /// Index of the first downbeat, `< beats_per_bar`.
    pub first_downbeat: usize,
}

impl BeatGrid {
    /// A validated grid: at least two strictly increasing finite beats, a meter of 2..=12 and
    /// a first downbeat inside the first bar.
    pub fn new(
        beats: Vec<f64>,
        beats_per_bar: u8,
        first_downbeat: usize,
    ) -> Result<Self, CoreError> {
        if beats.len() < 2 {
            return Err(CoreError::Invalid(
                "a beat grid needs at least two beats".into(),
            ));
        }
        if beats.iter().any(|t| !t.is_finite()) || beats.windows(2).any(|w| w[1] <= w[0]) {
            return Err(CoreError::Invalid(
                "beat times must be finite and strictly increasing".into(),
            ));
        }
        if !(2..=12).contains(&beats_per_bar) {
            return Err(CoreError::OutOfRange {
                what: "beats per bar",
                value: f64::from(beats_per_bar),
                min: 2.0,
                max: 12.0,
            });
        }
        if first_downbeat >= usize::from(beats_per_bar) {
            return Err(CoreError::Invalid(format!(
                "first downbeat index {first_downbeat} is not inside the first bar of {beats_per_bar} beats"
            )));
        }
        Ok(Self {
            beats,
            beats_per_bar,
            first_downbeat,
        })
    }

    /// A steady grid: `count` beats at `bpm` from `start`.
    pub fn steady(
        start: f64,
        bpm: f64,
        count: usize,
        beats_per_bar: u8,
    ) -> Result<Self, CoreError> {
        let period = 60.0 / bpm;
        Self::new(
            (0..count).map(|i| start + i as f64 * period).collect(),
            beats_per_bar,
            0,
        )
    }

    /// Number of beats.
    pub fn len(&self) -> usize {
        self.beats.len()
    }

    /// Whether the grid is empty (never, for a validated grid).
    pub fn is_empty(&self) -> bool {
        self.beats.is_empty()
    }

    /// Tempo in BPM: 60 over the median inter-beat interval.
    pub fn tempo_bpm(&self) -> f64 {
        let mut ibi: Vec<f64> = self.beats.windows(2).map(|w| w[1] - w[0]).collect();
        ibi.sort_by(f64::total_cmp);
        60.0 / ibi[ibi.len() / 2]
    }

    /// Median beat period in seconds.
    pub fn period(&self) -> f64 {
        60.0 / self.tempo_bpm()
    }

    /// Position of beat `i` in its bar, `0` = downbeat.
    pub fn position_in_bar(&self, i: usize) -> usize {
        let bpb = usize::from(self.beats_per_bar);
        (i + bpb - self.first_downbeat % bpb) % bpb
    }

    /// Whether beat `i` is a downbeat.
    pub fn is_downbeat(&self, i: usize) -> bool {
        self.position_in_bar(i) == 0
    }

    /// The downbeat times.
    pub fn downbeats(&self) -> Vec<f64> {
        self.beats
            .iter()
            .enumerate()
            .filter(|&(i, _)| self.is_downbeat(i))
            .map(|(_, &t)| t)
            .collect()
    }

    /// Indices of the downbeats (bar starts).
    pub fn bar_starts(&self) -> Vec<usize> {
        (0..self.beats.len())
            .filter(|&i| self.is_downbeat(i))
            .collect()
    }

    /// The fractional beat index at time `t`, extrapolated with the first / last interval
    /// outside the grid (so times before the first beat are negative).
    pub fn beat_at(&self, t: f64) -> f64 {
        let b = &self.beats;
        let n = b.len();
        if t <= b[0] {
            return (t - b[0]) / (b[1] - b[0]);
        }
        if t >= b[n - 1] {
            return (n - 1) as f64 + (t - b[n - 1]) / (b[n - 1] - b[n - 2]);
        }
        let i = b.partition_point(|&x| x <= t) - 1;
        i as f64 + (t - b[i]) / (b[i + 1] - b[i])
    }

    /// The time of a fractional beat index, the inverse of [`BeatGrid::beat_at`].
    pub fn time_at(&self, beat: f64) -> f64 {
        let b = &self.beats;
        let n = b.len();
        if beat <= 0.0 {
            return b[0] + beat * (b[1] - b[0]);
        }
        let last = (n - 1) as f64;
        if beat >= last {
            return b[n - 1] + (beat - last) * (b[n - 1] - b[n - 2]);
        }
        let i = beat.floor() as usize;
        b[i] + (beat - i as f64) * (b[i + 1] - b[i])
    }

    /// A grid extended by `before` beats at the start and `after` beats at the end at the
    /// edge tempo, keeping the bar phase (used for intros and endings), with every time
    /// shifted by `shift` seconds. Times may become negative before shifting; the caller picks
    /// `shift` so the first beat lands where it wants.
    pub fn extended(&self, before: usize, after: usize, shift: f64) -> BeatGrid {
        let n = self.beats.len();
        let p0 = self.beats[1] - self.beats[0];
        let p1 = self.beats[n - 1] - self.beats[n - 2];
        let mut beats = Vec::with_capacity(n + before + after);
        for k in (1..=before).rev() {
            beats.push(self.beats[0] - k as f64 * p0 + shift);
        }
        beats.extend(self.beats.iter().map(|t| t + shift));
        for k in 1..=after {
            beats.push(self.beats[n - 1] + k as f64 * p1 + shift);
        }
        let bpb = usize::from(self.beats_per_bar);
        BeatGrid {
            beats,
            beats_per_bar: self.beats_per_bar,
            first_downbeat: (self.first_downbeat + before) % bpb,
        }
    }
}

/// Everything the analysis hears in a vocal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Length of the input in seconds.
    pub duration_s: f64,
    /// Global tuning offset of the singer against A4 = 440 Hz, in cents (-50..50).
    pub tuning_cents: f32,
    /// The f0 track.
    pub f0: F0Track,
    /// The level envelope.
    pub loudness: Envelope,
    /// Sung notes in time order (monophonic: they do not overlap).
    pub notes: Vec<Note>,
    /// Phrases between breaths.
    pub phrases: Vec<Phrase>,
    /// Every onset heard, including re-articulations and consonants (s).
    pub onsets: Vec<f64>,
    /// Beats, meter and downbeats.
    pub beats: BeatGrid,
    /// Tempo in BPM (quarter-note level).
    pub tempo_bpm: f64,
    /// The key.
    pub key: Key,
    /// How sure the key estimate is, `0..=1` (margin of the best key over the runner-up).
    pub key_confidence: f32,
}

impl Analysis {
    /// The sung range as MIDI numbers (lowest, highest), ignoring the outer 5 % of sung time.
    pub fn vocal_range(&self) -> Option<(f32, f32)> {
        if self.notes.is_empty() {
            return None;
        }
        let mut v: Vec<(f32, f64)> = self.notes.iter().map(|n| (n.pitch, n.duration())).collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = v.iter().map(|x| x.1).sum();
        let pick = |q: f64| {
            let mut acc = 0.0;
            for &(p, d) in &v {
                acc += d;
                if acc >= q * total {
                    return p;
                }
            }
            v[v.len() - 1].0
        };
        Some((pick(0.05), pick(0.95)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> BeatGrid {
        BeatGrid::new(vec![1.0, 1.5, 2.0, 2.5, 3.0, 3.5], 4, 2).unwrap()
    }

    #[test]
    fn downbeats_follow_phase() {
        let g = grid();
        assert_eq!(g.downbeats(), vec![2.0]);
        assert_eq!(g.position_in_bar(0), 2);
        assert_eq!(g.position_in_bar(3), 1);
        assert!((g.tempo_bpm() - 120.0).abs() < 1e-9);
    }

    #[test]
    fn beat_time_inverse() {
        let g = grid();
        for t in [0.2, 1.0, 1.25, 3.4, 3.5, 5.0] {
            assert!((g.time_at(g.beat_at(t)) - t).abs() < 1e-9, "{t}");
        }
        assert!((g.beat_at(0.5) + 1.0).abs() < 1e-9);
    }

    #[test]
    fn extension_keeps_bar_phase() {
        let g = grid();
        let e = g.extended(3, 2, 10.0);
        assert_eq!(e.len(), 11);
        assert_eq!(e.downbeats(), vec![10.0, 12.0, 14.0]);
        assert!((e.beats[0] - 9.5).abs() < 1e-9);
    }

    #[test]
    fn invalid_grids_are_refused() {
        assert!(BeatGrid::new(vec![1.0], 4, 0).is_err());
        assert!(BeatGrid::new(vec![1.0, 1.0], 4, 0).is_err());
        assert!(BeatGrid::new(vec![1.0, 2.0], 1, 0).is_err());
        assert!(BeatGrid::new(vec![1.0, 2.0], 3, 3).is_err());
    }

    #[test]
    fn envelope_mean_is_power_mean() {
        let e = Envelope {
            hop_s: 0.01,
            db: vec![0.0, -120.0],
        };
        assert!((e.mean_db(0.0, 0.02) - (-3.0103)).abs() < 1e-3);
    }
}
