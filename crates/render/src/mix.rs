//! The mixing chain: parts to band, band and vocal to song, both mastered to a loudness target
//! under a true-peak ceiling.
//!
//! ```text
//! pass 1 (worker threads share the parts' chunks and the bus's, each chain in order)
//!   part ─ synth ─ low cut ─ role EQ ─ gain ─ pan/width ─┬─► dry bus (+ layer bus if doubled)
//!                                                       └─► reverb send
//!   bus = dry + doubler(layer) + FDN reverb(send) ─ bus EQ ─ glue compressor ─ width
//!         ─► band (stored, metered)
//! plan (no audio): vocal level, ducking and song loudness from 100 ms energies; master gains
//! pass 2 (two threads, one per output, straight into the encoders)
//!   instrumental = band                                          ─ gain ─ limiter ─► MP3/WAV
//!   song = band, mid carved where the voice sits, ducked under it
//!          + vocal + vocal reverb                                ─ gain ─ limiter ─► MP3/WAV
//! ```
//!
//! Memory: nothing whole-song is held but the band bus, as block floating point (2 bytes a
//! sample: ~32 MB for three minutes) and the prepared vocal; no stems, no second copy.
//!
//! Loudness: the band is metered in pass 1. The song's loudness is predicted before it exists
//! from the 100 ms K-weighted energies of its uncorrelated components (the ducked band, the
//! vocal, the vocal's reverb), and each output's limiter loss is estimated by running the
//! limiter's gain computer over its peaks; the gains are set from these, and pass 2 measures
//! what it really made (BS.1770-4), which is what the report gives.

use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Condvar, Mutex};

use bandmate_audio::dsp::{
    Biquad, BiquadCoeffs, Compressor, CompressorSettings, Doubler, FilterKind, Limiter,
    LimiterSettings, Reverb, ReverbSettings, StereoEq, Width, db_to_gain, one_pole_coeff,
    pan_gains,
};
use bandmate_audio::{
    Loudness, LoudnessMeter, Mp3Encoder, Mp3Settings, WavSampleFormat, WavWriter, abs_max,
    loudness_of_sub_blocks,
};
use bandmate_core::{
    Arrangement, AudioBuffer, GenerationParams, ModelProfile, Part, PartRole, SampleRate,
    VocalGender,
};

use crate::compact::CompactChannel;
use crate::renderer::{RenderSettings, Renderer, Stem};
use crate::synth::PartPlayer;
use crate::vocal::{HOP, VocalTrack};
use crate::{RATE, RenderError, check_range};

/// Frames per chunk of the streaming passes (186 ms), the stems' included.
pub(crate) const CHUNK: usize = 8192;
/// Margin under the true-peak ceiling the limiter keeps for the MP3 encoder: decoded at
/// 192 kbps, LAME's output overshoots the PCM it was given by up to 0.7 dB on our mixes
/// (measured with `ffmpeg -af ebur128=peak=true`, `docs/render.md`), as EBU R128 s1 warns
/// for lossy coding; 1 dB keeps every decoded MP3 under the ceiling.
const CODEC_MARGIN_DB: f32 = 1.0;

/// How a song is mixed.
#[derive(Debug, Clone, PartialEq)]
pub struct MixSettings {
    /// Integrated loudness of every output, LUFS (default -14, the level streaming services
    /// normalise to; BS.1770-4 / EBU R128).
    pub target_lufs: f32,
    /// True-peak ceiling of every output, dBTP (default -1: EBU R128 s1 and the usual
    /// allowance for lossy encoding).
    pub ceiling_dbtp: f32,
    /// `V4_5PLUS`: richer (doubled layers, wider stereo, a longer and larger reverb, denser
    /// glue). `V5`: more dynamic and lighter (gentler compression that lets transients through,
    /// a shorter room, narrower image, a lighter low end).
    pub profile: ModelProfile,
    /// `audioWeight` (0..=1, default 0.65): how far forward the vocal sits and how much the
    /// band makes room for it. The vocal-to-band balance is -1 + 6 x weight LU (−1 at 0, +2.9
    /// at 0.65, +5 at 1), the band ducks 1 + 4 x weight dB under the voice, and its mid
    /// channel is carved 1.5 + 3 x weight dB where the voice has its presence.
    pub audio_weight: f32,
    /// The voice's range, if known: picks the vocal's high-pass corner.
    pub vocal_gender: Option<VocalGender>,
    /// Synthesis settings and limits.
    pub render: RenderSettings,
}

impl Default for MixSettings {
    fn default() -> Self {
        Self {
            target_lufs: -14.0,
            ceiling_dbtp: -1.0,
            profile: ModelProfile::V45Plus,
            audio_weight: 0.65,
            vocal_gender: None,
            render: RenderSettings::default(),
        }
    }
}

impl MixSettings {
    /// The mix a request asks for: `model` picks the profile, `audioWeight` the vocal's place,
    /// `vocalGender` the vocal's high-pass; everything else at its default.
    pub fn from_params(params: &GenerationParams) -> Self {
        Self {
            profile: params.model,
            audio_weight: params.audio_weight.get(),
            vocal_gender: params.vocal_gender,
            ..Self::default()
        }
    }

    /// Check every field.
    pub fn validate(&self) -> Result<(), RenderError> {
        check_range(
            "target loudness (LUFS)",
            f64::from(self.target_lufs),
            -30.0,
            -6.0,
        )?;
        check_range(
            "true-peak ceiling (dBTP)",
            f64::from(self.ceiling_dbtp),
            -9.0,
            -0.1,
        )?;
        check_range("audio weight", f64::from(self.audio_weight), 0.0, 1.0)?;
        self.render.validate()
    }

    /// Vocal-to-band balance the mix aims for, in LU.
    fn balance_db(&self) -> f32 {
        -1.0 + 6.0 * self.audio_weight
    }

    /// How far the band ducks under the voice, dB.
    fn duck_db(&self) -> f32 {
        1.0 + 4.0 * self.audio_weight
    }

    /// Depth of the presence carve in the band's mid channel, dB (the body carve is half).
    fn carve_db(&self) -> f32 {
        1.5 + 3.0 * self.audio_weight
    }
}

/// The sound of a profile.
#[derive(Debug, Clone, Copy)]
struct Profile {
    reverb: ReverbSettings,
    /// Scale of the parts' reverb sends.
    send_scale: f32,
    /// The vocal's reverb send.
    vocal_send: f32,
    /// Width of the band bus.
    bus_width: f32,
    /// Scale of the parts' pans.
    pan_scale: f32,
    /// Doubler level under the dry part, for roles that take it (None: no doubling).
    doubler_db: Option<f32>,
    /// Glue compressor: ratio, attack, release, and how far over the programme's running
    /// level its threshold sits.
    comp_ratio: f32,
    comp_attack_ms: f32,
    comp_release_ms: f32,
    comp_over_db: f32,
    /// Bus low shelf at 90 Hz and high shelf at 8 kHz, dB.
    low_shelf_db: f32,
    high_shelf_db: f32,
}

impl Profile {
    fn of(p: ModelProfile) -> Self {
        match p {
            // "Richer sound": fuller, more layers, wider, longer space.
            ModelProfile::V45Plus => Self {
                reverb: ReverbSettings {
                    rt60_s: 2.2,
                    hf_ratio: 0.55,
                    size: 1.25,
                    pre_delay_ms: 28.0,
                    low_cut_hz: 200.0,
                    high_cut_hz: 9_000.0,
                    width: 1.0,
                },
                send_scale: 1.3,
                vocal_send: 0.22,
                bus_width: 1.25,
                pan_scale: 1.0,
                doubler_db: Some(-9.0),
                comp_ratio: 3.0,
                comp_attack_ms: 10.0,
                comp_release_ms: 180.0,
                comp_over_db: 6.0,
                low_shelf_db: 1.5,
                high_shelf_db: 2.5,
            },
            // "More dynamic, lighter": transients through, a shorter room, a lighter low end.
            ModelProfile::V5 => Self {
                reverb: ReverbSettings {
                    rt60_s: 1.3,
                    hf_ratio: 0.5,
                    size: 0.85,
                    pre_delay_ms: 15.0,
                    low_cut_hz: 250.0,
                    high_cut_hz: 8_000.0,
                    width: 0.8,
                },
                send_scale: 0.8,
                vocal_send: 0.14,
                bus_width: 1.05,
                pan_scale: 0.85,
                doubler_db: None,
                comp_ratio: 1.4,
                comp_attack_ms: 30.0,
                comp_release_ms: 120.0,
                comp_over_db: 12.0,
                low_shelf_db: -1.0,
                high_shelf_db: 1.5,
            },
        }
    }
}

/// A part's channel strip.
#[derive(Debug, Clone)]
struct Strip {
    eq: StereoEq,
    /// Gains of the mid signal to left and right (pan, gain folded in) and of the side.
    mid_l: f32,
    mid_r: f32,
    side: f32,
    send: f32,
    /// Whether the profile doubles this part (on the bus, with the other layered parts).
    layered: bool,
}

/// The role's treatment (corners and cuts from common mixing practice: everything but kick
/// and bass high-passed well above the sub range so the low end stays clear, a cut in the
/// 250–400 Hz "mud" region where the parts pile up; the air comes from the bus's shelf).
fn role_eq(role: PartRole, low_cut: f32, rate: f32) -> Vec<BiquadCoeffs> {
    let hp = |f: f32| {
        BiquadCoeffs::new(
            FilterKind::HighPass,
            f.max(low_cut),
            std::f32::consts::FRAC_1_SQRT_2,
            rate,
        )
    };
    let pk = |f: f32, db: f32, q: f32| {
        BiquadCoeffs::new(FilterKind::Peaking { gain_db: db }, f, q, rate)
    };
    match role {
        PartRole::Drums => vec![hp(30.0), pk(400.0, -3.0, 1.0)],
        PartRole::Percussion => vec![hp(150.0)],
        PartRole::Bass => vec![hp(35.0), pk(280.0, -2.5, 1.0)],
        PartRole::Piano | PartRole::Keys => vec![hp(100.0), pk(300.0, -3.5, 0.8)],
        PartRole::Guitar => vec![hp(120.0), pk(280.0, -3.5, 0.8)],
        PartRole::Strings | PartRole::Pad => vec![hp(150.0), pk(350.0, -3.0, 0.8)],
        PartRole::Brass => vec![hp(110.0), pk(400.0, -2.5, 1.0)],
        PartRole::Lead | PartRole::Arp => vec![hp(150.0), pk(350.0, -2.5, 1.0)],
    }
}

