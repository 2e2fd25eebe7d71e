//! A small SoundFont 2 written in code, so tests and benchmarks need no font installed: a
//! looped piano-like tone, a bass, a slow pad with a filter sweep and vibrato, a guitar preset
//! on the piano samples, and a drum kit on bank 128 (kick, snare, closed and open hi-hat in one
//! exclusive class, crash), all synthesised here, 46 guard points after every sample as the
//! specification asks.
//!
//! Engine and server tests write it to a file and point `EngineConfig::soundfont` at it.

use std::f64::consts::TAU;

/// One sample to embed.
struct Sample {
    name: &'static str,
    data: Vec<i16>,
    rate: u32,
    root: u8,
    correction: i8,
    /// Loop start and end relative to the sample start (end exclusive).
    looped: Option<(usize, usize)>,
}

/// Generator numbers used here (SF2.04 8.1.2).
mod g {
    pub const INITIAL_FILTER_FC: u16 = 8;
    pub const MOD_ENV_TO_FILTER_FC: u16 = 11;
    pub const PAN: u16 = 17;
    pub const FREQ_VIB_LFO: u16 = 24;
    pub const VIB_LFO_TO_PITCH: u16 = 6;
    pub const ATTACK_MOD_ENV: u16 = 26;
    pub const DECAY_MOD_ENV: u16 = 28;
    pub const SUSTAIN_MOD_ENV: u16 = 29;
    pub const ATTACK_VOL_ENV: u16 = 34;
    pub const DECAY_VOL_ENV: u16 = 36;
    pub const SUSTAIN_VOL_ENV: u16 = 37;
    pub const RELEASE_VOL_ENV: u16 = 38;
    pub const INSTRUMENT: u16 = 41;
    pub const KEY_RANGE: u16 = 43;
    pub const INITIAL_ATTENUATION: u16 = 48;
    pub const SAMPLE_ID: u16 = 53;
    pub const SAMPLE_MODES: u16 = 54;
    pub const EXCLUSIVE_CLASS: u16 = 57;
    pub const OVERRIDING_ROOT_KEY: u16 = 58;
    pub const COARSE_TUNE: u16 = 51;
}

fn key_range(lo: u8, hi: u8) -> (u16, i16) {
    (g::KEY_RANGE, i16::from_le_bytes([lo, hi]))
}

fn to_i16(x: &[f64]) -> Vec<i16> {
    x.iter()
        .map(|v| (v * 32_000.0).round().clamp(-32_768.0, 32_767.0) as i16)
        .collect()
}

/// A harmonic tone whose period is exactly `period` samples, so any whole number of periods
/// loops without a click.
fn harmonic_tone(period: usize, len: usize, harmonics: &[f64], attack: usize) -> Vec<f64> {
    (0..len)
        .map(|i| {
            let ph = TAU * i as f64 / period as f64;
            let s: f64 = harmonics
                .iter()
                .enumerate()
                .map(|(h, a)| a * (ph * (h + 1) as f64).sin())
                .sum();
            let env = if i < attack {
                i as f64 / attack as f64
            } else {
                1.0
            };
            s * env
        })
        .collect()
}

fn noise(seed: &mut u32) -> f64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    f64::from(*seed) / f64::from(u32::MAX) * 2.0 - 1.0
}

