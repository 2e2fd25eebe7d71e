//! The web player at `/`: plain HTML, CSS and JavaScript compiled into the binary (no build
//! step). It talks to the same public API as any client: the upload API for the vocal,
//! add-instrumental to submit, record-info to watch the stages, then plays both songs with a
//! waveform (decoded in the browser with Web Audio) and the chord chart of the track's plan
//! running under the playhead, and links every download.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::App;

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The script.
pub const PLAYER_JS: &str = include_str!("../assets/player.js");
/// The style sheet.
pub const PLAYER_CSS: &str = include_str!("../assets/player.css");

/// The placeholder in the page where the server's public base URL goes.
const BASE_URL_SLOT: &str = r#"<meta name="bandmate-base-url" content="">"#;

/// `GET /`: the page, with the server's public base URL in a `<meta>` element. The player
/// sends callbacks to `<base>/player/callback` (the server's own sink, which it recognises by
/// that base) and loads the server's own file links by their paths, so the page works however
/// the browser reached the server (`localhost`, a LAN address, a proxy).
pub async fn index(State(app): State<Arc<App>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page(&app.base_url),
    )
}

fn page(base_url: &str) -> String {
    INDEX_HTML.replacen(
        BASE_URL_SLOT,
        &format!(
            r#"<meta name="bandmate-base-url" content="{}">"#,
            attribute(base_url)
        ),
        1,
    )
}

/// Text escaped for a double-quoted HTML attribute.
fn attribute(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_escaped_base_url_once() {
        assert_eq!(INDEX_HTML.matches(BASE_URL_SLOT).count(), 1);
        let html = page("https://music.example/a?b=\"<x>&y");
        assert!(html.contains(
            r#"<meta name="bandmate-base-url" content="https://music.example/a?b=&quot;&lt;x&gt;&amp;y">"#
        ));
        assert!(!html.contains(BASE_URL_SLOT));
    }
}
