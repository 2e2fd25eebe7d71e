//! The SoundFont sample player: one [`PartPlayer`] per part renders that part's notes and
//! controller changes, block by block, into caller-owned buffers.
//!
//! The voice model follows the SF2.04 specification and, where the specification leaves room,
//! rustysynth 1.3 (the reference this player is tested against): volume envelope with
//! delay/attack/hold/decay/sustain/release (linear attack, exponential decay and release of
//! 80 dB over the stated time), a linear modulation envelope, two triangle LFOs, velocity as a
//! squared amplitude (the default velocity-to-attenuation modulator), initial attenuation
//! scaled by 0.4 (the E-mu hardware convention FluidSynth and Polyphone follow), a resonant
//! low-pass filter, constant-power pan, volume and expression controllers, sustain pedal, the
//! modulation wheel on vibrato depth, and exclusive classes (an open hi-hat is choked by the
//! closed one).
//!
//! Where it departs from rustysynth, it is to sound better or to cost less:
//! - 4-point cubic Hermite interpolation instead of linear (less imaging on transposed samples);
//! - events land on their exact sample, not on the next 64-sample block;
//! - a re-struck key releases its previous voice (as FluidSynth does), and a stolen voice fades
//!   out over 5 ms instead of being cut;
//! - the filter is skipped when its cut-off is at or above 45 % of the output rate (19.8 kHz at
//!   44.1 kHz) and does not move: SF2's default cut-off (13500 cents, 19.9 kHz) is inaudible
//!   as a filter but was most of rustysynth's cost;
//! - the filter's recursion is ordered so that one multiply and one add wait on the previous
//!   output.
//!
//! Threading: a `PartPlayer` borrows the font immutably; run one per thread.

use bandmate_audio::dsp::{BiquadCoeffs, FilterKind, flush_tiny};
use bandmate_core::Part;

use crate::soundfont::{Preset, SoundFont, Zone, op};

/// Frames between envelope and LFO updates (rustysynth's block size; 1.45 ms at 44.1 kHz).
pub(crate) const BLOCK: usize = 64;
/// 1, 2, …, `BLOCK` as `f32`: frame numbers within a sub-block, for gain ramps.
const RAMP: [f32; BLOCK] = {
    let mut r = [0.0; BLOCK];
    let mut k = 0;
    while k < BLOCK {
        r[k] = (k + 1) as f32;
        k += 1;
    }
    r
};
/// Envelope level under which a decaying voice is silent enough to stop (-60 dB, rustysynth's
/// `NON_AUDIBLE`).
const NON_AUDIBLE: f32 = 1e-3;
/// Decay and release fall 80 dB over the generator's time (ln(1e-4) = -9.21; rustysynth uses
/// -9.226).
const DECAY_SLOPE: f64 = -9.226;
/// Output gain of the synthesizer (rustysynth's master volume): headroom for polyphony.
const MASTER: f32 = 0.5;
/// Fade of a stolen or choked voice, seconds.
const FAST_RELEASE_S: f64 = 0.005;

fn timecents(tc: i32) -> f64 {
    2f64.powf(f64::from(tc) / 1200.0)
}

