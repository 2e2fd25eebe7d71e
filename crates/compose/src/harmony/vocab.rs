//! The chord vocabulary the harmoniser chooses from, for one key and one weirdness.
//!
//! Chords are grouped in *families* (a root and a triad kind): the transition habits
//! ([`super::model`]) are written between families, and each family offers several
//! qualities (the triad, its diatonic seventh, sus and add colours, ninths). The vocabulary
//! grows with `weirdnessConstraint` in the order the issue asks for: diatonic triads →
//! sevenths, sus and add chords → borrowed and secondary chords → chromatic chords. Secondary
//! dominants and borrowed chords are always present with a steep penalty at low weirdness,
//! because every one of the twelve pitch classes must belong to some chord of the vocabulary
//! (a chromatic melody note on a strong beat has to be harmonised by something).

use bandmate_core::{Chord, ChordQuality, PitchClass};

use super::Habits;

/// A triad kind: what the family's chords reduce to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// Major triad (and its 6, maj7, 7, add9, 9 …).
    Maj,
    /// Minor triad (and its m7, m6, madd9, m9).
    Min,
    /// Diminished (vii°, ii° and their sevenths, passing °7 chords).
    Dim,
    /// Augmented.
    Aug,
}

/// A family: a root (as semitones above the *major* tonic `M` of the key pair, so the same
/// family names the same chord in C major and A minor) and a triad kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Family {
    /// Semitones above the relative-major tonic, 0..=11.
    pub rel: u8,
    /// Triad kind.
    pub kind: Kind,
}

/// How far a family is from the key: 0 diatonic (in the major key or its relative minor,
/// harmonic minor's V included), 1 secondary dominants and borrowed chords (always present as
/// an emergency, cheap only when weird), 2 chromatic colour chords (only from weirdness 0.55).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FamilyClass {
    Diatonic,
    Borrowed,
    Chromatic,
}

/// One chord the harmoniser may choose.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    /// The chord (absolute pitch classes).
    pub chord: Chord,
    /// Its family.
    pub family: Family,
    /// Log prior of choosing this chord when the harmony changes (vocabulary cost).
    pub log_prior: f32,
    /// Pitch-class mask of the chord.
    pub mask: u16,
    /// Pitch classes that may sound over it on a strong beat without being chord tones
    /// (the style's allowed tensions), as a mask.
    pub tension_mask: u16,
}

use FamilyClass::{Borrowed, Chromatic, Diatonic};
use Kind::{Aug, Dim, Maj, Min};

/// The families, relative to the major tonic `M`, with their class and the qualities they
/// offer (quality, extra colour rank added to the quality's own complexity).
/// Diatonic set: I ii iii IV V vi vii° of the major key = III iv v VI VII i ii° of its
/// relative minor, plus V of the relative minor (harmonic minor, E major in C/Am).
/// Borrowed/secondary set: V/V, V/ii, V/iii, iv, bVII, bVI, bIII, minor v (the common
/// chromatic chords of pop and rock: de Clercq & Temperley 2011 list bVII, bVI, bIII, II and
/// iv as the frequent non-diatonic roots of the rock corpus).
/// Chromatic set: bII (Neapolitan / tritone substitute), passing diminished sevenths on #i
/// and #iv, the augmented tonic, and the minor subdominant's relative (bVI is borrowed).
const FAMILIES: &[(u8, Kind, FamilyClass, &[ChordQuality])] = {
    use ChordQuality::*;
    &[
        (
            0,
            Maj,
            Diatonic,
            &[
                Major, Major7, AddNine, Sus2, Sus4, Major6, Major9, Dominant7,
            ],
        ),
        (
            2,
            Min,
            Diatonic,
            &[Minor, Minor7, MinorAddNine, Minor9, Minor6],
        ),
        (4, Min, Diatonic, &[Minor, Minor7, MinorAddNine]),
        (
            5,
            Maj,
            Diatonic,
            &[Major, Major7, AddNine, Sus2, Major6, Major9],
        ),
        (
            7,
            Maj,
            Diatonic,
            &[Major, Dominant7, Sus4, Dominant7Sus4, AddNine, Dominant9],
        ),
        (9, Min, Diatonic, &[Minor, Minor7, MinorAddNine, Minor9]),
        (11, Dim, Diatonic, &[Diminished, HalfDiminished7]),
        (4, Maj, Diatonic, &[Major, Dominant7, Sus4]),
        (2, Maj, Borrowed, &[Major, Dominant7]),
        (9, Maj, Borrowed, &[Major, Dominant7]),
        (11, Maj, Borrowed, &[Major, Dominant7]),
        (5, Min, Borrowed, &[Minor, Minor6, Minor7]),
        (10, Maj, Borrowed, &[Major, Dominant7, AddNine]),
        (8, Maj, Borrowed, &[Major, Major7, AddNine]),
        (3, Maj, Borrowed, &[Major, Major7]),
        (7, Min, Borrowed, &[Minor, Minor7]),
        (1, Maj, Chromatic, &[Major, Major7, Dominant7]),
        (1, Dim, Chromatic, &[Diminished7]),
        (6, Dim, Chromatic, &[Diminished7, HalfDiminished7]),
        (0, Aug, Chromatic, &[Augmented]),
        (10, Min, Chromatic, &[Minor7]),
    ]
};

