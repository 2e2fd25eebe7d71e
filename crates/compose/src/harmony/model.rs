//! The harmoniser's probability model: chord-to-chord habits (transitions) and what a melody
//! note says about the chord under it (observations).
//!
//! Transitions follow the MySong/Songsmith design (Simon, Morris & Basu, CHI 2008): separate
//! major-mode and minor-mode transition habits, blended by a "happy factor" (here
//! `minor_lean`: 0 uses the major habits, 1 the minor habits of the relative minor). The
//! tables are written between scale-degree families from published pop/rock corpus
//! statistics, rounded:
//! - de Clercq & Temperley (2011), "A corpus analysis of rock harmony" (Popular Music 30/1):
//!   I, IV, V dominate, IV→I and I→IV as common as V→I, vi→IV and bVII→I frequent, root
//!   motion by descending fifth (up a fourth) the most common, then ascending fifth and steps;
//! - Hooktheory's TheoryTab statistics of what follows each diatonic chord in pop songs
//!   ("Trends", hooktheory.com): after I mostly IV, V, vi; after ii mostly V; after iii mostly
//!   vi and IV; after IV mostly I and V; after V mostly I, vi and IV; after vi mostly IV, V;
//! - for minor: the Aeolian habits of pop/rock minor (i–VI–III–VII, i–VII–VI, iv–V–i, VI–VII–i;
//!   Biamonte 2010, "Triadic modal and pentatonic patterns in rock music", Music Theory
//!   Spectrum 32/2) and the harmonic-minor dominant.
//!
//! - for East-Asian pop (Mandopop, J-pop, K-pop ballads), the progressions that style is known
//!   for, counted as loops (see [`EAST_LOOPS`]): the Canon progression (I–V–vi–iii–IV–I–IV–V,
//!   "卡农进行"), the "4536251" (IV–iii–vi–V–ii–V–I, "万能和弦"), its variant with III7 as the
//!   way to vi, the J-pop "royal road" (IV–V–iii–vi, 王道進行), the Komuro / 1645 loop
//!   (vi–IV–V–I, 小室進行), the axis loop (I–V–vi–IV) and vi–ii–V–I. They use iii, ii and the
//!   III7 → vi move far more than Western rock, and the tonic less. A style blends them in by
//!   its `east_asian` habit.
//!
//! Chords outside those tables move by the general root-motion profile below and resolve as
//! their function says (a secondary dominant resolves down a fifth, bVI goes to bVII or V …).
//!
//! Observations are the chord-tone profile of Temperley's Melisma/Music-and-Probability
//! models (Temperley 2007, ch. 6; and the MySong observation vectors): a melody note is most
//! likely a chord tone, less likely a diatonic non-chord tone, rarely chromatic; the note's
//! weight grows with its duration and the metrical strength of its onset.

use super::vocab::{Candidate, Family, Kind};

/// Major-key habits between the seven diatonic families, rows "from", columns "to", in the
/// order I ii iii IV V vi vii°. Probabilities of the next *different* chord (rounded corpus
/// figures, see the module docs); V→iii is kept small but present (the "royal road"
/// IV–V–iii–vi of East-Asian pop).
const MAJOR: [[f32; 7]; 7] = [
    // I     ii    iii   IV    V     vi    vii
    [0.00, 0.08, 0.05, 0.35, 0.28, 0.22, 0.02], // I
    [0.14, 0.00, 0.05, 0.15, 0.50, 0.13, 0.03], // ii
    [0.07, 0.07, 0.00, 0.36, 0.08, 0.40, 0.02], // iii
    [0.38, 0.07, 0.06, 0.00, 0.34, 0.13, 0.02], // IV
    [0.46, 0.03, 0.07, 0.18, 0.00, 0.24, 0.02], // V
    [0.09, 0.12, 0.08, 0.42, 0.26, 0.00, 0.03], // vi
    [0.60, 0.02, 0.16, 0.04, 0.04, 0.14, 0.00], // vii°
];