fn cents_to_hz(c: f64) -> f64 {
    8.176 * 2f64.powf(c / 1200.0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Delay,
    Attack,
    Hold,
    Decay,
    Release,
}

/// The volume envelope, evaluated at any elapsed time.
#[derive(Debug, Clone)]
struct VolEnv {
    delay: f64,
    attack: f64,
    hold: f64,
    decay: f64,
    sustain: f32,
    release: f64,
    release_at: f64,
    release_level: f32,
    stage: Stage,
    value: f32,
    /// The decay has reached the sustain level (`value` is `sustain` until the release).
    at_sustain: bool,
}

impl VolEnv {
    fn eval(&mut self, t: f64) -> bool {
        if self.stage == Stage::Release {
            let e = (DECAY_SLOPE * (t - self.release_at) / self.release).exp() as f32;
            self.value = self.release_level * e;
            return self.value > NON_AUDIBLE;
        }
        let a0 = self.delay;
        let h0 = a0 + self.attack;
        let d0 = h0 + self.hold;
        if t < a0 {
            self.stage = Stage::Delay;
            self.value = 0.0;
        } else if t < h0 {
            self.stage = Stage::Attack;
            self.value = ((t - a0) / self.attack) as f32;
        } else if t < d0 {
            self.stage = Stage::Hold;
            self.value = 1.0;
        } else {
            self.stage = Stage::Decay;
            if !self.at_sustain {
                let e = (DECAY_SLOPE * (t - d0) / self.decay).exp() as f32;
                // The decay only falls (its exponent falls with t, and `exp` and the rounding
                // to f32 are monotonic), so once under the sustain level it stays there.
                self.at_sustain = e <= self.sustain;
                self.value = e.max(self.sustain);
            }
            return self.value > NON_AUDIBLE;
        }
        true
    }

    fn release(&mut self, t: f64, time: f64) {
        if self.stage != Stage::Release {
            self.release_level = self.value;
        }
        self.stage = Stage::Release;
        self.release_at = t;
        self.release = time;
    }
}

/// The modulation envelope (linear segments).
#[derive(Debug, Clone)]
struct ModEnv {
    delay: f64,
    attack: f64,
    hold: f64,
    decay: f64,
    sustain: f32,
    release: f64,
    release_at: f64,
    release_level: f32,
    released: bool,
    value: f32,
}

impl ModEnv {
    fn eval(&mut self, t: f64) {
        if self.released {
            let left = 1.0 - (t - self.release_at) / self.release;
            self.value = (f64::from(self.release_level) * left).max(0.0) as f32;
            return;
        }
        let a0 = self.delay;
        let h0 = a0 + self.attack;
        let d0 = h0 + self.hold;
        self.value = if t < a0 {
            0.0
        } else if t < h0 {
            ((t - a0) / self.attack) as f32
        } else if t < d0 {
            1.0
        } else {
            ((1.0 - (t - d0) / self.decay) as f32).max(self.sustain)
        };
    }

    fn release(&mut self, t: f64) {
        self.release_level = self.value;
        self.release_at = t;
        self.released = true;
    }
}

/// A triangle LFO in -1..1 starting at 0 after its delay.
#[derive(Debug, Clone, Copy)]
struct Lfo {
    delay: f64,
    freq: f64,
}

impl Lfo {
    fn at(&self, t: f64) -> f32 {
        if t < self.delay || self.freq <= 1e-3 {
            return 0.0;
        }
        let x = (t - self.delay) * self.freq;
        // `x.fract()`, without a call to `trunc` (no SSE2 instruction): x is finite, at least
        // 0 and far below 2^63 (at most 1200 s at ~110 Hz), so the cast truncates exactly.
        triangle(x - x as i64 as f64)
    }
}

/// The LFO's triangle at phase `ph` in [0, 1): 0 → 1 → −1 → 0.
fn triangle(ph: f64) -> f32 {
    (if ph < 0.25 {
        4.0 * ph
    } else if ph < 0.75 {
        2.0 - 4.0 * ph
    } else {
        4.0 * ph - 4.0
    }) as f32
}

/// The voice's low-pass filter.
#[derive(Debug, Clone)]
struct VoiceFilter {
    fc_cents: f64,
    q: f32,
    env_to_fc: f64,
    lfo_to_fc: f64,
    smoothed_hz: f64,
    designed_hz: f64,
    /// The last cut-off asked for, in cents and in Hz.
    target: (f64, f64),
    c: [f32; 5],
    x1: f32,
    x2: f32,
    y1: f32,
    y2: f32,
}

impl VoiceFilter {
    fn set(&mut self, hz: f64, rate: f32) {
        let bq = BiquadCoeffs::new(FilterKind::LowPass, hz as f32, self.q, rate);
        self.c = bq.as_array();
    }
}

/// Run the own filters of up to `L` voices at once, one voice per SIMD lane: a biquad's
/// recursion waits on its previous output (a multiply and a subtraction, ~6 cycles), so one
/// filter alone leaves the arithmetic units idle; four independent ones fill one SSE
/// register, and eight (two registers in flight) come close to the units' throughput.
fn filter_batch<const L: usize>(voices: &mut [Voice], idx: &[usize], n: usize) {
    let mut c = [[0.0f32; L]; 5];
    let mut st = [[0.0f32; L]; 4];
    let mut x = [[0.0f32; L]; BLOCK];
    for (lane, &vi) in idx.iter().enumerate().take(L) {
        let v = &voices[vi];
        if let FilterUse::Own(f) = &v.filter {
            for (ck, &fk) in c.iter_mut().zip(&f.c) {
                ck[lane] = fk;
            }
            st[0][lane] = f.x1;
            st[1][lane] = f.x2;
            st[2][lane] = f.y1;
            st[3][lane] = f.y2;
        }
        for (xt, &b) in x[..n].iter_mut().zip(&v.buf[..n]) {
            xt[lane] = b;
        }
    }
    let [b0, b1, b2, a1, a2] = c;
    let [mut x1, mut x2, mut y1, mut y2] = st;
    for xt in x[..n].iter_mut() {
        let mut y = [0.0f32; L];
        for l in 0..L {
            let ff = b0[l] * xt[l] + b1[l] * x1[l] + b2[l] * x2[l] - a2[l] * y2[l];
            y[l] = ff - a1[l] * y1[l];
        }
        x2 = x1;
        x1 = *xt;
        y2 = y1;
        y1 = y;
        *xt = y;
    }
    for (lane, &vi) in idx.iter().enumerate().take(L) {
        let v = &mut voices[vi];
        for (b, xt) in v.buf[..n].iter_mut().zip(&x[..n]) {
            *b = xt[lane];
        }
        if let FilterUse::Own(f) = &mut v.filter {
            f.x1 = flush_tiny(x1[lane]);
            f.x2 = flush_tiny(x2[lane]);
            f.y1 = flush_tiny(y1[lane]);
            f.y2 = flush_tiny(y2[lane]);
        }
    }
}

/// How a voice is filtered.
#[derive(Debug, Clone)]
enum FilterUse {
    /// Cut-off at or above 45 % of the rate and unmodulated: no filter.
    None,
    /// A fixed filter shared with every voice of the part that has the same coefficients: the
    /// voices are summed (after gain and pan) and filtered once. The filter is linear and
    /// time-invariant, so this equals filtering each voice, except that the envelope is
    /// applied before the filter instead of after; the envelope moves over milliseconds and the
    /// filter's memory is a fraction of one, so the difference is far below hearing.
    Shared(usize),
    /// A moving cut-off (modulation envelope or LFO): the voice's own filter.
    Own(VoiceFilter),
}

/// The summing bus of one shared filter.
#[derive(Debug, Clone)]
struct FilterGroup {
    coeffs: [f32; 5],
    l: Vec<f32>,
    r: Vec<f32>,
    state: [[f32; 4]; 2],
    /// Sub-blocks left to run after the last voice left (the filter's ringing).
    tail: u32,
    used: bool,
}

impl FilterGroup {
    /// Filter the bus and add it to `ol`/`or`. Both channels run in one loop: each
    /// channel's recursion waits on its own previous output, so the two overlap.
    fn run(&mut self, n: usize, ol: &mut [f32], or: &mut [f32]) {
        let [b0, b1, b2, a1, a2] = self.coeffs;
        let [
            [mut lx1, mut lx2, mut ly1, mut ly2],
            [mut rx1, mut rx2, mut ry1, mut ry2],
        ] = self.state;
        for (((&xl, &xr), ol), or) in self.l[..n]
            .iter()
            .zip(&self.r[..n])
            .zip(ol.iter_mut())
            .zip(or.iter_mut())
        {
            let ffl = b0 * xl + b1 * lx1 + b2 * lx2 - a2 * ly2;
            let ffr = b0 * xr + b1 * rx1 + b2 * rx2 - a2 * ry2;
            let yl = ffl - a1 * ly1;
            let yr = ffr - a1 * ry1;
            (lx2, lx1, ly2, ly1) = (lx1, xl, ly1, yl);
            (rx2, rx1, ry2, ry1) = (rx1, xr, ry1, yr);
            *ol += yl;
            *or += yr;
        }
        self.state = [
            [
                flush_tiny(lx1),
                flush_tiny(lx2),
                flush_tiny(ly1),
                flush_tiny(ly2),
            ],
            [
                flush_tiny(rx1),
                flush_tiny(rx2),
                flush_tiny(ry1),
                flush_tiny(ry2),
            ],
        ];
    }
}

/// Sub-blocks a shared filter keeps running after its last voice (its impulse response is
/// far shorter than 8 x 64 frames for any cut-off a SoundFont can set).
const GROUP_TAIL: u32 = 8;

/// Source points one interpolation run may span (a power of two: indices are masked into
/// it, which the compiler can see is in bounds). A 64-frame run at a step of up to ~3.9
/// fits; faster steps take the direct path.
const SPAN: usize = 256;

/// Scratch for one run of interpolation, shared by the voices of a part (they are filled
/// one after another): the run's sample points as `f32` and, per source position, the
/// Hermite polynomial's coefficients. Computing them once per source point instead of once
/// per output frame, in contiguous loops that vectorise, and gathering them with masked
/// indices is bit-identical to [`hermite`] (the same operations on the same values) and
/// about a quarter cheaper than gathering and converting four `i16` points per frame.
#[derive(Debug, Clone)]
struct Interp {
    x: [f32; SPAN],
    a: [f32; SPAN],
    b: [f32; SPAN],
    c: [f32; SPAN],
}

impl Interp {
    fn new() -> Box<Self> {
        Box::new(Self {
            x: [0.0; SPAN],
            a: [0.0; SPAN],
            b: [0.0; SPAN],
            c: [0.0; SPAN],
        })
    }

    /// Interpolate `out.len()` frames from fixed-point position `pos` (32.32 frames) by
    /// `step`, reading `data[first - 1 ..= last + 2]` where `first` and `last` are the
    /// integer positions of the first and last frame; the caller guarantees that range is
    /// inside `data` and that `last - first + 4 <= SPAN`. Returns the position after the run.
    fn run(&mut self, data: &[i16], out: &mut [f32], pos: u64, step: u64) -> u64 {
        let n = out.len() as u64;
        let first = (pos >> 32) as usize;
        let last = ((pos + (n.max(1) - 1) * step) >> 32) as usize;
        let m = last - first + 1;
        for (x, &d) in self.x.iter_mut().zip(&data[first - 1..last + 3]) {
            *x = f32::from(d);
        }
        // The coefficients of `hermite` for the points around each source position.
        let (xm1, x0, x1, x2) = (
            &self.x[..m],
            &self.x[1..m + 1],
            &self.x[2..m + 2],
            &self.x[3..m + 3],
        );
        for k in 0..m {
            let c = (x1[k] - xm1[k]) * 0.5;
            let v = x0[k] - x1[k];
            let w = c + v;
            let a = w + v + (x2[k] - x0[k]) * 0.5;
            self.a[k] = a;
            self.b[k] = w + a;
            self.c[k] = c;
        }
        let base = (first as u64) << 32;
        let mut rel = pos - base;
        let at = |p: u64| (p >> 32) as usize & (SPAN - 1);
        let frac = |p: u64| p as u32 as f32 * (1.0 / 4_294_967_296.0);
        let mut quads = out.chunks_exact_mut(4);
        for q in &mut quads {
            let mut i = [0usize; 4];
            let mut t = [0.0f32; 4];
            for j in 0..4 {
                let p = rel + j as u64 * step;
                i[j] = at(p);
                t[j] = frac(p);
            }
            let a = i.map(|i| self.a[i]);
            let b = i.map(|i| self.b[i]);
            let c = i.map(|i| self.c[i]);
            let x0 = i.map(|i| self.x[(i + 1) & (SPAN - 1)]);
            for j in 0..4 {
                q[j] = ((a[j] * t[j] - b[j]) * t[j] + c[j]) * t[j] + x0[j];
            }
            rel += 4 * step;
        }
        for o in quads.into_remainder() {
            let (i, t) = (at(rel), frac(rel));
            *o = ((self.a[i] * t - self.b[i]) * t + self.c[i]) * t + self.x[(i + 1) & (SPAN - 1)];
            rel += step;
        }
        rel + base
    }
}

/// One sounding note of one zone.
#[derive(Debug, Clone)]
struct Voice {
    key: u8,
    released: bool,
    /// Note-off arrived while the sustain pedal was down.
    sustained: bool,
    /// Fading out fast (stolen, choked or replaced).
    fading: bool,
    exclusive: i32,
    // Sample playback.
    pos: u64,
    step: f64,
    start: usize,
    end: usize,
    loop_start: usize,
    loop_end: usize,
    looping: bool,
    loop_until_release: bool,
    wrapped: bool,
    ended: bool,
    // Modulation.
    vol: VolEnv,
    modenv: ModEnv,
    vib: Lfo,
    modlfo: Lfo,
    vib_to_pitch: f32,
    mod_to_pitch: f32,
    /// The last pitch bend (cents) that was not zero and the step it gave.
    bent: (f32, f64),
    env_to_pitch: f32,
    mod_to_volume_db: f32,
    filter: FilterUse,
    // Gain.
    note_gain: f32,
    pan_l: f32,
    pan_r: f32,
    prev_l: f32,
    prev_r: f32,
    /// Frames rendered.
    age: u64,
    /// Output rate in Hz.
    rate: f64,
    /// This sub-block's interpolated (and filtered) frames.
    buf: Vec<f32>,
    /// Gains (left, right) to reach at the end of this sub-block.
    target: (f32, f32),
    /// Whether the voice goes on after this sub-block.
    alive: bool,
}

/// Controller state of the part's channel.
#[derive(Debug, Clone, Copy)]
struct Controls {
    volume: f32,
    expression: f32,
    sustain: bool,
    modwheel: f32,
}

impl Controls {
    fn gain(&self) -> f32 {
        // GM: channel volume and expression are squared (rustysynth's reading of the spec).
        let ve = self.volume * self.expression;
        ve * ve
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    Off { key: u8 },
    Control { controller: u8, value: u8 },
    On { key: u8, velocity: u8 },
}

/// An event at a frame. Sorting puts note-offs before controllers before note-ons at the
/// same frame, so a repeated note is released before it is struck again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    frame: u64,
    kind: EventKind,
}

/// Renders one part.
#[derive(Debug)]
pub(crate) struct PartPlayer<'a> {
    font: &'a SoundFont,
    preset: &'a Preset,
    rate: f32,
    events: Vec<Event>,
    next: usize,
    voices: Vec<Voice>,
    max_voices: usize,
    controls: Controls,
    frame: u64,
    groups: Vec<FilterGroup>,
    /// Scratch: indices of voices with their own filter.
    own: Vec<usize>,
    /// Scratch: interpolation coefficients.
    interp: Box<Interp>,
}

