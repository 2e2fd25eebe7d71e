//! The web player at `/`: plain HTML, CSS and JavaScript compiled into the binary (no build
//! step). It talks to the same public API as any client: the upload API for the vocal,
//! add-instrumental to submit, record-info to watch the stages, then plays both songs with a
//! waveform (decoded in the browser with Web Audio) and the chord chart of the track's plan
//! running under the playhead, and links every download.

use axum::http::header;
use axum::response::IntoResponse;

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The script.
pub const PLAYER_JS: &str = include_str!("../assets/player.js");
/// The style sheet.
pub const PLAYER_CSS: &str = include_str!("../assets/player.css");

/// `GET /`.
pub async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
}

/// `GET /player.js`.
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        PLAYER_JS,
    )
}

/// `GET /player.css`.
pub async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        PLAYER_CSS,
    )
}
