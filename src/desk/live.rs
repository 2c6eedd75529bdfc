//! The supervisors' live view (`/live`): today's alerts from the record, a card per window, each
//! alert with 播放 and 确认. The server reads the record every second and pushes new alerts and
//! acknowledgements (given on any screen) over Server-Sent Events; inside `courtesy live --http`
//! it also pushes each window's status and rolling score from the run's feed.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use axum::Json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;

use super::auth::{audit, Error, Viewer};
use super::html::escape;
use super::routes::{Access, Kind, Role, Route};
use super::{layout, App};
use crate::store::{Acknowledged, StoredAlert};

const SUPERVISORS: Access = Access::Roles(&[Role::Supervisor]);

pub const ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: "/live",
        access: SUPERVISORS,
        kind: Kind::Page,
        nav: Some("实时告警"),
        handler: |m| on(m, page),
    },
    Route {
        method: Method::GET,
        path: "/live/events",
        access: SUPERVISORS,
        kind: Kind::Events,
        nav: None,
        handler: |m| on(m, events),
    },
    Route {
        method: Method::POST,
        path: "/live/alerts/{id}/ack",
        access: SUPERVISORS,
        kind: Kind::Api,
        nav: None,
        handler: |m| on(m, acknowledge),
    },
    Route {
        method: Method::GET,
        path: "/live/clips/{*path}",
        access: SUPERVISORS,
        kind: Kind::Clip,
        nav: None,
        handler: |m| on(m, clip),
    },
];

/// How often the record is read for new alerts and acknowledgements.
const POLL: Duration = Duration::from_secs(1);
/// Alerts read per query (the first read of a busy day takes several).
const PAGE: i64 = 500;

/// Today in the box's time zone, as alerts carry it.
fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

/// `GET /live`: the frame; the cards and alerts arrive over `/live/events`.
async fn page(State(app): State<App>, viewer: Viewer) -> Result<Response, Error> {
    audit(&app, &viewer, "live_view", Some(&today()), None).await?;
    // The configured windows, so their cards show before anything happens (as JSON data: a
    // `type="application/json"` block is never run, and `<` is escaped so no label can close it).
    let windows: Vec<serde_json::Value> = app
        .config()
        .window
        .iter()
        .map(|w| serde_json::json!({ "id": w.id, "label": w.label.clone().unwrap_or_else(|| w.id.clone()) }))
        .collect();
    let json = serde_json::to_string(&windows)
        .unwrap_or_else(|_| "[]".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let body = format!(
        r#"<div class="live-head"><span>{day} · 今日告警</span><span id="conn" class="connecting" role="status"><span class="dot"></span><span id="conn-text">连接中…</span></span></div>
<h2>窗口</h2>
<section id="windows" aria-live="polite"></section>
<h2>告警 <span id="alert-count" class="field"></span></h2>
<p id="no-alerts" class="empty">今天暂无告警</p>
<ol id="alerts"></ol>
<script id="live-windows" type="application/json">{json}</script>"#,
        day = escape(&today()),
    );
    Ok(layout::page_with(&viewer, "实时告警", &["live.css", "live.js"], &body).into_response())
}

/// An alert as the page gets it: the stored row and the character span of the hit (pages index
/// characters, the record bytes).
#[derive(Debug, serde::Serialize)]
struct PageAlert<'a> {
    #[serde(flatten)]
    alert: &'a StoredAlert,
    char_span: [usize; 2],
}

fn alert_event(a: &StoredAlert) -> Option<SseEvent> {
    let text = &a.alert.text;
    let [s, e] = a.alert.span;
    let (s, e) = (usize::try_from(s).ok()?, usize::try_from(e).ok()?);
    let char_span =
        if s <= e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e) {
            let start = text[..s].chars().count();
            [start, start + text[s..e].chars().count()]
        } else {
            [0, 0]
        };
    let json = serde_json::to_string(&PageAlert {
        alert: a,
        char_span,
    })
    .ok()?;
    Some(SseEvent::default().event("alert").data(json))
}

fn ack_event(a: &StoredAlert) -> Option<SseEvent> {
    let ack = a.acknowledgement.as_ref()?;
    let json = serde_json::json!({ "id": a.id, "by": ack.by, "at": ack.at, "note": ack.note });
    Some(SseEvent::default().event("ack").data(json.to_string()))
}

