//! The arranger: the plan and the analysis in, every instrument's notes out, in song time.
//!
//! Song form: an intro of the style's length (longer when the vocal starts late) that previews
//! the verse's chords and ends with a fill into the vocal; the vocal section, where each bar
//! gets a *level* 0–3 from the singer's energy (loudness of the bar and height of the sung
//! notes, against the song's own spread), and every layer of the band plays from its level up
//! (pads and extra layers join in the loud passages, drums thin out in the quiet ones); drum
//! fills and crashes at phrase ends and section starts; an ending of the style's length that
//! cadences to the tonic and holds it.
//!
//! Variations: variation 1 plays each style's first groove, bass line, comping and pad
//! instruments with close voicings; variation 2 the second ones with drop-2/wide voicings in
//! a different register and its own random stream, so the two differ in groove,
//! instrumentation and voicing. `V4_5PLUS` raises every level by a half step (fuller, more
//! layers), wider pans and more reverb; `V5` follows the vocal's dynamics more (wider velocity
//! range), humanises more (timing and velocity), and leaves out the top extra layer (lighter).
//!
//! Registers: chord instruments voice below the singer's range (`Analysis::vocal_range`, with
//! a margin) when there is room above the bass, else above it; the lead only plays in the
//! singer's gaps.

mod parts;
mod voicing;

use bandmate_core::{
    Analysis, Arrangement, BeatGrid, Chord, ChordSpan, GenerationParams, ModelProfile, Part,
    PartMix, PartRole, Plan, Rng,
};

use crate::ComposeError;
use crate::harmony;
use crate::style::{Family, Layer, Style};
use crate::tags::{self, DrumsMode, ResolvedStyle};

pub(crate) use voicing::Window;

/// The most beats an arrangement may have (about 40 minutes at 100 BPM): a limit on input.
pub const MAX_BEATS: usize = 4000;

/// One bar of the song.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bar {
    /// Index of its first beat in the song grid.
    pub beat: usize,
    /// Beats in it.
    pub len: usize,
    /// Section.
    pub section: Section,
    /// Level 0..=3.
    pub level: u8,
    /// Velocity scale 0.4..=1.
    pub dynamics: f32,
    /// A fill on its last beats.
    pub fill: bool,
    /// A crash on its downbeat.
    pub crash: bool,
    /// The singer sings in it.
    pub sung: bool,
}

/// Where a bar sits in the song.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Intro,
    Vocal,
    Ending,
}

/// Everything the part writers share.
pub(crate) struct Song<'a> {
    pub grid: BeatGrid,
    pub bars: Vec<Bar>,
    /// Chord per song beat.
    pub chords: Vec<Chord>,
    pub style: &'a ResolvedStyle,
    pub profile: ModelProfile,
    pub variation: u8,
    pub swing: f32,
    pub feel: tags::Feel,
    /// Vocal notes in song time (onset, offset, midi).
    pub vocal: Vec<(f64, f64, i32)>,
    /// Register windows (chord instruments, pads) per bar, from the notes sung around it.
    pub windows: Vec<(Window, Window)>,
    /// Vocal range (midi low, high).
    pub vocal_range: (i32, i32),
    pub audio_weight: f32,
    pub weirdness: f32,
    pub key: bandmate_core::Key,
}

