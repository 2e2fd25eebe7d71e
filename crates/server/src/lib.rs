//! The Suno-style add-instrumental HTTP service: API, task store and queue, workers, fetcher, callbacks, uploads, web player.
