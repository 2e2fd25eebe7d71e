//! Property tests of the whole compose stage on synthetic melodies whose key, beats and notes
//! are known (the testkit's song-melody generator): the invariants (strong-beat
//! chords hold the melody note or an allowed tension; an excluded instrument never sounds;
//! same seed, same output) and the arrangement's structural promises.

use bandmate_core::{
    Analysis, BeatGrid, ChordSpan, Envelope, F0Track, GenerationParams, Key, Mode, ModelProfile,
    Note, PartRole, PitchClass, Weight,
};
use bandmate_testkit::Melody;
use proptest::prelude::*;

use crate::harmony::{self, is_strong_beat, strong_beat_note};
use crate::style::{Family, family_of_program};
use crate::tags;

/// An analysis that hears a generated melody exactly: its notes, beats, key, phrases from
/// rests and a loudness envelope that swells with pitch (as singers do).
pub(crate) fn analysis_of(m: &Melody) -> Analysis {
    let mut a = m.analysis();
    let hop = a.loudness.hop_s;
    let notes = &a.notes;
    a.loudness.db = (0..a.loudness.db.len())
        .map(|i| {
            let t = i as f64 * hop;
            notes
                .iter()
                .find(|n| n.onset <= t && t < n.offset)
                .map_or(-90.0, |n| -30.0 + (n.pitch - 60.0) * 0.5)
        })
        .collect();
    a.phrases = crate::phrasing::phrases_from_notes(&a.notes, &a.beats);
    a
}

fn melody(tonic: i32, minor: bool, bpm: f64, bpb: u32, bars: u32, seed: u64) -> Melody {
    let key = Key::new(
        PitchClass::new(tonic),
        if minor { Mode::Minor } else { Mode::Major },
    );
    Melody::generate(key, bpm, bpb, bars, seed)
}

fn chord_at(chart: &[ChordSpan], t: f64) -> Option<bandmate_core::Chord> {
    chart
        .iter()
        .find(|c| c.start <= t && t < c.end)
        .and_then(|c| c.chord)
}