impl Song<'_> {
    /// The chord at a fractional song beat.
    pub fn chord_at(&self, beat: f64) -> Chord {
        let i = (beat.max(0.0).floor() as usize).min(self.chords.len() - 1);
        self.chords[i]
    }

    /// Song time of a fractional beat, with swing applied to off-beat eighths (or sixteenths
    /// for light swing, the hip-hop/funk "pocket").
    pub fn time(&self, beat: f64) -> f64 {
        let frac = beat - beat.floor();
        let sw = f64::from(self.swing);
        let shifted = if sw >= 0.45 {
            // eighth swing: the off-beat eighth moves towards the last triplet eighth
            if (frac - 0.5).abs() < 1e-6 {
                beat.floor() + 0.5 + sw * (2.0 / 3.0 - 0.5)
            } else {
                beat
            }
        } else if sw > 0.0 {
            // sixteenth swing: the off-beat sixteenths move towards the triplet
            let q = frac * 4.0;
            if (q - q.round()).abs() < 1e-6 && (q.round() as i64) % 2 == 1 {
                beat + sw * (1.0 / 3.0 - 0.25)
            } else {
                beat
            }
        } else {
            beat
        };
        self.grid.time_at(shifted)
    }

    /// The chord instruments' register at a fractional song beat.
    pub fn comp_window(&self, beat: f64) -> Window {
        self.windows[self.bar_of(beat.max(0.0) as usize)].0
    }

    /// The pads' register at a fractional song beat.
    pub fn pad_window(&self, beat: f64) -> Window {
        self.windows[self.bar_of(beat.max(0.0) as usize)].1
    }

    /// The bar containing a song beat.
    pub fn bar_of(&self, beat: usize) -> usize {
        self.bars
            .partition_point(|b| b.beat <= beat)
            .saturating_sub(1)
    }

    /// Whether the singer sounds around song time `t` (with a margin in seconds).
    pub fn singing(&self, t0: f64, t1: f64) -> bool {
        let i = self.vocal.partition_point(|n| n.1 <= t0);
        self.vocal.get(i).is_some_and(|n| n.0 < t1)
    }
}

fn check_variation(variation: u8) -> Result<(), ComposeError> {
    if variation == 1 || variation == 2 {
        Ok(())
    } else {
        Err(ComposeError::InvalidVariation(variation))
    }
}

