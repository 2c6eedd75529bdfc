//! The review at the desk: the trainers' queue page (`/review`, keyboard triage), the JSON API
//! behind it, verdicts, and the office's rule fixes from false alarms — every view and change
//! written to the audit log.
//!
//! The page is rendered once; `review.js` loads the queue from `/api/review/items` and moves
//! through it without reloading: `j`/`k` (or the arrows) next and previous, `1`–`4` the verdicts,
//! `c` the comment. The work itself is [`crate::review`]; this module checks what the browser
//! sent, runs it off the async workers and answers in JSON.

use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use axum::Json;

use super::auth::{audit, Error, Viewer};
use super::html::escape;
use super::routes::{Access, Kind, Role, Route};
use super::{layout, App};
use crate::lexicon::ChangeKind;
use crate::review::{self, Filter, Fix, Reason, ReviewError, Status};
use crate::store::{ItemKey, StoreError, Verdict};

/// Who sees the queue: trainers judge, the office reads it and fixes rules from it.
const REVIEWERS: Access = Access::Roles(&[Role::Trainer, Role::Office]);
const TRAINERS: Access = Access::Roles(&[Role::Trainer]);
const OFFICE: Access = Access::Roles(&[Role::Office]);

pub const ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: "/review",
        access: REVIEWERS,
        kind: Kind::Page,
        nav: Some("审核"),
        handler: |m| on(m, page),
    },
    Route {
        method: Method::GET,
        path: "/api/review/items",
        access: REVIEWERS,
        kind: Kind::Api,
        nav: None,
        handler: |m| on(m, items),
    },
    Route {
        method: Method::GET,
        path: "/api/review/item",
        access: REVIEWERS,
        kind: Kind::Api,
        nav: None,
        handler: |m| on(m, item),
    },
    Route {
        method: Method::POST,
        path: "/api/review/verdict",
        access: TRAINERS,
        kind: Kind::Api,
        nav: None,
        handler: |m| on(m, verdict),
    },
    Route {
        method: Method::POST,
        path: "/api/review/rule",
        access: OFFICE,
        kind: Kind::Api,
        nav: None,
        handler: |m| on(m, rule),
    },
    Route {
        method: Method::POST,
        path: "/api/review/rescore",
        access: OFFICE,
        kind: Kind::Api,
        nav: None,
        handler: |m| on(m, rescore),
    },
];

/// A refused or failed API call: its status and a message for the person (Chinese), as
/// `{"error": …}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        eprintln!("error: desk: {e}");
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "数据库出错，请稍后再试或联系管理员".into(),
        )
    }
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> ApiError {
        match e {
            ReviewError::Store(e) => e.into(),
            ReviewError::Input(m) => ApiError(StatusCode::BAD_REQUEST, m),
            ReviewError::Lexicon(e) => {
                eprintln!("error: desk: {e}");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("词库有误，请联系管理员：{e}"),
                )
            }
        }
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

/// Runs review work on the record off the async workers.
async fn work<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&crate::store::Store) -> Result<T, ReviewError> + Send + 'static,
) -> Result<T, ApiError> {
    app.db(move |s| Ok(f(s))).await?.map_err(ApiError::from)
}

/// The queue's filters as the page's form and the API take them (empty fields mean “any”).
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct QueueQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub window: Option<String>,
    pub staff: Option<String>,
    pub phrase: Option<String>,
    pub status: Option<String>,
    pub reason: Option<String>,
}

fn given(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn day(s: &str) -> Result<chrono::NaiveDate, ApiError> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| bad(format!("“{s}” 不是日期，请写成 YYYY-MM-DD")))
}

impl QueueQuery {
    /// The filter, with the days defaulting to `latest` (the newest scored day).
    fn filter(&self, latest: Option<&str>) -> Result<Filter, ApiError> {
        let to = given(&self.to)
            .or_else(|| given(&self.from))
            .or(latest.map(str::to_string))
            .unwrap_or_else(|| chrono::Local::now().date_naive().to_string());
        let from = given(&self.from).unwrap_or_else(|| to.clone());
        if day(&to)? < day(&from)? {
            return Err(bad(format!("结束日期 {to} 早于开始日期 {from}")));
        }
        let mut f = Filter::days(&from, &to);
        f.window = given(&self.window);
        f.staff_id = given(&self.staff);
        f.phrase = given(&self.phrase);
        if let Some(s) = given(&self.status) {
            f.status = Some(Status::parse(&s).ok_or_else(|| bad(format!("未知的状态 “{s}”")))?);
        }
        if let Some(r) = given(&self.reason) {
            f.reasons = vec![Reason::parse(&r).ok_or_else(|| bad(format!("未知的类型 “{r}”")))?];
        }
        Ok(f)
    }
}