fn samples() -> Vec<Sample> {
    let mut seed = 0x1234_5678u32;
    // Piano-ish: period 168 at 44.1 kHz is 262.5 Hz, 5.7 cents above C4; the header's -6 cent
    // correction brings it to 261.6.
    let piano = harmonic_tone(168, 44_100, &[0.6, 0.3, 0.15, 0.08, 0.04, 0.02], 30);
    // Bass: period 337 at 22.05 kHz is 65.43 Hz, C2 (65.41) within a cent.
    let bass = harmonic_tone(337, 22_050, &[0.7, 0.35, 0.1, 0.05], 20);
    // Pad: a band-limited saw, period 100 at 44.1 kHz = 441 Hz (A4 + 3.9 cents, corrected -4).
    let saw: Vec<f64> = (1..=20).map(|h| 0.5 / h as f64).collect();
    let pad = harmonic_tone(100, 22_050, &saw, 10);
    let kick: Vec<f64> = (0..17_640)
        .map(|i| {
            let t = i as f64 / 44_100.0;
            // A pitch drop from 120 to 50 Hz: the phase is the integral of the frequency.
            let ph = TAU * (50.0 * t + 70.0 * 0.03 * (1.0 - (-t / 0.03).exp()));
            0.9 * ph.sin() * (-t / 0.12).exp()
        })
        .collect();
    let snare: Vec<f64> = (0..11_025)
        .map(|i| {
            let t = i as f64 / 44_100.0;
            0.5 * noise(&mut seed) * (-t / 0.06).exp()
                + 0.4 * (TAU * 190.0 * t).sin() * (-t / 0.04).exp()
        })
        .collect();
    let mut prev = 0.0;
    let hat: Vec<f64> = (0..8_820)
        .map(|i| {
            let t = i as f64 / 44_100.0;
            let n = noise(&mut seed);
            let hp = n - prev;
            prev = n;
            0.4 * hp * (-t / 0.05).exp()
        })
        .collect();
    let crash: Vec<f64> = (0..66_150)
        .map(|i| {
            let t = i as f64 / 44_100.0;
            let n = noise(&mut seed);
            let hp = n - prev;
            prev = n;
            0.35 * hp * (-t / 0.6).exp()
        })
        .collect();
    vec![
        Sample {
            name: "Piano C4",
            data: to_i16(&piano),
            rate: 44_100,
            root: 60,
            correction: -6,
            looped: Some((44_100 - 168 * 60, 44_100)),
        },
        Sample {
            name: "Bass C2",
            data: to_i16(&bass),
            rate: 22_050,
            root: 36,
            correction: 0,
            looped: Some((22_050 - 337 * 20, 22_050 - 337 * 20 + 337 * 19)),
        },
        Sample {
            name: "Pad A4",
            data: to_i16(&pad),
            rate: 44_100,
            root: 69,
            correction: -4,
            looped: Some((2_000, 2_000 + 100 * 150)),
        },
        Sample {
            name: "Kick",
            data: to_i16(&kick),
            rate: 44_100,
            root: 60,
            correction: 0,
            looped: None,
        },
        Sample {
            name: "Snare",
            data: to_i16(&snare),
            rate: 44_100,
            root: 60,
            correction: 0,
            looped: None,
        },
        Sample {
            name: "Hat",
            data: to_i16(&hat),
            rate: 44_100,
            root: 60,
            correction: 0,
            looped: None,
        },
        Sample {
            name: "Crash",
            data: to_i16(&crash),
            rate: 44_100,
            root: 60,
            correction: 0,
            looped: None,
        },
    ]
}

type Zone = Vec<(u16, i16)>;