/// Arrange one variation (see the module docs).
pub fn arrange(
    analysis: &Analysis,
    plan: &Plan,
    params: &GenerationParams,
    variation: u8,
) -> Result<Arrangement, ComposeError> {
    check_variation(variation)?;
    let resolved = tags::resolve(
        &params.tags,
        &params.negative_tags,
        params.style_weight,
        analysis.tempo_bpm,
    );
    let rng = Rng::new(params.seed).fork(if variation == 1 {
        "variation-1"
    } else {
        "variation-2"
    });
    let h = harmony::harmony_grid(analysis);
    if h.len() > MAX_BEATS {
        return Err(ComposeError::TooLong {
            beats: h.len(),
            max: MAX_BEATS,
        });
    }
    let bpb = usize::from(h.beats_per_bar);
    let style = resolved.main;

    // vocal span in harmony-grid beats
    let notes: Vec<&bandmate_core::Note> = analysis
        .notes
        .iter()
        .filter(|n| n.onset.is_finite() && n.offset.is_finite() && n.offset > n.onset)
        .collect();
    let (first_b, last_b) = match (notes.first(), notes.last()) {
        (Some(f), Some(l)) => (h.beat_at(f.onset), h.beat_at(l.offset)),
        _ => (0.0, (h.len() - 1) as f64),
    };
    // the vocal enters at the bar of its first note, or the next bar for a pickup
    let bar_f = first_b.max(0.0) / bpb as f64;
    let entry_bar = if bar_f.fract() >= 0.5 {
        bar_f.floor() as usize + 1
    } else {
        bar_f.floor() as usize
    };
    let last_bar = (last_b.max(0.0) / bpb as f64).floor() as usize;
    let h_bars = h.len() / bpb;
    let intro_bars = usize::from(style.intro_bars)
        + if params.model == ModelProfile::V45Plus && style.intro_bars < 4 && variation == 2 {
            2
        } else {
            0
        };
    // slow songs: no intro or ending longer than about 12 s (a listener waits no longer)
    let bar_s = h.period() * bpb as f64;
    let cap = |bars: usize| -> usize {
        let mut b = bars;
        while b > 1 && b as f64 * bar_s > 12.0 {
            b -= 1;
        }
        b
    };
    let intro_bars = cap(intro_bars);
    let extra_before = intro_bars.saturating_sub(entry_bar);
    let ending_bars = cap(usize::from(style.ending_bars));
    let tail_bars = h_bars.saturating_sub(last_bar + 1);
    let extra_after = ending_bars.saturating_sub(tail_bars) + 1; // +1: the held final chord
    let p0 = h.beats[1] - h.beats[0];
    let shift = -(h.beats[0] - (extra_before * bpb) as f64 * p0);
    let mut grid = h.extended(extra_before * bpb, extra_after * bpb, shift);
    // a gentle ritardando over the last two bars (the final chord is held anyway)
    let n = grid.len();
    if n > 3 * bpb {
        let start = n - 2 * bpb;
        let mut t = grid.beats[start - 1];
        let base = grid.beats[start] - grid.beats[start - 1];
        for i in start..n {
            let k = (i - start + 1) as f64 / (2 * bpb) as f64;
            t += base * (1.0 + 0.25 * k);
            grid.beats[i] = t;
        }
    }
    let vocal_offset = shift;
    let song_entry_bar = entry_bar + extra_before;
    let song_last_bar = last_bar + extra_before;
    let total_bars = grid.len() / bpb;

    // chords per song beat: the plan's, intro and ending rewritten
    let mut chords: Vec<Chord> = (0..grid.len())
        .map(|i| chord_at_input(&plan.chords, grid.beats[i] - vocal_offset + 1e-6))
        .collect();
    let tonic = tonic_chord(plan.key);
    write_intro(
        &mut chords,
        bpb,
        song_entry_bar,
        &notes,
        &grid,
        vocal_offset,
    );
    write_ending(&mut chords, bpb, song_last_bar, total_bars, tonic, plan.key);

    // vocal notes in song time
    let vocal: Vec<(f64, f64, i32)> = notes
        .iter()
        .map(|n| {
            (
                n.onset + vocal_offset,
                n.offset + vocal_offset,
                n.midi(analysis.tuning_cents),
            )
        })
        .collect();

    // registers
    // the sung range; without notes, the vocalGender hint's typical range (tenor/baritone
    // C3–E4, alto/soprano A3–E5), else a middle voice
    let (vlo, vhi) = analysis.vocal_range().map_or_else(
        || match params.vocal_gender {
            Some(bandmate_core::VocalGender::Male) => (48, 64),
            Some(bandmate_core::VocalGender::Female) => (57, 76),
            None => (55, 72),
        },
        |(a, b)| (a.round() as i32, b.round() as i32),
    );

    // bars with levels
    let bars = levels(
        analysis,
        &grid,
        bpb,
        song_entry_bar,
        song_last_bar,
        total_bars,
        vocal_offset,
        &resolved,
        params.model,
        &vocal,
    );
    let windows = bar_windows(&bars, &grid, &vocal, (vlo, vhi), variation);

    let song = Song {
        grid,
        bars,
        chords,
        style: &resolved,
        profile: params.model,
        variation,
        swing: resolved.swing,
        feel: resolved.feel,
        vocal,
        windows,
        vocal_range: (vlo, vhi),
        audio_weight: params.audio_weight.get(),
        weirdness: params.weirdness.get(),
        key: plan.key,
    };

    let mut parts_out = band(&song, &resolved, variation, params, &rng);
    // channels: percussion on 9, the rest in order skipping 9
    let mut ch = 0u8;
    for p in &mut parts_out {
        if p.role.is_percussion() {
            p.channel = 9;
            p.bank = 128;
        } else {
            if ch == 9 {
                ch += 1;
            }
            p.channel = ch.min(15);
            ch = ch.saturating_add(1);
        }
    }
    parts_out.retain(|p| !p.notes.is_empty());
    // belt and braces: whatever the layer tables say, an excluded family never sounds
    parts_out.retain(|p| {
        crate::style::family_of_program(p.program, p.bank, p.role)
            .is_none_or(|f| !resolved.excluded_families.contains(&f))
    });

    let last_note_end = parts_out
        .iter()
        .flat_map(|p| p.notes.iter().map(|n| n.start + n.duration))
        .fold(0.0f64, f64::max);
    let grid_end = song.grid.beats[song.grid.len() - 1];
    let length_s = last_note_end.max(grid_end) + 2.0;
    let chart = chart_spans(&song.grid, &song.chords);
    Ok(Arrangement {
        variation,
        seed: params.seed,
        profile: params.model,
        key: plan.key,
        tempo_bpm: plan.tempo_bpm,
        grid: song.grid.clone(),
        vocal_offset_s: vocal_offset,
        length_s,
        chart,
        style_name: style.name.to_string(),
        parts: parts_out,
    })
}

