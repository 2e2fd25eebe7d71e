//! The musical settings of one request, validated: what the user asked the band to be.
//!
//! These mirror the request fields of the add-instrumental contract (`../shared/API.md`);
//! DESIGN.md says what each must do to the music, and the compose and render crates make it
//! true.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::{CoreError, Weight};

/// The two engine profiles of the upstream `model` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ModelProfile {
    /// `V4_5PLUS`, "richer sound": fuller arrangements, more layers, wider stereo, longer space.
    #[default]
    #[serde(rename = "V4_5PLUS")]
    V45Plus,
    /// `V5`, "superior musical expression, faster generation": more dynamic, humanised
    /// playing that follows the vocal's energy, lighter render.
    #[serde(rename = "V5")]
    V5,
}

impl ModelProfile {
    /// The wire name (`V4_5PLUS`, `V5`).
    pub fn as_str(self) -> &'static str {
        match self {
            ModelProfile::V45Plus => "V4_5PLUS",
            ModelProfile::V5 => "V5",
        }
    }
}

impl fmt::Display for ModelProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelProfile {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        match s {
            "V4_5PLUS" => Ok(ModelProfile::V45Plus),
            "V5" => Ok(ModelProfile::V5),
            _ => Err(CoreError::Parse {
                what: "model (V4_5PLUS or V5)",
                input: s.to_string(),
            }),
        }
    }
}

/// The upstream `vocalGender` hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VocalGender {
    /// `m`
    #[serde(rename = "m")]
    Male,
    /// `f`
    #[serde(rename = "f")]
    Female,
}

impl VocalGender {
    /// The plausible f0 range of a singing voice of this kind in hertz (lowest, highest):
    /// bass E2 to tenor C5 for `m`, contralto E3 to soprano C6 for `f`, with a margin for
    /// falsetto and vocal fry.
    pub fn f0_range_hz(self) -> (f32, f32) {
        match self {
            VocalGender::Male => (70.0, 600.0),
            VocalGender::Female => (140.0, 1100.0),
        }
    }
}

impl FromStr for VocalGender {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        match s {
            "m" => Ok(VocalGender::Male),
            "f" => Ok(VocalGender::Female),
            _ => Err(CoreError::Parse {
                what: "vocal gender (m or f)",
                input: s.to_string(),
            }),
        }
    }
}

/// The widest f0 range the analysis searches when no gender is given (hertz).
pub const WIDE_F0_RANGE_HZ: (f32, f32) = (65.0, 1100.0);

/// Everything about one request that shapes the music.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationParams {
    /// Song title (player, file names, MP3 tags).
    pub title: String,
    /// Comma-separated styles, moods and instruments to include.
    pub tags: String,
    /// Comma-separated styles and instruments to exclude; exclusions win.
    pub negative_tags: String,
    /// How literally the tags are followed (default 0.5).
    pub style_weight: Weight,
    /// Creative distance (default 0.3).
    pub weirdness: Weight,
    /// How closely the band follows the recording (default 0.65).
    pub audio_weight: Weight,
    /// Range hint for the voice.
    pub vocal_gender: Option<VocalGender>,
    /// Engine profile.
    pub model: ModelProfile,
    /// Seed of every random choice: same input and seed, same song.
    pub seed: u64,
}

impl GenerationParams {
    /// Default `styleWeight`.
    pub const DEFAULT_STYLE_WEIGHT: Weight = Weight::from_hundredths(50);
    /// Default `weirdnessConstraint`.
    pub const DEFAULT_WEIRDNESS: Weight = Weight::from_hundredths(30);
    /// Default `audioWeight`.
    pub const DEFAULT_AUDIO_WEIGHT: Weight = Weight::from_hundredths(65);
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            title: "Untitled".into(),
            tags: String::new(),
            negative_tags: String::new(),
            style_weight: Self::DEFAULT_STYLE_WEIGHT,
            weirdness: Self::DEFAULT_WEIRDNESS,
            audio_weight: Self::DEFAULT_AUDIO_WEIGHT,
            vocal_gender: None,
            model: ModelProfile::default(),
            seed: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names() {
        assert_eq!(
            serde_json::to_string(&ModelProfile::V45Plus).unwrap(),
            "\"V4_5PLUS\""
        );
        assert_eq!("V5".parse::<ModelProfile>().unwrap(), ModelProfile::V5);
        assert!("V4".parse::<ModelProfile>().is_err());
        assert_eq!(
            serde_json::from_str::<VocalGender>("\"f\"").unwrap(),
            VocalGender::Female
        );
    }

    #[test]
    fn defaults_match_the_contract() {
        let p = GenerationParams::default();
        assert_eq!(p.style_weight.get(), 0.5);
        assert_eq!(p.weirdness.get(), 0.3);
        assert_eq!(p.audio_weight.get(), 0.65);
        assert_eq!(p.model, ModelProfile::V45Plus);
    }
}