/// Minor-key habits between i ii° III iv v V VI VII (natural minor plus the harmonic-minor
/// dominant), rows "from", columns "to".
const MINOR: [[f32; 8]; 8] = [
    // i     ii°   III   iv    v     V     VI    VII
    [0.00, 0.04, 0.12, 0.22, 0.08, 0.12, 0.22, 0.20], // i
    [0.15, 0.00, 0.05, 0.05, 0.10, 0.55, 0.05, 0.05], // ii°
    [0.12, 0.05, 0.00, 0.18, 0.05, 0.05, 0.25, 0.30], // III
    [0.35, 0.05, 0.07, 0.00, 0.10, 0.20, 0.08, 0.15], // iv
    [0.35, 0.05, 0.08, 0.15, 0.00, 0.00, 0.25, 0.12], // v
    [0.60, 0.04, 0.04, 0.08, 0.00, 0.00, 0.20, 0.04], // V
    [0.15, 0.05, 0.15, 0.20, 0.05, 0.10, 0.00, 0.30], // VI
    [0.30, 0.05, 0.35, 0.10, 0.05, 0.03, 0.12, 0.00], // VII
];

/// The families of [`MAJOR`]'s rows, relative to the major tonic.
const MAJOR_FAMS: [(u8, Kind); 7] = [
    (0, Kind::Maj),
    (2, Kind::Min),
    (4, Kind::Min),
    (5, Kind::Maj),
    (7, Kind::Maj),
    (9, Kind::Min),
    (11, Kind::Dim),
];

/// The families of [`MINOR`]'s rows, relative to the *major* tonic (the relative minor's
/// tonic is 9).
const MINOR_FAMS: [(u8, Kind); 8] = [
    (9, Kind::Min),
    (11, Kind::Dim),
    (0, Kind::Maj),
    (2, Kind::Min),
    (4, Kind::Min),
    (4, Kind::Maj),
    (5, Kind::Maj),
    (7, Kind::Maj),
];

/// The East-Asian pop loops and their weights (rough popularity; every loop is counted
/// cyclically), relative-major families. Sources: the progressions as taught and named in
/// Chinese and Japanese pop songwriting (see the module docs).
pub(crate) const EAST_LOOPS: &[(&[(u8, Kind)], f32)] = {
    use Kind::{Maj, Min};
    const I: (u8, Kind) = (0, Maj);
    const II: (u8, Kind) = (2, Min);
    const III: (u8, Kind) = (4, Min);
    const IV: (u8, Kind) = (5, Maj);
    const V: (u8, Kind) = (7, Maj);
    const VI: (u8, Kind) = (9, Min);
    const V_OF_VI: (u8, Kind) = (4, Maj);
    &[
        (&[I, V, VI, III, IV, I, IV, V], 1.0),  // Canon
        (&[IV, III, VI, V, II, V, I], 1.0),     // 4536251
        (&[IV, V_OF_VI, VI, V, II, V, I], 0.5), // 4536251 with III7 -> vi
        (&[IV, V, III, VI], 1.0),               // royal road
        (&[VI, IV, V, I], 1.0),                 // Komuro / 1645
        (&[I, V, VI, IV], 0.6),                 // axis
        (&[VI, II, V, I], 0.4),                 // 6-2-5-1
    ]
};

/// The families of the East-Asian table: I ii iii IV V vi III (III = V of vi).
const EAST_FAMS: [(u8, Kind); 7] = [
    (0, Kind::Maj),
    (2, Kind::Min),
    (4, Kind::Min),
    (5, Kind::Maj),
    (7, Kind::Maj),
    (9, Kind::Min),
    (4, Kind::Maj),
];