/// The chord sounding at input time `t` (first/last chord outside the chart).
fn chord_at_input(chart: &[ChordSpan], t: f64) -> Chord {
    let fallback = Chord::new(
        bandmate_core::PitchClass::C,
        bandmate_core::ChordQuality::Major,
    );
    let first = chart.iter().find_map(|c| c.chord).unwrap_or(fallback);
    let i = chart.partition_point(|c| c.start <= t);
    if i == 0 {
        return first;
    }
    chart[..i]
        .iter()
        .rev()
        .find_map(|c| c.chord)
        .unwrap_or(first)
}

fn tonic_chord(key: bandmate_core::Key) -> Chord {
    let q = match key.mode {
        bandmate_core::Mode::Major => bandmate_core::ChordQuality::Major,
        bandmate_core::Mode::Minor => bandmate_core::ChordQuality::Minor,
    };
    Chord::new(key.tonic, q)
}

/// Intro bars (before the vocal's entry bar) preview the chords of the vocal's first bars;
/// a bar where pickup notes are sung keeps the harmoniser's chords.
fn write_intro(
    chords: &mut [Chord],
    bpb: usize,
    entry_bar: usize,
    notes: &[&bandmate_core::Note],
    grid: &BeatGrid,
    offset: f64,
) {
    if entry_bar == 0 {
        return;
    }
    let sung_from = notes
        .first()
        .map_or(f64::INFINITY, |n| grid.beat_at(n.onset + offset));
    for bar in 0..entry_bar {
        // the intro plays the vocal's first `l` bars in order, so its last bar is the one
        // before the vocal's first bar in the cycle (a turnaround into the verse)
        let l = entry_bar.clamp(1, 4);
        let src_bar = entry_bar + (bar + l - entry_bar % l) % l;
        for k in 0..bpb {
            let dst = bar * bpb + k;
            let src = src_bar * bpb + k;
            if (dst as f64) + 1.0 > sung_from - 0.01 {
                continue;
            }
            if src < chords.len() && dst < chords.len() {
                chords[dst] = chords[src];
            }
        }
    }
}

/// The ending: the bars after the last sung bar cadence to the tonic (IV or V, then I held).
fn write_ending(
    chords: &mut [Chord],
    bpb: usize,
    last_bar: usize,
    total_bars: usize,
    tonic: Chord,
    key: bandmate_core::Key,
) {
    if total_bars <= last_bar + 1 {
        return;
    }
    let final_bar = total_bars - 1;
    let pre = final_bar - 1;
    let last_sung = chords[((last_bar + 1) * bpb).min(chords.len()) - 1];
    let (iv, v) = match key.mode {
        bandmate_core::Mode::Major => (
            Chord::new(key.tonic.transpose(5), bandmate_core::ChordQuality::Major),
            Chord::new(key.tonic.transpose(7), bandmate_core::ChordQuality::Major),
        ),
        bandmate_core::Mode::Minor => (
            Chord::new(key.tonic.transpose(5), bandmate_core::ChordQuality::Minor),
            Chord::new(key.tonic.transpose(7), bandmate_core::ChordQuality::Major),
        ),
    };
    let approach = if last_sung.root == tonic.root { iv } else { v };
    // middle ending bars repeat the last sung bar's harmony
    for bar in (last_bar + 1)..pre {
        for k in 0..bpb {
            let src = last_bar * bpb + k;
            chords[bar * bpb + k] = chords[src];
        }
    }
    if pre > last_bar {
        for k in 0..bpb {
            chords[pre * bpb + k] = approach;
        }
    }
    for k in 0..bpb {
        chords[final_bar * bpb + k] = tonic;
    }
}