impl<'a> PartPlayer<'a> {
    /// A player for `part` at `rate` Hz with at most `max_voices` voices at once.
    pub(crate) fn new(font: &'a SoundFont, part: &Part, rate: u32, max_voices: usize) -> Self {
        let (bank, program) = crate::renderer::preset_of(part);
        let preset = font.preset(bank, program);
        let r = f64::from(rate);
        let at = |t: f64| (t.max(0.0) * r).round() as u64;
        let mut events = Vec::with_capacity(part.notes.len() * 2 + part.controls.len());
        for n in &part.notes {
            if !(n.start.is_finite() && n.duration.is_finite()) || n.velocity == 0 || n.key > 127 {
                continue;
            }
            let on = at(n.start);
            let off = at(n.start + n.duration.max(0.0)).max(on + 1);
            events.push(Event {
                frame: on,
                kind: EventKind::On {
                    key: n.key,
                    velocity: n.velocity.min(127),
                },
            });
            events.push(Event {
                frame: off,
                kind: EventKind::Off { key: n.key },
            });
        }
        for c in &part.controls {
            if c.time.is_finite() {
                events.push(Event {
                    frame: at(c.time),
                    kind: EventKind::Control {
                        controller: c.controller,
                        value: c.value.min(127),
                    },
                });
            }
        }
        events.sort();
        Self {
            font,
            preset,
            rate: rate as f32,
            events,
            next: 0,
            voices: Vec::with_capacity(max_voices + 8),
            max_voices: max_voices.max(1),
            controls: Controls {
                volume: 100.0 / 127.0,
                expression: 1.0,
                sustain: false,
                modwheel: 0.0,
            },
            frame: 0,
            groups: Vec::new(),
            own: Vec::with_capacity(max_voices + 8),
            interp: Interp::new(),
        }
    }