impl Strip {
    fn new(part: &Part, profile: &Profile, rate: f32) -> Self {
        let m = part.mix;
        let low_cut = if m.low_cut_hz.is_finite() {
            m.low_cut_hz.clamp(0.0, 2_000.0)
        } else {
            0.0
        };
        let gain = db_to_gain(if m.gain_db.is_finite() {
            m.gain_db.clamp(-60.0, 12.0)
        } else {
            0.0
        });
        let pan = if m.pan.is_finite() {
            m.pan.clamp(-1.0, 1.0)
        } else {
            0.0
        } * profile.pan_scale;
        let (gl, gr) = pan_gains(pan);
        // Unity at the centre: the mid goes out at sqrt 2 x the pan law's -3 dB.
        let width = if profile.doubler_db.is_some() {
            1.15
        } else {
            0.9
        };
        let doubles = matches!(
            part.role,
            PartRole::Guitar | PartRole::Strings | PartRole::Pad | PartRole::Keys | PartRole::Brass
        );
        let send = if m.reverb_send.is_finite() {
            m.reverb_send.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Self {
            eq: StereoEq::new(&role_eq(part.role, low_cut, rate)),
            mid_l: gain * gl * std::f32::consts::SQRT_2,
            mid_r: gain * gr * std::f32::consts::SQRT_2,
            side: gain * width,
            send: send * profile.send_scale,
            layered: doubles && profile.doubler_db.is_some(),
        }
    }

    /// Process a rendered chunk into the part's bus contributions.
    fn process(&mut self, l: &mut [f32], r: &mut [f32], acc: &mut Acc) {
        self.eq.process(l, r);
        let n = l.len();
        let (dl, dr) = acc.dry.split_at_mut(1);
        for (((a, b), ol), or) in l
            .iter()
            .zip(r.iter())
            .zip(dl[0][..n].iter_mut())
            .zip(dr[0][..n].iter_mut())
        {
            let mid = 0.5 * (*a + *b);
            let side = 0.5 * (*a - *b);
            *ol = self.mid_l * mid + self.side * side;
            *or = self.mid_r * mid - self.side * side;
        }
        let s = self.send;
        acc.has_send = s > 0.0;
        if acc.has_send {
            let (sl, sr) = acc.send.split_at_mut(1);
            for (o, &d) in sl[0][..n].iter_mut().zip(&acc.dry[0][..n]) {
                *o = s * d;
            }
            for (o, &d) in sr[0][..n].iter_mut().zip(&acc.dry[1][..n]) {
                *o = s * d;
            }
        }
        acc.layered = self.layered;
        acc.silent = false;
    }
}

/// Where a part's audio comes from.
enum Source<'a> {
    Synth(Box<PartPlayer<'a>>),
    Stem(&'a AudioBuffer),
}

struct PartState<'a> {
    source: Source<'a>,
    strip: Strip,
    /// The arrangement's end (frames): the part is silent after it, as its stem is.
    end: usize,
    /// Consecutive chunks of silent input.
    quiet: u32,
}

impl PartState<'_> {
    /// Render the part for frames [start, start + l.len()) and add it to the buses. Stems and
    /// the synthesizer give the same samples, and what happens next depends only on them, so
    /// both paths make the same mix bit for bit.
    fn render(&mut self, start: usize, l: &mut [f32], r: &mut [f32], acc: &mut Acc) {
        let n = l.len();
        let m = self.end.saturating_sub(start).min(n);
        let silent = match &mut self.source {
            Source::Synth(p) => {
                if p.finished() || m == 0 {
                    l.fill(0.0);
                    r.fill(0.0);
                    true
                } else {
                    p.render(&mut l[..m], &mut r[..m]);
                    l[m..].fill(0.0);
                    r[m..].fill(0.0);
                    false
                }
            }
            Source::Stem(a) => {
                let m = m.min(a.frames().saturating_sub(start));
                if m > 0 {
                    let c0 = a.channel(0);
                    let c1 = a.channel(a.channel_count().min(2) - 1);
                    l[..m].copy_from_slice(&c0[start..start + m]);
                    r[..m].copy_from_slice(&c1[start..start + m]);
                }
                l[m..].fill(0.0);
                r[m..].fill(0.0);
                m == 0
            }
        };
        let silent = silent || l.iter().chain(r.iter()).all(|&v| v == 0.0);
        self.quiet = if silent { self.quiet + 1 } else { 0 };
        // After two silent chunks the strip's filters and doubler have rung out.
        if self.quiet > 2 {
            return;
        }
        self.strip.process(l, r, acc);
    }
}

/// One part's processed output for one chunk: its dry signal and its reverb send. The bus
/// adds the parts in part order, so the sum (and the song) is the same bit for bit however the
/// threads shared the work.
struct Acc {
    chunk: usize,
    part: usize,
    dry: [Vec<f32>; 2],
    send: [Vec<f32>; 2],
    /// The part sent nothing to the reverb in this chunk (`send` is stale).
    has_send: bool,
    /// The part is doubled on the bus.
    layered: bool,
    /// The part was silent in this chunk (`dry` and `send` are stale).
    silent: bool,
}

impl Acc {
    fn new() -> Self {
        Self {
            chunk: 0,
            part: 0,
            dry: [vec![0.0; CHUNK], vec![0.0; CHUNK]],
            send: [vec![0.0; CHUNK], vec![0.0; CHUNK]],
            has_send: false,
            layered: false,
            silent: true,
        }
    }

    /// Ready for a new chunk: nothing in it yet (the buffers are overwritten, not cleared).
    fn reset(&mut self, chunk: usize, part: usize) {
        self.chunk = chunk;
        self.part = part;
        self.has_send = false;
        self.layered = false;
        self.silent = true;
    }
}

/// The band bus: reverb return, EQ, glue compression, width; stores and meters the result.
struct Bus {
    /// One doubler for every layered part (it is linear, so doubling their sum is the same).
    doubler: Option<Doubler>,
    reverb: Reverb,
    wet: [Vec<f32>; 2],
    eq: StereoEq,
    comp: Compressor,
    comp_over_db: f32,
    /// Running mean square of the bus (2 s), for the compressor's threshold.
    level_ms: f32,
    level_coeff: f32,
    width: Width,
    meter: LoudnessMeter,
    store: [CompactChannel; 2],
    /// Per hop: the bus's peak and energy (for trimming the edges and estimating limiting).
    hop_peak: Vec<f32>,
    hop_energy: Vec<f32>,
}

impl Bus {
    fn new(p: &Profile, frames: usize) -> Self {
        let rate = RATE as f32;
        Self {
            doubler: p.doubler_db.map(|db| Doubler::new(db, rate)),
            reverb: Reverb::new(p.reverb, rate),
            wet: [vec![0.0; CHUNK], vec![0.0; CHUNK]],
            eq: StereoEq::new(&[
                // The profile's tilt (every part is already high-passed).
                BiquadCoeffs::new(
                    FilterKind::LowShelf {
                        gain_db: p.low_shelf_db,
                    },
                    90.0,
                    std::f32::consts::FRAC_1_SQRT_2,
                    rate,
                ),
                BiquadCoeffs::new(
                    FilterKind::HighShelf {
                        gain_db: p.high_shelf_db,
                    },
                    8_000.0,
                    std::f32::consts::FRAC_1_SQRT_2,
                    rate,
                ),
            ]),
            comp: Compressor::new(
                CompressorSettings {
                    threshold_db: -20.0,
                    ratio: p.comp_ratio,
                    knee_db: 6.0,
                    attack_ms: p.comp_attack_ms,
                    release_ms: p.comp_release_ms,
                    makeup_db: 0.0,
                },
                rate,
            ),
            comp_over_db: p.comp_over_db,
            level_ms: 0.0,
            level_coeff: one_pole_coeff(2_000.0, rate / 1024.0),
            width: Width::new(p.bus_width),
            meter: LoudnessMeter::loudness_only(RATE, 2),
            store: [
                CompactChannel::with_capacity(frames),
                CompactChannel::with_capacity(frames),
            ],
            hop_peak: Vec::with_capacity(frames / HOP + 1),
            hop_energy: Vec::with_capacity(frames / HOP + 1),
        }
    }

    fn process(
        &mut self,
        n: usize,
        dry: &mut [Vec<f32>; 2],
        send: &[Vec<f32>; 2],
        layer: &[Vec<f32>; 2],
    ) {
        if let Some(d) = &mut self.doubler {
            let [l, r] = dry;
            d.add_copies(&layer[0][..n], &layer[1][..n], &mut l[..n], &mut r[..n]);
        }
        let [wl, wr] = &mut self.wet;
        self.reverb
            .process(&send[0][..n], &send[1][..n], &mut wl[..n], &mut wr[..n]);
        let [l, r] = dry;
        let (l, r) = (&mut l[..n], &mut r[..n]);
        for i in 0..n {
            l[i] += wl[i];
            r[i] += wr[i];
        }
        self.eq.process(l, r);
        // The glue compressor's threshold follows the programme: it touches only what rises
        // `comp_over_db` above the running level, whatever the band's absolute level. The
        // level is read before each block is compressed, so the blocks' energies are known
        // up front and summed side by side.
        const LEVEL_BLOCK: usize = 1024;
        let mut energies = [0.0f32; CHUNK / LEVEL_BLOCK];
        sums_of_squares(l, r, LEVEL_BLOCK, &mut energies[..n.div_ceil(LEVEL_BLOCK)]);
        let mut i = 0;
        while i < n {
            let m = LEVEL_BLOCK.min(n - i);
            let ms = energies[i / LEVEL_BLOCK] / (2 * m) as f32;
            self.level_ms = if self.level_ms == 0.0 {
                ms
            } else {
                ms + self.level_coeff * (self.level_ms - ms)
            };
            let level_db = 10.0 * (self.level_ms + 1e-12).log10();
            self.comp.set_threshold_db(level_db + self.comp_over_db);
            self.comp.process_stereo(&mut l[i..i + m], &mut r[i..i + m]);
            i += m;
        }
        self.width.process(l, r);
        self.meter.add(&[l, r]);
        self.store[0].push(l);
        self.store[1].push(r);
        let hops = n.div_ceil(HOP);
        let from = self.hop_energy.len();
        self.hop_energy.resize(from + hops, 0.0);
        sums_of_squares(l, r, HOP, &mut self.hop_energy[from..]);
        for (a, b) in l.chunks(HOP).zip(r.chunks(HOP)) {
            self.hop_peak.push(abs_max(b, abs_max(a, 0.0)));
        }
    }
}

/// For each block of `len` frames (the last may be shorter): the sum of the squares of its
/// left samples, then of its right ones, in that order, as a sequential `f32` sum. A sum is
/// one long chain of additions; four blocks are summed side by side so four chains advance
/// at once (the same additions in the same order per block: the same sums bit for bit).
// Indexed loops on purpose: sample j of four blocks per step is the point.
#[allow(clippy::needless_range_loop)]
fn sums_of_squares(l: &[f32], r: &[f32], len: usize, out: &mut [f32]) {
    let n = l.len().min(r.len());
    let full = n / len;
    let mut b = 0;
    while b + 4 <= full {
        let mut e = [0.0f32; 4];
        for ch in [l, r] {
            let x: [&[f32]; 4] = std::array::from_fn(|q| &ch[(b + q) * len..(b + q + 1) * len]);
            for j in 0..len {
                for q in 0..4 {
                    e[q] += x[q][j] * x[q][j];
                }
            }
        }
        out[b..b + 4].copy_from_slice(&e);
        b += 4;
    }
    for (k, o) in out.iter_mut().enumerate().skip(b) {
        let (s, t) = (k * len, ((k + 1) * len).min(n));
        *o = l[s..t]
            .iter()
            .chain(&r[s..t])
            .fold(0.0f32, |e, v| e + v * v);
    }
}