/// `GET /review`: the filters and the two panes; the script fills them.
async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<QueueQuery>,
) -> Result<Response, Error> {
    let latest = app.db(|s| s.latest_scored_day()).await?;
    let filter = match q.filter(latest.as_deref()) {
        Ok(f) => f,
        Err(ApiError(_, m)) => return Err(Error::BadRequest(m)),
    };
    let (from, to) = (filter.from.clone(), filter.to.clone());
    let choices = app.db(move |s| s.review_choices(&from, &to)).await?;
    audit(
        &app,
        &viewer,
        "review_queue",
        Some(&format!("{}..{}", filter.from, filter.to)),
        None,
    )
    .await?;
    let select =
        |name: &str, label: &str, current: &Option<String>, options: &[(String, String)]| {
            let current = given(current).unwrap_or_default();
            let mut html =
                format!("<label>{label}<select name=\"{name}\"><option value=\"\">全部</option>");
            for (value, text) in options {
                html.push_str(&format!(
                    "<option value=\"{}\"{}>{}</option>",
                    escape(value),
                    if *value == current { " selected" } else { "" },
                    escape(text)
                ));
            }
            html.push_str("</select></label>");
            html
        };
    let pairs = |v: &[String]| v.iter().map(|x| (x.clone(), x.clone())).collect::<Vec<_>>();
    let staff: Vec<(String, String)> = choices
        .staff
        .iter()
        .map(|(id, name)| (id.clone(), format!("{id} {name}")))
        .collect();
    let statuses: Vec<(String, String)> = std::iter::once(("unjudged".into(), "未审核".into()))
        .chain(
            Verdict::ALL
                .iter()
                .map(|v| (v.as_str().into(), review::verdict_label(*v).into())),
        )
        .collect();
    let reasons: Vec<(String, String)> = Reason::ALL
        .iter()
        .map(|r| (r.as_str().into(), r.label().into()))
        .collect();
    let judge = viewer.may(TRAINERS);
    let fix = viewer.may(OFFICE);
    let keys = if judge {
        "<kbd>j</kbd>/<kbd>↓</kbd> 下一条 · <kbd>k</kbd>/<kbd>↑</kbd> 上一条 · <kbd>1</kbd> 属实 · \
         <kbd>2</kbd> 误报 · <kbd>3</kbd> 群众说的 · <kbd>4</kbd> 听不清 · <kbd>c</kbd> 写备注\
         （<kbd>Esc</kbd> 返回）· <kbd>空格</kbd> 播放"
    } else {
        "<kbd>j</kbd>/<kbd>↓</kbd> 下一条 · <kbd>k</kbd>/<kbd>↑</kbd> 上一条 · <kbd>空格</kbd> 播放"
    };
    let body = format!(
        r#"<form class="filters" method="get" action="/review">
<label>从<input type="date" name="from" value="{from}"></label>
<label>到<input type="date" name="to" value="{to}"></label>
{window}{staff}{phrase}{status}{reason}
<button type="submit">筛选</button>
</form>
<p class="keys">{keys}</p>
<div id="review" class="review" data-judge="{judge}" data-fix="{fix}">
<section class="queue"><h2 id="count">加载中…</h2><ol id="queue" tabindex="-1"></ol></section>
<section id="item" class="item" aria-live="polite"><p class="notice">加载中…</p></section>
</div>
<p id="status" class="status" role="status"></p>"#,
        from = escape(&filter.from),
        to = escape(&filter.to),
        window = select("window", "窗口", &q.window, &pairs(&choices.windows)),
        staff = select("staff", "人员", &q.staff, &staff),
        phrase = select("phrase", "短语", &q.phrase, &pairs(&choices.phrases)),
        status = select("status", "状态", &q.status, &statuses),
        reason = select("reason", "类型", &q.reason, &reasons),
        judge = judge as u8,
        fix = fix as u8,
    );
    Ok(layout::page_with(&viewer, "审核", &["review.css", "review.js"], &body).into_response())
}

/// `GET /api/review/items`: the queue the filters admit.
async fn items(
    State(app): State<App>,
    Query(q): Query<QueueQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let latest = app.db(|s| s.latest_scored_day()).await?;
    let filter = q.filter(latest.as_deref())?;
    let (from, to) = (filter.from.clone(), filter.to.clone());
    let (items, numbers) = work(&app, move |s| {
        let items = review::queue(s, &filter)?;
        // Each day's window numbers, machine and reviewed, to show beside the items.
        let mut numbers = std::collections::BTreeMap::new();
        for day in s.days(&filter.from, &filter.to)? {
            numbers.insert(day.clone(), s.window_numbers(&day)?);
        }
        Ok((items, numbers))
    })
    .await?;
    Ok(Json(serde_json::json!({
        "from": from,
        "to": to,
        "counts": review::counts(&items),
        "numbers": numbers,
        "items": items,
    })))
}

#[derive(Debug, serde::Deserialize)]
struct KeyQuery {
    key: String,
}

fn key(s: &str) -> Result<ItemKey, ApiError> {
    ItemKey::parse(s).map_err(bad)
}

/// `GET /api/review/item?key=…`: an item's verdict history; the view is audited.
async fn item(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<KeyQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let item = key(&q.key)?;
    let k = item.clone();
    let (place, history) = app
        .db(move |s| Ok((s.locate_item(&k)?, s.verdict_history(&k)?)))
        .await?;
    if place.is_none() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "记录中没有这一条，请刷新队列".into(),
        ));
    }
    audit(&app, &viewer, "review_view", Some(&q.key), None).await?;
    Ok(Json(
        serde_json::json!({ "key": q.key, "history": history }),
    ))
}