/// Register windows per bar: each from the notes sung in that bar and half a beat either side
/// (a melody moves through an octave and a half in a song, but rarely more than a sixth in a
/// bar, so the band can sit close under the line instead of under its lowest note all song
/// long). Unsung bars take the windows of the nearest sung bar (the next one first, so an
/// intro already sits where the first phrase needs it); with no notes at all, the whole range.
fn bar_windows(
    bars: &[Bar],
    grid: &BeatGrid,
    vocal: &[(f64, f64, i32)],
    range: (i32, i32),
    variation: u8,
) -> Vec<(Window, Window)> {
    let local: Vec<Option<(Window, Window)>> = bars
        .iter()
        .map(|bar| {
            let t0 = grid.time_at(bar.beat as f64 - 0.5);
            let t1 = grid.time_at((bar.beat + bar.len) as f64 + 0.5);
            // notes outside the song's range (its 5th–95th percentiles: a stray low note is
            // more often a mis-heard breath or octave than the line) do not move the band
            let sung = vocal
                .iter()
                .filter(|n| n.0 < t1 && n.1 > t0)
                .map(|n| n.2.clamp(range.0, range.1));
            let lo = sung.clone().min()?;
            let hi = sung.max()?;
            Some(registers(lo, hi, variation))
        })
        .collect();
    let whole = registers(range.0, range.1, variation);
    (0..local.len())
        .map(|b| {
            local[b]
                .or_else(|| local[b..].iter().flatten().next().copied())
                .or_else(|| local[..b].iter().rev().flatten().next().copied())
                .unwrap_or(whole)
        })
        .collect()
}

/// Register windows for chord instruments and pads, from the range sung (over a bar, or the
/// song). Chords go below the voice when at least ten semitones are free above A2 (45) and
/// under the voice's lowest note less a tone; otherwise above it (a low male line gets a
/// bright comp above). Variation 2 moves the comp window a little (inside the free space).
fn registers(vlo: i32, vhi: i32, variation: u8) -> (Window, Window) {
    let below_top = vlo - 2;
    let comp = if below_top >= 55 {
        let hi = below_top;
        let lo = (hi - 17).max(45);
        Window { lo, hi }
    } else {
        let lo = (vhi + 2).min(84);
        Window {
            lo,
            hi: (lo + 17).min(100),
        }
    };
    let comp = if variation == 2 && comp.hi - comp.lo >= 17 {
        // inside the same window, voice a little higher or lower for a different colour
        if comp.lo < vlo {
            Window {
                lo: comp.lo,
                hi: comp.hi - 2,
            }
        } else {
            Window {
                lo: comp.lo + 2,
                hi: comp.hi,
            }
        }
    } else {
        comp
    };
    let pad = if comp.hi < vlo {
        Window {
            lo: (comp.lo - 5).max(45),
            hi: comp.hi,
        }
    } else {
        Window {
            lo: comp.lo,
            hi: (comp.hi + 5).min(100),
        }
    };
    (comp, pad)
}

