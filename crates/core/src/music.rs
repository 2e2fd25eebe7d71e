//! Pitch classes, keys and chords, with their text forms.
//!
//! Keys print as the evaluation kit and mir_eval expect (`"Gb major"`, `"A minor"`); chords
//! print and parse as Harte et al. (2005) labels (`"C:maj7"`, `"A:min/b3"`, `"N"`), the
//! notation of POP909, mir_eval and most chord corpora.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::CoreError;

/// A pitch class, 0 = C … 11 = B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct PitchClass(u8);

const SHARP_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];
const FLAT_NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
];

impl PitchClass {
    /// C.
    pub const C: PitchClass = PitchClass(0);

    /// The pitch class of a number, taken modulo 12 (negative numbers wrap upwards).
    pub fn new(n: i32) -> Self {
        Self(n.rem_euclid(12) as u8)
    }

    /// The pitch class of a MIDI note number (fractional numbers round to the nearest).
    pub fn of_midi(midi: f64) -> Self {
        Self::new(midi.round() as i32)
    }

    /// 0..=11.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// This pitch class moved up by `semitones` (may be negative).
    pub fn transpose(self, semitones: i32) -> Self {
        Self::new(i32::from(self.0) + semitones)
    }

    /// Interval in semitones from `self` up to `other`, 0..=11.
    pub fn interval_to(self, other: PitchClass) -> u8 {
        (other.0 + 12 - self.0) % 12
    }

    /// Name with sharps (`C#`).
    pub fn sharp_name(self) -> &'static str {
        SHARP_NAMES[self.index()]
    }

    /// Name with flats (`Db`).
    pub fn flat_name(self) -> &'static str {
        FLAT_NAMES[self.index()]
    }

    /// Parse `C`, `c#`, `Db`, `E♭`, `B#`, `Fb`.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let mut chars = s.trim().chars();
        let letter = chars.next().ok_or_else(|| CoreError::Parse {
            what: "pitch class",
            input: s.to_string(),
        })?;
        let base = match letter.to_ascii_uppercase() {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => {
                return Err(CoreError::Parse {
                    what: "pitch class",
                    input: s.to_string(),
                });
            }
        };
        let mut n = base;
        for c in chars {
            match c {
                '#' | '♯' => n += 1,
                'b' | '♭' => n -= 1,
                _ => {
                    return Err(CoreError::Parse {
                        what: "pitch class",
                        input: s.to_string(),
                    });
                }
            }
        }
        Ok(Self::new(n))
    }
}

impl TryFrom<u8> for PitchClass {
    type Error = CoreError;
    fn try_from(v: u8) -> Result<Self, CoreError> {
        if v < 12 {
            Ok(Self(v))
        } else {
            Err(CoreError::OutOfRange {
                what: "pitch class",
                value: f64::from(v),
                min: 0.0,
                max: 11.0,
            })
        }
    }
}

impl From<PitchClass> for u8 {
    fn from(v: PitchClass) -> u8 {
        v.0
    }
}

/// Major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Ionian.
    Major,
    /// Aeolian, with the raised leading tone borrowed as the music asks.
    Minor,
}

/// A key: tonic and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The tonic.
    pub tonic: PitchClass,
    /// Major or minor.
    pub mode: Mode,
}

/// Semitone offsets of the major scale degrees.
pub const MAJOR_SCALE: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
/// Semitone offsets of the natural minor scale degrees.
pub const MINOR_SCALE: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];

impl Key {
    /// A key.
    pub fn new(tonic: PitchClass, mode: Mode) -> Self {
        Self { tonic, mode }
    }

    /// The seven scale degrees, as semitone offsets from the tonic.
    pub fn scale(self) -> [u8; 7] {
        match self.mode {
            Mode::Major => MAJOR_SCALE,
            Mode::Minor => MINOR_SCALE,
        }
    }

    /// Whether a pitch class belongs to the (natural) scale of this key.
    pub fn contains(self, pc: PitchClass) -> bool {
        self.scale().contains(&self.tonic.interval_to(pc))
    }

    /// The relative major or minor (C major ↔ A minor).
    pub fn relative(self) -> Key {
        match self.mode {
            Mode::Major => Key::new(self.tonic.transpose(9), Mode::Minor),
            Mode::Minor => Key::new(self.tonic.transpose(3), Mode::Major),
        }
    }