/// Colour rank of a quality: 0 plain triads, 1 sevenths/sixths/sus/add, 2 ninths and
/// altered colours (the core crate's [`ChordQuality::complexity`]).
fn colour(q: ChordQuality) -> u8 {
    q.complexity()
}

/// Whether a quality is a sus or add colour (scaled by the style's sus or add affinity rather
/// than its seventh affinity).
fn is_sus_or_add(q: ChordQuality) -> bool {
    use ChordQuality::*;
    matches!(
        q,
        Sus2 | Sus4 | Dominant7Sus4 | AddNine | MinorAddNine | Major6 | Minor6
    )
}

fn is_sus(q: ChordQuality) -> bool {
    use ChordQuality::*;
    matches!(q, Sus2 | Sus4 | Dominant7Sus4)
}

/// Weirdness below which colour-1 qualities (sevenths, sus, add) are not offered at all.
pub(crate) const COLOUR1_FROM: f32 = 0.12;
/// Weirdness below which colour-2 qualities (ninths, dim7, aug) are not offered.
pub(crate) const COLOUR2_FROM: f32 = 0.45;
/// Weirdness below which chromatic families are not offered.
pub(crate) const CHROMATIC_FROM: f32 = 0.55;

/// Build the vocabulary for a key (given by its relative-major tonic) and settings.
///
/// The log priors are costs paid once per chord change. Constants are design choices, set so
/// that at the default weirdness (0.3) a seventh costs about as much as one beat of melody
/// mismatch and a secondary dominant about two, and at weirdness 1 colours are nearly free:
/// they scale linearly with `1 - weirdness`.
pub(crate) fn vocabulary(
    major_tonic: PitchClass,
    weirdness: f32,
    habits: &Habits,
) -> Vec<Candidate> {
    let w = weirdness.clamp(0.0, 1.0);
    let mut out = Vec::with_capacity(64);
    for &(rel, kind, class, qualities) in FAMILIES {
        if class == Chromatic && w < CHROMATIC_FROM {
            continue;
        }
        let root = major_tonic.transpose(i32::from(rel));
        let fam_cost = match class {
            Diatonic => {
                // vii° is rare as a triad in pop (about 1 % of chords in the rock corpus).
                if kind == Dim { 2.0 } else { 0.0 }
            }
            Borrowed => (2.2 + 3.0 * (1.0 - w)) * (1.0 - 0.5 * habits.borrowed_affinity),
            Chromatic => 2.0 + 3.0 * (1.0 - w),
        };
        // V of the relative minor is diatonic only to the minor side of the key pair.
        let fam_cost = if rel == 4 && kind == Maj {
            1.0 + 2.0 * (1.0 - habits.minor_lean.clamp(0.0, 1.0))
        } else {
            fam_cost
        };
        for &q in qualities {
            let c = colour(q);
            let is_triad_of_dim = kind == Dim && q == ChordQuality::Diminished;
            if c >= 1 && !is_triad_of_dim && w < COLOUR1_FROM {
                // Below the first gate only plain triads (and the diminished triad of vii°).
                continue;
            }
            if c >= 2 && w < COLOUR2_FROM {
                continue;
            }
            // V/IV (I7) is a secondary dominant in colour: treat it as borrowed.
            if rel == 0 && q == ChordQuality::Dominant7 && w < COLOUR1_FROM {
                continue;
            }
            // styles that avoid sus chords (pop, rock's cousins) use them only when asked
            // for weirder harmony
            if is_sus(q) && habits.sus_affinity < 0.0 && w < 0.4 {
                continue;
            }
            let affinity = if is_sus(q) {
                habits.sus_affinity
            } else if is_sus_or_add(q) {
                habits.add_affinity
            } else {
                habits.seventh_affinity
            };
            let qual_cost = match c {
                0 => {
                    // Styles that live on sevenths (jazz, neo-soul) find bare triads plain.
                    0.8 * habits.seventh_affinity.max(0.0)
                }
                1 => (0.05 + 0.4 * (1.0 - w)) * (1.0 - 0.7 * affinity),
                _ => (1.2 + 3.0 * (1.0 - w)) * (1.0 - 0.6 * affinity),
            };
            let extra = if rel == 0 && q == ChordQuality::Dominant7 {
                1.5
            } else {
                0.0
            };
            let chord = Chord::new(root, q);
            let tension_mask = tension_mask(chord, kind, habits);
            out.push(Candidate {
                chord,
                family: Family { rel, kind },
                log_prior: -(fam_cost + qual_cost.max(0.0) + extra),
                mask: chord.mask(),
                tension_mask,
            });
        }
    }
    out
}