    /// Whether nothing sounds and nothing is left to play.
    pub(crate) fn finished(&self) -> bool {
        self.voices.is_empty() && self.next >= self.events.len()
    }

    /// Voices sounding now.
    #[cfg(test)]
    pub(crate) fn active_voices(&self) -> usize {
        self.voices.len()
    }

    /// Render the next `out_l.len()` frames into `out_l` and `out_r` (overwritten).
    pub(crate) fn render(&mut self, out_l: &mut [f32], out_r: &mut [f32]) {
        let n = out_l.len().min(out_r.len());
        out_l[..n].fill(0.0);
        out_r[..n].fill(0.0);
        let mut pos = 0usize;
        while pos < n {
            while self.next < self.events.len() && self.events[self.next].frame <= self.frame {
                let e = self.events[self.next];
                self.next += 1;
                self.apply(e.kind);
            }
            let until_event = self
                .events
                .get(self.next)
                .map_or(u64::MAX, |e| e.frame - self.frame);
            if self.voices.is_empty() {
                // Skip silence straight to the next event.
                let skip = (n - pos).min(until_event.min(usize::MAX as u64) as usize);
                pos += skip;
                self.frame += skip as u64;
                continue;
            }
            // Sub-blocks end on multiples of the block size in song time (or at an event), so
            // the output does not depend on how the caller splits the song into chunks.
            let to_boundary = BLOCK - (self.frame % BLOCK as u64) as usize;
            let sub = to_boundary
                .min(n - pos)
                .min(until_event.min(BLOCK as u64) as usize);
            let gain = self.controls.gain() * MASTER / 32_768.0;
            let modwheel = self.controls.modwheel;
            let data = &self.font.data;
            let rate = self.rate;
            let (ol, or) = (&mut out_l[pos..pos + sub], &mut out_r[pos..pos + sub]);
            self.own.clear();
            let interp = &mut *self.interp;
            for (i, v) in self.voices.iter_mut().enumerate() {
                v.alive = v.prepare(data, interp, sub, gain, modwheel, rate);
                if matches!(v.filter, FilterUse::Own(_)) {
                    self.own.push(i);
                }
            }
            for batch in self.own.chunks(8) {
                if batch.len() > 4 {
                    filter_batch::<8>(&mut self.voices, batch, sub);
                } else {
                    filter_batch::<4>(&mut self.voices, batch, sub);
                }
            }
            for g in &mut self.groups {
                g.used = false;
                if g.tail > 0 {
                    g.l[..sub].fill(0.0);
                    g.r[..sub].fill(0.0);
                }
            }
            for v in &mut self.voices {
                match v.filter {
                    FilterUse::Shared(gi) => {
                        let g = &mut self.groups[gi];
                        if g.tail == 0 {
                            g.l[..sub].fill(0.0);
                            g.r[..sub].fill(0.0);
                        }
                        g.used = true;
                        g.tail = GROUP_TAIL;
                        v.mix(sub, &mut g.l[..sub], &mut g.r[..sub]);
                    }
                    _ => v.mix(sub, ol, or),
                }
            }
            self.voices.retain(|v| v.alive);
            for g in &mut self.groups {
                if g.tail > 0 {
                    g.run(sub, ol, or);
                    if !g.used {
                        g.tail -= 1;
                    }
                }
            }
            pos += sub;
            self.frame += sub as u64;
        }
    }

    fn apply(&mut self, kind: EventKind) {
        match kind {
            EventKind::Off { key } => {
                let sustain = self.controls.sustain;
                for v in self
                    .voices
                    .iter_mut()
                    .filter(|v| v.key == key && !v.released)
                {
                    if sustain {
                        v.sustained = true;
                    } else {
                        v.release();
                    }
                }
            }
            EventKind::Control { controller, value } => {
                let x = f32::from(value) / 127.0;
                match controller {
                    1 => self.controls.modwheel = x,
                    7 => self.controls.volume = x,
                    11 => self.controls.expression = x,
                    64 => {
                        self.controls.sustain = value >= 64;
                        if !self.controls.sustain {
                            for v in self.voices.iter_mut().filter(|v| v.sustained) {
                                v.sustained = false;
                                v.release();
                            }
                        }
                    }
                    // All sound off / all notes off.
                    120 | 123 => {
                        for v in &mut self.voices {
                            v.release_fast();
                        }
                    }
                    _ => {}
                }
            }
            EventKind::On { key, velocity } => {
                let old = self.voices.len();
                let mut new_attack = f64::MAX;
                let preset = self.preset;
                for z in preset.zones.iter().filter(|z| z.contains(key, velocity)) {
                    let excl = z.get(op::EXCLUSIVE_CLASS);
                    if excl != 0 {
                        for v in self.voices.iter_mut().filter(|v| v.exclusive == excl) {
                            v.release_fast();
                        }
                    }
                    if self.voices.len() >= self.max_voices {
                        self.steal();
                    }
                    let mut v = Voice::start(z, key, velocity, self.rate);
                    if let FilterUse::Own(f) = &v.filter
                        && f.env_to_fc == 0.0
                        && f.lfo_to_fc == 0.0
                    {
                        v.filter = FilterUse::Shared(self.group_for(f.c));
                    }
                    new_attack = new_attack.min(v.vol.delay + v.vol.attack);
                    self.voices.push(v);
                }
                // A re-struck key replaces the note it is still sounding: one string, one
                // vibration. The old voice fades over the new one's attack (30 ms to 0.5 s),
                // so a slow pad does not dip and a plucked tail does not pile up.
                if self.voices.len() > old {
                    let fade = new_attack.clamp(0.03, 0.5);
                    for v in self.voices[..old].iter_mut().filter(|v| v.key == key) {
                        v.fade_out(fade);
                    }
                }
            }
        }
    }