    /// Whether this key is conventionally written with flats (F, Bb, Eb … majors; D, G, C …
    /// minors), which decides how its pitch classes are spelled.
    pub fn prefers_flats(self) -> bool {
        let major_tonic = match self.mode {
            Mode::Major => self.tonic,
            Mode::Minor => self.tonic.transpose(3),
        };
        // F, Bb, Eb, Ab, Db, Gb majors are flat keys; F# and the sharp side are not.
        matches!(major_tonic.index(), 5 | 10 | 3 | 8 | 1 | 6)
    }

    /// The name of a pitch class as this key spells it.
    pub fn spell(self, pc: PitchClass) -> &'static str {
        if self.prefers_flats() {
            pc.flat_name()
        } else {
            pc.sharp_name()
        }
    }

    /// The conventional name of the tonic (`Gb`, `F#`, `Eb` …).
    pub fn tonic_name(self) -> &'static str {
        match (self.mode, self.tonic.index()) {
            (Mode::Major, 6) => "Gb",
            (Mode::Minor, 3) => "Eb",
            (Mode::Minor, 8) => "G#",
            (Mode::Minor, 1) => "C#",
            (Mode::Minor, 6) => "F#",
            _ => self.spell(self.tonic),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Major => "major",
            Mode::Minor => "minor",
        };
        write!(f, "{} {}", self.tonic_name(), mode)
    }
}

impl FromStr for Key {
    type Err = CoreError;
    /// Accepts `"Gb major"`, `"A minor"`, `"C:maj"`, `"A:min"`, `"Am"`, `"F#"`.
    fn from_str(s: &str) -> Result<Self, CoreError> {
        let err = || CoreError::Parse {
            what: "key",
            input: s.to_string(),
        };
        let t = s.trim();
        let split = t
            .char_indices()
            .skip(1)
            .find(|&(_, c)| !matches!(c, '#' | 'b' | '♯' | '♭'))
            .map_or(t.len(), |(i, _)| i);
        let (tonic, rest) = t.split_at(split);
        let tonic = PitchClass::parse(tonic).map_err(|_| err())?;
        let rest = rest
            .trim_start_matches([':', ' ', '_'])
            .to_ascii_lowercase();
        let mode = match rest.as_str() {
            "" | "maj" | "major" | "ionian" => Mode::Major,
            "m" | "min" | "minor" | "aeolian" => Mode::Minor,
            _ => return Err(err()),
        };
        Ok(Key::new(tonic, mode))
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The quality of a chord: which intervals sit above its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChordQuality {
    /// 1 3 5
    Major,
    /// 1 b3 5
    Minor,
    /// 1 b3 b5
    Diminished,
    /// 1 3 #5
    Augmented,
    /// 1 2 5
    Sus2,
    /// 1 4 5
    Sus4,
    /// 1 3 5 6
    Major6,
    /// 1 b3 5 6
    Minor6,
    /// 1 3 5 7
    Major7,
    /// 1 b3 5 b7
    Minor7,
    /// 1 3 5 b7
    Dominant7,
    /// 1 b3 b5 b7
    HalfDiminished7,
    /// 1 b3 b5 bb7
    Diminished7,
    /// 1 b3 5 7
    MinorMajor7,
    /// 1 4 5 b7
    Dominant7Sus4,
    /// 1 3 5 9
    AddNine,
    /// 1 b3 5 9
    MinorAddNine,
    /// 1 3 5 b7 9
    Dominant9,
    /// 1 3 5 7 9
    Major9,
    /// 1 b3 5 b7 9
    Minor9,
}

impl ChordQuality {
    /// Every quality, simplest first.
    pub const ALL: [ChordQuality; 20] = [
        ChordQuality::Major,
        ChordQuality::Minor,
        ChordQuality::Diminished,
        ChordQuality::Augmented,
        ChordQuality::Sus2,
        ChordQuality::Sus4,
        ChordQuality::Major6,
        ChordQuality::Minor6,
        ChordQuality::Major7,
        ChordQuality::Minor7,
        ChordQuality::Dominant7,
        ChordQuality::HalfDiminished7,
        ChordQuality::Diminished7,
        ChordQuality::MinorMajor7,
        ChordQuality::Dominant7Sus4,
        ChordQuality::AddNine,
        ChordQuality::MinorAddNine,
        ChordQuality::Dominant9,
        ChordQuality::Major9,
        ChordQuality::Minor9,
    ];

    /// Semitones above the root, root first, ascending within the first octave and then
    /// the ninth (14) where the chord has one.
    pub fn intervals(self) -> &'static [u8] {
        use ChordQuality::*;
        match self {
            Major => &[0, 4, 7],
            Minor => &[0, 3, 7],
            Diminished => &[0, 3, 6],
            Augmented => &[0, 4, 8],
            Sus2 => &[0, 2, 7],
            Sus4 => &[0, 5, 7],
            Major6 => &[0, 4, 7, 9],
            Minor6 => &[0, 3, 7, 9],
            Major7 => &[0, 4, 7, 11],
            Minor7 => &[0, 3, 7, 10],
            Dominant7 => &[0, 4, 7, 10],
            HalfDiminished7 => &[0, 3, 6, 10],
            Diminished7 => &[0, 3, 6, 9],
            MinorMajor7 => &[0, 3, 7, 11],
            Dominant7Sus4 => &[0, 5, 7, 10],
            AddNine => &[0, 4, 7, 14],
            MinorAddNine => &[0, 3, 7, 14],
            Dominant9 => &[0, 4, 7, 10, 14],
            Major9 => &[0, 4, 7, 11, 14],
            Minor9 => &[0, 3, 7, 10, 14],
        }
    }

    /// The Harte shorthand after the colon (`maj7`, `hdim7`, `sus4(b7)`).
    pub fn harte(self) -> &'static str {
        use ChordQuality::*;
        match self {
            Major => "maj",
            Minor => "min",
            Diminished => "dim",
            Augmented => "aug",
            Sus2 => "sus2",
            Sus4 => "sus4",
            Major6 => "maj6",
            Minor6 => "min6",
            Major7 => "maj7",
            Minor7 => "min7",
            Dominant7 => "7",
            HalfDiminished7 => "hdim7",
            Diminished7 => "dim7",
            MinorMajor7 => "minmaj7",
            Dominant7Sus4 => "sus4(b7)",
            AddNine => "maj(9)",
            MinorAddNine => "min(9)",
            Dominant9 => "9",
            Major9 => "maj9",
            Minor9 => "min9",
        }
    }