fn instruments() -> Vec<(&'static str, Vec<Zone>)> {
    vec![
        (
            "Piano",
            vec![
                // Global zone: release 0.3 s, a 4.6 kHz low-pass.
                vec![(g::RELEASE_VOL_ENV, -2084), (g::INITIAL_FILTER_FC, 11_000)],
                vec![
                    key_range(0, 127),
                    (g::DECAY_VOL_ENV, 1200),
                    (g::SUSTAIN_VOL_ENV, 300),
                    (g::SAMPLE_MODES, 1),
                    (g::SAMPLE_ID, 0),
                ],
            ],
        ),
        (
            "Bass",
            vec![vec![
                (g::DECAY_VOL_ENV, 600),
                (g::SUSTAIN_VOL_ENV, 100),
                (g::RELEASE_VOL_ENV, -3000),
                (g::SAMPLE_MODES, 1),
                (g::SAMPLE_ID, 1),
            ]],
        ),
        (
            "Pad",
            vec![vec![
                (g::ATTACK_VOL_ENV, -1200),
                (g::RELEASE_VOL_ENV, 0),
                (g::INITIAL_ATTENUATION, 20),
                (g::INITIAL_FILTER_FC, 8000),
                (g::MOD_ENV_TO_FILTER_FC, 2400),
                (g::ATTACK_MOD_ENV, -1200),
                (g::DECAY_MOD_ENV, 0),
                (g::SUSTAIN_MOD_ENV, 500),
                (g::VIB_LFO_TO_PITCH, 12),
                (g::FREQ_VIB_LFO, 0),
                (g::SAMPLE_MODES, 1),
                (g::SAMPLE_ID, 2),
            ]],
        ),
        (
            "Kit",
            vec![
                vec![
                    key_range(35, 36),
                    (g::OVERRIDING_ROOT_KEY, 36),
                    (g::SAMPLE_ID, 3),
                ],
                vec![
                    key_range(38, 40),
                    (g::OVERRIDING_ROOT_KEY, 38),
                    (g::SAMPLE_ID, 4),
                ],
                vec![
                    key_range(42, 42),
                    (g::OVERRIDING_ROOT_KEY, 42),
                    (g::EXCLUSIVE_CLASS, 1),
                    (g::SAMPLE_ID, 5),
                ],
                vec![
                    key_range(46, 46),
                    (g::OVERRIDING_ROOT_KEY, 44),
                    (g::EXCLUSIVE_CLASS, 1),
                    (g::RELEASE_VOL_ENV, 0),
                    (g::SAMPLE_ID, 5),
                ],
                vec![
                    key_range(49, 57),
                    (g::OVERRIDING_ROOT_KEY, 49),
                    (g::PAN, -200),
                    (g::SAMPLE_ID, 6),
                ],
                // Toms: the kick sample tuned up.
                vec![
                    key_range(41, 41),
                    (g::OVERRIDING_ROOT_KEY, 29),
                    (g::SAMPLE_ID, 3),
                ],
                vec![
                    key_range(43, 45),
                    (g::OVERRIDING_ROOT_KEY, 31),
                    (g::SAMPLE_ID, 3),
                ],
                vec![
                    key_range(47, 48),
                    (g::OVERRIDING_ROOT_KEY, 33),
                    (g::SAMPLE_ID, 3),
                ],
            ],
        ),
    ]
}

fn presets() -> Vec<(&'static str, u16, u16, Vec<Zone>)> {
    vec![
        ("Test Piano", 0, 0, vec![vec![(g::INSTRUMENT, 0)]]),
        (
            "Test Guitar",
            0,
            25,
            vec![vec![
                (g::COARSE_TUNE, 0),
                (g::DECAY_VOL_ENV, -1200),
                (g::INSTRUMENT, 0),
            ]],
        ),
        ("Test Bass", 0, 33, vec![vec![(g::INSTRUMENT, 1)]]),
        (
            "Test Pad",
            0,
            48,
            vec![
                vec![(g::INITIAL_ATTENUATION, 100)],
                vec![(g::INSTRUMENT, 2)],
            ],
        ),
        ("Test Kit", 128, 0, vec![vec![(g::INSTRUMENT, 3)]]),
    ]
}

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 9);
    v.extend_from_slice(id);
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(body);
    if body.len() % 2 == 1 {
        v.push(0);
    }
    v
}

fn list(kind: &[u8; 4], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut body = kind.to_vec();
    for c in chunks {
        body.extend_from_slice(c);
    }
    chunk(b"LIST", &body)
}

fn name20(s: &str) -> [u8; 20] {
    let mut b = [0u8; 20];
    for (o, c) in b.iter_mut().zip(s.bytes().take(19)) {
        *o = c;
    }
    b
}