    /// The shared filter group for these coefficients, made on first use.
    fn group_for(&mut self, coeffs: [f32; 5]) -> usize {
        if let Some(i) = self.groups.iter().position(|g| g.coeffs == coeffs) {
            return i;
        }
        self.groups.push(FilterGroup {
            coeffs,
            l: vec![0.0; BLOCK],
            r: vec![0.0; BLOCK],
            state: [[0.0; 4]; 2],
            tail: 0,
            used: false,
        });
        self.groups.len() - 1
    }

    /// Fade out the quietest voice; if too many are already fading, drop the quietest.
    fn steal(&mut self) {
        let quietest = |vs: &[Voice], fading: bool| {
            vs.iter()
                .enumerate()
                .filter(|(_, v)| v.fading == fading)
                .min_by(|a, b| a.1.level().total_cmp(&b.1.level()))
                .map(|(i, _)| i)
        };
        if self.voices.len() >= self.max_voices + self.max_voices / 2
            && let Some(i) = quietest(&self.voices, true).or_else(|| quietest(&self.voices, false))
        {
            self.voices.swap_remove(i);
        }
        if let Some(i) = quietest(&self.voices, false) {
            self.voices[i].release_fast();
        }
    }
}

impl Voice {
    fn start(z: &Zone, key: u8, velocity: u8, rate: f32) -> Self {
        let key_eff = if z.get(op::KEYNUM) >= 0 {
            z.get(op::KEYNUM).clamp(0, 127)
        } else {
            i32::from(key)
        };
        let vel = if z.get(op::VELOCITY) > 0 {
            z.get(op::VELOCITY).clamp(1, 127)
        } else {
            i32::from(velocity)
        };
        // Pitch: scale tuning from the root, coarse and fine tune, the sample's correction.
        let cents = f64::from(z.get(op::SCALE_TUNING).clamp(0, 1200))
            * f64::from(key_eff - i32::from(z.root_key))
            + 100.0 * f64::from(z.get(op::COARSE_TUNE).clamp(-120, 120))
            + f64::from(z.get(op::FINE_TUNE).clamp(-99, 99))
            + f64::from(z.pitch_correction);
        let step = 2f64.powf(cents / 1200.0) * f64::from(z.sample_rate) / f64::from(rate);
        // Gain: velocity squared, 0.4 x initial attenuation, minus half the filter resonance
        // (SF2.04 8.1.3 lowers the DC gain by half the resonance peak).
        let atten_db = 0.1 * f64::from(z.get(op::INITIAL_ATTENUATION).clamp(0, 1440));
        let q_db = 0.1 * f64::from(z.get(op::INITIAL_FILTER_Q).clamp(0, 960));
        let db = 40.0 * (f64::from(vel) / 127.0).log10() - 0.4 * atten_db - 0.5 * q_db;
        let note_gain = 10f64.powf(db.min(0.0) / 20.0) as f32;
        let pan = 0.1 * f64::from(z.get(op::PAN).clamp(-500, 500));
        let angle = std::f64::consts::PI / 200.0 * (pan + 50.0);
        let keyscale = |g: usize| timecents(z.get(g) * (60 - key_eff));
        let env_time = |g: usize| timecents(z.get(g).clamp(-12_000, 8_000));
        // A delay or hold at the specification's floor (-12000 timecents, 1 ms) is its way of
        // saying "none": the note sounds on its own frame, not a millisecond after it.
        let span = |g: usize| {
            if z.get(g) <= -12_000 {
                0.0
            } else {
                env_time(g)
            }
        };
        let vol = VolEnv {
            delay: span(op::DELAY_VOL_ENV),
            attack: env_time(op::ATTACK_VOL_ENV),
            hold: span(op::HOLD_VOL_ENV) * keyscale(op::KEYNUM_TO_VOL_ENV_HOLD),
            decay: env_time(op::DECAY_VOL_ENV) * keyscale(op::KEYNUM_TO_VOL_ENV_DECAY),
            sustain: 10f64.powf(-0.1 * f64::from(z.get(op::SUSTAIN_VOL_ENV).clamp(0, 1440)) / 20.0)
                as f32,
            // A release under 10 ms clicks; rustysynth clamps the same way.
            release: env_time(op::RELEASE_VOL_ENV).max(0.01),
            release_at: 0.0,
            release_level: 0.0,
            stage: Stage::Delay,
            value: 0.0,
            at_sustain: false,
        };
        let modenv = ModEnv {
            delay: span(op::DELAY_MOD_ENV),
            // TinySoundFont's and rustysynth's velocity scaling of the attack.
            attack: env_time(op::ATTACK_MOD_ENV) * f64::from(145 - vel) / 144.0,
            hold: span(op::HOLD_MOD_ENV) * keyscale(op::KEYNUM_TO_MOD_ENV_HOLD),
            decay: env_time(op::DECAY_MOD_ENV) * keyscale(op::KEYNUM_TO_MOD_ENV_DECAY),
            sustain: 1.0 - z.get(op::SUSTAIN_MOD_ENV).clamp(0, 1000) as f32 / 1000.0,
            release: env_time(op::RELEASE_MOD_ENV),
            release_at: 0.0,
            release_level: 0.0,
            released: false,
            value: 0.0,
        };
        let lfo = |d: usize, f: usize| Lfo {
            delay: span(d),
            freq: cents_to_hz(f64::from(z.get(f).clamp(-16_000, 4_500))),
        };
        let fc_cents = f64::from(z.get(op::INITIAL_FILTER_FC).clamp(1500, 13_500));
        let env_to_fc = f64::from(z.get(op::MOD_ENV_TO_FILTER_FC).clamp(-12_000, 12_000));
        let lfo_to_fc = f64::from(z.get(op::MOD_LFO_TO_FILTER_FC).clamp(-12_000, 12_000));
        let dynamic = env_to_fc != 0.0 || lfo_to_fc != 0.0;
        let fc_hz = cents_to_hz(fc_cents);
        let filter = if dynamic || fc_hz < 0.45 * f64::from(rate) {
            let res = 10f64.powf(q_db / 20.0) as f32;
            // rustysynth's Q for a resonance peak of the stated height (within 3 %).
            let offset = 1.0 - std::f32::consts::FRAC_1_SQRT_2;
            let q = res - offset / (1.0 + 6.0 * (res - 1.0));
            let mut f = VoiceFilter {
                fc_cents,
                q,
                env_to_fc,
                lfo_to_fc,
                smoothed_hz: fc_hz,
                designed_hz: fc_hz,
                target: (fc_cents, fc_hz),
                c: [1.0, 0.0, 0.0, 0.0, 0.0],
                x1: 0.0,
                x2: 0.0,
                y1: 0.0,
                y2: 0.0,
            };
            f.set(fc_hz, rate);
            FilterUse::Own(f)
        } else {
            FilterUse::None
        };
        let mode = z.loop_mode;
        Self {
            key,
            released: false,
            sustained: false,
            fading: false,
            exclusive: z.get(op::EXCLUSIVE_CLASS),
            pos: (z.start as u64) << 32,
            step,
            start: z.start,
            end: z.end,
            loop_start: z.loop_start,
            loop_end: z.loop_end,
            looping: mode != 0,
            loop_until_release: mode == 3,
            wrapped: false,
            ended: false,
            vol,
            modenv,
            vib: lfo(op::DELAY_VIB_LFO, op::FREQ_VIB_LFO),
            modlfo: lfo(op::DELAY_MOD_LFO, op::FREQ_MOD_LFO),
            vib_to_pitch: z.get(op::VIB_LFO_TO_PITCH).clamp(-12_000, 12_000) as f32,
            bent: (0.0, step),
            mod_to_pitch: z.get(op::MOD_LFO_TO_PITCH).clamp(-12_000, 12_000) as f32,
            env_to_pitch: z.get(op::MOD_ENV_TO_PITCH).clamp(-12_000, 12_000) as f32,
            mod_to_volume_db: 0.1 * z.get(op::MOD_LFO_TO_VOLUME).clamp(-960, 960) as f32,
            filter,
            note_gain,
            pan_l: angle.cos().max(0.0) as f32,
            pan_r: angle.sin().max(0.0) as f32,
            prev_l: 0.0,
            prev_r: 0.0,
            age: 0,
            rate: f64::from(rate),
            buf: vec![0.0; BLOCK],
            target: (0.0, 0.0),
            alive: true,
        }
    }