/// What follows each family in [`EAST_LOOPS`] (rows "from", in the order of [`EAST_FAMS`]):
/// the loops' transitions counted with their weights, each row normalised.
fn east_table() -> &'static [[f32; 7]; 7] {
    static TABLE: std::sync::OnceLock<[[f32; 7]; 7]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [[0.0f32; 7]; 7];
        for (chords, w) in EAST_LOOPS {
            for (i, &from) in chords.iter().enumerate() {
                let to = chords[(i + 1) % chords.len()];
                if let (Some(f), Some(g)) = (
                    EAST_FAMS.iter().position(|&x| x == from),
                    EAST_FAMS.iter().position(|&x| x == to),
                ) {
                    t[f][g] += w;
                }
            }
        }
        for row in &mut t {
            let total: f32 = row.iter().sum();
            if total > 0.0 {
                row.iter_mut().for_each(|x| *x /= total);
            }
        }
        t
    })
}

/// Root motion by interval (semitones up, 0..=11) for chords outside the tables, from the
/// root-interval distribution of de Clercq & Temperley (2011), rounded: up a fourth most
/// common, then up a fifth, steps, thirds; semitones and the tritone rare.
const ROOT_MOTION: [f32; 12] = [
    0.0, 0.02, 0.12, 0.05, 0.04, 0.28, 0.01, 0.23, 0.05, 0.07, 0.14, 0.02,
];

/// Share of each diatonic row kept for chords outside the diatonic tables (secondary
/// dominants, borrowed and chromatic chords); their own vocabulary cost comes on top.
const OUTSIDE_SHARE: f32 = 0.12;

fn index_of<const N: usize>(fams: &[(u8, Kind); N], f: Family) -> Option<usize> {
    fams.iter().position(|&(r, k)| r == f.rel && k == f.kind)
}

/// How a chord outside the tables resolves: (target family, probability) pairs of its
/// functional resolutions; the rest of its row follows [`ROOT_MOTION`].
fn resolutions(f: Family) -> &'static [((u8, Kind), f32)] {
    use Kind::*;
    match (f.rel, f.kind) {
        // secondary dominants resolve down a fifth (V/V→V, V/ii→ii, V/iii→iii, V/vi→vi)
        (2, Maj) => &[((7, Maj), 0.55), ((5, Maj), 0.1)],
        (9, Maj) => &[((2, Min), 0.55), ((5, Maj), 0.1)],
        (11, Maj) => &[((4, Min), 0.5), ((9, Min), 0.15)],
        (4, Maj) => &[((9, Min), 0.55), ((5, Maj), 0.15)],
        // borrowed: iv→I, bVII→I/IV, bVI→bVII/V/I, bIII→IV/bVII, minor v→I/IV
        (5, Min) => &[((0, Maj), 0.5), ((7, Maj), 0.2)],
        (10, Maj) => &[((0, Maj), 0.35), ((5, Maj), 0.25), ((8, Maj), 0.1)],
        (8, Maj) => &[((10, Maj), 0.35), ((7, Maj), 0.2), ((0, Maj), 0.2)],
        (3, Maj) => &[((5, Maj), 0.3), ((10, Maj), 0.25), ((8, Maj), 0.2)],
        (7, Min) => &[((0, Maj), 0.3), ((5, Maj), 0.3), ((9, Min), 0.1)],
        // chromatic: bII→I (tritone sub / Neapolitan), passing °7s resolve up a semitone
        (1, Maj) => &[((0, Maj), 0.5), ((7, Maj), 0.3)],
        (1, Dim) => &[((2, Min), 0.6), ((9, Min), 0.1)],
        (6, Dim) => &[((7, Maj), 0.5), ((0, Maj), 0.2)],
        (0, Aug) => &[((5, Maj), 0.4), ((9, Min), 0.3)],
        (10, Min) => &[((3, Maj), 0.5), ((5, Maj), 0.2)],
        _ => &[],
    }
}

