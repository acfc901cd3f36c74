//! The web UI: its assets embedded in the binary and the `/ui/` routes that serve them.
//!
//! The UI is plain HTML, CSS and one JavaScript module in `assets/`, with no build step: what
//! is in the repository is what the browser runs (see ARCHITECTURE.md for why). Every other
//! path under `/ui/` answers `index.html`, so Consul's UI URLs (`/ui/<dc>/services`, ...) work
//! as bookmarks; the page routes them itself. Nothing is fetched from the network: the page
//! talks only to the agent's own HTTP API, which the Content-Security-Policy enforces.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// What the page may load and contact: only this origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// One embedded file, with its gzip form and validator made once.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    pub gzipped: Vec<u8>,
    etag: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let etag = format!(
            "\"{}\"",
            digest[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Asset {
            name,
            content_type,
            bytes,
            gzipped: gzip(bytes),
            etag,
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Every file of the UI. `index.html` answers every page URL.
pub static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        Asset::new(
            "index.html",
            "text/html; charset=utf-8",
            include_bytes!("../assets/index.html"),
        ),
        Asset::new(
            "app.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/app.js"),
        ),
        Asset::new(
            "app.css",
            "text/css; charset=utf-8",
            include_bytes!("../assets/app.css"),
        ),
    ]
});

fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The routes: `/` and `/ui` redirect to `/ui/` (301, as Consul), `/ui/assets/<file>` serves a
/// file, anything else under `/ui/` serves the page.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(redirect))
        .route("/ui", get(redirect))
        .route("/ui/", get(page))
        .route("/ui/assets/{file}", get(file))
        .route("/ui/{*path}", get(page))
}

async fn redirect() -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, HeaderValue::from_static("/ui/"))],
    )
        .into_response()
}

async fn page(headers: HeaderMap) -> Response {
    match asset("index.html") {
        Some(a) => serve(a, &headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match asset(&name).filter(|a| a.name != "index.html") {
        Some(a) => serve(a, &headers),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next() == Some("gzip") && !parts.any(|q| q.replace(' ', "") == "q=0")
        })
}

fn serve(a: &'static Asset, headers: &HeaderMap) -> Response {
    let mut out = HeaderMap::new();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    // Revalidate every time: a new binary may carry new assets under the same names.
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(etag) = HeaderValue::from_str(&a.etag) {
        out.insert(header::ETAG, etag);
    }
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
    if not_modified {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    if accepts_gzip(headers) {
        out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (out, a.gzipped.clone()).into_response()
    } else {
        (out, a.bytes).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_negotiated() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, br"),
        );
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn assets_round_trip_through_gzip() {
        use std::io::Read;
        for a in ASSETS.iter() {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&a.gzipped[..])
                .read_to_end(&mut out)
                .expect("gunzip");
            assert_eq!(out, a.bytes, "{}", a.name);
            assert!(!a.bytes.is_empty(), "{} is empty", a.name);
        }
    }

    /// The page loads only same-origin files, and every file it names is embedded.
    #[test]
    fn index_references_only_embedded_assets() {
        let index = std::str::from_utf8(asset("index.html").expect("index").bytes).expect("utf8");
        for part in index.split(['"', '\'']) {
            if let Some(name) = part.strip_prefix("/ui/assets/") {
                assert!(asset(name).is_some(), "index.html names missing {name}");
            }
            assert!(
                !part.starts_with("http://") && !part.starts_with("https://"),
                "index.html names an external URL: {part}"
            );
        }
    }
}
