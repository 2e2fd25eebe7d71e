//! The signal-processing blocks of the mixing chain: equalisers ([`Biquad`], RBJ cookbook),
//! dynamics ([`Compressor`], [`EnvelopeFollower`], the look-ahead true-peak [`Limiter`]), a
//! feedback-delay-network [`Reverb`], and stereo tools ([`pan_gains`], [`Width`], [`Doubler`]).
//!
//! Every block owns its state, processes caller-owned buffers in place or into caller-owned
//! outputs, and allocates only when built: the hot loops never allocate. All are `Send`; none
//! shares state, so parts of a mix can run on several threads.

mod biquad;
mod dynamics;
mod reverb;
mod stereo;

pub use biquad::{Biquad, BiquadCoeffs, FilterKind, MonoChain, StereoEq};
pub use dynamics::{Compressor, CompressorSettings, EnvelopeFollower, Limiter, LimiterSettings};
pub use reverb::{Reverb, ReverbSettings};
pub use stereo::{Doubler, Width, pan_gains};

/// Magnitudes under this (-400 dB) are flushed to exact zero in recursive state: a decaying
/// tail would otherwise reach subnormal numbers, which cost a microcode assist per operation
/// on Intel cores.
pub const FLUSH_BELOW: f32 = 1e-20;

/// `v`, or exact zero when its magnitude is under [`FLUSH_BELOW`]. A select, not a branch, so
/// loops that use it stay vectorised.
#[inline(always)]
pub fn flush_tiny(v: f32) -> f32 {
    if v.abs() < FLUSH_BELOW { 0.0 } else { v }
}

/// Decibels to a linear amplitude factor.
#[inline]
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// A linear amplitude factor to decibels (`-inf` for 0).
#[inline]
pub fn gain_to_db(g: f32) -> f32 {
    if g > 0.0 {
        20.0 * g.log10()
    } else {
        f32::NEG_INFINITY
    }
}

/// One-pole smoothing coefficient for a time constant of `ms` milliseconds at `rate` Hz:
/// the state moves `1 - coeff` of the way to its target each sample (63 % after `ms`).
#[inline]
pub fn one_pole_coeff(ms: f32, rate: f32) -> f32 {
    if ms <= 0.0 {
        0.0
    } else {
        (-1.0 / (ms * 0.001 * rate)).exp()
    }
}