const TAGS: &[&str] = &[
    "pop",
    "rock",
    "jazz",
    "lofi, relaxing",
    "bossa nova",
    "funk",
    "edm",
    "cinematic, dark",
    "country",
    "gospel",
    "piano ballad",
    "reggae",
    "hip hop",
    "ambient",
    "r&b",
    "acoustic",
];
const NEGATIVE_WORDS: &[&str] = &[
    "piano",
    "guitar",
    "strings",
    "drums",
    "fast drums",
    "bass",
    "synth",
    "pad",
    "brass",
    "organ",
    "electric piano",
    "sax",
    "choir",
    "percussion",
    "mallets",
    "flute",
    "jazz",
    "pop",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// On every strong beat the chord contains the sung note or a tension the style allows.
    #[test]
    fn strong_beat_chords_hold_the_melody(
        tonic in 0i32..12, minor in any::<bool>(), bpm in 60.0f64..160.0,
        three in any::<bool>(), seed in any::<u64>(), tag in 0usize..16,
        weird in 0u8..=100, aw in 0u8..=100,
    ) {
        let bpb = if three { 3 } else { 4 };
        let m = melody(tonic, minor, bpm, bpb, 8, seed);
        let a = analysis_of(&m);
        let params = GenerationParams {
            tags: TAGS[tag].into(),
            weirdness: Weight::from_hundredths(weird),
            audio_weight: Weight::from_hundredths(aw),
            seed,
            ..GenerationParams::default()
        };
        let plan = crate::plan(&a, &params).unwrap();
        let habits = tags::resolve(&params.tags, "", params.style_weight, a.tempo_bpm).habits;
        let grid = harmony::harmony_grid(&a);
        for i in 0..grid.len() {
            if !is_strong_beat(&grid, i) || grid.beats[i] < 0.0 {
                continue;
            }
            let Some(pc) = strong_beat_note(&a, &grid, i) else { continue };
            let chord = chord_at(&plan.chords, grid.beats[i] + 1e-6).expect("a chord on every beat");
            prop_assert!(
                harmony::allowed_over(chord, pc, &habits),
                "beat {i}: {} over {}", pc.sharp_name(), chord
            );
        }
    }

    /// An excluded instrument family never sounds, whatever the tags ask for.
    #[test]
    fn excluded_instruments_never_sound(
        tag in 0usize..16, neg in proptest::collection::vec(0usize..NEGATIVE_WORDS.len(), 1..4),
        seed in any::<u64>(), sw in 0u8..=100, v5 in any::<bool>(),
    ) {
        let m = melody(2, false, 100.0, 4, 8, seed);
        let a = analysis_of(&m);
        let negative: Vec<&str> = neg.iter().map(|&i| NEGATIVE_WORDS[i]).collect();
        let params = GenerationParams {
            tags: format!("{}, piano, strings, guitar, synth, brass", TAGS[tag]),
            negative_tags: negative.join(", "),
            style_weight: Weight::from_hundredths(sw),
            model: if v5 { ModelProfile::V5 } else { ModelProfile::V45Plus },
            seed,
            ..GenerationParams::default()
        };
        let resolved = tags::resolve(&params.tags, &params.negative_tags, params.style_weight, a.tempo_bpm);
        let plan = crate::plan(&a, &params).unwrap();
        for genre in &resolved.excluded_styles {
            prop_assert_ne!(&plan.style.id, genre);
            prop_assert!(plan.style.blend.iter().all(|(id, _)| id != genre));
        }
        for v in [1u8, 2] {
            let arr = crate::arrange(&a, &plan, &params, v).unwrap();
            for p in &arr.parts {
                let fam = family_of_program(p.program, p.bank, p.role);
                prop_assert!(fam.is_none_or(|f| !resolved.excluded_families.contains(&f)),
                    "{} (program {}) plays though {:?} is excluded", p.name, p.program, negative);
                if negative.contains(&"drums") {
                    prop_assert!(p.role != PartRole::Drums);
                }
                if negative.contains(&"fast drums") && !negative.contains(&"drums") && p.role == PartRole::Drums {
                    // sparse: at most two kicks and two snares a bar, hats in quarters
                    let bars = arr.grid.len() / usize::from(arr.grid.beats_per_bar);
                    let per_bar = p.notes.len() as f64 / bars.max(1) as f64;
                    prop_assert!(per_bar <= 12.0, "{per_bar} drum notes a bar");
                }
            }
        }
    }

    /// Same input and seed, same plan, arrangement and MIDI bytes; another seed differs.
    #[test]
    fn same_seed_same_song(seed in any::<u64>(), tag in 0usize..16, weird in 0u8..=100) {
        let m = melody(7, true, 92.0, 4, 8, 3);
        let a = analysis_of(&m);
        let params = GenerationParams {
            tags: TAGS[tag].into(),
            weirdness: Weight::from_hundredths(weird),
            model: ModelProfile::V5,
            seed,
            ..GenerationParams::default()
        };
        let p1 = crate::plan(&a, &params).unwrap();
        let p2 = crate::plan(&a, &params).unwrap();
        prop_assert_eq!(&p1, &p2);
        for v in [1u8, 2] {
            let x = crate::arrange(&a, &p1, &params, v).unwrap();
            let y = crate::arrange(&a, &p2, &params, v).unwrap();
            prop_assert_eq!(crate::to_midi(&x), crate::to_midi(&y));
            prop_assert_eq!(x, y);
        }
        let other = GenerationParams { seed: seed ^ 0x5555, ..params.clone() };
        let x = crate::arrange(&a, &p1, &params, 1).unwrap();
        let z = crate::arrange(&a, &crate::plan(&a, &other).unwrap(), &other, 1).unwrap();
        prop_assert_ne!(x, z);
    }
}