impl Candidate {
    /// Whether this is the plain triad of its family (what the first decoding pass uses).
    pub(crate) fn is_plain(&self) -> bool {
        use ChordQuality::*;
        matches!(
            self.chord.quality,
            Major | Minor | Diminished | Augmented | Diminished7
        ) && !(self.family.kind == Dim && self.chord.quality == Diminished && self.family.rel != 11)
    }
}

/// The allowed strong-beat tensions over a chord, as an absolute pitch-class mask.
fn tension_mask(chord: Chord, kind: Kind, habits: &Habits) -> u16 {
    let rel = match kind {
        Maj => habits.tensions_major,
        Min => habits.tensions_minor,
        Dim | Aug => 0,
    };
    let mut m = 0u16;
    for i in 0..12 {
        if rel & (1 << i) != 0 {
            m |= 1 << chord.root.transpose(i).index();
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pitch_class_has_a_chord_at_every_weirdness() {
        let h = Habits::default();
        for w in [0.0, 0.3, 0.6, 1.0] {
            for t in 0..12 {
                let v = vocabulary(PitchClass::new(t), w, &h);
                let all = v.iter().fold(0u16, |m, c| m | c.mask);
                assert_eq!(all, 0xFFF, "weirdness {w} tonic {t}");
            }
        }
    }

    #[test]
    fn vocabulary_grows_with_weirdness() {
        let h = Habits::default();
        let sizes: Vec<usize> = [0.0, 0.2, 0.5, 0.8]
            .iter()
            .map(|&w| vocabulary(PitchClass::C, w, &h).len())
            .collect();
        assert!(sizes.windows(2).all(|p| p[0] < p[1]), "{sizes:?}");
        let triads_only = vocabulary(PitchClass::C, 0.0, &h);
        assert!(
            triads_only.iter().all(|c| c.chord.quality.complexity() == 0
                || c.chord.quality == ChordQuality::Diminished)
        );
    }
}