    /// The voice's current loudness (for stealing the quietest).
    fn level(&self) -> f32 {
        self.vol.value * self.note_gain
    }

    /// Seconds since the voice started. Events arrive on frame boundaries and `age` counts
    /// the frames rendered, so this is exact.
    fn time(&self) -> f64 {
        self.age as f64 / self.rate
    }

    fn release(&mut self) {
        if self.released {
            return;
        }
        self.released = true;
        let vt = self.time();
        let time = self.vol.release;
        self.vol.release(vt, time);
        self.modenv.release(vt);
        if self.loop_until_release {
            self.looping = false;
        }
    }

    fn release_fast(&mut self) {
        self.fade_out(FAST_RELEASE_S);
    }

    /// Release over `seconds` (80 dB), whatever stage the voice is in.
    fn fade_out(&mut self, seconds: f64) {
        let vt = self.time();
        if self.fading && self.vol.release <= seconds {
            return;
        }
        self.released = true;
        self.sustained = false;
        self.fading = true;
        let time = if self.vol.stage == Stage::Release {
            seconds.min(self.vol.release)
        } else {
            seconds
        };
        // Keep the level where it is and fall from there.
        let level = self.vol.value;
        self.vol.release(vt, time);
        self.vol.release_level = level;
        self.modenv.release(vt);
        if self.loop_until_release {
            self.looping = false;
        }
    }

    /// First half of a sub-block of `n` frames: advance the envelopes and LFOs, fill the
    /// voice's buffer with interpolated sample frames, move its own filter's cut-off, and
    /// compute the gains to reach by the end. Returns whether the voice goes on after it.
    fn prepare(
        &mut self,
        data: &[i16],
        interp: &mut Interp,
        n: usize,
        channel_gain: f32,
        modwheel: f32,
        rate: f32,
    ) -> bool {
        let vt = (self.age + n as u64) as f64 / f64::from(rate);
        let alive = self.vol.eval(vt);
        self.modenv.eval(vt);
        let vib = self.vib.at(vt);
        let mlfo = self.modlfo.at(vt);
        // Pitch modulation (cents): vibrato LFO (plus 50 cents of mod wheel, the default
        // modulator), modulation LFO, modulation envelope.
        let cents = vib * (self.vib_to_pitch + 50.0 * modwheel)
            + mlfo * self.mod_to_pitch
            + self.modenv.value * self.env_to_pitch;
        let step = if cents == 0.0 {
            self.step
        } else if cents == self.bent.0 {
            // Held by the modulation envelope's sustain: the same bend as the last block.
            self.bent.1
        } else {
            let step = self.step * 2f64.powf(f64::from(cents) / 1200.0);
            self.bent = (cents, step);
            step
        };
        let step_fp = ((step * 4_294_967_296.0) as u64).max(1);
        let mut buf = std::mem::take(&mut self.buf);
        self.fill(data, interp, &mut buf[..n], step_fp);
        self.buf = buf;
        if let FilterUse::Own(f) = &mut self.filter {
            let c = f.fc_cents
                + f64::from(self.modenv.value) * f.env_to_fc
                + f64::from(mlfo) * f.lfo_to_fc;
            // The modulation envelope's sustain holds the cut-off: convert only when it moves.
            if c != f.target.0 {
                f.target = (c, cents_to_hz(c));
            }
            // Limit the change per block to an octave (rustysynth's guard against pops).
            let hz = f.target.1.clamp(0.5 * f.smoothed_hz, 2.0 * f.smoothed_hz);
            f.smoothed_hz = hz;
            // Redesign only when the cut-off has moved by more than 0.2 % (3.5 cents): during a
            // sustain the coefficients stay put.
            if (hz / f.designed_hz - 1.0).abs() > 0.002 {
                f.set(hz.min(0.49 * f64::from(rate)), rate);
                f.designed_hz = hz;
            }
        }
        let mut g = self.note_gain * channel_gain * self.vol.value;
        if self.mod_to_volume_db != 0.0 {
            g *= 10f32.powf(self.mod_to_volume_db * mlfo / 20.0);
        }
        self.target = (g * self.pan_l, g * self.pan_r);
        self.age += n as u64;
        alive && !self.ended
    }

