//! The desk's CSS and JavaScript, built into the binary (the desk works with no internet):
//! `GET /static/<name>`. Add a page's own files to [`FILES`].

use axum::extract::Path;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::on;

use super::routes::{Access, Kind, Route};

/// Every static file: name, content type, bytes.
pub const FILES: &[(&str, &str, &[u8])] = &[
    (
        "desk.css",
        "text/css; charset=utf-8",
        include_bytes!("static/desk.css"),
    ),
    (
        "desk.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/desk.js"),
    ),
    (
        "review.css",
        "text/css; charset=utf-8",
        include_bytes!("static/review.css"),
    ),
    (
        "review.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/review.js"),
    ),
    (
        "reports.css",
        "text/css; charset=utf-8",
        include_bytes!("static/reports.css"),
    ),
    (
        "training.css",
        "text/css; charset=utf-8",
        include_bytes!("static/training.css"),
    ),
    (
        "live.css",
        "text/css; charset=utf-8",
        include_bytes!("static/live.css"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/live.js"),
    ),
];

pub const ROUTES: &[Route] = &[Route {
    method: Method::GET,
    path: "/static/{name}",
    access: Access::Public,
    kind: Kind::Static,
    nav: None,
    handler: |m| on(m, file),
}];

async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
