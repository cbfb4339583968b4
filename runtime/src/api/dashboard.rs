//! The dashboard: a single-page app (`runtime/dashboard/`: HTML, JavaScript,
//! CSS, no build step, no library) embedded in the binary and served by the
//! API's own router beside the JSON routes — `/` is the page, `/ui/{file}`
//! its assets. The page holds no data and needs no key: it asks the data
//! routes, which keep their auth.
//!
//! Every URL in the page is relative to a `<base>` filled in here: `/`, or
//! `/<stage>/` behind API Gateway (from [`PublicBase`]), so the same page
//! works under a stage prefix. Assets are referenced with `?v=<hash of the
//! assets>`, so a browser may cache them for good and still gets new ones
//! after an upgrade. All of it is text (HTML, JS, CSS, SVG): `lambda_http`
//! returns it as is, no binary media types needed on API Gateway.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Extension, Path, RawQuery};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::{ApiError, PublicBase};

/// The page routes (not part of the JSON API, so not in `swagger.yaml`).
pub const PAGE_ROUTES: &[&str] = &["/", "/ui/{file}"];

/// The path prefix of the assets.
pub const ASSET_PREFIX: &str = "/ui/";

const INDEX: &str = include_str!("../../dashboard/index.html");

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

/// The assets under [`ASSET_PREFIX`].
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../dashboard/app.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../dashboard/style.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../dashboard/icon.svg"),
    },
];

/// The page forbids everything it does not use: scripts, styles and images
/// from its own origin, calls to its own origin, no frames, no forms posted
/// anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'";

/// Whether a request path is the page or one of its assets (served without
/// a key; everything else is a data route).
pub fn is_page_path(path: &str) -> bool {
    path == "/" || path.starts_with(ASSET_PREFIX)
}

/// The page and asset routes, to merge into a router of any state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{*file}", get(asset))
}

/// The version the page puts on asset URLs: a hash of every asset.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hasher = Sha256::new();
        for asset in ASSETS {
            hasher.update(asset.name.as_bytes());
            hasher.update(asset.body.as_bytes());
        }
        hasher.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// The page, with its base: the path of the public URL (`/v1/` behind an
/// API Gateway stage), else `/`.
pub fn index_html(base: Option<&PublicBase>) -> String {
    let path = base
        .map(|PublicBase(url)| {
            let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
            match after_scheme.find('/') {
                Some(slash) => after_scheme[slash..].trim_end_matches('/').to_owned(),
                None => String::new(),
            }
        })
        .unwrap_or_default();
    INDEX
        .replace("{{BASE}}", &escape_attribute(&format!("{path}/")))
        .replace("{{VERSION}}", version())
}

async fn index(base: Option<Extension<PublicBase>>) -> Response {
    let html = index_html(base.as_ref().map(|Extension(b)| b));
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

async fn asset(Path(file): Path<String>, RawQuery(query): RawQuery) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return ApiError::not_found(format!(
            "no dashboard file `{file}`; the dashboard is at `/`"
        ))
        .into_response();
    };
    // A URL with the current version never changes; any other may.
    let versioned = query.is_some_and(|q| q == format!("v={}", version()));
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}

fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_follows_the_public_url() {
        let html = index_html(None);
        assert!(html.contains("<base href=\"/\">"), "{html}");
        let staged = index_html(Some(&PublicBase(
            "https://abc.execute-api.us-east-1.amazonaws.com/v1".into(),
        )));
        assert!(staged.contains("<base href=\"/v1/\">"), "{staged}");
        let odd = index_html(Some(&PublicBase("https://h/a\"b/".into())));
        assert!(odd.contains("<base href=\"/a&quot;b/\">"), "{odd}");
        assert!(!html.contains("{{"), "every placeholder is filled");
    }

    #[test]
    fn every_asset_the_page_names_is_embedded() {
        let html = index_html(None);
        for asset in ASSETS {
            assert!(
                html.contains(&format!("ui/{}?v={}", asset.name, version())),
                "{} is referenced",
                asset.name
            );
        }
        for reference in html.split("ui/").skip(1) {
            let name = reference.split('?').next().unwrap_or_default();
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "the page names ui/{name}, which is not embedded"
            );
        }
    }

    #[test]
    fn page_paths() {
        assert!(is_page_path("/"));
        assert!(is_page_path("/ui/app.js"));
        assert!(!is_page_path("/users"));
        assert!(!is_page_path("/uix"));
        assert!(!is_page_path(""));
    }
}