    /// Second half: add the buffer into `ol`/`or`, the gains ramping linearly to the targets.
    fn mix(&mut self, n: usize, ol: &mut [f32], or: &mut [f32]) {
        let (gl, gr) = self.target;
        let (dl, dr) = ((gl - self.prev_l) / n as f32, (gr - self.prev_r) / n as f32);
        let (l0, r0) = (self.prev_l, self.prev_r);
        // Gains from the frame's number in the sub-block (not a running sum), so the loop
        // vectorises; the numbers from a table, as converting a `usize` to `f32` does not.
        for (((&t, &s), l), r) in RAMP[..n]
            .iter()
            .zip(&self.buf[..n])
            .zip(ol.iter_mut())
            .zip(or.iter_mut())
        {
            *l += s * (l0 + dl * t);
            *r += s * (r0 + dr * t);
        }
        self.prev_l = gl;
        self.prev_r = gr;
    }

    /// Interpolated sample frames into `buf` (in i16 units).
    fn fill(&mut self, data: &[i16], interp: &mut Interp, buf: &mut [f32], step: u64) {
        let n = buf.len();
        let mut t = 0;
        while t < n {
            let idx = (self.pos >> 32) as usize;
            if self.looping && idx >= self.loop_end {
                self.pos -= ((self.loop_end - self.loop_start) as u64) << 32;
                self.wrapped = true;
                continue;
            }
            if !self.looping && idx >= self.end {
                buf[t..].fill(0.0);
                self.ended = true;
                return;
            }
            // Fast path: all four points inside the playing range, no wrap.
            let limit = if self.looping {
                self.loop_end
            } else {
                self.end
            }
            .min(data.len());
            if idx > self.start && idx + 2 < limit {
                let lim_fp = ((limit - 2) as u64) << 32;
                let run = ((lim_fp - 1 - self.pos) / step + 1).min((n - t) as u64) as usize;
                let span = ((run as u64 - 1) * step + (self.pos & 0xFFFF_FFFF)) >> 32;
                if span as usize + 4 <= SPAN {
                    self.pos = interp.run(data, &mut buf[t..t + run], self.pos, step);
                    t += run;
                    continue;
                }
                let mut pos = self.pos;
                // Four frames at a time: the gathers stay scalar, the polynomial runs on all
                // four at once.
                let mut quads = buf[t..t + run].chunks_exact_mut(4);
                for q in &mut quads {
                    let mut p = [[0.0f32; 4]; 4];
                    let mut fr = [0.0f32; 4];
                    for j in 0..4 {
                        let pj = pos + j as u64 * step;
                        let i = (pj >> 32) as usize;
                        fr[j] = (pj & 0xFFFF_FFFF) as f32 * (1.0 / 4_294_967_296.0);
                        let w = &data[i - 1..i + 3];
                        for k in 0..4 {
                            p[k][j] = f32::from(w[k]);
                        }
                    }
                    for j in 0..4 {
                        q[j] = hermite(p[0][j], p[1][j], p[2][j], p[3][j], fr[j]);
                    }
                    pos += 4 * step;
                }
                for o in quads.into_remainder() {
                    let i = (pos >> 32) as usize;
                    let frac = (pos & 0xFFFF_FFFF) as f32 * (1.0 / 4_294_967_296.0);
                    let w = &data[i - 1..i + 3];
                    *o = hermite(
                        f32::from(w[0]),
                        f32::from(w[1]),
                        f32::from(w[2]),
                        f32::from(w[3]),
                        frac,
                    );
                    pos += step;
                }
                self.pos = pos;
                t += run;
            } else {
                let i = idx as isize;
                let frac = (self.pos & 0xFFFF_FFFF) as f32 * (1.0 / 4_294_967_296.0);
                buf[t] = hermite(
                    self.point(data, i - 1),
                    self.point(data, i),
                    self.point(data, i + 1),
                    self.point(data, i + 2),
                    frac,
                );
                self.pos += step;
                t += 1;
            }
        }
    }

    /// The sample point at `i`, wrapping around the loop and silent outside the sample.
    fn point(&self, data: &[i16], i: isize) -> f32 {
        let mut j = i;
        if self.looping {
            let (ls, le) = (self.loop_start as isize, self.loop_end as isize);
            if j >= le {
                j -= le - ls;
            } else if j < ls && self.wrapped {
                j += le - ls;
            }
        } else if j >= self.end as isize {
            return 0.0;
        }
        if j < self.start as isize || j < 0 {
            return 0.0;
        }
        data.get(j as usize).map_or(0.0, |&v| f32::from(v))
    }
}