/// Which output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// Vocal and band.
    Song,
    /// The band alone.
    Instrumental,
}

/// What [`Mix::encode`] should produce.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputRequest {
    /// The song as MP3 with these settings.
    pub song_mp3: Option<Mp3Settings>,
    /// The instrumental as MP3.
    pub instrumental_mp3: Option<Mp3Settings>,
    /// The song as WAV.
    pub song_wav: Option<WavSampleFormat>,
    /// The instrumental as WAV.
    pub instrumental_wav: Option<WavSampleFormat>,
}

/// The encoded outputs and the measured report.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    /// The song MP3, if asked for.
    pub song_mp3: Option<Vec<u8>>,
    /// The instrumental MP3, if asked for.
    pub instrumental_mp3: Option<Vec<u8>>,
    /// The song WAV, if asked for.
    pub song_wav: Option<Vec<u8>>,
    /// The instrumental WAV, if asked for.
    pub instrumental_wav: Option<Vec<u8>>,
    /// Measured loudness of both outputs and the mix's balance.
    pub report: MixReport,
}

/// What a mix measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixReport {
    /// The song as rendered (BS.1770-4 integrated loudness, true peak, sample peak).
    pub song: Loudness,
    /// The instrumental as rendered (`None` when no instrumental output was requested: it is
    /// then not rendered at all).
    pub instrumental: Option<Loudness>,
    /// Vocal-to-band balance in the song, LU: the loudness of the vocal (with its reverb) as
    /// mixed, minus the loudness of the band as mixed under it, over the passages where the
    /// voice sings.
    pub vocal_to_band_db: f32,
    /// Deepest ducking of the band under the voice, dB.
    pub duck_db: f32,
    /// Song time (s) of the outputs' first frame (leading silence trimmed).
    pub start_s: f64,
    /// Length of the outputs, s.
    pub duration_s: f64,
}

/// The plan for pass 2, fixed after pass 1.
#[derive(Debug, Clone)]
struct Plan {
    /// Song frames of the outputs: [start, end).
    start: usize,
    end: usize,
    /// Vocal frame = song frame - offset.
    offset: i64,
    vocal_gain: f32,
    vocal_send: f32,
    /// Per hop: the band's duck gain and the presence and body carve amounts k (the band's
    /// mid loses k x its band-passed self), from the activity.
    shaping: Vec<[f32; 3]>,
    duck_db: f32,
    presence_hz: f32,
    body_hz: f32,
    song_gain: f32,
    instrumental_gain: f32,
    reverb: ReverbSettings,
    ceiling_dbtp: f32,
    balance_db: f32,
    /// Per hop (song time): the band's peak and energy.
    band_peak: Vec<f32>,
    band_energy: Vec<f32>,
}

/// A mixed variation, between its two passes: the band bus and the prepared vocal, with the
/// plan for the outputs. Render outputs with [`Mix::encode`] (streaming, both at once) or
/// materialise them with [`Mix::song`] / [`Mix::instrumental`].
#[derive(Debug, Clone)]
pub struct Mix {
    band: Arc<[CompactChannel; 2]>,
    vocal: VocalTrack,
    plan: Plan,
    threads: usize,
}

/// Mix already-rendered stems (from [`Renderer::render_stems`]) under a decoded vocal. Holds
/// the stems while it works; [`Renderer::mix`] renders and mixes without them. The vocal is
/// prepared here; with a [`VocalTrack`] already made (once per task), use [`mix_stems`].
pub fn mix(
    stems: &[Stem],
    vocal: &AudioBuffer,
    arrangement: &Arrangement,
    settings: &MixSettings,
) -> Result<Mix, RenderError> {
    settings.validate()?;
    let track = VocalTrack::new(vocal, settings.vocal_gender)?;
    mix_stems(stems, &track, arrangement, settings)
}

/// [`mix`] with a prepared vocal: the same mix, bit for bit, as [`Renderer::mix`] makes from
/// the arrangement directly.
pub fn mix_stems(
    stems: &[Stem],
    vocal: &VocalTrack,
    arrangement: &Arrangement,
    settings: &MixSettings,
) -> Result<Mix, RenderError> {
    settings.validate()?;
    if stems.len() != arrangement.parts.len() {
        return Err(RenderError::Arrangement(format!(
            "{} stems for {} parts",
            stems.len(),
            arrangement.parts.len()
        )));
    }
    if let Some(s) = stems.iter().find(|s| s.audio.rate().hz() != RATE) {
        return Err(RenderError::Arrangement(format!(
            "stem {} is at {}, not {RATE} Hz",
            s.name,
            s.audio.rate()
        )));
    }
    let sources = stems.iter().map(|s| Source::Stem(&s.audio)).collect();
    mix_sources(sources, vocal, arrangement, settings)
}

impl Renderer {
    /// Render and mix one variation in one streaming pass (no stems are held): the parts are
    /// synthesised in parallel chunk by chunk and flow straight into the band bus.
    pub fn mix(
        &self,
        arrangement: &Arrangement,
        vocal: &VocalTrack,
        settings: &MixSettings,
    ) -> Result<Mix, RenderError> {
        settings.validate()?;
        settings.render.frames_of(arrangement)?;
        self.check_presets(arrangement)?;
        let sources = arrangement
            .parts
            .iter()
            .map(|p| Source::Synth(Box::new(self.player(p, &settings.render))))
            .collect();
        mix_sources(sources, vocal, arrangement, settings)
    }
}

fn mix_sources(
    sources: Vec<Source<'_>>,
    vocal: &VocalTrack,
    arrangement: &Arrangement,
    settings: &MixSettings,
) -> Result<Mix, RenderError> {
    let profile = Profile::of(settings.profile);
    let arr_frames = settings.render.frames_of(arrangement)?;
    let offset = if arrangement.vocal_offset_s.is_finite() {
        (arrangement.vocal_offset_s * f64::from(RATE)).round() as i64
    } else {
        return Err(RenderError::Arrangement(
            "the vocal offset is not a number".into(),
        ));
    };
    // Room for the reverb to ring out after the band, and never cut the vocal.
    let tail = (f64::from(profile.reverb.rt60_s) * f64::from(RATE)) as usize;
    let vocal_end = (offset + vocal.frames() as i64).max(0) as usize;
    let frames = (arr_frames + tail).max(vocal_end + tail / 2);
    let rate = RATE as f32;
    let parts: Vec<Mutex<PartState>> = sources
        .into_iter()
        .zip(&arrangement.parts)
        .map(|(source, part)| {
            Mutex::new(PartState {
                source,
                strip: Strip::new(part, &profile, rate),
                end: arr_frames,
                quiet: 0,
            })
        })
        .collect();
    let bus = run_pass1(&parts, frames, settings.render.threads, &profile);
    drop(parts);
    let plan = make_plan(&bus, vocal, offset, frames, settings, &profile);
    let Bus { store, .. } = bus;
    let mut m = Mix {
        band: Arc::new(store),
        vocal: vocal.clone(),
        plan,
        threads: settings.render.threads,
    };
    m.estimate_limiting();
    Ok(m)
}

/// How many chunks a part may be rendered ahead of the bus in the first pass.
const PASS1_LEAD: usize = 4;

/// What a first-pass worker does next.
enum Task {
    /// Mix chunk `k` on the bus: every part's share of it, in part order.
    Bus(usize, Vec<Acc>),
    /// Render chunk `k` of part `p`.
    Part(usize, usize, Acc),
}

/// The first pass's work list, shared by the workers. A part's chunks run in order and on one
/// worker at a time, the bus's chunks too; the bus's next chunk goes first once all its parts
/// are in (it is the one serial chain of the pass), otherwise a worker takes the part that is
/// furthest behind among those no other worker holds, at most [`PASS1_LEAD`] chunks ahead of
/// the bus. Before, tickets went out chunk by chunk, part by part to two workers while a third
/// thread ran the bus: a worker blocked on a part the other was still rendering, the bus
/// thread competed with both for two cores, and the pass ran at ~85 % of them.
struct Schedule {
    /// Per part: the next chunk to render.
    next: Vec<usize>,
    /// Per part: a worker is rendering it.
    busy: Vec<bool>,
    /// Chunks the bus has mixed, and whether a worker is mixing the next one.
    bus_at: usize,
    bus_busy: bool,
    /// Rendered shares waiting for the bus (at most [`PASS1_LEAD`] chunks of every part).
    done: Vec<Acc>,
    /// Spent buffers.
    pool: Vec<Acc>,
    n_chunks: usize,
    /// A worker stopped before the end (it panicked): the others stop too.
    failed: bool,
}

/// Marks the schedule failed if its worker leaves before the bus has mixed every chunk (a
/// panic unwinding through it, a poisoned lock), so the other workers stop waiting for work
/// that will never come.
struct WorkerExit<'a>(&'a Mutex<Schedule>, &'a Condvar);

impl Drop for WorkerExit<'_> {
    fn drop(&mut self) {
        let mut s = match self.0.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if s.bus_at < s.n_chunks {
            s.failed = true;
        }
        drop(s);
        self.1.notify_all();
    }
}

impl Schedule {
    /// The next task, waiting while none is ready; `None` when the bus has mixed every chunk
    /// (or a lock is poisoned).
    fn take(sched: &Mutex<Self>, ready: &Condvar) -> Option<Task> {
        let mut s = sched.lock().ok()?;
        loop {
            if s.bus_at >= s.n_chunks || s.failed {
                return None;
            }
            let k = s.bus_at;
            let n_parts = s.next.len();
            if !s.bus_busy && s.done.iter().filter(|a| a.chunk == k).count() == n_parts {
                s.bus_busy = true;
                let mut shares: Vec<Acc> = Vec::with_capacity(n_parts);
                let mut i = 0;
                while i < s.done.len() {
                    if s.done[i].chunk == k {
                        shares.push(s.done.swap_remove(i));
                    } else {
                        i += 1;
                    }
                }
                shares.sort_by_key(|a| a.part);
                return Some(Task::Bus(k, shares));
            }
            let limit = (k + PASS1_LEAD).min(s.n_chunks);
            let pick = (0..n_parts)
                .filter(|&p| !s.busy[p] && s.next[p] < limit)
                .min_by_key(|&p| (s.next[p], p));
            if let Some(p) = pick {
                s.busy[p] = true;
                let acc = s.pool.pop().unwrap_or_else(Acc::new);
                return Some(Task::Part(s.next[p], p, acc));
            }
            s = ready.wait(s).ok()?;
        }
    }
}