    /// The usual lead-sheet suffix (`""`, `m`, `maj7`, `m7b5`, `7sus4`, `add9`).
    pub fn symbol(self) -> &'static str {
        use ChordQuality::*;
        match self {
            Major => "",
            Minor => "m",
            Diminished => "dim",
            Augmented => "aug",
            Sus2 => "sus2",
            Sus4 => "sus4",
            Major6 => "6",
            Minor6 => "m6",
            Major7 => "maj7",
            Minor7 => "m7",
            Dominant7 => "7",
            HalfDiminished7 => "m7b5",
            Diminished7 => "dim7",
            MinorMajor7 => "m(maj7)",
            Dominant7Sus4 => "7sus4",
            AddNine => "add9",
            MinorAddNine => "m(add9)",
            Dominant9 => "9",
            Major9 => "maj9",
            Minor9 => "m9",
        }
    }

    /// The triad this quality reduces to for major/minor comparisons (`None` for sus,
    /// diminished and augmented, which mir_eval's `majmin` leaves out).
    pub fn triad(self) -> Option<Mode> {
        use ChordQuality::*;
        match self {
            Major | Major6 | Major7 | Dominant7 | AddNine | Dominant9 | Major9 => Some(Mode::Major),
            Minor | Minor6 | Minor7 | MinorMajor7 | MinorAddNine | Minor9 => Some(Mode::Minor),
            Diminished | Augmented | Sus2 | Sus4 | HalfDiminished7 | Diminished7
            | Dominant7Sus4 => None,
        }
    }

    /// How far this quality is from a plain triad: 0 triads, 1 sevenths/sixths/sus/add,
    /// 2 ninths and altered colours. The harmoniser widens its vocabulary by this rank as
    /// `weirdnessConstraint` grows.
    pub fn complexity(self) -> u8 {
        use ChordQuality::*;
        match self {
            Major | Minor => 0,
            Diminished | Sus2 | Sus4 | Major7 | Minor7 | Dominant7 | Major6 | Minor6 | AddNine
            | MinorAddNine | Dominant7Sus4 | HalfDiminished7 => 1,
            Augmented | Diminished7 | MinorMajor7 | Dominant9 | Major9 | Minor9 => 2,
        }
    }

    fn from_harte(s: &str) -> Option<Self> {
        ChordQuality::ALL
            .into_iter()
            .find(|q| q.harte() == s)
            .or(match s {
                "" => Some(ChordQuality::Major),
                "sus4b7" | "7sus4" => Some(ChordQuality::Dominant7Sus4),
                "maj(2)" | "add9" => Some(ChordQuality::AddNine),
                "min(2)" | "madd9" => Some(ChordQuality::MinorAddNine),
                "min7b5" | "m7b5" => Some(ChordQuality::HalfDiminished7),
                _ => None,
            })
    }
}