/// 4-point, 3rd-order Hermite interpolation (Catmull-Rom), in Laurent de Soras' arrangement
/// ("Polynomial interpolators for high-quality resampling of oversampled audio", Niemitalo,
/// 2001, form "hermite4").
#[inline(always)]
fn hermite(xm1: f32, x0: f32, x1: f32, x2: f32, t: f32) -> f32 {
    let c = (x1 - xm1) * 0.5;
    let v = x0 - x1;
    let w = c + v;
    let a = w + v + (x2 - x0) * 0.5;
    let b = w + a;
    ((a * t - b) * t + c) * t + x0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample data with full-scale swings and every sign, from a small linear congruential
    /// generator over a sine.
    fn samples(len: usize) -> Vec<i16> {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        (0..len)
            .map(|i| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let noise = (s >> 52) as f64 - 2048.0;
                ((i as f64 * 0.037).sin() * 30_000.0 + noise).clamp(-32_768.0, 32_767.0) as i16
            })
            .collect()
    }

    /// The obvious form: four points gathered and converted per frame, then `hermite`.
    fn reference(data: &[i16], out: &mut [f32], mut pos: u64, step: u64) -> u64 {
        for o in out {
            let i = (pos >> 32) as usize;
            let t = (pos & 0xFFFF_FFFF) as f32 * (1.0 / 4_294_967_296.0);
            let p = |k: usize| f32::from(data[k]);
            *o = hermite(p(i - 1), p(i), p(i + 1), p(i + 2), t);
            pos += step;
        }
        pos
    }

    #[test]
    fn precomputed_interpolation_is_bit_identical_to_hermite() {
        let data = samples(4096);
        let mut interp = Interp::new();
        let ratios = [
            0.0001, 0.13, 0.5, 0.749_999, 0.999_99, 1.0, 1.000_01, 1.37, 2.5, 3.9,
        ];
        for (r, &ratio) in ratios.iter().enumerate() {
            let step = (ratio * 4_294_967_296.0) as u64;
            for n in [1usize, 3, 4, 5, 17, 63, 64] {
                let start =
                    ((100 + 37 * r) as u64) << 32 | (0x9E37_79B9u64 * n as u64) & 0xFFFF_FFFF;
                let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
                let pa = interp.run(&data, &mut a, start, step);
                let pb = reference(&data, &mut b, start, step);
                assert_eq!(pa, pb, "position after the run, ratio {ratio}, {n} frames");
                for (k, (x, y)) in a.iter().zip(&b).enumerate() {
                    assert_eq!(
                        x.to_bits(),
                        y.to_bits(),
                        "frame {k} of {n}, ratio {ratio}: {x} against {y}"
                    );
                }
            }
        }
    }

    /// One biquad step in the order every filter here uses.
    fn biquad(c: [f32; 5], st: &mut [f32; 4], x: f32) -> f32 {
        let [b0, b1, b2, a1, a2] = c;
        let [x1, x2, y1, y2] = *st;
        let y = (b0 * x + b1 * x1 + b2 * x2 - a2 * y2) - a1 * y1;
        *st = [x, x1, y, y1];
        y
    }

    fn low_pass(hz: f32, q: f32) -> [f32; 5] {
        BiquadCoeffs::new(FilterKind::LowPass, hz, q, 44_100.0).as_array()
    }

    #[test]
    fn batched_voice_filters_match_one_filter_per_voice() {
        let font =
            SoundFont::new(&mut bandmate_testkit::soundfont::font().as_slice()).expect("test font");
        // The pad's filter sweeps, so its voices have their own filters.
        let zone = &font.preset(0, 48).zones[0];
        let data = samples(BLOCK * 12);
        for count in [1usize, 3, 4, 5, 7, 8] {
            let mut voices: Vec<Voice> = (0..count + 2)
                .map(|_| Voice::start(zone, 60, 100, 44_100.0))
                .collect();
            let mut expected = Vec::new();
            // Voices 1..=count are filtered (0 and the last are not), each with its own
            // cut-off, resonance, state and input.
            let idx: Vec<usize> = (1..=count).collect();
            for &vi in &idx {
                let v = &mut voices[vi];
                let FilterUse::Own(f) = &mut v.filter else {
                    panic!("the pad's voices filter on their own")
                };
                f.q = 0.7 + vi as f32 * 0.9;
                f.set(300.0 * vi as f64, 44_100.0);
                let mut st = [0.1 * vi as f32, -0.2, 0.05 * vi as f32, 0.3];
                [f.x1, f.x2, f.y1, f.y2] = st;
                let c = f.c;
                for (k, b) in v.buf.iter_mut().enumerate() {
                    *b = f32::from(data[vi * BLOCK + k]);
                }
                let out: Vec<f32> = v.buf[..BLOCK - 3]
                    .iter()
                    .map(|&x| biquad(c, &mut st, x))
                    .collect();
                expected.push((out, st));
            }
            let untouched = voices[0].buf.clone();
            if count > 4 {
                filter_batch::<8>(&mut voices, &idx, BLOCK - 3);
            } else {
                filter_batch::<4>(&mut voices, &idx, BLOCK - 3);
            }
            for (&vi, (out, st)) in idx.iter().zip(&expected) {
                let v = &voices[vi];
                let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&v.buf[..BLOCK - 3]),
                    bits(out),
                    "voice {vi} of {count}"
                );
                let FilterUse::Own(f) = &v.filter else {
                    unreachable!()
                };
                assert_eq!(
                    [f.x1, f.x2, f.y1, f.y2],
                    *st,
                    "state of voice {vi} of {count}"
                );
            }
            assert_eq!(
                voices[0].buf, untouched,
                "a voice outside the batch changed"
            );
        }
    }

    #[test]
    fn shared_filter_runs_both_channels_as_two_separate_filters() {
        let data = samples(BLOCK * 2);
        let c = low_pass(2_500.0, 2.0);
        let st = [[0.5, -0.25, 0.125, 0.0], [-1.0, 0.5, 2.0, -3.0]];
        let mut g = FilterGroup {
            coeffs: c,
            l: data[..BLOCK].iter().map(|&v| f32::from(v)).collect(),
            r: data[BLOCK..].iter().map(|&v| f32::from(v)).collect(),
            state: st,
            tail: 1,
            used: true,
        };
        let n = BLOCK - 5;
        let (mut ol, mut or) = (vec![0.25f32; n], vec![-0.5f32; n]);
        let mut want = [ol.clone(), or.clone()];
        for (ch, (input, out)) in [&g.l, &g.r].into_iter().zip(&mut want).enumerate() {
            let mut s = st[ch];
            for (o, &x) in out.iter_mut().zip(input) {
                *o += biquad(c, &mut s, x);
            }
        }
        g.run(n, &mut ol, &mut or);
        assert!(
            ol.iter()
                .zip(&want[0])
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        assert!(
            or.iter()
                .zip(&want[1])
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }

    #[test]
    fn volume_envelope_holds_its_sustain_as_the_formula_does() {
        let rate = 44_100.0;
        for (decay, sustain) in [
            (0.05, 0.5f32),
            (1.3, 0.01),
            (20.0, 0.999),
            (0.01, 1e-4),
            (3.0, 0.0),
        ] {
            let mut env = VolEnv {
                delay: 0.0,
                attack: 0.01,
                hold: 0.02,
                decay,
                sustain,
                release: 0.3,
                release_at: 0.0,
                release_level: 0.0,
                stage: Stage::Delay,
                value: 0.0,
                at_sustain: false,
            };
            let d0 = 0.03;
            for block in 1..20_000u64 {
                let t = (block * BLOCK as u64) as f64 / rate;
                let alive = env.eval(t);
                if t >= d0 {
                    let e = (DECAY_SLOPE * (t - d0) / decay).exp() as f32;
                    let want = e.max(sustain);
                    assert_eq!(
                        env.value.to_bits(),
                        want.to_bits(),
                        "decay {decay} at {t} s"
                    );
                    assert_eq!(alive, want > NON_AUDIBLE);
                }
            }
            assert!(env.at_sustain || sustain == 0.0);
        }
    }

    #[test]
    fn lfo_phase_is_the_fractional_part() {
        for freq in [0.01, 0.37, 5.9, 110.0] {
            let lfo = Lfo { delay: 0.25, freq };
            for k in 0..50_000u64 {
                let t = k as f64 * 0.0241;
                let want = if t < lfo.delay {
                    0.0
                } else {
                    triangle(((t - lfo.delay) * freq).fract())
                };
                assert_eq!(lfo.at(t).to_bits(), want.to_bits(), "{freq} Hz at {t} s");
            }
        }
    }
}