/// Pass 1: the parts' chunks and the bus's, shared by up to `threads` workers (see
/// [`Schedule`]); the calling thread waits.
fn run_pass1(parts: &[Mutex<PartState>], frames: usize, threads: usize, profile: &Profile) -> Bus {
    let n_parts = parts.len();
    let n_chunks = frames.div_ceil(CHUNK);
    let workers = threads.clamp(1, n_parts.max(1));
    let sched = Mutex::new(Schedule {
        next: vec![0; n_parts],
        busy: vec![false; n_parts],
        bus_at: 0,
        bus_busy: false,
        done: Vec::new(),
        pool: Vec::new(),
        n_chunks,
        failed: false,
    });
    let ready = Condvar::new();
    // The bus and its scratch; only the worker holding the bus task touches them.
    let mixer = Mutex::new((
        Bus::new(profile, frames),
        Acc::new(),
        [vec![0.0f32; CHUNK], vec![0.0f32; CHUNK]],
    ));
    std::thread::scope(|s| {
        for _ in 0..workers {
            let (sched, ready, mixer) = (&sched, &ready, &mixer);
            s.spawn(move || {
                let _exit = WorkerExit(sched, ready);
                let (mut l, mut r) = (vec![0.0f32; CHUNK], vec![0.0f32; CHUNK]);
                while let Some(task) = Schedule::take(sched, ready) {
                    match task {
                        Task::Part(k, p, mut a) => {
                            a.reset(k, p);
                            let start = k * CHUNK;
                            let n = CHUNK.min(frames - start);
                            {
                                let Ok(mut st) = parts[p].lock() else { return };
                                st.render(start, &mut l[..n], &mut r[..n], &mut a);
                            }
                            let Ok(mut s) = sched.lock() else { return };
                            s.busy[p] = false;
                            s.next[p] += 1;
                            s.done.push(a);
                        }
                        Task::Bus(k, shares) => {
                            {
                                let Ok(mut m) = mixer.lock() else { return };
                                let (bus, sum, layer) = &mut *m;
                                mix_chunk(k, frames, &shares, bus, sum, layer);
                            }
                            let Ok(mut s) = sched.lock() else { return };
                            s.bus_at = k + 1;
                            s.bus_busy = false;
                            s.pool.extend(shares);
                        }
                    }
                    ready.notify_all();
                }
            });
        }
    });
    let mut bus = match mixer.into_inner() {
        Ok((bus, ..)) => bus,
        Err(poisoned) => poisoned.into_inner().0,
    };
    bus.store[0].finish();
    bus.store[1].finish();
    bus
}

/// Chunk `k` of the bus: the parts' shares (in part order) summed, then the bus chain.
fn mix_chunk(
    k: usize,
    frames: usize,
    shares: &[Acc],
    bus: &mut Bus,
    sum: &mut Acc,
    layer: &mut [Vec<f32>; 2],
) {
    sum.reset(k, 0);
    for v in sum
        .dry
        .iter_mut()
        .chain(sum.send.iter_mut())
        .chain(layer.iter_mut())
    {
        v.fill(0.0);
    }
    let n = CHUNK.min(frames - k * CHUNK);
    for a in shares.iter().filter(|a| !a.silent) {
        let add = |to: &mut [f32], from: &[f32]| {
            for (o, v) in to[..n].iter_mut().zip(&from[..n]) {
                *o += v;
            }
        };
        for (c, dry) in a.dry.iter().enumerate() {
            add(&mut sum.dry[c], dry);
            if a.has_send {
                add(&mut sum.send[c], &a.send[c]);
            }
            if a.layered {
                add(&mut layer[c], dry);
            }
        }
    }
    bus.process(n, &mut sum.dry, &sum.send, layer);
}

/// A one-pole attack/release smoother over a per-hop series.
fn smooth(x: &mut [f32], attack_ms: f32, release_ms: f32) {
    let hop_rate = RATE as f32 / HOP as f32;
    let (a, r) = (
        one_pole_coeff(attack_ms, hop_rate),
        one_pole_coeff(release_ms, hop_rate),
    );
    let mut s = 0.0f32;
    for v in x.iter_mut() {
        let c = if *v > s { a } else { r };
        s = *v + c * (s - *v);
        *v = s;
    }
}

fn make_plan(
    bus: &Bus,
    vocal: &VocalTrack,
    offset: i64,
    frames: usize,
    settings: &MixSettings,
    profile: &Profile,
) -> Plan {
    let hops = frames.div_ceil(HOP);
    let off_hops = offset.div_euclid(HOP as i64);
    // Vocal activity: 0 more than 24 dB under the sung level, 1 within 12 dB of it.
    let floor = vocal.active_db() - 24.0;
    let mut activity: Vec<f32> = (0..hops as i64)
        .map(|h| ((vocal.env_db(h - off_hops) - floor) / 12.0).clamp(0.0, 1.0))
        .collect();
    // The band dips over 40 ms as a phrase starts and comes back over 400 ms after it ends.
    smooth(&mut activity, 40.0, 400.0);
    let duck_db = settings.duck_db();
    // 100 ms sub-blocks of energy: the band from the meter, the vocal from its hops.
    let sub_len = bus.meter.sub_block_len();
    let band_subs = bus.meter.sub_block_energies();
    let hops_per_sub = sub_len as f64 / HOP as f64;
    let nsubs = band_subs.len();
    let mut duck2 = vec![0.0f64; nsubs];
    let mut act = vec![0.0f64; nsubs];
    let mut voc = vec![0.0f64; nsubs];
    for j in 0..nsubs {
        let h0 = (j as f64 * hops_per_sub) as usize;
        let h1 = (((j + 1) as f64 * hops_per_sub) as usize)
            .min(hops)
            .max(h0 + 1);
        let mut d = 0.0;
        let mut a = 0.0;
        let mut e = 0.0;
        for h in h0..h1 {
            let ah = activity.get(h).copied().unwrap_or(0.0);
            d += f64::from(db_to_gain(-duck_db * ah)).powi(2);
            a += f64::from(ah);
            e += f64::from(vocal.k_energy(h as i64 - off_hops));
        }
        let k = (h1 - h0) as f64;
        duck2[j] = d / k;
        act[j] = a / k;
        // The vocal goes to both channels: twice its mono energy in the stereo sum.
        voc[j] = 2.0 * e * (sub_len as f64 / (k * HOP as f64));
    }
    let band_song: Vec<f64> = band_subs.iter().zip(&duck2).map(|(e, d)| e * d).collect();
    let active_band: Vec<f64> = band_song
        .iter()
        .zip(&act)
        .map(|(e, &a)| if a > 0.5 { *e } else { 0.0 })
        .collect();
    let l_band = loudness_of_sub_blocks(&active_band, sub_len);
    let l_voc = loudness_of_sub_blocks(&voc, sub_len);
    // The vocal's reverb adds energy in proportion to its send (the network's impulse
    // response energy, measured once).
    let rev_gain = reverb_energy_gain(profile.reverb) * profile.vocal_send * profile.vocal_send;
    let target_balance = settings.balance_db();
    let vocal_gain = if l_band.is_finite() && l_voc.is_finite() {
        // Balance counts the vocal with its reverb.
        let with_rev = l_voc + 10.0 * (1.0 + rev_gain).log10();
        db_to_gain((target_balance + l_band - with_rev).clamp(-40.0, 40.0))
    } else {
        // No band under the voice, or no voice: unity.
        1.0
    };
    let g2 = f64::from(vocal_gain * vocal_gain) * (1.0 + f64::from(rev_gain));
    let song: Vec<f64> = band_song
        .iter()
        .zip(&voc)
        .map(|(b, v)| b + g2 * v)
        .collect();
    let l_song = loudness_of_sub_blocks(&song, sub_len);
    let l_inst = bus.meter.integrated_lufs();
    let balance_db = {
        let v: Vec<f64> = voc.iter().map(|v| v * g2).collect();
        loudness_of_sub_blocks(&v, sub_len) - l_band
    };
    // Trim the edges: from 20 ms before the first sound (if more than 250 ms of silence
    // leads) to 50 ms after the last one dies 60 dB under the peak.
    let vocal_peak_hop = |h: i64| db_to_gain(vocal.env_db(h - off_hops)) * vocal_gain * 1.4;
    let peak = (0..hops).fold(0.0f32, |m, h| {
        m.max(bus.hop_peak.get(h).copied().unwrap_or(0.0))
            .max(vocal_peak_hop(h as i64))
    });
    let audible = |h: usize, db: f32| {
        let t = peak * db_to_gain(db);
        bus.hop_peak.get(h).copied().unwrap_or(0.0) > t || vocal_peak_hop(h as i64) > t
    };
    let first = (0..hops).find(|&h| audible(h, -50.0)).unwrap_or(0) * HOP;
    let last = (0..hops)
        .rev()
        .find(|&h| audible(h, -60.0))
        .map_or(frames, |h| (h + 1) * HOP);
    let start = if first > RATE as usize / 4 {
        first - RATE as usize / 50
    } else {
        0
    };
    let end = (last + RATE as usize / 20).min(frames).max(start + 1);
    let gain_for = |l: f32| {
        if l.is_finite() {
            db_to_gain((settings.target_lufs - l).clamp(-40.0, 60.0))
        } else {
            1.0
        }
    };
    let carve_db = settings.carve_db();
    let shaping = activity
        .iter()
        .map(|&a| {
            [
                db_to_gain(-duck_db * a),
                1.0 - db_to_gain(-carve_db * a),
                1.0 - db_to_gain(-0.5 * carve_db * a),
            ]
        })
        .collect();
    Plan {
        start,
        end,
        offset,
        shaping,
        vocal_gain,
        vocal_send: profile.vocal_send,
        duck_db,
        presence_hz: vocal.presence_hz(),
        body_hz: vocal.body_hz(),
        song_gain: gain_for(l_song),
        instrumental_gain: gain_for(l_inst),
        reverb: profile.reverb,
        ceiling_dbtp: settings.ceiling_dbtp - CODEC_MARGIN_DB,
        balance_db,
        band_peak: bus.hop_peak.clone(),
        band_energy: bus.hop_energy.clone(),
    }
}

/// Energy of the reverb's output for a unit impulse into both inputs (sum over both
/// outputs), so that a send of `s` adds about `s^2` times this much energy.
fn reverb_energy_gain(s: ReverbSettings) -> f32 {
    let n = ((s.rt60_s * 1.5).max(0.5) * RATE as f32) as usize;
    let mut r = Reverb::new(s, RATE as f32);
    let mut x = vec![0.0f32; n];
    x[0] = 1.0;
    let (mut l, mut rr) = (vec![0.0; n], vec![0.0; n]);
    r.process(&x, &x, &mut l, &mut rr);
    // The input impulse has energy 2 (one per channel).
    (l.iter().chain(&rr).map(|v| v * v).sum::<f32>()) / 2.0
}

/// Streaming render of one output, frame-exact, chunk by chunk.
struct OutputRenderer<'a> {
    mix: &'a Mix,
    which: Output,
    pos: usize,
    reverb: Option<Reverb>,
    carve: [Biquad; 2],
    limiter: Limiter,
    gain: f32,
    voc: Vec<f32>,
    send: Vec<f32>,
    wet: [Vec<f32>; 2],
}