/// A chord: root, quality and an optional bass note other than the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chord {
    /// The root.
    pub root: PitchClass,
    /// What sits above the root.
    pub quality: ChordQuality,
    /// The bass when it is not the root (an inversion or a slash chord).
    pub bass: Option<PitchClass>,
}

/// Harte degree names of a bass interval above the root, by semitones.
const BASS_DEGREES: [&str; 12] = [
    "1", "b2", "2", "b3", "3", "4", "b5", "5", "b6", "6", "b7", "7",
];

impl Chord {
    /// A root-position chord.
    pub fn new(root: PitchClass, quality: ChordQuality) -> Self {
        Self {
            root,
            quality,
            bass: None,
        }
    }

    /// The same chord over another bass note (`None` or the root itself means root position).
    pub fn with_bass(self, bass: Option<PitchClass>) -> Self {
        Self {
            bass: bass.filter(|&b| b != self.root),
            ..self
        }
    }

    /// The lowest note: the bass if set, else the root.
    pub fn bass_note(self) -> PitchClass {
        self.bass.unwrap_or(self.root)
    }

    /// The chord's pitch classes, root first, without duplicates (the bass is added if it
    /// is not already a chord tone).
    pub fn pitch_classes(self) -> Vec<PitchClass> {
        let mut v: Vec<PitchClass> = self
            .quality
            .intervals()
            .iter()
            .map(|&i| self.root.transpose(i32::from(i)))
            .collect();
        if let Some(b) = self.bass
            && !v.contains(&b)
        {
            v.push(b);
        }
        v
    }

    /// A 12-bit mask of the chord's pitch classes (bit `n` = pitch class `n`).
    pub fn mask(self) -> u16 {
        self.pitch_classes()
            .iter()
            .fold(0u16, |m, pc| m | (1 << pc.index()))
    }

    /// Whether the chord contains a pitch class.
    pub fn contains(self, pc: PitchClass) -> bool {
        self.mask() & (1 << pc.index()) != 0
    }

    /// The Harte label (`"Bb:maj7"`, `"A:min/b3"`), spelled for the given key (flat keys
    /// spell roots with flats) or with sharps when no key is given.
    pub fn harte_in(self, key: Option<Key>) -> String {
        let name = key.map_or(self.root.sharp_name(), |k| k.spell(self.root));
        let mut s = format!("{name}:{}", self.quality.harte());
        if let Some(b) = self.bass {
            s.push('/');
            s.push_str(BASS_DEGREES[usize::from(self.root.interval_to(b))]);
        }
        s
    }

    /// The lead-sheet symbol (`"Bbmaj7"`, `"Am/C"`) spelled for the given key.
    pub fn symbol_in(self, key: Option<Key>) -> String {
        let spell = |pc: PitchClass| key.map_or(pc.sharp_name(), |k| k.spell(pc));
        let mut s = format!("{}{}", spell(self.root), self.quality.symbol());
        if let Some(b) = self.bass {
            s.push('/');
            s.push_str(spell(b));
        }
        s
    }