/// The test font as SF2 bytes.
/// The SoundFont file's bytes.
pub fn font() -> Vec<u8> {
    let samples = samples();
    let mut smpl = Vec::new();
    let mut shdr = Vec::new();
    let mut pos = 0u32;
    for s in &samples {
        let start = pos;
        for v in &s.data {
            smpl.extend_from_slice(&v.to_le_bytes());
        }
        smpl.extend(std::iter::repeat_n(0u8, 46 * 2));
        let end = start + s.data.len() as u32;
        let (ls, le) = s.looped.map_or((start, start), |(a, b)| {
            (start + a as u32, start + b as u32)
        });
        shdr.extend_from_slice(&name20(s.name));
        for v in [start, end, ls, le, s.rate] {
            shdr.extend_from_slice(&v.to_le_bytes());
        }
        shdr.push(s.root);
        shdr.push(s.correction as u8);
        shdr.extend_from_slice(&0u16.to_le_bytes());
        shdr.extend_from_slice(&1u16.to_le_bytes());
        pos = end + 46;
    }
    shdr.extend_from_slice(&name20("EOS"));
    shdr.extend(std::iter::repeat_n(0u8, 26));

    let (mut inst, mut ibag, mut igen) = (Vec::new(), Vec::new(), Vec::new());
    let (mut bag_i, mut gen_i) = (0u16, 0u16);
    for (name, zones) in instruments() {
        inst.extend_from_slice(&name20(name));
        inst.extend_from_slice(&bag_i.to_le_bytes());
        for z in zones {
            ibag.extend_from_slice(&gen_i.to_le_bytes());
            ibag.extend_from_slice(&0u16.to_le_bytes());
            for (op, v) in z {
                igen.extend_from_slice(&op.to_le_bytes());
                igen.extend_from_slice(&v.to_le_bytes());
                gen_i += 1;
            }
            bag_i += 1;
        }
    }
    inst.extend_from_slice(&name20("EOI"));
    inst.extend_from_slice(&bag_i.to_le_bytes());
    ibag.extend_from_slice(&gen_i.to_le_bytes());
    ibag.extend_from_slice(&0u16.to_le_bytes());
    igen.extend_from_slice(&[0; 4]);

    let (mut phdr, mut pbag, mut pgen) = (Vec::new(), Vec::new(), Vec::new());
    let (mut bag_p, mut gen_p) = (0u16, 0u16);
    for (name, bank, program, zones) in presets() {
        phdr.extend_from_slice(&name20(name));
        phdr.extend_from_slice(&program.to_le_bytes());
        phdr.extend_from_slice(&bank.to_le_bytes());
        phdr.extend_from_slice(&bag_p.to_le_bytes());
        phdr.extend_from_slice(&[0; 12]);
        for z in zones {
            pbag.extend_from_slice(&gen_p.to_le_bytes());
            pbag.extend_from_slice(&0u16.to_le_bytes());
            for (op, v) in z {
                pgen.extend_from_slice(&op.to_le_bytes());
                pgen.extend_from_slice(&v.to_le_bytes());
                gen_p += 1;
            }
            bag_p += 1;
        }
    }
    phdr.extend_from_slice(&name20("EOP"));
    phdr.extend_from_slice(&[0; 4]);
    phdr.extend_from_slice(&bag_p.to_le_bytes());
    phdr.extend_from_slice(&[0; 12]);
    pbag.extend_from_slice(&gen_p.to_le_bytes());
    pbag.extend_from_slice(&0u16.to_le_bytes());
    pgen.extend_from_slice(&[0; 4]);
    let modterm = [0u8; 10];

    let info = list(
        b"INFO",
        &[
            chunk(b"ifil", &[2, 0, 1, 0]),
            chunk(b"isng", b"EMU8000\0"),
            // SF2 strings have an even length, zero-padded.
            chunk(b"INAM", b"Bandmate Test Font\0\0"),
        ],
    );
    let sdta = list(b"sdta", &[chunk(b"smpl", &smpl)]);
    let pdta = list(
        b"pdta",
        &[
            chunk(b"phdr", &phdr),
            chunk(b"pbag", &pbag),
            chunk(b"pmod", &modterm),
            chunk(b"pgen", &pgen),
            chunk(b"inst", &inst),
            chunk(b"ibag", &ibag),
            chunk(b"imod", &modterm),
            chunk(b"igen", &igen),
            chunk(b"shdr", &shdr),
        ],
    );
    let mut body = b"sfbk".to_vec();
    body.extend(info);
    body.extend(sdta);
    body.extend(pdta);
    chunk(b"RIFF", &body)
}