#[derive(Debug, serde::Deserialize)]
struct VerdictBody {
    key: String,
    verdict: String,
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /api/review/verdict`: records a verdict and scores its day again.
async fn verdict(
    State(app): State<App>,
    viewer: Viewer,
    Json(body): Json<VerdictBody>,
) -> Result<Json<review::Judged>, ApiError> {
    let item = key(&body.key)?;
    let verdict = Verdict::parse(&body.verdict)
        .ok_or_else(|| bad(format!("未知的结论 “{}”", body.verdict)))?;
    let (name, weights, comment) = (
        viewer.name.clone(),
        app.config().score.clone(),
        body.comment.clone(),
    );
    let judged = work(&app, move |s| {
        review::judge(s, &item, verdict, comment.as_deref(), &name, &weights)
    })
    .await?;
    let detail = match body
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(c) => format!("{}：{c}", verdict.as_str()),
        None => verdict.as_str().to_string(),
    };
    audit(&app, &viewer, "verdict", Some(&body.key), Some(&detail)).await?;
    Ok(Json(judged))
}

#[derive(Debug, serde::Deserialize)]
struct RuleBody {
    key: String,
    /// `exception` or `variant`.
    kind: String,
    text: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/review/rule`: a false alarm into an exception or a variant, checked and recorded
/// (or refused with the reasons).
async fn rule(
    State(app): State<App>,
    viewer: Viewer,
    Json(body): Json<RuleBody>,
) -> Result<Json<review::FixOutcome>, ApiError> {
    let fix = Fix {
        item: key(&body.key)?,
        kind: ChangeKind::parse(&body.kind)
            .ok_or_else(|| bad(format!("未知的修改方式 “{}”", body.kind)))?,
        text: body.text.clone(),
        reason: body.reason.clone(),
        user: viewer.name.clone(),
    };
    let config = app.config().clone();
    let outcome = work(&app, move |s| {
        review::fix_false_alarm(
            s,
            &config.lexicon()?,
            config.matcher,
            &crate::eval::builtin(),
            &fix,
        )
    })
    .await?;
    let detail = match &outcome {
        review::FixOutcome::Accepted { change, .. } => {
            format!("{} “{}” → {}", body.kind, body.text, change.version)
        }
        review::FixOutcome::Refused { reasons } => format!("refused: {}", reasons.join("; ")),
    };
    audit(&app, &viewer, "rule_change", Some(&body.key), Some(&detail)).await?;
    Ok(Json(outcome))
}

#[derive(Debug, serde::Deserialize)]
struct RescoreBody {
    day: String,
}

/// `POST /api/review/rescore`: the rules in force applied to one day (as `courtesy rescore`).
async fn rescore(
    State(app): State<App>,
    viewer: Viewer,
    Json(body): Json<RescoreBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let d = day(&body.day)?;
    let config = app.config().clone();
    let (done, windows) = work(&app, move |s| review::rules::rescore(s, &config, d, d)).await?;
    audit(
        &app,
        &viewer,
        "rescore",
        Some(&body.day),
        Some(&done.lexicon_version),
    )
    .await?;
    Ok(Json(
        serde_json::json!({ "rescored": done, "windows": windows }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_query_defaults_to_the_latest_day_and_checks_what_it_is_given() {
        let f = QueueQuery::default().filter(Some("2026-11-30")).unwrap();
        assert_eq!(
            (f.from.as_str(), f.to.as_str()),
            ("2026-11-30", "2026-11-30")
        );
        assert!(f.status.is_none() && f.reasons.is_empty() && f.window.is_none());
        let q = QueueQuery {
            from: Some("2026-11-01".into()),
            to: Some("2026-11-30".into()),
            window: Some(" W07 ".into()),
            staff: Some(String::new()),
            status: Some("false_alarm".into()),
            reason: Some("no_greeting".into()),
            ..QueueQuery::default()
        };
        let f = q.filter(None).unwrap();
        assert_eq!(f.from, "2026-11-01");
        assert_eq!(f.window.as_deref(), Some("W07"));
        assert_eq!(f.staff_id, None, "an empty field is no filter");
        assert_eq!(f.status, Some(Status::Judged(Verdict::FalseAlarm)));
        assert_eq!(f.reasons, [Reason::NoGreeting]);
        for bad in [
            QueueQuery {
                from: Some("30.11.2026".into()),
                ..QueueQuery::default()
            },
            QueueQuery {
                from: Some("2026-12-01".into()),
                to: Some("2026-11-30".into()),
                ..QueueQuery::default()
            },
            QueueQuery {
                status: Some("maybe".into()),
                ..QueueQuery::default()
            },
        ] {
            let ApiError(status, message) = bad.filter(Some("2026-11-30")).unwrap_err();
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(!message.is_empty());
        }
    }
}