/// Levels and dynamics per bar from the vocal's energy.
#[allow(clippy::too_many_arguments)]
fn levels(
    a: &Analysis,
    grid: &BeatGrid,
    bpb: usize,
    entry_bar: usize,
    last_bar: usize,
    total_bars: usize,
    offset: f64,
    style: &ResolvedStyle,
    profile: ModelProfile,
    vocal: &[(f64, f64, i32)],
) -> Vec<Bar> {
    // raw energy of each vocal bar: loudness (dB) plus pitch height
    let mut raw: Vec<Option<f32>> = vec![None; total_bars];
    for (bar, slot) in raw
        .iter_mut()
        .enumerate()
        .take(last_bar + 1)
        .skip(entry_bar)
    {
        let t0 = grid.beats[bar * bpb];
        let t1 = grid.time_at(((bar + 1) * bpb) as f64);
        let sung: Vec<&(f64, f64, i32)> = vocal.iter().filter(|n| n.0 < t1 && n.1 > t0).collect();
        if sung.is_empty() {
            continue;
        }
        let pitch = sung.iter().map(|n| n.2 as f32).sum::<f32>() / sung.len() as f32;
        let loud = if a.loudness.db.is_empty() {
            None
        } else {
            Some(a.loudness.mean_db(t0 - offset, t1 - offset))
        };
        // 1 dB of level ~ 1 semitone of height: both mark a chorus (Huron 2006 on
        // pitch height and loudness as arousal cues)
        *slot = Some(pitch + loud.unwrap_or(0.0));
    }
    // smooth over 4-bar groups (phrases), then rank
    let groups: Vec<Option<f32>> = (0..total_bars)
        .map(|b| {
            let g0 = entry_bar + (b.saturating_sub(entry_bar) / 4) * 4;
            let vals: Vec<f32> = (g0..(g0 + 4).min(total_bars))
                .filter_map(|i| raw[i])
                .collect();
            if vals.is_empty() || b < entry_bar || b > last_bar {
                None
            } else {
                Some(vals.iter().sum::<f32>() / vals.len() as f32)
            }
        })
        .collect();
    let mut sorted: Vec<f32> = groups.iter().flatten().copied().collect();
    sorted.sort_by(f32::total_cmp);
    let rank = |v: f32| -> f32 {
        if sorted.len() < 2 {
            return 0.5;
        }
        let i = sorted.partition_point(|&x| x < v);
        i as f32 / (sorted.len() - 1) as f32
    };
    let bias = match profile {
        ModelProfile::V45Plus => 0.5,
        ModelProfile::V5 => 0.0,
    } + (style.energy - 0.5) * 1.5
        + (style.density - 1.0) * 1.5;
    let dyn_range = match profile {
        ModelProfile::V45Plus => 0.3,
        ModelProfile::V5 => 0.5,
    };
    let mut bars = Vec::with_capacity(total_bars);
    for b in 0..total_bars {
        let (section, level, dynamics) = if b < entry_bar {
            let lv = if b + 1 == entry_bar { 1.0 } else { 0.6 };
            (Section::Intro, lv + bias * 0.5, 0.7)
        } else if b > last_bar {
            (Section::Ending, 1.6 + bias * 0.5, 0.8)
        } else {
            let r = groups[b].map_or(0.3, rank);
            (
                Section::Vocal,
                1.0 + 2.0 * r + bias,
                1.0 - dyn_range * (1.0 - r),
            )
        };
        let sung = raw[b].is_some();
        bars.push(Bar {
            beat: b * bpb,
            len: bpb,
            section,
            level: level.round().clamp(0.0, 3.0) as u8,
            dynamics: dynamics.clamp(0.4, 1.0),
            fill: false,
            crash: false,
            sung,
        });
    }
    // fills: the last intro bar, the bar before a sung bar that follows a rest or a phrase
    // group boundary, and the bar before the ending; crashes where a new section starts
    for b in 0..total_bars {
        let next = b + 1;
        let into_vocal = next == entry_bar;
        let group_end = b >= entry_bar && (b + 1 - entry_bar).is_multiple_of(4) && next <= last_bar;
        let into_ending = b == last_bar;
        let level_up = next < total_bars && bars[next].level > bars[b].level;
        bars[b].fill = into_vocal || group_end || into_ending || level_up;
        if next < total_bars && (into_vocal || level_up || (group_end && bars[next].level >= 2)) {
            bars[next].crash = true;
        }
    }
    // and where a sung phrase ends and the next one starts in the following bar
    let derived;
    let phrases = if a.phrases.is_empty() {
        derived = crate::phrasing::phrases_from_notes(&a.notes, &a.beats);
        &derived
    } else {
        &a.phrases
    };
    for w in phrases.windows(2) {
        let end_bar = (grid.beat_at(w[0].end + offset) / bpb as f64).floor();
        let next_bar = (grid.beat_at(w[1].start + offset) / bpb as f64).floor();
        if end_bar >= 0.0 && next_bar == end_bar + 1.0 {
            let b = end_bar as usize;
            if b < total_bars && bars[b].section == Section::Vocal {
                bars[b].fill = true;
            }
        }
    }
    if let Some(last) = bars.last_mut() {
        last.fill = false;
        last.crash = true;
    }
    bars
}