#[test]
fn arrangement_is_well_formed_and_frames_the_vocal() {
    let m = melody(0, false, 110.0, 4, 16, 11);
    let a = analysis_of(&m);
    for tag in TAGS {
        let params = GenerationParams {
            tags: (*tag).into(),
            seed: 5,
            ..GenerationParams::default()
        };
        let plan = crate::plan(&a, &params).unwrap();
        // the chart covers the input without gaps
        assert!(plan.chords[0].start == 0.0);
        assert!(
            plan.chords
                .windows(2)
                .all(|w| (w[0].end - w[1].start).abs() < 1e-9)
        );
        assert!((plan.chords.last().unwrap().end - a.duration_s).abs() < 1e-9);
        for v in [1u8, 2] {
            let arr = crate::arrange(&a, &plan, &params, v).unwrap();
            assert_eq!(arr.grid.beats[0], 0.0, "{tag}");
            assert!(arr.vocal_offset_s > 0.0, "{tag}: an intro before the vocal");
            let first_note = a.notes[0].onset + arr.vocal_offset_s;
            let last_note = a.notes.last().unwrap().offset + arr.vocal_offset_s;
            let band_end = arr
                .parts
                .iter()
                .flat_map(|p| p.notes.iter().map(|n| n.start + n.duration))
                .fold(0.0, f64::max);
            assert!(
                band_end > last_note + 1.0,
                "{tag}: an ending after the vocal"
            );
            assert!(
                arr.parts
                    .iter()
                    .any(|p| p.notes.iter().any(|n| n.start < first_note - 0.5)),
                "{tag}: the band plays before the vocal"
            );
            assert!(arr.length_s >= band_end);
            assert!(arr.parts.len() >= 3, "{tag}: {} parts", arr.parts.len());
            for p in &arr.parts {
                assert!(
                    p.notes.windows(2).all(|w| w[0].start <= w[1].start),
                    "{tag} {}",
                    p.name
                );
                assert!(
                    p.notes
                        .iter()
                        .all(|n| n.velocity >= 1 && n.velocity <= 127 && n.key <= 127)
                );
                assert!(p.notes.iter().all(|n| n.duration > 0.0 && n.start >= 0.0));
                // one key never overlaps itself within a part
                for (i, n) in p.notes.iter().enumerate() {
                    if let Some(m) = p.notes[i + 1..].iter().find(|m| m.key == n.key) {
                        assert!(
                            n.start + n.duration <= m.start + 1e-9,
                            "{tag} {} key {}",
                            p.name,
                            n.key
                        );
                    }
                }
                if p.role.is_percussion() {
                    assert_eq!((p.channel, p.bank), (9, 128), "{tag} {}", p.name);
                } else {
                    assert_ne!(p.channel, 9, "{tag} {}", p.name);
                }
            }
            // the song chart starts at song time 0 and covers the song grid
            assert_eq!(arr.chart[0].start, 0.0);
        }
    }
}

