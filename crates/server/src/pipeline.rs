//! What the workers run: the engine's stages behind a small object-safe trait, so the
//! worker can be tested against a pipeline that panics or stalls on demand. The production
//! implementation, [`EnginePipeline`], is a thin adapter over [`bandmate_engine::Engine`].
//!
//! Threading: every method is synchronous and CPU-bound; the worker calls them on tokio's
//! blocking pool, at most one call per worker at a time.

use std::any::Any;

use bandmate_core::GenerationParams;
use bandmate_engine::{Engine, EngineError, Track, WavKind};

/// Why a stage failed: the callback code (400 the file, 500 internal, 501 generation) and
/// the message for `errorMessage`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    /// 400, 500 or 501.
    pub code: u16,
    /// Human message.
    pub message: String,
}

impl From<EngineError> for StageError {
    fn from(e: EngineError) -> Self {
        Self {
            code: e.callback_code(),
            message: e.to_string(),
        }
    }
}

/// What `prepare` produced, opaque to the worker.
pub struct Prepared {
    /// The pipeline's own value.
    pub inner: Box<dyn Any + Send + Sync>,
    /// The plan (key, tempo, chord chart …) for the `text` callback and the record.
    pub plan: serde_json::Value,
}

/// What a songs render left for its stems call, opaque to the worker.
pub struct PendingStems {
    /// The pipeline's own value.
    pub inner: Box<dyn Any + Send>,
}

/// A variation's stems: `(name, MP3)` per part, then the vocal.
pub type Stems = Vec<(String, Vec<u8>)>;

/// The stages.
pub trait Pipeline: Send + Sync + 'static {
    /// Decode, analyse, harmonise (the `text` stage).
    fn prepare(
        &self,
        input: &[u8],
        extension: Option<&str>,
        params: &GenerationParams,
    ) -> Result<Prepared, StageError>;
    /// Render one variation's songs (1 or 2): the track, with its stems either in it or
    /// left for [`Pipeline::render_stems`] (the pending handle; `None`: nothing to add).
    fn render_songs(
        &self,
        prepared: &Prepared,
        variation: u8,
    ) -> Result<(Track, Option<PendingStems>), StageError>;
    /// The stems a songs render left pending.
    fn render_stems(&self, prepared: &Prepared, pending: PendingStems)
    -> Result<Stems, StageError>;
    /// The WAV of one variation's song.
    fn render_wav(&self, prepared: &Prepared, variation: u8) -> Result<Vec<u8>, StageError>;
}

/// The real pipeline.
#[derive(Debug)]
pub struct EnginePipeline {
    engine: Engine,
}

impl EnginePipeline {
    /// Wrap a loaded engine.
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }
}

fn inner(p: &Prepared) -> Result<&bandmate_engine::Prepared, StageError> {
    p.inner
        .downcast_ref::<bandmate_engine::Prepared>()
        .ok_or_else(|| StageError {
            code: 500,
            message: "internal error: prepared input of the wrong kind".into(),
        })
}

impl Pipeline for EnginePipeline {
    fn prepare(
        &self,
        input: &[u8],
        extension: Option<&str>,
        params: &GenerationParams,
    ) -> Result<Prepared, StageError> {
        let p = self.engine.prepare(input, extension, params, &mut |_| {})?;
        let plan = self.engine.plan_json(&p);
        Ok(Prepared {
            inner: Box::new(p),
            plan,
        })
    }

    fn render_songs(
        &self,
        prepared: &Prepared,
        variation: u8,
    ) -> Result<(Track, Option<PendingStems>), StageError> {
        let (track, pending) =
            self.engine
                .render_songs(inner(prepared)?, variation, &mut |_| {})?;
        Ok((track, pending.map(|p| PendingStems { inner: Box::new(p) })))
    }

    fn render_stems(
        &self,
        prepared: &Prepared,
        pending: PendingStems,
    ) -> Result<Stems, StageError> {
        let pending = pending
            .inner
            .downcast::<bandmate_engine::PendingStems>()
            .map_err(|_| StageError {
                code: 500,
                message: "internal error: pending stems of the wrong kind".into(),
            })?;
        Ok(self
            .engine
            .render_stems(inner(prepared)?, *pending, &mut |_| {})?)
    }

    fn render_wav(&self, prepared: &Prepared, variation: u8) -> Result<Vec<u8>, StageError> {
        Ok(self
            .engine
            .render_wav(inner(prepared)?, variation, WavKind::Song)?)
    }
}