impl<'a> OutputRenderer<'a> {
    fn new(mix: &'a Mix, which: Output, gain: f32) -> Self {
        let p = &mix.plan;
        let rate = RATE as f32;
        let song = which == Output::Song;
        Self {
            mix,
            which,
            pos: if song { 0 } else { p.start },
            reverb: song.then(|| Reverb::new(p.reverb, rate)),
            carve: [
                Biquad::design(FilterKind::BandPass, p.presence_hz, 1.0, rate),
                Biquad::design(FilterKind::BandPass, p.body_hz, 0.9, rate),
            ],
            limiter: Limiter::new(
                LimiterSettings {
                    ceiling_dbtp: p.ceiling_dbtp,
                    ..LimiterSettings::default()
                },
                rate,
                2,
            ),
            gain,
            voc: vec![0.0; CHUNK],
            send: vec![0.0; CHUNK],
            wet: [vec![0.0; CHUNK], vec![0.0; CHUNK]],
        }
    }

    /// The pre-limiter signal of song frames [pos, pos + n) into `l`/`r`.
    fn premaster(&mut self, n: usize, l: &mut [f32], r: &mut [f32]) {
        let p = &self.mix.plan;
        let pos = self.pos;
        self.mix.band[0].read(pos, &mut l[..n]);
        self.mix.band[1].read(pos, &mut r[..n]);
        if self.which == Output::Song {
            let [cp, cb] = &mut self.carve;
            // Duck gain and carve amounts follow the voice's activity: set per hop,
            // interpolated in between. Subtracting k x the band-passed mid cuts the band by
            // 20 log10(1 - k) at the band-pass centre.
            let params = |h: usize| p.shaping.get(h).copied().unwrap_or([1.0, 0.0, 0.0]);
            let mut i = 0;
            while i < n {
                let f = pos + i;
                let h = f / HOP;
                let hop_end = ((h + 1) * HOP).min(pos + n);
                let (q0, q1) = (params(h), params(h + 1));
                let d = [0, 1, 2].map(|k| q1[k] - q0[k]);
                let (hl, hr) = (&mut l[i..hop_end - pos], &mut r[i..hop_end - pos]);
                for (k, (a, b)) in (f - h * HOP..).zip(hl.iter_mut().zip(hr.iter_mut())) {
                    let t = k as f32 / HOP as f32;
                    let [g, kp, kb] = [0, 1, 2].map(|k| q0[k] + d[k] * t);
                    let mid = 0.5 * (*a + *b);
                    let side = 0.5 * (*a - *b);
                    let m = mid - kp * cp.run(mid) - kb * cb.run(mid);
                    *a = g * (m + side);
                    *b = g * (m - side);
                }
                i = hop_end - pos;
            }
            let voc = &mut self.voc[..n];
            self.mix.vocal.read(pos as i64 - p.offset, voc);
            let vg = p.vocal_gain;
            for (s, v) in self.send[..n].iter_mut().zip(voc.iter_mut()) {
                *v *= vg;
                *s = *v * p.vocal_send;
            }
            if let Some(rev) = &mut self.reverb {
                let [wl, wr] = &mut self.wet;
                rev.process(&self.send[..n], &self.send[..n], &mut wl[..n], &mut wr[..n]);
                for i in 0..n {
                    l[i] += voc[i] + wl[i];
                    r[i] += voc[i] + wr[i];
                }
            } else {
                for i in 0..n {
                    l[i] += voc[i];
                    r[i] += voc[i];
                }
            }
        }
        let g = self.gain;
        // One loop per channel: a chained iterator does not vectorise.
        for v in l[..n].iter_mut() {
            *v *= g;
        }
        for v in r[..n].iter_mut() {
            *v *= g;
        }
    }

    /// Render the output, calling `sink` with consecutive limited blocks until the end.
    fn run(&mut self, sink: &mut dyn FnMut(&[f32], &[f32])) {
        let p = &self.mix.plan;
        let (start, end) = (p.start, p.end);
        let latency = self.limiter.latency();
        let total = end - start;
        let fade_in = if start > 0 {
            (RATE as usize / 50).min(total / 2)
        } else {
            0
        };
        let fade_out = if end < self.mix.band[0].len() {
            (RATE as usize / 20).min(total / 2)
        } else {
            0
        };
        let mut emitted = 0usize;
        let mut skip = latency;
        let (mut l, mut r) = (vec![0.0f32; CHUNK], vec![0.0f32; CHUNK]);
        let (mut ol, mut or) = (vec![0.0f32; CHUNK], vec![0.0f32; CHUNK]);
        // The song starts at frame 0 so the vocal reverb and carve filters run in from the
        // start; frames before `start` are computed and dropped.
        while self.pos < end + latency {
            let n = CHUNK.min(end + latency - self.pos);
            if self.pos < end {
                let m = n.min(end - self.pos);
                self.premaster(m, &mut l, &mut r);
                l[m..n].fill(0.0);
                r[m..n].fill(0.0);
            } else {
                l[..n].fill(0.0);
                r[..n].fill(0.0);
            }
            // Fades where the edges were trimmed (over sound already 50-60 dB down), before
            // the limiter; frames before `start` are silenced. Only the frames before
            // `start + fade_in` and from `end - fade_out` on can change: the loop visits those.
            let head = (start + fade_in).saturating_sub(self.pos).min(n);
            let tail = (end - fade_out).saturating_sub(self.pos).min(n).max(head);
            for i in (0..head).chain(tail..n) {
                let f = self.pos + i;
                if f < start {
                    l[i] = 0.0;
                    r[i] = 0.0;
                } else if f < end {
                    let g_in = if f - start < fade_in {
                        (f - start) as f32 / fade_in as f32
                    } else {
                        1.0
                    };
                    let g_out = if end - f <= fade_out {
                        (end - f) as f32 / fade_out as f32
                    } else {
                        1.0
                    };
                    let g = g_in.min(g_out);
                    if g < 1.0 {
                        l[i] *= g;
                        r[i] *= g;
                    }
                }
            }
            let before_start = start.saturating_sub(self.pos).min(n);
            self.pos += n;
            // Frames before `start` never reach the limiter (it sees the output timeline).
            let (il, ir) = (&l[before_start..n], &r[before_start..n]);
            let m = n - before_start;
            if m == 0 {
                continue;
            }
            {
                let mut outs = [&mut ol[..m], &mut or[..m]];
                self.limiter.process(&[il, ir], &mut outs);
            }
            let from = skip.min(m);
            skip -= from;
            let take = (m - from).min(total - emitted);
            if take > 0 {
                sink(&ol[from..from + take], &or[from..from + take]);
                emitted += take;
            }
        }
    }
}

/// How far (frames) one output's producer may run ahead of the other's in [`Mix::encode`].
const LOCKSTEP_LEAD: usize = 4 * CHUNK;

/// Keeps the song's and the instrumental's producers within [`LOCKSTEP_LEAD`] frames of each
/// other. Each producer's queue bounds how far its encoder lags behind it, so the two encoders
/// now finish together; left alone, the side the scheduler favoured finished first and the
/// other's encoder ran alone on one core for the last ~0.15 s of every variation.
struct Lockstep {
    emitted: Mutex<[usize; 2]>,
    moved: Condvar,
}

impl Lockstep {
    fn new() -> Self {
        Self {
            emitted: Mutex::new([0; 2]),
            moved: Condvar::new(),
        }
    }

    /// Side `side` (0 song, 1 instrumental) emitted `n` more frames: wait while it is more
    /// than the lead ahead of the other side.
    fn advance(&self, side: usize, n: usize) {
        let Ok(mut e) = self.emitted.lock() else {
            return;
        };
        e[side] = e[side].saturating_add(n);
        self.moved.notify_all();
        while e[side] > e[1 - side].saturating_add(LOCKSTEP_LEAD) {
            match self.moved.wait(e) {
                Ok(g) => e = g,
                Err(_) => return,
            }
        }
    }

    /// Side `side` is done (or gave up): the other never waits for it again.
    fn finish(&self, side: usize) {
        if let Ok(mut e) = self.emitted.lock() {
            e[side] = usize::MAX;
        }
        self.moved.notify_all();
    }
}

/// Finishes a side of a [`Lockstep`] when dropped, also if its producer panics.
struct LockstepDone<'a>(&'a Lockstep, usize);

impl Drop for LockstepDone<'_> {
    fn drop(&mut self) {
        self.0.finish(self.1);
    }
}

/// One output's MP3 and WAV (if asked for) and its measured loudness.
type Encoded = (Option<Vec<u8>>, Option<Vec<u8>>, Loudness);

/// Where an output's frames go: its meter and encoders.
struct Sink {
    /// The meter, when it runs with the encoders (one thread); with several threads it runs
    /// with the producer, which has less to do.
    meter: Option<LoudnessMeter>,
    enc: Option<Mp3Encoder>,
    wav: Option<WavWriter>,
    err: Option<bandmate_audio::EncodeError>,
}

impl Sink {
    fn take(&mut self, l: &[f32], r: &[f32]) {
        if let Some(m) = &mut self.meter {
            m.add(&[l, r]);
        }
        if let Some(e) = &mut self.enc
            && let Err(x) = e.encode(&[l, r])
        {
            self.err.get_or_insert(x);
        }
        if let Some(w) = &mut self.wav {
            w.write(&[l, r]);
        }
    }

    fn finish(self, meter: Option<LoudnessMeter>) -> Result<Encoded, RenderError> {
        if let Some(e) = self.err {
            return Err(RenderError::Encode(e));
        }
        let mp3 = match self.enc {
            Some(e) => Some(e.finish()?),
            None => None,
        };
        let meter = meter
            .or(self.meter)
            .unwrap_or_else(|| LoudnessMeter::new(RATE, 2));
        Ok((mp3, self.wav.map(WavWriter::finish), meter.finish()))
    }
}

impl Mix {
    /// Frames of each output.
    pub fn frames(&self) -> usize {
        self.plan.end - self.plan.start
    }

    /// Song time of the outputs' first frame, s.
    pub fn start_s(&self) -> f64 {
        self.plan.start as f64 / f64::from(RATE)
    }

    /// The planned vocal-to-band balance, LU (see [`MixReport::vocal_to_band_db`]).
    pub fn vocal_to_band_db(&self) -> f32 {
        self.plan.balance_db
    }

    /// Set each output's gain: the loudness target corrected by what its limiter will take
    /// away. The loss is estimated per hop (1.45 ms) from the peaks and energies of the parts
    /// of the output, with the limiter's own hold, ramp and release; raising the gain makes
    /// the limiter work harder, so the estimate is repeated until it settles.
    fn estimate_limiting(&mut self) {
        for which in [Output::Song, Output::Instrumental] {
            let base = match which {
                Output::Song => self.plan.song_gain,
                Output::Instrumental => self.plan.instrumental_gain,
            };
            let mut extra = 0.0f32;
            for _ in 0..4 {
                let loss = self.limiter_loss_db(which, base * db_to_gain(extra));
                if (loss - extra).abs() < 0.01 {
                    break;
                }
                extra = loss;
            }
            match which {
                Output::Song => self.plan.song_gain = base * db_to_gain(extra),
                Output::Instrumental => self.plan.instrumental_gain = base * db_to_gain(extra),
            }
        }
    }