    /// Parse a Harte label such as `C:maj`, `Db:min7/b3`, `G:7`, `A` (major), `E:sus4(b7)`.
    /// `N` (no chord) and `X` are not chords: use [`parse_chord_label`] for those.
    pub fn from_harte(label: &str) -> Result<Self, CoreError> {
        let err = || CoreError::Parse {
            what: "chord",
            input: label.to_string(),
        };
        let (main, bass) = match label.rsplit_once('/') {
            Some((m, b)) if !m.ends_with('(') => (m, Some(b)),
            _ => (label, None),
        };
        let (root, qual) = main.split_once(':').unwrap_or((main, ""));
        let root = PitchClass::parse(root).map_err(|_| err())?;
        let quality = ChordQuality::from_harte(qual).ok_or_else(err)?;
        let bass = match bass {
            None => None,
            Some(deg) => {
                let mut semis: i32 = 0;
                let mut digits = deg;
                while let Some(rest) = digits.strip_prefix('b') {
                    semis -= 1;
                    digits = rest;
                }
                while let Some(rest) = digits.strip_prefix('#') {
                    semis += 1;
                    digits = rest;
                }
                let n: i32 = digits.parse().map_err(|_| err())?;
                let base = match (n - 1).rem_euclid(7) {
                    0 => 0,
                    1 => 2,
                    2 => 4,
                    3 => 5,
                    4 => 7,
                    5 => 9,
                    _ => 11,
                };
                Some(root.transpose(base + semis))
            }
        };
        Ok(Chord::new(root, quality).with_bass(bass))
    }
}

/// Parse a Harte label where `N` (and `X`) mean "no chord".
pub fn parse_chord_label(label: &str) -> Result<Option<Chord>, CoreError> {
    match label.trim() {
        "N" | "X" => Ok(None),
        l => Chord::from_harte(l).map(Some),
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.harte_in(None))
    }
}

impl Serialize for Chord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Chord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Chord::from_harte(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_and_parse() {
        let gb = Key::new(PitchClass::new(6), Mode::Major);
        assert_eq!(gb.to_string(), "Gb major");
        assert_eq!("Gb major".parse::<Key>().unwrap(), gb);
        assert_eq!("F#:maj".parse::<Key>().unwrap(), gb);
        assert_eq!(
            "Am".parse::<Key>().unwrap(),
            Key::new(PitchClass::new(9), Mode::Minor)
        );
        assert_eq!("A:min".parse::<Key>().unwrap().to_string(), "A minor");
        assert_eq!(
            Key::new(PitchClass::new(3), Mode::Minor).to_string(),
            "Eb minor"
        );
        assert_eq!(
            Key::new(PitchClass::new(10), Mode::Major).to_string(),
            "Bb major"
        );
        assert!("H major".parse::<Key>().is_err());
        assert!("C lydian".parse::<Key>().is_err());
    }

    #[test]
    fn relative_keys() {
        let c = Key::new(PitchClass::C, Mode::Major);
        assert_eq!(c.relative(), Key::new(PitchClass::new(9), Mode::Minor));
        assert_eq!(c.relative().relative(), c);
    }

    #[test]
    fn harte_round_trip_every_quality_and_bass() {
        for q in ChordQuality::ALL {
            for root in 0..12 {
                let c = Chord::new(PitchClass::new(root), q);
                assert_eq!(Chord::from_harte(&c.to_string()).unwrap(), c, "{c}");
                for b in 1..12 {
                    let s = c.with_bass(Some(PitchClass::new(root + b)));
                    assert_eq!(Chord::from_harte(&s.to_string()).unwrap(), s, "{s}");
                }
            }
        }
    }

    #[test]
    fn parses_pop909_style_labels() {
        let c = Chord::from_harte("Bb:maj/5").unwrap();
        assert_eq!(c.root, PitchClass::new(10));
        assert_eq!(c.bass, Some(PitchClass::new(5)));
        assert_eq!(parse_chord_label("N").unwrap(), None);
        assert_eq!(
            Chord::from_harte("E:sus4(b7)").unwrap().quality,
            ChordQuality::Dominant7Sus4
        );
        assert!(Chord::from_harte("Q:maj").is_err());
        assert!(Chord::from_harte("C:weird").is_err());
    }

    #[test]
    fn chord_tones() {
        let g7 = Chord::new(PitchClass::new(7), ChordQuality::Dominant7);
        let pcs: Vec<usize> = g7.pitch_classes().iter().map(|p| p.index()).collect();
        assert_eq!(pcs, vec![7, 11, 2, 5]);
        assert!(g7.contains(PitchClass::new(5)));
        assert!(!g7.contains(PitchClass::C));
        let key = Key::new(PitchClass::new(5), Mode::Major);
        assert_eq!(
            Chord::new(PitchClass::new(10), ChordQuality::Major7).symbol_in(Some(key)),
            "Bbmaj7"
        );
    }
}
