//! The HTTP routes: the page, its event stream, the state snapshot and the clips.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::watch;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use tokio_stream::{Stream, StreamExt};

use super::{clips, Message, Shared};

/// The page, with `/*WINDOWS*/[]` replaced by the configured windows.
const PAGE: &str = include_str!("alerts.html");

/// What every handler sees.
#[derive(Clone)]
pub(super) struct App {
    pub shared: Arc<Shared>,
    /// The page, rendered once.
    pub page: Arc<str>,
    pub clip_dir: PathBuf,
    /// Turns true at shutdown: event streams end so the server can.
    pub stopped: watch::Receiver<bool>,
}

pub(super) fn router(app: App) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/alerts") }))
        .route("/alerts", get(alerts_page))
        .route("/events", get(events))
        .route("/api/state", get(state))
        .route("/clips/{*path}", get(clip))
        .with_state(app)
}

/// The page with the configured windows built in, so their cards show before any event.
pub(super) fn render_page(windows: &[(String, String)]) -> Arc<str> {
    let list: Vec<serde_json::Value> = windows
        .iter()
        .map(|(id, label)| serde_json::json!({ "id": id, "label": label }))
        .collect();
    let json = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
    // Inside <script> a label must not be able to close the element or open a comment.
    let json = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    PAGE.replace("/*WINDOWS*/[]", &json).into()
}

async fn alerts_page(State(app): State<App>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(app.page.to_string()),
    )
        .into_response()
}

async fn state(State(app): State<App>) -> Json<super::State> {
    Json(app.shared.board().state())
}

/// One item of a page's stream.
enum Item {
    /// First on every stream: how soon the browser should reconnect.
    Hello,
    Event(Arc<Message>),
    /// The page fell this many events behind and skipped them.
    Skipped(u64),
    Stop,
}

async fn events(State(app): State<App>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    // Replay and subscribe under the board's lock: the sink broadcasts under it too, so nothing
    // is missed or sent twice between the two.
    let (replay, live) = {
        let board = app.shared.board();
        let replay: Vec<Item> = board
            .replay()
            .iter()
            .filter_map(|e| Message::new(e).ok())
            .map(|m| Item::Event(Arc::new(m)))
            .collect();
        (replay, app.shared.live.subscribe())
    };
    let live = BroadcastStream::new(live).map(|r| match r {
        Ok(m) => Item::Event(m),
        Err(BroadcastStreamRecvError::Lagged(n)) => Item::Skipped(n),
    });
    let stop = WatchStream::new(app.stopped.clone())
        .filter(|stop| *stop)
        .map(|_| Item::Stop);
    let stream = tokio_stream::iter(std::iter::once(Item::Hello).chain(replay))
        .chain(live)
        .merge(stop)
        .take_while(|item| !matches!(item, Item::Stop))
        .map(|item| {
            Ok(match item {
                // The browser reconnects by itself; it need not wait long.
                Item::Hello => SseEvent::default()
                    .comment("courtesy")
                    .retry(Duration::from_secs(2)),
                Item::Event(m) => SseEvent::default().event(m.kind).data(&m.json),
                Item::Skipped(n) => SseEvent::default().comment(format!("skipped {n} events")),
                Item::Stop => SseEvent::default(),
            })
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn clip(State(app): State<App>, Path(rel): Path<String>, headers: HeaderMap) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    clips::respond(app.clip_dir.clone(), rel, range).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_labels_cannot_break_out_of_the_page_script() {
        let page = render_page(&[("w01".into(), "</script><script>alert(1)</script>&".into())]);
        assert!(!page.contains("/*WINDOWS*/"));
        assert!(!page.contains("<script>alert(1)"));
        assert!(page.contains(r#"[{"id":"w01","label":"\u003c/script\u003e"#));
    }
}