    /// The loudness (dB) the limiter takes from an output at `gain`.
    fn limiter_loss_db(&self, which: Output, gain: f32) -> f32 {
        let p = &self.plan;
        let ceiling = db_to_gain(p.ceiling_dbtp);
        // The limiter's window (1.5 ms) is about one hop: hold and ramp over two.
        let window = 2usize;
        let rel = one_pole_coeff(80.0, RATE as f32 / HOP as f32);
        let off_hops = p.offset.div_euclid(HOP as i64);
        let (h0, h1) = (p.start / HOP, p.end.div_ceil(HOP));
        let mut ring = [1.0f32; 2];
        let mut g = 1.0f32;
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for h in h0..h1 {
            let bp = p.band_peak.get(h).copied().unwrap_or(0.0);
            let be = p.band_energy.get(h).copied().unwrap_or(0.0);
            let (pk, e) = match which {
                Output::Instrumental => (bp, be),
                Output::Song => {
                    let d = p.shaping.get(h).map_or(1.0, |s| s[0]);
                    let vh = h as i64 - off_hops;
                    let vp = self.vocal.hop_peak(vh) * p.vocal_gain;
                    let ve = 2.0 * self.vocal.hop_energy(vh) * p.vocal_gain * p.vocal_gain;
                    // Peaks of independent sources rarely line up: the larger plus half the
                    // smaller.
                    let (big, small) = if d * bp > vp {
                        (d * bp, vp)
                    } else {
                        (vp, d * bp)
                    };
                    (big + 0.5 * small, d * d * be + ve)
                }
            };
            let pk = pk * gain;
            let need = if pk > ceiling { ceiling / pk } else { 1.0 };
            ring[h % window] = need;
            let held = ring.iter().fold(1.0f32, |m, &v| m.min(v));
            g = if held < g {
                held
            } else {
                held + rel * (g - held)
            };
            num += f64::from(e) * f64::from(g * g);
            den += f64::from(e);
        }
        if den > 0.0 && num > 0.0 {
            (-10.0 * (num / den).log10()) as f32
        } else {
            0.0
        }
    }

    /// Render both outputs at once (one thread each, if the settings allow two) into the
    /// requested encoders, measuring each as it goes.
    pub fn encode(&self, request: &OutputRequest) -> Result<Outputs, RenderError> {
        for s in [&request.song_mp3, &request.instrumental_mp3]
            .into_iter()
            .flatten()
        {
            s.validate()?;
        }
        // Each output has a producer (mix, gain, limiter) and a consumer (meter and encoders);
        // with two or more threads all four run at once, linked by short queues, so the
        // heavier song side and the lighter instrumental side keep both cores busy.
        let threaded = self.threads >= 2;
        // An instrumental nobody asked for is not rendered (an offline song-only run).
        let want_inst = request.instrumental_mp3.is_some() || request.instrumental_wav.is_some();
        let sink = |mp3: Option<&Mp3Settings>, wav: Option<WavSampleFormat>| {
            let meter = (!threaded).then(|| LoudnessMeter::new(RATE, 2));
            let enc = match mp3 {
                Some(s) => {
                    let mut e = Mp3Encoder::new(RATE, 2, s)?;
                    e.reserve_frames(self.frames());
                    Some(e)
                }
                None => None,
            };
            let wav = wav.map(|f| WavWriter::new(RATE, 2, self.frames(), f));
            Ok::<_, RenderError>(Sink {
                meter,
                enc,
                wav,
                err: None,
            })
        };
        let mut song_sink = sink(request.song_mp3.as_ref(), request.song_wav)?;
        let mut inst_sink = sink(request.instrumental_mp3.as_ref(), request.instrumental_wav)?;
        let produce = |which: Output, f: &mut dyn FnMut(&[f32], &[f32])| {
            let gain = match which {
                Output::Song => self.plan.song_gain,
                Output::Instrumental => self.plan.instrumental_gain,
            };
            OutputRenderer::new(self, which, gain).run(f);
        };
        let (mut song_meter, mut inst_meter) = (None, None);
        if threaded {
            let lockstep = Lockstep::new();
            std::thread::scope(|s| {
                let (stx, srx) = sync_channel::<(Vec<f32>, Vec<f32>)>(32);
                let ss = &mut song_sink;
                s.spawn(move || {
                    for (l, r) in srx {
                        ss.take(&l, &r);
                    }
                });
                let step = &lockstep;
                if want_inst {
                    let (itx, irx) = sync_channel::<(Vec<f32>, Vec<f32>)>(32);
                    let is = &mut inst_sink;
                    s.spawn(move || {
                        for (l, r) in irx {
                            is.take(&l, &r);
                        }
                    });
                    let im = &mut inst_meter;
                    s.spawn(move || {
                        let _done = LockstepDone(step, 1);
                        let mut meter = LoudnessMeter::new(RATE, 2);
                        OutputRenderer::new(
                            self,
                            Output::Instrumental,
                            self.plan.instrumental_gain,
                        )
                        .run(&mut |l, r| {
                            meter.add(&[l, r]);
                            let _ = itx.send((l.to_vec(), r.to_vec()));
                            step.advance(1, l.len());
                        });
                        *im = Some(meter);
                    });
                } else {
                    step.finish(1);
                }
                let done = LockstepDone(step, 0);
                let mut meter = LoudnessMeter::new(RATE, 2);
                produce(Output::Song, &mut |l, r| {
                    meter.add(&[l, r]);
                    let _ = stx.send((l.to_vec(), r.to_vec()));
                    step.advance(0, l.len());
                });
                drop(done);
                song_meter = Some(meter);
            });
        } else {
            produce(Output::Song, &mut |l, r| song_sink.take(l, r));
            if want_inst {
                produce(Output::Instrumental, &mut |l, r| inst_sink.take(l, r));
            }
        }
        let song = song_sink.finish(song_meter);
        let (song_mp3, song_wav, song_l) = song?;
        let (inst_mp3, inst_wav, inst_l) = if want_inst {
            let (mp3, wav, l) = inst_sink.finish(inst_meter)?;
            (mp3, wav, Some(l))
        } else {
            (None, None, None)
        };
        Ok(Outputs {
            song_mp3,
            instrumental_mp3: inst_mp3,
            song_wav,
            instrumental_wav: inst_wav,
            report: MixReport {
                song: song_l,
                instrumental: inst_l,
                vocal_to_band_db: self.plan.balance_db,
                duck_db: self.plan.duck_db,
                start_s: self.start_s(),
                duration_s: self.frames() as f64 / f64::from(RATE),
            },
        })
    }

    fn materialise(&self, which: Output) -> AudioBuffer {
        let gain = match which {
            Output::Song => self.plan.song_gain,
            Output::Instrumental => self.plan.instrumental_gain,
        };
        let mut r = OutputRenderer::new(self, which, gain);
        let (mut l, mut rr) = (
            Vec::with_capacity(self.frames()),
            Vec::with_capacity(self.frames()),
        );
        r.run(&mut |a, b| {
            l.extend_from_slice(a);
            rr.extend_from_slice(b);
        });
        AudioBuffer::new(SampleRate::CD, vec![l, rr]).expect("two equal channels")
    }

    /// The finished song (vocal and band), stereo 44.1 kHz (materialised: 8 bytes a frame).
    pub fn song(&self) -> AudioBuffer {
        self.materialise(Output::Song)
    }

    /// The finished instrumental.
    pub fn instrumental(&self) -> AudioBuffer {
        self.materialise(Output::Instrumental)
    }

    /// The vocal as mixed into the song (dry and its reverb, at the song's master gain, before
    /// the limiter), stereo, on the outputs' timeline.
    pub fn vocal(&self) -> AudioBuffer {
        self.mixed_vocal().audio()
    }

    /// The vocal as this mix places it, without the band: what the vocal's stem needs once the
    /// outputs are encoded. The band's bus (2 bytes a frame and channel: 110 MB for a
    /// 10-minute song) is freed with the mix.
    pub fn into_vocal(self) -> MixedVocal {
        self.mixed_vocal()
    }

    fn mixed_vocal(&self) -> MixedVocal {
        let p = &self.plan;
        MixedVocal {
            vocal: self.vocal.clone(),
            start: p.start,
            end: p.end,
            offset: p.offset,
            gain: p.vocal_gain * p.song_gain,
            send: p.vocal_send,
            reverb: p.reverb,
        }
    }
}

/// The vocal as a finished mix places it ([`Mix::into_vocal`]): the prepared vocal with its
/// level, reverb send and place on the outputs' timeline, the band left out.
#[derive(Debug, Clone)]
pub struct MixedVocal {
    vocal: VocalTrack,
    /// Song frames of the outputs: [start, end).
    start: usize,
    end: usize,
    /// Vocal frame = song frame - offset.
    offset: i64,
    /// The vocal's gain times the song's master gain.
    gain: f32,
    send: f32,
    reverb: ReverbSettings,
}

impl MixedVocal {
    /// Frames of the outputs (and of this vocal).
    pub fn frames(&self) -> usize {
        self.end - self.start
    }

    /// The first song frame the outputs keep (the lead-in before it is trimmed).
    pub(crate) fn start_frame(&self) -> usize {
        self.start
    }