/// Probability-like weight of moving from family `a` to a different family `b`, blending the
/// major and minor habits by `minor_lean`, and those with the East-Asian pop habits by
/// `east_asian` (families outside that table keep the blend of the other two).
pub(crate) fn family_transition(a: Family, b: Family, minor_lean: f32, east_asian: f32) -> f32 {
    let m = minor_lean.clamp(0.0, 1.0);
    let generic = |a: Family, b: Family| -> f32 {
        let iv = (i32::from(b.rel) - i32::from(a.rel)).rem_euclid(12) as usize;
        ROOT_MOTION[iv].max(0.005)
    };
    let row = |fams_a: Option<usize>, fams_b: Option<usize>, major: bool| -> f32 {
        match (fams_a, fams_b) {
            (Some(i), Some(j)) => {
                let p = if major { MAJOR[i][j] } else { MINOR[i][j] };
                p * (1.0 - OUTSIDE_SHARE) + 0.002
            }
            (Some(_), None) => OUTSIDE_SHARE * generic(a, b),
            (None, _) => {
                let res = resolutions(a);
                let hit = res
                    .iter()
                    .find(|&&((r, k), _)| r == b.rel && k == b.kind)
                    .map_or(0.0, |x| x.1);
                let rest = 1.0 - res.iter().map(|x| x.1).sum::<f32>();
                hit + rest * generic(a, b)
            }
        }
    };
    let pmaj = row(index_of(&MAJOR_FAMS, a), index_of(&MAJOR_FAMS, b), true);
    let pmin = row(index_of(&MINOR_FAMS, a), index_of(&MINOR_FAMS, b), false);
    let west = (1.0 - m) * pmaj + m * pmin;
    let e = east_asian.clamp(0.0, 1.0);
    match (index_of(&EAST_FAMS, a), index_of(&EAST_FAMS, b)) {
        (Some(i), Some(j)) if e > 0.0 => {
            (1.0 - e) * west + e * (east_table()[i][j] * (1.0 - OUTSIDE_SHARE) + 0.002)
        }
        _ => west,
    }
}

/// Weight of changing quality inside one family (C → Cmaj7, Gsus4 → G): a sus resolving to
/// its triad is a habit (the 4–3 suspension); other colour changes are occasional.
pub(crate) fn quality_change(from: &Candidate, to: &Candidate) -> f32 {
    use bandmate_core::ChordQuality::*;
    match (from.chord.quality, to.chord.quality) {
        (Sus4 | Sus2 | Dominant7Sus4, Major | Dominant7) => 0.35,
        (Major, Dominant7) | (Major, Major7) | (Minor, Minor7) => 0.12,
        _ => 0.06,
    }
}

/// The weight of the tonic family for the start, and of the dominant, blended by `minor_lean`:
/// (family, weight on the arrival beat, weight on the approach beats). The phrase ends use
/// [`cadence_for`], which keeps these weights but asks the melody's final note which cadence
/// it is.
pub(crate) fn cadence_targets(minor_lean: f32) -> [(Family, f32, f32); 4] {
    let m = minor_lean.clamp(0.0, 1.0);
    // (family, weight on the arrival beat, weight on the approach beats)
    [
        (
            Family {
                rel: 0,
                kind: Kind::Maj,
            },
            1.0 - m,
            0.0,
        ),
        (
            Family {
                rel: 9,
                kind: Kind::Min,
            },
            m,
            0.0,
        ),
        (
            Family {
                rel: 7,
                kind: Kind::Maj,
            },
            0.35 * (1.0 - m),
            1.0 - m,
        ),
        (
            Family {
                rel: 4,
                kind: Kind::Maj,
            },
            0.35 * m,
            m,
        ),
    ]
}

/// Weight of the chord a cadence arrives on, on the arrival beats: the tonic of an authentic
/// cadence …
const AUTHENTIC_ARRIVAL: f32 = 1.0;
/// … and the dominant of a half cadence (the share [`cadence_targets`] has always given V at a
/// phrase end, "V as a half cadence").
const HALF_ARRIVAL: f32 = 0.35;

