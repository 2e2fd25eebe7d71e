//! The prediction format of the evaluation kit (`../shared/eval/README.md`): what
//! `bandmate analyze --json` prints and `scoring.py` reads.

use serde::{Deserialize, Serialize};

use crate::{Analysis, ChordSpan, Key, spell_chart};

/// Frame f0 as the kit expects: `hz <= 0` is unvoiced; a negative value is an unvoiced frame
/// that still carries a pitch guess (mir_eval's convention).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct F0Json {
    /// Frame times (s).
    pub times: Vec<f64>,
    /// Frequencies (Hz).
    pub hz: Vec<f64>,
}

/// One clip's prediction.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Prediction {
    /// Tempo in BPM (quarter-note level).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tempo: Option<f64>,
    /// Beat times (s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beats: Option<Vec<f64>>,
    /// Downbeat times (s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downbeats: Option<Vec<f64>>,
    /// Key, `"Gb major"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Chords `[start, end, harte]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chords: Option<Vec<(f64, f64, String)>>,
    /// Notes `[onset, offset, midi]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<[f64; 3]>>,
    /// Frame f0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f0: Option<F0Json>,
}

fn r4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

impl Prediction {
    /// Everything the analysis knows, in the kit's format. Note pitches are given on the
    /// singer's own tuning grid (nearest semitone plus the global tuning offset), which is
    /// "the melody as heard".
    pub fn from_analysis(a: &Analysis) -> Self {
        let tuning = f64::from(a.tuning_cents) / 100.0;
        let notes = a
            .notes
            .iter()
            .map(|n| {
                [
                    r4(n.onset),
                    r4(n.offset),
                    r4((f64::from(n.pitch) - tuning).round() + tuning),
                ]
            })
            .collect();
        let f0 = F0Json {
            times: (0..a.f0.len()).map(|i| r4(a.f0.time(i))).collect(),
            hz: (0..a.f0.len())
                .map(|i| {
                    let hz = (f64::from(a.f0.hz[i]) * 100.0).round() / 100.0;
                    if a.f0.is_voiced(i) { hz } else { -hz.abs() }
                })
                .collect(),
        };
        Prediction {
            tempo: Some((a.tempo_bpm * 1000.0).round() / 1000.0),
            beats: Some(a.beats.beats.iter().map(|&t| r4(t)).collect()),
            downbeats: Some(a.beats.downbeats().into_iter().map(r4).collect()),
            key: Some(a.key.to_string()),
            chords: None,
            notes: Some(notes),
            f0: Some(f0),
        }
    }

    /// Add a chord chart, spelled for the key.
    pub fn with_chords(mut self, chords: &[ChordSpan], key: Key) -> Self {
        self.chords = Some(
            spell_chart(chords, key)
                .into_iter()
                .map(|e| (r4(e.start), r4(e.end), e.label))
                .collect(),
        );
        self
    }
}