    /// The vocal, dry and its reverb, stereo, whole ([`Mix::vocal`]).
    pub fn audio(&self) -> AudioBuffer {
        let (mut l, mut r) = (
            Vec::with_capacity(self.frames()),
            Vec::with_capacity(self.frames()),
        );
        self.chunks(|a, b| {
            l.extend_from_slice(a);
            r.extend_from_slice(b);
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap_or_else(|never| match never {});
        AudioBuffer::new(SampleRate::CD, vec![l, r]).expect("two equal channels")
    }

    /// [`MixedVocal::audio`] a chunk at a time (left, right), in order, without holding it
    /// whole; stops at the first error `sink` returns.
    pub(crate) fn chunks<E>(
        &self,
        mut sink: impl FnMut(&[f32], &[f32]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut rev = Reverb::new(self.reverb, RATE as f32);
        let mut v = vec![0.0f32; CHUNK];
        let mut s = vec![0.0f32; CHUNK];
        let (mut wl, mut wr) = (vec![0.0f32; CHUNK], vec![0.0f32; CHUNK]);
        let (mut ol, mut or) = (vec![0.0f32; CHUNK], vec![0.0f32; CHUNK]);
        let g = self.gain;
        let mut pos = 0;
        while pos < self.end {
            let n = CHUNK.min(self.end - pos);
            self.vocal.read(pos as i64 - self.offset, &mut v[..n]);
            for (a, b) in s[..n].iter_mut().zip(&v[..n]) {
                *a = b * self.send;
            }
            rev.process(&s[..n], &s[..n], &mut wl[..n], &mut wr[..n]);
            // Frames before the outputs' start are processed (the reverb's state) but left out.
            let from = self.start.saturating_sub(pos).min(n);
            for i in from..n {
                ol[i] = g * (v[i] + wl[i]);
                or[i] = g * (v[i] + wr[i]);
            }
            if from < n {
                sink(&ol[from..n], &or[from..n])?;
            }
            pos += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testband;
    use bandmate_core::{Key, Mode, NoteEvent, PartMix, PitchClass};
    use bandmate_testkit::soundfont as testfont;
    use bandmate_testkit::{Melody, SingerSettings, sing};
    use proptest::prelude::*;

    fn renderer() -> Renderer {
        Renderer::new(&mut testfont::font().as_slice()).unwrap()
    }

    /// A sung take in the test band's key and tempo.
    fn vocal(bars: u32, seed: u64) -> AudioBuffer {
        let m = Melody::generate(
            Key::new(PitchClass::new(0), Mode::Major),
            testband::BPM,
            4,
            bars,
            seed,
        );
        let t = sing(&m, &SingerSettings::default(), seed);
        AudioBuffer::mono(SampleRate::new(t.rate).unwrap(), t.audio)
    }

    /// Independent measurement (the ebur128 crate): integrated loudness and true peak.
    fn reference(a: &AudioBuffer) -> (f64, f64) {
        let mut m =
            ebur128::EbuR128::new(2, 44_100, ebur128::Mode::I | ebur128::Mode::TRUE_PEAK).unwrap();
        m.add_frames_planar_f32(&[a.channel(0), a.channel(1)])
            .unwrap();
        let tp = m.true_peak(0).unwrap().max(m.true_peak(1).unwrap());
        (m.loudness_global().unwrap(), 20.0 * tp.log10())
    }

    fn settings(profile: ModelProfile, weight: f32) -> MixSettings {
        MixSettings {
            profile,
            audio_weight: weight,
            ..MixSettings::default()
        }
    }

    #[test]
    fn outputs_hit_the_loudness_target_under_the_ceiling() {
        let r = renderer();
        let v = VocalTrack::new(&vocal(8, 1), None).unwrap();
        for profile in [ModelProfile::V45Plus, ModelProfile::V5] {
            let a = testband::band(24.0, profile, 1, 2);
            let m = r.mix(&a, &v, &settings(profile, 0.65)).unwrap();
            let o = m
                .encode(&OutputRequest {
                    song_wav: Some(WavSampleFormat::Float32),
                    instrumental_wav: Some(WavSampleFormat::Float32),
                    ..OutputRequest::default()
                })
                .unwrap();
            for (name, ours, audio) in [
                ("song", o.report.song, m.song()),
                (
                    "instrumental",
                    o.report.instrumental.unwrap(),
                    m.instrumental(),
                ),
            ] {
                assert!(audio.channels().iter().flatten().all(|x| x.is_finite()));
                let (il, tp) = reference(&audio);
                assert!((il + 14.0).abs() < 1.0, "{profile} {name}: {il} LUFS");
                assert!(tp <= -1.0, "{profile} {name}: {tp} dBTP");
                // Our meter agrees with the independent one.
                assert!(
                    (f64::from(ours.integrated_lufs) - il).abs() < 0.05,
                    "{name}: {} vs {il}",
                    ours.integrated_lufs
                );
                assert!(
                    (f64::from(ours.true_peak_dbtp) - tp).abs() < 0.3,
                    "{name}: {} vs {tp}",
                    ours.true_peak_dbtp
                );
            }
            // The MP3s, decoded, are still on target and under the ceiling.
            let o3 = m
                .encode(&OutputRequest {
                    song_mp3: Some(Mp3Settings::default()),
                    instrumental_mp3: Some(Mp3Settings::default()),
                    ..OutputRequest::default()
                })
                .unwrap();
            for mp3 in [o3.song_mp3.unwrap(), o3.instrumental_mp3.unwrap()] {
                let d = bandmate_audio::decode(
                    &mp3,
                    Some("mp3"),
                    &bandmate_audio::DecodeLimits::default(),
                )
                .unwrap();
                let (il, tp) = reference(&d.audio);
                eprintln!("{profile} MP3 decoded: {il:.2} LUFS, {tp:.2} dBTP");
                assert!((il + 14.0).abs() < 1.0, "{profile} MP3: {il} LUFS");
                assert!(tp <= -1.0, "{profile} MP3: {tp} dBTP");
            }
            // The WAV holds what was measured.
            let w = o.song_wav.unwrap();
            let mut rd = hound_reader(&w);
            assert_eq!(rd.len(), 2 * m.frames());
            let first = rd.next().unwrap();
            assert!(first.is_finite());
        }
    }

    fn hound_reader(bytes: &[u8]) -> std::vec::IntoIter<f32> {
        // A minimal float WAV reader for the test: skip to the data chunk.
        let mut p = 12;
        while p + 8 <= bytes.len() {
            let len = u32::from_le_bytes([bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]])
                as usize;
            if &bytes[p..p + 4] == b"data" {
                let d = &bytes[p + 8..p + 8 + len];
                return d
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect::<Vec<_>>()
                    .into_iter();
            }
            p += 8 + len;
        }
        Vec::new().into_iter()
    }

    /// A vocal made of one tone burst at `at` seconds into the take.
    fn burst_vocal(at: f64, len_s: f64) -> AudioBuffer {
        let n = (len_s * 48_000.0) as usize;
        let mut x = vec![0.0f32; n];
        let i0 = (at * 48_000.0) as usize;
        for i in 0..4800 {
            x[i0 + i] = 0.5 * (std::f32::consts::TAU * 700.0 * i as f32 / 48_000.0).sin();
        }
        // A faint noise floor, as any recording has.
        let mut s = 7u32;
        for v in x.iter_mut() {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            *v += 1e-4 * (s as f32 / u32::MAX as f32 - 0.5);
        }
        AudioBuffer::mono(SampleRate::new(48_000).unwrap(), x)
    }

    fn onset(x: &[f32], threshold: f32) -> usize {
        x.iter().position(|v| v.abs() > threshold).unwrap()
    }

    #[test]
    fn vocal_stays_exactly_in_time_with_the_band() {
        // The band plays one kick at song time 3.0 s; the vocal's burst is 1.0 s into a take
        // placed at 2.0 s: both must land on the same output frame, in both outputs.
        let r = renderer();
        let mut a = testband::band(8.0, ModelProfile::V5, 1, 1);
        a.parts.retain(|p| p.role == PartRole::Drums);
        a.parts[0].notes = vec![NoteEvent {
            start: 3.0,
            duration: 0.2,
            key: 36,
            velocity: 120,
        }];
        a.parts[0].mix = PartMix {
            reverb_send: 0.0,
            ..PartMix::default()
        };
        a.vocal_offset_s = 2.0;
        let v = VocalTrack::new(&burst_vocal(1.0, 4.0), None).unwrap();
        let m = r.mix(&a, &v, &settings(ModelProfile::V5, 0.65)).unwrap();
        let start = m.start_s();
        assert!(
            start > 2.0 && start < 3.0,
            "leading silence trimmed: {start}"
        );
        let expect = ((3.0 - start) * 44_100.0).round() as usize;
        let inst = m.instrumental();
        let song = m.song();
        // The band is digital silence before its kick: its first non-zero frame is the
        // kick's first (the attack ramp's first step).
        let ki = onset(inst.channel(0), 0.0);
        assert!(
            ki.abs_diff(expect) <= 1,
            "instrumental onset {ki}, expected {expect}"
        );
        // The burst rises within two frames over a twentieth of its peak (a 700 Hz sine).
        let loud = |x: &[f32]| onset(x, 0.05 * x.iter().fold(0.0f32, |m, v| m.max(v.abs())));
        let voc = m.vocal();
        let kv = loud(voc.channel(0));
        assert!(
            kv >= expect && kv <= expect + 2,
            "vocal onset {kv}, expected {expect}"
        );
        let ks = loud(song.channel(0));
        assert!(
            ks >= expect && ks <= expect + 2,
            "song onset {ks}, expected {expect}"
        );
    }

    #[test]
    fn vocal_balance_moves_with_audio_weight() {
        let r = renderer();
        let v = VocalTrack::new(&vocal(8, 3), None).unwrap();
        let a = testband::band(24.0, ModelProfile::V45Plus, 1, 4);
        let mut last = f32::NEG_INFINITY;
        for w in [0.0f32, 0.35, 0.65, 1.0] {
            let m = r.mix(&a, &v, &settings(ModelProfile::V45Plus, w)).unwrap();
            let b = m.vocal_to_band_db();
            // The plan hits its target within half a LU ...
            assert!((b - (-1.0 + 6.0 * w)).abs() < 0.5, "weight {w}: {b}");
            assert!(b > last + 1.0, "weight {w}: {b} after {last}");
            last = b;
            // ... and an independent measurement of the rendered parts agrees: the vocal
            // stem against the song without it, over the sung passages.
            let song = m.song();
            let voc = m.vocal();
            let band: Vec<Vec<f32>> = (0..2)
                .map(|c| {
                    song.channel(c)
                        .iter()
                        .zip(voc.channel(c))
                        .map(|(s, v)| s - v)
                        .collect()
                })
                .collect();
            let band = AudioBuffer::new(SampleRate::CD, band).unwrap();
            let (lv, _) = reference(&voc);
            let (lb, _) = reference(&band);
            // The band's reference here includes the intro and outro; allow for it.
            assert!(
                ((lv - lb) as f32 - b).abs() < 2.0,
                "weight {w}: measured {} vs planned {b}",
                lv - lb
            );
        }
    }

    /// Side-to-mid energy ratio (dB) and the energy of the last two seconds relative to the
    /// whole (dB), of the instrumental.
    fn width_and_tail(a: &AudioBuffer) -> (f64, f64) {
        let (mut m, mut s) = (0.0f64, 0.0f64);
        for (l, r) in a.channel(0).iter().zip(a.channel(1)) {
            m += f64::from((l + r) * 0.5).powi(2);
            s += f64::from((l - r) * 0.5).powi(2);
        }
        let n = a.frames();
        let tail_from = n - 2 * 44_100;
        let e = |from: usize| {
            a.channel(0)[from..]
                .iter()
                .map(|v| f64::from(*v).powi(2))
                .sum::<f64>()
                / (n - from) as f64
        };
        (10.0 * (s / m).log10(), 10.0 * (e(tail_from) / e(0)).log10())
    }

    #[test]
    fn profiles_are_audibly_different() {
        let r = renderer();
        let v = VocalTrack::new(&vocal(6, 6), None).unwrap();
        // The same band for both (the arranger's differences aside), to hear the mix alone.
        let a = testband::band(20.0, ModelProfile::V45Plus, 1, 8);
        let rich = r
            .mix(&a, &v, &settings(ModelProfile::V45Plus, 0.65))
            .unwrap()
            .instrumental();
        let light = r
            .mix(&a, &v, &settings(ModelProfile::V5, 0.65))
            .unwrap()
            .instrumental();
        let (wr, _) = width_and_tail(&rich);
        let (wl, _) = width_and_tail(&light);
        eprintln!("side/mid: V4_5PLUS {wr:.1} dB, V5 {wl:.1} dB");
        assert!(
            wr > wl + 2.0,
            "V4_5PLUS side/mid {wr:.1} dB vs V5 {wl:.1} dB"
        );
        // V5 keeps more of its transients: at the same loudness and ceiling, its 20 ms levels
        // spread wider (drum hits over the sustain), where V4_5PLUS's glue packs them.
        let spread = |a: &AudioBuffer| {
            let mut lv: Vec<f64> = a
                .channel(0)
                .chunks(882)
                .map(|c| {
                    10.0 * (c.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / c.len() as f64
                        + 1e-12)
                        .log10()
                })
                .filter(|l| *l > -50.0)
                .collect();
            lv.sort_by(f64::total_cmp);
            lv[lv.len() * 95 / 100] - lv[lv.len() / 2]
        };
        let (sl, sr) = (spread(&light), spread(&rich));
        eprintln!("20 ms level spread: V5 {sl:.2} dB, V4_5PLUS {sr:.2} dB");
        assert!(sl > sr, "level spread V5 {sl:.2} dB vs V4_5PLUS {sr:.2} dB");
        // The space is longer: one snare hit with a reverb send rings on for longer.
        let mut hit = testband::band(8.0, ModelProfile::V5, 1, 8);
        hit.parts.retain(|p| p.role == PartRole::Drums);
        hit.parts[0].notes = vec![NoteEvent {
            start: 1.0,
            duration: 0.1,
            key: 38,
            velocity: 120,
        }];
        hit.parts[0].mix.reverb_send = 0.5;
        hit.length_s = 2.0;
        let ring = |p: ModelProfile| {
            let m = r.mix(&hit, &v, &settings(p, 0.65)).unwrap();
            let x = m.instrumental();
            let at = |t: f64| ((t - m.start_s()) * 44_100.0) as usize;
            let e = |a: usize, b: usize| {
                x.channel(0)[a..b]
                    .iter()
                    .map(|v| f64::from(*v).powi(2))
                    .sum::<f64>()
            };
            // Reverb energy 0.7–1.7 s after the hit against the hit itself.
            10.0 * (e(at(1.7), at(2.7)) / e(at(1.0), at(1.2))).log10()
        };
        let (lr, ll) = (ring(ModelProfile::V45Plus), ring(ModelProfile::V5));
        eprintln!("reverb 0.7-1.7 s after a hit: V4_5PLUS {lr:.1} dB, V5 {ll:.1} dB");
        assert!(lr > ll + 6.0, "V4_5PLUS tail {lr:.1} dB vs V5 {ll:.1} dB");
    }

    #[test]
    fn stems_path_equals_streaming_path_and_is_deterministic() {
        let r = renderer();
        let take = vocal(4, 9);
        let v = VocalTrack::new(&take, None).unwrap();
        let a = testband::band(14.0, ModelProfile::V45Plus, 2, 10);
        let s = settings(ModelProfile::V45Plus, 0.5);
        let one = r.mix(&a, &v, &s).unwrap().song();
        let two = r.mix(&a, &v, &s).unwrap().song();
        assert!(one == two, "same input, same song, bit for bit");
        let stems = r.render_stems(&a, &s.render).unwrap();
        let three = mix(&stems, &take, &a, &s).unwrap().song();
        assert!(one == three, "stems and streaming give the same song");
        assert!(one == mix_stems(&stems, &v, &a, &s).unwrap().song());
        let single = MixSettings {
            render: RenderSettings {
                threads: 1,
                ..RenderSettings::default()
            },
            ..s
        };
        assert!(
            one == r.mix(&a, &v, &single).unwrap().song(),
            "one thread or two, the same song"
        );
        // And the same files, whether the outputs are encoded on one thread or four.
        let req = OutputRequest {
            song_mp3: Some(Mp3Settings::default()),
            instrumental_wav: Some(WavSampleFormat::Pcm16),
            ..OutputRequest::default()
        };
        let o1 = r.mix(&a, &v, &single).unwrap().encode(&req).unwrap();
        let o2 = r.mix(&a, &v, &s).unwrap().encode(&req).unwrap();
        assert_eq!(o1, o2);
    }

    #[test]
    fn an_instrumental_not_asked_for_is_not_rendered_and_the_song_is_the_same() {
        let r = renderer();
        let a = testband::band(6.0, ModelProfile::V5, 1, 1);
        let v = VocalTrack::new(&burst_vocal(1.0, 3.0), None).unwrap();
        for threads in [1, 2] {
            let mut st = settings(ModelProfile::V5, 0.65);
            st.render.threads = threads;
            let m = r.mix(&a, &v, &st).unwrap();
            let song_only = m
                .encode(&OutputRequest {
                    song_mp3: Some(Mp3Settings::default()),
                    ..OutputRequest::default()
                })
                .unwrap();
            let both = m
                .encode(&OutputRequest {
                    song_mp3: Some(Mp3Settings::default()),
                    instrumental_mp3: Some(Mp3Settings::default()),
                    ..OutputRequest::default()
                })
                .unwrap();
            assert_eq!(song_only.song_mp3, both.song_mp3, "{threads} thread(s)");
            assert_eq!(song_only.report.song, both.report.song);
            assert!(song_only.instrumental_mp3.is_none());
            assert!(song_only.report.instrumental.is_none());
            assert!(both.instrumental_mp3.is_some_and(|b| b.len() > 1000));
            assert!(both.report.instrumental.is_some());
        }
    }

    #[test]
    fn odd_inputs_still_make_a_song() {
        let r = renderer();
        // An 8 kHz stereo phone recording, a band with no parts, a vocal that starts before
        // song time 0 and runs past the arrangement's end.
        let take = vocal(4, 21);
        let phone: Vec<f32> = bandmate_audio::resample::resample(
            take.channel(0),
            take.rate().hz(),
            8_000,
            bandmate_audio::resample::Quality::Mix,
        );
        let phone =
            AudioBuffer::new(SampleRate::new(8_000).unwrap(), vec![phone.clone(), phone]).unwrap();
        let v = VocalTrack::new(&phone, Some(VocalGender::Male)).unwrap();
        let mut a = testband::band(6.0, ModelProfile::V5, 1, 3);
        a.parts.clear();
        a.vocal_offset_s = -1.0;
        let m = r.mix(&a, &v, &settings(ModelProfile::V5, 0.65)).unwrap();
        let o = m
            .encode(&OutputRequest {
                song_mp3: Some(Mp3Settings::default()),
                instrumental_wav: Some(WavSampleFormat::Float32),
                ..OutputRequest::default()
            })
            .unwrap();
        // The song holds the whole vocal after its first second, and is on target.
        assert!(
            m.frames() as f64 / 44_100.0 > v.duration_s() - 1.0 - 0.5,
            "{} frames",
            m.frames()
        );
        assert!(
            (o.report.song.integrated_lufs + 14.0).abs() < 0.5,
            "{}",
            o.report.song.integrated_lufs
        );
        assert!(o.report.song.true_peak_dbtp <= -1.0);
        // The instrumental of no band is silence, not noise or NaN.
        assert!(o.report.instrumental.unwrap().is_silent());
        // A file that is only rumble (10 Hz, 80 dB under the high-pass's pass band once
        // filtered) is too quiet to mix, and that is the user's file.
        let rumble: Vec<f32> = (0..44_100 * 3)
            .map(|i| 0.01 * (std::f32::consts::TAU * 10.0 * i as f32 / 44_100.0).sin())
            .collect();
        let e = VocalTrack::new(&AudioBuffer::mono(SampleRate::CD, rumble), None).unwrap_err();
        assert!(e.is_user_error(), "{e}");
    }

    #[test]
    fn block_sums_and_peaks_equal_the_sequential_folds() {
        let mut s = 9u32;
        let mut noise = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    s ^= s << 13;
                    s ^= s >> 17;
                    s ^= s << 5;
                    (s as f32 / u32::MAX as f32 - 0.5) * if i % 700 < 50 { 3.0 } else { 0.1 }
                })
                .collect()
        };
        for n in [CHUNK, 8_000, 300, 63, 1] {
            let (l, r) = (noise(n), noise(n));
            for len in [HOP, 1024] {
                let mut got = vec![0.0f32; n.div_ceil(len)];
                sums_of_squares(&l, &r, len, &mut got);
                for (k, g) in got.iter().enumerate() {
                    let (a, b) = (
                        &l[k * len..((k + 1) * len).min(n)],
                        &r[k * len..((k + 1) * len).min(n)],
                    );
                    let want = a.iter().chain(b).fold(0.0f32, |e, v| e + v * v);
                    assert_eq!(g.to_bits(), want.to_bits(), "n {n} len {len} block {k}");
                    let peak = a.iter().chain(b).fold(0.0f32, |m, v| m.max(v.abs()));
                    assert_eq!(abs_max(b, abs_max(a, 0.0)).to_bits(), peak.to_bits());
                }
            }
        }
    }

    #[test]
    fn settings_follow_the_request_and_are_validated() {
        let p = GenerationParams {
            model: ModelProfile::V5,
            audio_weight: bandmate_core::Weight::new(0.9).unwrap(),
            vocal_gender: Some(VocalGender::Female),
            ..GenerationParams::default()
        };
        let s = MixSettings::from_params(&p);
        assert_eq!(s.profile, ModelProfile::V5);
        assert!((s.audio_weight - 0.9).abs() < 1e-6);
        assert_eq!(s.target_lufs, -14.0);
        assert!(s.validate().is_ok());
        assert!(
            MixSettings {
                target_lufs: -3.0,
                ..MixSettings::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            MixSettings {
                ceiling_dbtp: 0.5,
                ..MixSettings::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            MixSettings {
                audio_weight: f32::NAN,
                ..MixSettings::default()
            }
            .validate()
            .is_err()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]
        /// Whatever the arrangement's levels, pans and sends and the vocal's level, the mix
        /// never clips, never makes NaN, and stays under its ceiling.
        #[test]
        fn never_clips_never_nan(
            gain in -30.0f32..18.0,
            pan in -3.0f32..3.0,
            send in 0.0f32..2.0,
            vocal_db in -50.0f32..12.0,
            weight in 0.0f32..1.0,
            v5 in any::<bool>(),
        ) {
            let r = renderer();
            let profile = if v5 { ModelProfile::V5 } else { ModelProfile::V45Plus };
            let mut a = testband::band(8.0, profile, 1, 12);
            for p in &mut a.parts {
                p.mix.gain_db = gain;
                p.mix.pan = pan;
                p.mix.reverb_send = send;
            }
            let take = vocal(3, 13);
            let g = 10f32.powf(vocal_db / 20.0);
            let loud = AudioBuffer::mono(take.rate(), take.channel(0).iter().map(|v| (v * g).clamp(-1.0, 1.0)).collect());
            let v = VocalTrack::new(&loud, None).unwrap();
            let m = r.mix(&a, &v, &settings(profile, weight)).unwrap();
            let o = m.encode(&OutputRequest { song_wav: Some(WavSampleFormat::Float32), instrumental_wav: Some(WavSampleFormat::Float32), ..OutputRequest::default() }).unwrap();
            for l in [o.report.song, o.report.instrumental.unwrap()] {
                prop_assert!(l.sample_peak_dbfs <= -1.0);
                prop_assert!(l.true_peak_dbtp <= -1.0, "{}", l.true_peak_dbtp);
                prop_assert!(!l.integrated_lufs.is_nan());
            }
            let song = m.song();
            prop_assert!(song.channels().iter().flatten().all(|x| x.is_finite() && x.abs() < 1.0));
        }
    }
}