/// Merge per-beat chords into a song-time chart.
fn chart_spans(grid: &BeatGrid, chords: &[Chord]) -> Vec<ChordSpan> {
    let mut out: Vec<ChordSpan> = Vec::new();
    for (i, &c) in chords.iter().enumerate() {
        let start = grid.beats[i];
        let end = grid.time_at((i + 1) as f64);
        match out.last_mut() {
            Some(l) if l.chord == Some(c) => l.end = end,
            _ => out.push(ChordSpan {
                start,
                end,
                chord: Some(c),
            }),
        }
    }
    out
}

/// The layers of one variation after tags, exclusions and the profile.
pub(crate) fn layers_for(
    style: &ResolvedStyle,
    variation: u8,
    profile: ModelProfile,
) -> Vec<Layer> {
    let s: &Style = style.main;
    let pick = |v: &'static [Layer]| -> Option<Layer> {
        if v.is_empty() {
            None
        } else {
            Some(v[(usize::from(variation) - 1) % v.len()])
        }
    };
    let mut out: Vec<Layer> = Vec::new();
    let allowed = |l: &Layer| !style.excluded_families.contains(&l.instrument.family);
    // comping: this variation's, else the other's, else a fallback family
    let comp = [
        pick(s.comp),
        s.comp.first().copied(),
        s.comp.last().copied(),
    ]
    .into_iter()
    .flatten()
    .chain(
        [
            Family::Piano,
            Family::ElectricPiano,
            Family::AcousticGuitar,
            Family::ElectricGuitar,
            Family::Pad,
            Family::Strings,
            Family::Organ,
            Family::Mallets,
        ]
        .into_iter()
        .map(crate::style::instrument_for),
    )
    .find(allowed);
    out.extend(comp);
    out.extend(pick(s.pads).filter(allowed));
    let extras: Vec<Layer> = s
        .extras
        .iter()
        .copied()
        .filter(allowed)
        .filter(|l| !(profile == ModelProfile::V5 && l.from_level >= 3))
        .collect();
    out.extend(extras);
    // the tag style's comping as a hint when the main style is the default band
    if let Some((ts, w)) = style.blend.get(1)
        && *w >= 0.15
        && s.id == crate::style::default_style().id
        && ts.id != s.id
        && let Some(l) = pick(ts.comp).filter(allowed)
        && !out.iter().any(|x| x.instrument == l.instrument)
    {
        out.push(Layer {
            from_level: l.from_level.max(1),
            ..l
        });
    }
    // instruments the tags named
    for &f in &style.wanted {
        if matches!(f, Family::Drums | Family::Bass) {
            continue;
        }
        if !out.iter().any(|l| l.instrument.family == f) {
            let l = crate::style::instrument_for(f);
            if allowed(&l) {
                out.push(Layer {
                    from_level: l.from_level.min(1),
                    ..l
                });
            }
        }
    }
    if style.only_named {
        out.retain(|l| {
            style.wanted.contains(&l.instrument.family)
                || l.role == PartRole::Percussion && style.wanted.contains(&Family::Percussion)
        });
    }
    out.retain(allowed);
    // no two layers on one instrument
    let mut seen: Vec<(u8, PartRole)> = Vec::new();
    out.retain(|l| {
        let k = (l.instrument.program, l.role);
        if seen.contains(&k) {
            false
        } else {
            seen.push(k);
            true
        }
    });
    out
}