#[test]
fn chord_instruments_keep_out_of_the_voice() {
    for (seed, tonic) in [(1u64, 0), (2, 5), (3, 9), (4, 2)] {
        let m = melody(tonic, false, 96.0, 4, 16, seed);
        let a = analysis_of(&m);
        // the promise holds inside the song's range (5th–95th percentiles); the rare notes
        // outside it do not move the band
        let (glo, ghi) = a.vocal_range().unwrap();
        for tag in ["pop", "piano ballad", "jazz", "acoustic", "rnb"] {
            let params = GenerationParams {
                tags: tag.into(),
                seed,
                ..GenerationParams::default()
            };
            let plan = crate::plan(&a, &params).unwrap();
            for v in [1u8, 2] {
                let arr = crate::arrange(&a, &plan, &params, v).unwrap();
                let off = arr.vocal_offset_s;
                for p in &arr.parts {
                    if !matches!(
                        p.role,
                        PartRole::Piano
                            | PartRole::Keys
                            | PartRole::Guitar
                            | PartRole::Strings
                            | PartRole::Pad
                    ) {
                        continue;
                    }
                    for n in &p.notes {
                        // the range sung while this note sounds
                        let sung: Vec<f32> = a
                            .notes
                            .iter()
                            .filter(|s| {
                                s.onset + off < n.start + n.duration && s.offset + off > n.start
                            })
                            .map(|s| s.pitch.round().clamp(glo.round(), ghi.round()))
                            .collect();
                        let Some(lo) = sung.iter().copied().reduce(f32::min) else {
                            continue;
                        };
                        let hi = sung.iter().copied().fold(lo, f32::max);
                        let key = f32::from(n.key);
                        assert!(
                            !(key >= lo && key <= hi),
                            "{tag} v{v} {}: key {} inside the line sung meanwhile {lo}..{hi}",
                            p.name,
                            n.key
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn variations_differ_in_groove_instruments_and_voicing() {
    let m = melody(4, false, 100.0, 4, 16, 9);
    let a = analysis_of(&m);
    for tag in TAGS {
        let params = GenerationParams {
            tags: (*tag).into(),
            seed: 1,
            ..GenerationParams::default()
        };
        let plan = crate::plan(&a, &params).unwrap();
        let v1 = crate::arrange(&a, &plan, &params, 1).unwrap();
        let v2 = crate::arrange(&a, &plan, &params, 2).unwrap();
        let programs = |x: &bandmate_core::Arrangement| -> Vec<(u8, u16)> {
            x.parts.iter().map(|p| (p.program, p.bank)).collect()
        };
        assert_ne!(programs(&v1), programs(&v2), "{tag}: same instruments");
        let drums = |x: &bandmate_core::Arrangement| -> Vec<(i64, u8)> {
            x.parts
                .iter()
                .filter(|p| p.role == PartRole::Drums)
                .flat_map(|p| p.notes.iter().map(|n| ((n.start * 100.0) as i64, n.key)))
                .collect()
        };
        assert_ne!(drums(&v1), drums(&v2), "{tag}: same groove");
    }
}

#[test]
fn invalid_variation_is_an_error() {
    let m = melody(0, false, 100.0, 4, 4, 1);
    let a = analysis_of(&m);
    let params = GenerationParams::default();
    let plan = crate::plan(&a, &params).unwrap();
    assert_eq!(
        crate::arrange(&a, &plan, &params, 3).unwrap_err(),
        crate::ComposeError::InvalidVariation(3)
    );
}

#[test]
fn weirdness_widens_the_vocabulary_and_excluded_family_lookup_is_sane() {
    let m = melody(0, false, 100.0, 4, 16, 21);
    let a = analysis_of(&m);
    let distinct = |w: u8| -> usize {
        let params = GenerationParams {
            weirdness: Weight::from_hundredths(w),
            ..GenerationParams::default()
        };
        let plan = crate::plan(&a, &params).unwrap();
        let mut v: Vec<String> = plan
            .chords
            .iter()
            .filter_map(|c| c.chord.map(|c| c.to_string()))
            .collect();
        v.sort();
        v.dedup();
        v.len()
    };
    assert!(distinct(100) > distinct(0));
    assert_eq!(
        family_of_program(0, 0, PartRole::Piano),
        Some(Family::Piano)
    );
    assert_eq!(
        family_of_program(0, 128, PartRole::Drums),
        Some(Family::Drums)
    );
}

fn arb_analysis() -> impl Strategy<Value = Analysis> {
    (
        2u8..=12,
        2usize..160,
        40.0f64..240.0,
        proptest::collection::vec(
            (-5.0f64..80.0, 0.0f64..3.0, 30.0f32..90.0, 0.0f32..1.0),
            0..120,
        ),
        0usize..12,
        any::<bool>(),
        0usize..4,
    )
        .prop_map(|(bpb, n, bpm, raw, tonic, minor, phrase_junk)| {
            let spb = 60.0 / bpm;
            let grid = BeatGrid::new(
                (0..n).map(|i| 0.3 + i as f64 * spb).collect(),
                bpb,
                n % usize::from(bpb),
            )
            .expect("grid");
            let mut notes: Vec<Note> = raw
                .iter()
                .map(|&(on, len, p, s)| Note {
                    onset: on,
                    offset: on + len,
                    pitch: p,
                    salience: s,
                })
                .collect();
            notes.sort_by(|a, b| a.onset.total_cmp(&b.onset));
            let duration = 0.3 + n as f64 * spb + 1.0;
            let phrases = if phrase_junk == 0 {
                // inconsistent phrases must not break anything
                vec![bandmate_core::Phrase {
                    start: 1.0,
                    end: 0.5,
                    first_note: 7,
                    end_note: 300,
                }]
            } else {
                crate::phrasing::phrases_from_notes(&notes, &grid)
            };
            Analysis {
                duration_s: duration,
                tuning_cents: 12.0,
                f0: F0Track {
                    hop_s: 0.01,
                    hz: vec![],
                    voicing: vec![],
                },
                loudness: Envelope {
                    hop_s: 0.01,
                    db: vec![-20.0; (duration * 50.0) as usize],
                },
                notes,
                phrases,
                onsets: vec![],
                tempo_bpm: bpm,
                beats: grid,
                key: Key::new(
                    PitchClass::new(tonic as i32),
                    if minor { Mode::Minor } else { Mode::Major },
                ),
                key_confidence: 0.5,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    /// Any analysis the contract allows gives a plan, two arrangements and MIDI files without
    /// panicking: notes outside the grid, odd meters, no notes, nonsense phrases.
    #[test]
    fn any_analysis_is_arranged(a in arb_analysis(), tag in 0usize..16, seed in any::<u64>(), w in 0u8..=100) {
        let params = GenerationParams {
            tags: TAGS[tag].into(),
            weirdness: Weight::from_hundredths(w),
            seed,
            ..GenerationParams::default()
        };
        let plan = crate::plan(&a, &params).unwrap();
        prop_assert!(!plan.chords.is_empty());
        prop_assert!(plan.chords.iter().all(|c| c.end > c.start && c.start >= 0.0 && c.end <= a.duration_s + 1e-9));
        for v in [1u8, 2] {
            let arr = crate::arrange(&a, &plan, &params, v).unwrap();
            prop_assert!(arr.vocal_offset_s >= 0.0);
            prop_assert!(arr.length_s.is_finite());
            let midi = crate::to_midi(&arr);
            prop_assert!(midly::Smf::parse(&midi).is_ok());
        }
    }
}

#[test]
fn the_band_follows_the_singers_energy() {
    let m = melody(9, false, 100.0, 4, 16, 4);
    let mut a = analysis_of(&m);
    // the first eight bars sung softly, the last eight loudly
    let half = m.lead_in_s + 8.0 * 4.0 * 0.6;
    for (i, d) in a.loudness.db.iter_mut().enumerate() {
        let t = i as f64 * a.loudness.hop_s;
        if *d > -80.0 {
            *d = if t < half { -40.0 } else { -10.0 };
        }
    }
    for model in [ModelProfile::V45Plus, ModelProfile::V5] {
        let params = GenerationParams {
            tags: "pop".into(),
            model,
            seed: 2,
            ..GenerationParams::default()
        };
        let plan = crate::plan(&a, &params).unwrap();
        let arr = crate::arrange(&a, &plan, &params, 1).unwrap();
        let (q0, q1) = (m.lead_in_s + arr.vocal_offset_s, half + arr.vocal_offset_s);
        let l1 = m.lead_in_s + 16.0 * 4.0 * 0.6 + arr.vocal_offset_s;
        let stats = |t0: f64, t1: f64| -> (f64, f64) {
            let notes: Vec<&bandmate_core::NoteEvent> = arr
                .parts
                .iter()
                .flat_map(|p| p.notes.iter())
                .filter(|n| n.start >= t0 && n.start < t1)
                .collect();
            let vel = notes.iter().map(|n| f64::from(n.velocity)).sum::<f64>()
                / notes.len().max(1) as f64;
            (notes.len() as f64 / (t1 - t0), vel)
        };
        let (dq, vq) = stats(q0, q1);
        let (dl, vl) = stats(q1, l1);
        assert!(dl > dq, "{model}: {dl:.1} notes/s loud vs {dq:.1} quiet");
        assert!(
            vl > vq + 5.0,
            "{model}: velocity {vl:.0} loud vs {vq:.0} quiet"
        );
    }
}

#[test]
fn absurd_inputs_are_refused_or_survived() {
    let m = melody(0, false, 100.0, 4, 4, 1);
    let mut a = analysis_of(&m);
    a.duration_s = 1.0e7;
    let params = GenerationParams::default();
    assert!(matches!(
        crate::plan(&a, &params),
        Err(crate::ComposeError::TooLong { .. })
    ));
    let mut b = analysis_of(&m);
    b.notes[0].onset = f64::NEG_INFINITY;
    b.notes[1].offset = f64::NAN;
    b.notes[2].onset = -1.0e9;
    let plan = crate::plan(&b, &params);
    assert!(
        matches!(plan, Err(crate::ComposeError::TooLong { .. })),
        "{plan:?}"
    );
    let mut c = analysis_of(&m);
    c.notes[0].onset = f64::NEG_INFINITY;
    c.notes[1].pitch = f32::NAN;
    let plan = crate::plan(&c, &params).unwrap();
    for v in [1u8, 2] {
        let arr = crate::arrange(&c, &plan, &params, v).unwrap();
        assert!(midly::Smf::parse(&crate::to_midi(&arr)).is_ok());
    }
}

#[test]
fn named_instruments_play_and_style_weight_one_plays_only_them() {
    let m = melody(5, false, 122.0, 4, 8, 6);
    let a = analysis_of(&m);
    let fams = |arr: &bandmate_core::Arrangement| -> Vec<Family> {
        arr.parts
            .iter()
            .filter_map(|p| family_of_program(p.program, p.bank, p.role))
            .collect()
    };
    // a hint: the piano joins the EDM band
    let params = GenerationParams {
        tags: "edm, piano, strings".into(),
        seed: 1,
        ..GenerationParams::default()
    };
    let plan = crate::plan(&a, &params).unwrap();
    assert_eq!(plan.style.id, "edm");
    let arr = crate::arrange(&a, &plan, &params, 1).unwrap();
    assert!(fams(&arr).contains(&Family::Piano), "{:?}", fams(&arr));
    assert!(fams(&arr).contains(&Family::Strings), "{:?}", fams(&arr));
    // literal: jazz with only a piano (and the rhythm section)
    let params = GenerationParams {
        tags: "jazz, piano".into(),
        style_weight: Weight::ONE,
        seed: 1,
        ..GenerationParams::default()
    };
    let plan = crate::plan(&a, &params).unwrap();
    for v in [1u8, 2] {
        let arr = crate::arrange(&a, &plan, &params, v).unwrap();
        for f in fams(&arr) {
            assert!(
                matches!(f, Family::Piano | Family::Drums | Family::Bass),
                "v{v}: {f:?} plays though only the piano was named"
            );
        }
        assert!(fams(&arr).contains(&Family::Piano));
    }
}

#[test]
fn a_quiet_ballad_arpeggio_walks_through_the_chord() {
    // Soft tags keep every bar at a low level, where busy patterns are thinned to the beat;
    // the ballad's eighth-note arpeggio must then still move (1-2-3-4), not strike one note
    // again and again.
    let m = melody(11, false, 64.0, 4, 16, 5);
    let a = analysis_of(&m);
    let params = GenerationParams {
        tags: "relaxing, piano, soothing".into(),
        model: ModelProfile::V5,
        seed: 5,
        ..GenerationParams::default()
    };
    let plan = crate::plan(&a, &params).unwrap();
    let arr = crate::arrange(&a, &plan, &params, 1).unwrap();
    let piano = arr
        .parts
        .iter()
        .find(|p| p.role == PartRole::Piano)
        .expect("the ballad has a piano");
    let mut onsets: Vec<(f64, u8)> = piano.notes.iter().map(|n| (n.start, n.key)).collect();
    onsets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let singles: Vec<u8> = onsets
        .iter()
        .enumerate()
        .filter(|(i, n)| {
            let close = |o: &(f64, u8)| (o.0 - n.0).abs() < 0.05;
            !onsets[..*i].iter().any(close) && !onsets[i + 1..].iter().any(close)
        })
        .map(|(_, n)| n.1)
        .collect();
    assert!(
        singles.len() > 20,
        "an arpeggio: {} single notes",
        singles.len()
    );
    let repeats = singles.windows(2).filter(|w| w[0] == w[1]).count();
    assert!(
        (repeats as f64) < 0.1 * singles.len() as f64,
        "{repeats} of {} arpeggio notes repeat the one before",
        singles.len()
    );
}

#[test]
fn the_band_sits_close_around_a_high_voice() {
    // A line up to G#5/A5: the parts that sit above the voice (bells, arps) stay within an
    // octave and a fourth of its top, never up in the shrill seventh octave, and the comping
    // instruments sit under the line on average, not above it.
    let m = melody(2, false, 90.0, 4, 16, 11);
    let a = analysis_of(&m);
    let (_, top) = a.vocal_range().unwrap();
    for tag in ["jazz", "ambient", "edm", "lofi"] {
        let params = GenerationParams {
            tags: tag.into(),
            seed: 11,
            ..GenerationParams::default()
        };
        let plan = crate::plan(&a, &params).unwrap();
        for v in [1u8, 2] {
            let arr = crate::arrange(&a, &plan, &params, v).unwrap();
            for p in arr.parts.iter().filter(|p| p.role != PartRole::Drums) {
                if matches!(p.role, PartRole::Piano | PartRole::Keys | PartRole::Guitar)
                    && family_of_program(p.program, p.bank, p.role) != Some(Family::Mallets)
                    && !p.notes.is_empty()
                {
                    let mean = p.notes.iter().map(|n| f32::from(n.key)).sum::<f32>()
                        / p.notes.len() as f32;
                    let sung = a.notes.iter().map(|n| n.pitch).sum::<f32>() / a.notes.len() as f32;
                    assert!(
                        mean < sung,
                        "{tag} v{v} {}: comping at {mean} over a line at {sung}",
                        p.name
                    );
                }
                for n in &p.notes {
                    assert!(
                        f32::from(n.key) <= top.round() + 17.0,
                        "{tag} v{v} {}: key {} far above the voice's top {top}",
                        p.name,
                        n.key
                    );
                }
            }
        }
    }
}

/// Random tags from the parser's whole vocabulary: up to `n` tags of one to three words each.
fn arb_tags(n: usize) -> impl Strategy<Value = String> {
    let vocab = tags::vocabulary();
    let len = vocab.len();
    proptest::collection::vec(proptest::collection::vec(0..len, 1..=3), 0..=n).prop_map(
        move |tags| {
            tags.iter()
                .map(|words| {
                    words
                        .iter()
                        .map(|&i| vocab[i])
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join(", ")
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Every part of every arrangement plays a preset of [`crate::presets`] (the renderer
    /// loads only those), percussion on bank 128 and everything else on bank 0: random
    /// analyses, tags and negative tags from the whole vocabulary, weights, weirdness, models
    /// and seeds.
    #[test]
    fn every_part_plays_a_listed_preset(
        a in arb_analysis(), tags in arb_tags(4), negative in arb_tags(2),
        sw in 0u8..=100, weird in 0u8..=100, aw in 0u8..=100, v5 in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let listed = crate::presets();
        let params = GenerationParams {
            tags,
            negative_tags: negative,
            style_weight: Weight::from_hundredths(sw),
            weirdness: Weight::from_hundredths(weird),
            audio_weight: Weight::from_hundredths(aw),
            model: if v5 { ModelProfile::V5 } else { ModelProfile::V45Plus },
            seed,
            ..GenerationParams::default()
        };
        let plan = crate::plan(&a, &params).unwrap();
        for v in [1u8, 2] {
            let arr = crate::arrange(&a, &plan, &params, v).unwrap();
            for p in &arr.parts {
                prop_assert!(
                    listed.binary_search(&(p.bank, p.program)).is_ok(),
                    "{} plays bank {} program {}, not in the list ({:?} / {:?}, weirdness {weird}, v{v})",
                    p.name, p.bank, p.program, params.tags, params.negative_tags
                );
                prop_assert_eq!(p.bank == 128, p.role.is_percussion(), "{}", p.name);
            }
        }
    }
}

#[test]
fn the_preset_list_covers_the_catalogue_and_nothing_odd() {
    let listed = crate::presets();
    assert!(listed.len() >= 40, "{} presets", listed.len());
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
    assert!(
        listed
            .iter()
            .all(|&(bank, program)| (bank == 0 || bank == 128) && program <= 127)
    );
    for s in crate::style::CATALOGUE {
        assert!(listed.contains(&(128, s.kit)), "{}'s kit", s.id);
        for i in s.bass.0 {
            assert!(listed.contains(&(0, i.program)), "{} {}", s.id, i.name);
        }
    }
    for l in crate::style::unusual_pads() {
        assert!(
            listed.contains(&(0, l.instrument.program)),
            "{}",
            l.instrument.name
        );
    }
    // The General MIDI piano and the standard kit are the fallbacks of every band.
    assert!(listed.contains(&(0, 0)) && listed.contains(&(128, 0)));
    let kits = listed.iter().filter(|p| p.0 == 128).count();
    eprintln!(
        "{} presets: {} programs, {kits} kits",
        listed.len(),
        listed.len() - kits
    );
}

#[test]
fn sparse_drums_in_three_four_keep_both_waltz_backbeats() {
    use crate::style::gm;
    // "rock" without "fast drums" plays the sparse kit; in 3/4 its snare (or rim) belongs on
    // beats 2 and 3 of the bar, as the full waltz pattern has it.
    let m = melody(0, false, 100.0, 3, 16, 7);
    let a = analysis_of(&m);
    let params = GenerationParams {
        tags: "rock".into(),
        negative_tags: "fast drums".into(),
        seed: 3,
        ..GenerationParams::default()
    };
    let plan = crate::plan(&a, &params).unwrap();
    for v in [1u8, 2] {
        let arr = crate::arrange(&a, &plan, &params, v).unwrap();
        assert_eq!(arr.grid.beats_per_bar, 3);
        let drums = arr
            .parts
            .iter()
            .find(|p| p.role == PartRole::Drums)
            .expect("a drum part");
        let mut on = [0usize; 3];
        for n in &drums.notes {
            if ![gm::SNARE, gm::RIM, gm::CLAP].contains(&n.key) {
                continue;
            }
            let b = arr.grid.beat_at(n.start + 0.01);
            if (b - b.round()).abs() < 0.1 {
                on[arr.grid.position_in_bar(b.round() as usize)] += 1;
            }
        }
        assert!(
            on[1] > 4 && on[2] > 4,
            "variation {v}: back-beats by position {on:?}"
        );
    }
}