/// `GET /live/events`: today's alerts, then every new one and every acknowledgement, read from
/// the record each second; the run's window status and scores when the desk runs inside it.
async fn events(State(app): State<App>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(256);
    if let Some(feed) = app.feed() {
        let (replay, mut live) = feed.subscribe();
        let tx = tx.clone();
        tokio::spawn(async move {
            for e in replay {
                if let Some(ev) = feed_event(&e) {
                    if tx.send(Ok(ev)).await.is_err() {
                        return;
                    }
                }
            }
            loop {
                let ev = match live.recv().await {
                    Ok(m) => match m.kind {
                        "window" | "score" => SseEvent::default().event(m.kind).data(&m.json),
                        _ => continue,
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        SseEvent::default().comment(format!("skipped {n} events"))
                    }
                    Err(_) => return,
                };
                if tx.send(Ok(ev)).await.is_err() {
                    return;
                }
            }
        });
    }
    tokio::spawn(poll(app, tx));
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn feed_event(e: &crate::sink::Event) -> Option<SseEvent> {
    let m = crate::serve::Message::new(e).ok()?;
    matches!(m.kind, "window" | "score").then(|| SseEvent::default().event(m.kind).data(m.json))
}

/// Reads the record each second until the page goes away.
async fn poll(app: App, tx: mpsc::Sender<Result<SseEvent, Infallible>>) {
    let send = |ev: SseEvent| {
        let tx = tx.clone();
        async move { tx.send(Ok(ev)).await.is_ok() }
    };
    if !send(
        SseEvent::default()
            .retry(Duration::from_secs(2))
            .comment("courtesy"),
    )
    .await
    {
        return;
    }
    let mut day = today();
    let mut last = 0i64;
    // Acknowledgements already shown: (alert, when).
    let mut acked: HashSet<(i64, String)> = HashSet::new();
    let mut since = crate::sink::event::now_rfc3339();
    let mut failing = false;
    loop {
        if today() != day {
            // Midnight: the page starts the new day afresh.
            day = today();
            last = 0;
            acked.clear();
            if !send(SseEvent::default().event("day").data(day.clone())).await {
                return;
            }
        }
        let (d, s, after) = (day.clone(), since.clone(), last);
        // Taken before the read: an acknowledgement given while reading shows next time.
        let next_since = shifted_now(-2);
        let read = app
            .db(move |store| {
                let mut new = Vec::new();
                loop {
                    let page = store.alerts_since(
                        &d,
                        new.last().map_or(after, |a: &StoredAlert| a.id),
                        PAGE,
                    )?;
                    let more = page.len() as i64 == PAGE;
                    new.extend(page);
                    if !more {
                        break;
                    }
                }
                let acks = store.alerts_acknowledged_since(&d, &s)?;
                Ok((new, acks))
            })
            .await;
        match read {
            Ok((new, acks)) => {
                if failing {
                    failing = false;
                    if !send(SseEvent::default().event("record").data("ok")).await {
                        return;
                    }
                }
                for a in &new {
                    last = a.id;
                    if let Some(ack) = &a.acknowledgement {
                        acked.insert((a.id, ack.at.clone()));
                    }
                    if let Some(ev) = alert_event(a) {
                        if !send(ev).await {
                            return;
                        }
                    }
                }
                for a in &acks {
                    let Some(ack) = &a.acknowledgement else {
                        continue;
                    };
                    if a.id <= last && acked.insert((a.id, ack.at.clone())) {
                        if let Some(ev) = ack_event(a) {
                            if !send(ev).await {
                                return;
                            }
                        }
                    }
                }
                since = next_since;
            }
            Err(e) => {
                // The record is down: say so once on the page (and on stderr), keep trying.
                if !failing {
                    failing = true;
                    eprintln!("warning: desk: live view: {e}");
                    if !send(SseEvent::default().event("record").data("down")).await {
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(POLL).await;
        if tx.is_closed() {
            return;
        }
    }
}

/// Now plus `seconds`, as the record writes times.
fn shifted_now(seconds: i64) -> String {
    crate::sink::event::rfc3339(chrono::Local::now() + chrono::Duration::seconds(seconds))
}

#[derive(Debug, Default, serde::Deserialize)]
struct AckForm {
    note: Option<String>,
}

/// `POST /live/alerts/{id}/ack` (JSON `{"note": …}`, CSRF header): records who acknowledged it
/// and when; the first acknowledgement stands.
async fn acknowledge(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Option<Json<AckForm>>,
) -> Response {
    let json_error = |status: StatusCode, message: &str| {
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    };
    let Ok(id) = id.parse::<i64>() else {
        return json_error(StatusCode::BAD_REQUEST, "告警编号无效");
    };
    let note: Option<String> = body
        .and_then(|Json(f)| f.note)
        .map(|n| n.trim().chars().take(500).collect());
    let by = viewer.name.clone();
    let n = note.clone();
    let done = match app
        .db(move |s| s.acknowledge_alert(id, &by, n.as_deref()))
        .await
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: desk: {e}");
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "数据库暂时无法写入，请稍后再试",
            );
        }
    };
    let (ack, already) = match done {
        Acknowledged::Done(a) => (a, false),
        Acknowledged::Already(a) => (a, true),
        Acknowledged::NoSuchAlert => return json_error(StatusCode::NOT_FOUND, "没有这条告警"),
    };
    if !already {
        let object = format!("alert {id}");
        if let Err(e) = audit(&app, &viewer, "alert_ack", Some(&object), note.as_deref()).await {
            eprintln!("error: desk: {e}");
        }
    }
    Json(serde_json::json!({
        "id": id, "by": ack.by, "at": ack.at, "note": ack.note, "already": already
    }))
    .into_response()
}

/// `GET /live/clips/<path>`: an alert's audio from the live clip folder (`[live] clips`) only.
async fn clip(State(app): State<App>, Path(rel): Path<String>, headers: HeaderMap) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    crate::serve::clips::respond(app.config().live.clips.clone(), rel, range).await
}