/// All parts of one variation.
fn band(
    song: &Song<'_>,
    style: &ResolvedStyle,
    variation: u8,
    params: &GenerationParams,
    rng: &Rng,
) -> Vec<Part> {
    let s = style.main;
    let v = usize::from(variation) - 1;
    let mut out = Vec::new();
    let mut kicks: Vec<Vec<f64>> = vec![Vec::new(); song.bars.len()];
    if style.drums != DrumsMode::Off
        && !style.excluded_families.contains(&Family::Drums)
        && !s.grooves.is_empty()
    {
        let groove = &s.grooves[v % s.grooves.len()];
        let (part, k) = parts::drums(song, groove, s.kit, style.drums, &mut rng.fork("drums"));
        kicks = k;
        out.push(part);
    }
    let bass_allowed = !style.excluded_families.contains(&Family::Bass);
    if bass_allowed {
        let inst = s.bass.0[v % s.bass.0.len()];
        if !style.excluded_families.contains(&inst.family) || inst.family == Family::Bass {
            let pattern = s.bass.1[v % s.bass.1.len()];
            out.push(parts::bass(
                song,
                inst,
                pattern,
                &kicks,
                &mut rng.fork("bass"),
            ));
        }
    }
    let mut layers = layers_for(style, variation, params.model);
    // weirdness: from 0.7 the second variation swaps its pad for an unusual colour
    if variation == 2 && params.weirdness.get() >= 0.7 {
        let unusual = crate::style::unusual_pads();
        let pick = unusual[(params.seed % unusual.len() as u64) as usize];
        if let Some(l) = layers
            .iter_mut()
            .find(|l| matches!(l.role, PartRole::Pad | PartRole::Strings) && l.pattern.is_empty())
            && !style.excluded_families.contains(&pick.instrument.family)
        {
            *l = Layer {
                from_level: l.from_level,
                ..pick
            };
        }
    }
    for (i, layer) in layers.iter().enumerate() {
        let mut r = rng.fork(&format!("layer-{i}"));
        if let Some(p) = parts::layer(song, layer, &mut r) {
            out.push(p);
        }
    }
    for p in &mut out {
        parts::humanize(p, song.profile, &mut rng.fork(&format!("human-{}", p.name)));
        parts::untangle(p);
        p.mix = mix_for(p.role, variation, song.profile, song.audio_weight);
    }
    out
}

/// Mix placement per role: gains keep the band under the voice (rhythm section loudest,
/// pads and arps furthest back), pans spread the chord instruments apart (mirrored in
/// variation 2), reverb sends grow with sustain, and high-pass corners keep everything but the
/// bass and kick out of the low end. `V4_5PLUS` widens pans by 30 % and sends 20 % more
/// reverb; `V5` keeps them dryer. `audioWeight` sets the vocal's level against the band: the
/// whole band moves by (0.65 − audioWeight) × 4 dB.
pub(crate) fn mix_for(role: PartRole, variation: u8, profile: ModelProfile, aw: f32) -> PartMix {
    let (gain, pan, rev, cut): (f32, f32, f32, f32) = match role {
        PartRole::Drums => (-3.0, 0.0, 0.12, 0.0),
        PartRole::Percussion => (-10.0, 0.35, 0.2, 150.0),
        PartRole::Bass => (-4.0, 0.0, 0.03, 0.0),
        PartRole::Piano => (-6.0, -0.15, 0.25, 80.0),
        PartRole::Keys => (-7.0, 0.2, 0.25, 100.0),
        PartRole::Guitar => (-7.0, -0.35, 0.2, 100.0),
        PartRole::Strings => (-9.0, 0.25, 0.45, 120.0),
        PartRole::Pad => (-12.0, 0.0, 0.5, 150.0),
        PartRole::Brass => (-8.0, -0.25, 0.3, 120.0),
        PartRole::Lead => (-8.0, 0.3, 0.35, 150.0),
        PartRole::Arp => (-11.0, -0.3, 0.35, 200.0),
    };
    let mirror = if variation == 2 { -1.0 } else { 1.0 };
    let (width, space) = match profile {
        ModelProfile::V45Plus => (1.3, 1.2),
        ModelProfile::V5 => (1.0, 0.85),
    };
    PartMix {
        gain_db: gain + (0.65 - aw) * 4.0,
        pan: (pan * mirror * width).clamp(-1.0, 1.0),
        reverb_send: (rev * space).clamp(0.0, 1.0),
        low_cut_hz: cut,
    }
}