/// The cadence a phrase ending implies, from the melody's final note (`rel`: its pitch class in
/// semitones above the relative-major tonic), blended by `minor_lean` like
/// [`cadence_targets`]: (family, weight on the arrival beats, weight on the two approach beats).
///
/// A cadence is named by the chord it ends on, and the melody's final note is a tone of that
/// chord (Caplin 1998, *Classical Form*, ch. 3; Aldwell & Schachter, *Harmony and Voice
/// Leading*, "Cadences"): a perfect authentic cadence ends the melody on 1 over I, an imperfect
/// one on 3; a half cadence ends on V with the melody on one of its tones, 2, 7 or 5. So:
/// - final note 1 or 3 (minor: 1 or ♭3) — authentic: the tonic on the arrival beats and the
///   dominant on the two beats before (V–I), the weights the rule always had;
/// - final note 2, 5 or 7 (minor: 2, 5 or the raised 7) — half cadence: the dominant on the
///   arrival beats, no approach;
/// - any other final note (4, 6, ♭7, chromatic) — no cadence is implied (plagal and deceptive
///   endings, or a breath inside a phrase): the habits and the melody decide alone.
///
/// The earlier rule asked for the tonic at every phrase end whatever was sung. A melody that
/// stops on 5 — a tone of both I and V — then got I, where a half cadence is the likelier
/// reading: on the POP909 development clips' analysed phrase ends, a final 5 in a major song
/// stood over V 46 % of the time and over I never, and the harmoniser wrote I there 49 % of the
/// time; in minor songs the tonic was written at 49 % of phrase ends against 23 % in the truth.
pub(crate) fn cadence_for(minor_lean: f32, rel: u8) -> [(Family, f32, f32); 4] {
    let m = minor_lean.clamp(0.0, 1.0);
    let family = |rel, kind| Family { rel, kind };
    // (tonic arrival, dominant arrival, dominant approach) for each side of the key pair
    let authentic = (AUTHENTIC_ARRIVAL, 0.0, 1.0);
    let half = (0.0, HALF_ARRIVAL, 0.0);
    let none = (0.0, 0.0, 0.0);
    // major: 1, 3 authentic; 2, 5, 7 half
    let major = match rel {
        0 | 4 => authentic,
        2 | 7 | 11 => half,
        _ => none,
    };
    // the relative minor (tonic 9): 1, b3 authentic; 2, 5, raised 7 half (its V is E major)
    let minor = match rel {
        9 | 0 => authentic,
        11 | 4 | 8 => half,
        _ => none,
    };
    [
        (family(0, Kind::Maj), major.0 * (1.0 - m), 0.0),
        (family(9, Kind::Min), minor.0 * m, 0.0),
        (
            family(7, Kind::Maj),
            major.1 * (1.0 - m),
            major.2 * (1.0 - m),
        ),
        (family(4, Kind::Maj), minor.1 * m, minor.2 * m),
    ]
}

/// Relative weights of a melody pitch class over a chord (Temperley-style chord-tone
/// profile), before normalisation: third 1.0, fifth 0.85, root 0.6 (the melody sits above
/// the bass and rests on the chord's third and fifth more often than on its root: with the
/// root weighted like the third, the model picked I where a harmoniser writes vi, and IV where
/// one writes ii, the chord a third lower sharing two tones; 0.6 was chosen on the POP909
/// development clips, the one constant of this model set that way), sevenths/sixths/ninths
/// 0.75 (a colour tone the melody touches makes the colour chord likely), an allowed
/// tension 0.2, a diatonic non-chord tone 0.1, a chromatic non-chord tone 0.025.
pub(crate) fn observation_profile(c: &Candidate, key_mask: u16) -> [f32; 12] {
    let mut w = [0.0f32; 12];
    let root = c.chord.root;
    for (pc, slot) in w.iter_mut().enumerate() {
        let bit = 1u16 << pc;
        let iv = root.interval_to(bandmate_core::PitchClass::new(pc as i32));
        *slot = if c.mask & bit != 0 {
            match iv {
                0 => 0.6,
                3 | 4 => 1.0,
                7 => 0.85,
                _ => 0.75,
            }
        } else if c.tension_mask & bit != 0 {
            0.2
        } else if key_mask & bit != 0 {
            0.1
        } else {
            0.025
        };
    }
    let s: f32 = w.iter().sum();
    for x in &mut w {
        *x = (*x / s).ln();
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn east_table_rows_are_distributions_over_the_loops_moves() {
        let t = east_table();
        for (f, row) in t.iter().enumerate() {
            let total: f32 = row.iter().sum();
            assert!((total - 1.0).abs() < 1e-5, "row {f} sums to {total}");
            assert_eq!(row[f], 0.0, "a loop never repeats a chord");
        }
        // the Canon, 4536251 and royal road make V go on to vi, ii and iii, not only to I
        let v = 4;
        assert!(t[v][0] < 0.6 && t[v][1] > 0.1 && t[v][2] > 0.1 && t[v][5] > 0.1);
        // III7 always resolves to vi in these loops
        assert_eq!(t[6][5], 1.0);
    }

    #[test]
    fn the_final_note_names_the_cadence() {
        let f = |rel, kind| Family { rel, kind };
        let weight = |t: &[(Family, f32, f32); 4], fam: Family| {
            t.iter()
                .filter(|x| x.0 == fam)
                .fold((0.0, 0.0), |s, x| (s.0 + x.1, s.1 + x.2))
        };
        let (tonic, dominant) = (f(0, Kind::Maj), f(7, Kind::Maj));
        // major: ending on 1 or 3 arrives on I after V; on 2, 5 or 7 it is a half cadence
        for rel in [0, 4] {
            let t = cadence_for(0.0, rel);
            assert_eq!(weight(&t, tonic), (AUTHENTIC_ARRIVAL, 0.0));
            assert_eq!(weight(&t, dominant), (0.0, 1.0));
        }
        for rel in [2, 7, 11] {
            let t = cadence_for(0.0, rel);
            assert_eq!(weight(&t, tonic), (0.0, 0.0), "rel {rel}");
            assert_eq!(weight(&t, dominant), (HALF_ARRIVAL, 0.0));
        }
        // 4, 6 and chromatic notes imply no cadence
        for rel in [5, 9, 1, 10] {
            assert!(
                cadence_for(0.0, rel)
                    .iter()
                    .all(|x| x.1 == 0.0 && x.2 == 0.0)
            );
        }
        // minor: ending on 1 or b3 arrives on i; on 5 (E over A minor) on V
        let (i, v) = (f(9, Kind::Min), f(4, Kind::Maj));
        assert_eq!(weight(&cadence_for(1.0, 0), i).0, AUTHENTIC_ARRIVAL);
        assert_eq!(weight(&cadence_for(1.0, 4), i).0, 0.0);
        assert_eq!(weight(&cadence_for(1.0, 4), v).0, HALF_ARRIVAL);
    }

    #[test]
    fn east_asian_habits_favour_the_royal_road_and_canon_moves() {
        let f = |rel, kind| Family { rel, kind };
        let v = f(7, Kind::Maj);
        let iii = f(4, Kind::Min);
        let i = f(0, Kind::Maj);
        // in the Western major table V -> iii is rare; the East-Asian habits make it common
        let west = family_transition(v, iii, 0.0, 0.0) / family_transition(v, i, 0.0, 0.0);
        let east = family_transition(v, iii, 0.0, 1.0) / family_transition(v, i, 0.0, 1.0);
        assert!(east > 1.5 * west, "west {west} east {east}");
        // III7 resolves to vi
        let iii7 = f(4, Kind::Maj);
        let vi = f(9, Kind::Min);
        assert!(family_transition(iii7, vi, 0.0, 1.0) > family_transition(iii7, vi, 0.0, 0.0));
    }
}
