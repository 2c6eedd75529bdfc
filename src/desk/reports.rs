//! The quality office's reports (`/reports`): windows and staff ranked over a period, weekly or
//! monthly trends as charts, banned hits per regulation clause; every count links to the hits
//! behind it (`/reports/evidence`), and the period downloads as CSV or XLSX. Views and exports
//! are audited.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use chrono::NaiveDate;

use super::auth::{audit, Error, Viewer};
use super::html::{clip_player, escape, percent};
use super::routes::{Access, Kind, Role, Route};
use super::{layout, App};
use crate::report::chart::{self, LineChart, Series};
use crate::report::drill::{self, Drill};
use crate::report::html::marked;
use crate::report::trend::{self, Granularity, Trend};
use crate::report::{self, csv::Table, Period, Report, Subject};

const OFFICE: Access = Access::Roles(&[Role::Office]);

pub const ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: "/reports",
        access: OFFICE,
        kind: Kind::Page,
        nav: Some("报表"),
        handler: |m| on(m, page),
    },
    Route {
        method: Method::GET,
        path: "/reports/evidence",
        access: OFFICE,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, evidence),
    },
    Route {
        method: Method::GET,
        path: "/reports/export.xlsx",
        access: OFFICE,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, export_xlsx),
    },
    Route {
        method: Method::GET,
        path: "/reports/export.csv",
        access: OFFICE,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, export_csv),
    },
];

/// The longest period one page reads.
const MAX_DAYS: i64 = 366;
/// The default period: four weeks up to the newest scored day.
const DEFAULT_DAYS: i64 = 28;

/// `?from=&to=&trend=` as the forms send them.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    trend: Option<String>,
    table: Option<String>,
    by: Option<String>,
    value: Option<String>,
}

fn day(s: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        Error::BadRequest(format!(
            "“{s}”不是日期，请写成 YYYY-MM-DD，例如 2026-11-30。"
        ))
    })
}

/// The period asked for, or four weeks up to the newest scored day (today when none).
async fn period(app: &App, q: &PeriodQuery) -> Result<Period, Error> {
    period_or(app, q.from.as_deref(), q.to.as_deref(), DEFAULT_DAYS).await
}

/// The days `from..=to` as a form gave them, or the last `days` up to the newest scored day.
pub(super) async fn period_or(
    app: &App,
    from: Option<&str>,
    to: Option<&str>,
    days: i64,
) -> Result<Period, Error> {
    let latest = app
        .db(|s| {
            let rows = s.query("SELECT MAX(day) AS day FROM window_scores", &[])?;
            Ok(rows
                .first()
                .and_then(|r| r.opt_string("day").ok().flatten()))
        })
        .await?;
    let to = match to.filter(|s| !s.is_empty()) {
        Some(t) => day(t)?,
        None => latest
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or_else(|| chrono::Local::now().date_naive()),
    };
    let from = match from.filter(|s| !s.is_empty()) {
        Some(f) => day(f)?,
        None => to - chrono::Duration::days(days - 1),
    };
    let p = Period::range(from, to)
        .map_err(|_| Error::BadRequest("结束日期早于开始日期，请对调。".into()))?;
    if (to - from).num_days() >= MAX_DAYS {
        return Err(Error::BadRequest(format!(
            "一次最多查看 {MAX_DAYS} 天，请缩短期间。"
        )));
    }
    Ok(p)
}

fn granularity(q: &PeriodQuery) -> Result<Granularity, Error> {
    match q.trend.as_deref() {
        None | Some("") => Ok(Granularity::Week),
        Some(t) => t
            .parse()
            .map_err(|_| Error::BadRequest("趋势只能按周或按月。".into())),
    }
}

async fn load(app: &App, p: Period) -> Result<Report, Error> {
    Ok(app.db(move |s| report::query(s, p, None)).await?)
}

fn range(p: &Period) -> String {
    format!("{}..{}", p.from, p.to)
}

/// A link to the evidence of a count, or the bare number when it is zero.
fn count_link(n: i64, by: &str, value: &str, from: &str, to: &str) -> String {
    if n == 0 {
        return "0".into();
    }
    format!(
        "<a class=\"count\" href=\"/reports/evidence?by={by}&amp;value={}&amp;from={from}&amp;to={to}\">{n}</a>",
        percent(value)
    )
}

fn score(s: Option<f64>) -> String {
    s.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into())
}

/// `GET /reports`.
async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, Error> {
    let p = period(&app, &q).await?;
    let g = granularity(&q)?;
    let r = load(&app, p).await?;
    audit(
        &app,
        &viewer,
        "report_view",
        Some(&range(&p)),
        Some(g.name()),
    )
    .await?;
    let (from, to) = (r.from.as_str(), r.to.as_str());
    let t = trend::trend(&r, g);
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<form class="period" method="get" action="/reports">
<label>开始 <input type="date" name="from" value="{from}" required></label>
<label>结束 <input type="date" name="to" value="{to}" required></label>
<label>趋势 <select name="trend"><option value="week"{w}>按周</option><option value="month"{m}>按月</option></select></label>
<button type="submit">查看</button>
<span class="downloads">下载：<a href="/reports/export.xlsx?from={from}&amp;to={to}" download>Excel（全部表格）</a>
<a href="/reports/export.csv?table=windows&amp;from={from}&amp;to={to}" download>窗口 CSV</a>
<a href="/reports/export.csv?table=staff&amp;from={from}&amp;to={to}" download>人员 CSV</a>
<a href="/reports/export.csv?table=hits&amp;from={from}&amp;to={to}" download>禁忌用语 CSV</a>
<a href="/reports/export.csv?table=clauses&amp;from={from}&amp;to={to}" download>条款 CSV</a></span>
</form>
<p class="notice">{rule} 点击任一次数可查看其背后的每一条记录。</p>"#,
        w = if g == Granularity::Week {
            " selected"
        } else {
            ""
        },
        m = if g == Granularity::Month {
            " selected"
        } else {
            ""
        },
        rule = escape(&r.ranking),
    );
    ranking_tables(&mut h, &r);
    trend_section(&mut h, &r, &t);
    clause_section(&mut h, &r);
    Ok(layout::page_with(
        &viewer,
        &format!("报表 · {from} 至 {to}"),
        &["reports.css"],
        &h,
    )
    .into_response())
}

fn ranking_tables(h: &mut String, r: &Report) {
    let (from, to) = (r.from.as_str(), r.to.as_str());
    h.push_str(
        "<h2 id=\"windows\">窗口排名</h2><table class=\"list ranking\"><thead><tr><th>名次</th><th>窗口</th>\
         <th>得分（日均）</th><th>审核后得分</th><th>禁忌用语</th><th>审核后禁忌用语</th><th>服务次数</th>\
         <th>来有迎声</th><th>走有送声</th></tr></thead><tbody>",
    );
    for w in &r.windows {
        let t = &w.totals;
        let _ = write!(
            h,
            "<tr data-window=\"{id}\"><td>{}</td><td>{id}</td><td>{}</td><td>{}</td><td class=\"banned\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            w.rank.map(|r| r.to_string()).unwrap_or_default(),
            score(w.score),
            score(w.reviewed_score),
            count_link(t.banned_hits, "window", &w.window, from, to),
            t.reviewed_banned_hits,
            count_link(t.sessions, "window", &w.window, from, to),
            t.greeting_sessions,
            t.farewell_sessions,
            id = escape(&w.window),
        );
    }
    h.push_str("</tbody></table>");
    h.push_str(
        "<h2 id=\"staff\">人员排名</h2><table class=\"list ranking\"><thead><tr><th>名次</th><th>工号</th><th>姓名</th>\
         <th>窗口</th><th>得分（日均）</th><th>审核后得分</th><th>禁忌用语</th><th>审核后禁忌用语</th><th>服务次数</th></tr></thead><tbody>",
    );
    if r.staff.is_empty() {
        h.push_str("<tr><td colspan=\"9\" class=\"notice\">本期间没有排班表上的人员（导入排班表后按人员计分）。</td></tr>");
    }
    for s in &r.staff {
        let t = &s.totals;
        let _ = write!(
            h,
            "<tr data-staff=\"{id}\"><td>{}</td><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"banned\">{}</td><td>{}</td><td>{}</td></tr>",
            s.rank.map(|r| r.to_string()).unwrap_or_default(),
            escape(s.name.as_deref().unwrap_or("")),
            escape(&s.windows.join("、")),
            score(s.score),
            score(s.reviewed_score),
            count_link(t.banned_hits, "staff", &s.staff_id, from, to),
            t.reviewed_banned_hits,
            count_link(t.sessions, "staff", &s.staff_id, from, to),
            id = escape(&s.staff_id),
        );
    }
    h.push_str("</tbody></table>");
}

/// The chart of one value per bucket for one subject's rows.
fn trend_chart(t: &Trend, subject: Subject, caption: &str, y_title: &str, scores: bool) -> String {
    let x: Vec<(String, String)> = t
        .buckets
        .iter()
        .map(|b| (b.label.clone(), format!("{}（{}）", b.key, b.label)))
        .collect();
    let series: Vec<Series> = t
        .series(subject, |row| {
            if scores {
                row.score
            } else {
                Some(row.banned_hits as f64)
            }
        })
        .into_iter()
        .map(|(id, name, points)| Series {
            name: match name {
                Some(n) => format!("{id} {n}"),
                None => id,
            },
            points,
        })
        .collect();
    chart::line(&LineChart {
        caption,
        x: &x,
        x_title: t.granularity.label(),
        y_title,
        y_max: scores.then_some(100.0),
        decimals: if scores { 1 } else { 0 },
        missing: if scores { "无得分" } else { "无数据" },
        series: &series,
    })
}

fn trend_section(h: &mut String, r: &Report, t: &Trend) {
    let g = t.granularity.label();
    let _ = write!(h, "<h2 id=\"trend\">趋势（按{g}）</h2>");
    if t.rows.is_empty() {
        h.push_str("<p class=\"notice\">本期间没有评分。</p>");
        return;
    }
    let _ = write!(
        h,
        "<div class=\"charts\"><figure>{}<figcaption>各窗口每{g}得分（日均）</figcaption></figure>\
         <figure>{}<figcaption>各窗口每{g}禁忌用语次数</figcaption></figure></div>",
        trend_chart(
            t,
            Subject::Window,
            &format!("各窗口每{g}得分"),
            "得分",
            true
        ),
        trend_chart(
            t,
            Subject::Window,
            &format!("各窗口每{g}禁忌用语次数"),
            "禁忌用语（次）",
            false
        ),
    );
    if !r.staff.is_empty() {
        let _ = write!(
            h,
            "<div class=\"charts\"><figure>{}<figcaption>各人员每{g}得分（日均）</figcaption></figure></div>",
            trend_chart(t, Subject::Staff, &format!("各人员每{g}得分"), "得分", true),
        );
    }
    // The numbers behind the charts: each bucket's banned count links to its hits.
    for (subject, title, by) in [
        (Subject::Window, "窗口", "window"),
        (Subject::Staff, "人员", "staff"),
    ] {
        let rows: Vec<_> = t.rows.iter().filter(|x| x.subject == subject).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(h, "<table class=\"list trend\"><thead><tr><th>{title}</th>");
        for b in &t.buckets {
            let _ = write!(h, "<th>{}</th>", escape(&b.label));
        }
        h.push_str("</tr></thead><tbody>");
        for (id, name, _) in t.series(subject, |x| x.score) {
            let label = match &name {
                Some(n) => format!("{id} {n}"),
                None => id.clone(),
            };
            let _ = write!(h, "<tr><td>{}</td>", escape(&label));
            for b in &t.buckets {
                match rows.iter().find(|x| x.id == id && x.bucket == b.key) {
                    Some(x) => {
                        let _ = write!(
                            h,
                            "<td>{} · 禁忌 {}</td>",
                            score(x.score),
                            count_link(x.banned_hits, by, &id, &b.from, &b.to)
                        );
                    }
                    None => h.push_str("<td></td>"),
                }
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>");
    }
}

fn clause_section(h: &mut String, r: &Report) {
    let (from, to) = (r.from.as_str(), r.to.as_str());
    h.push_str("<h2 id=\"clauses\">按条款统计</h2>");
    let rows = drill::clauses(r);
    if rows.is_empty() {
        h.push_str("<p class=\"notice\">本期间没有禁忌用语。</p>");
        return;
    }
    h.push_str(
        "<table class=\"list clauses\"><thead><tr><th>条款</th><th>禁忌用语次数</th><th>窗口数</th><th>人员数</th>\
         <th>用语</th></tr></thead><tbody>",
    );
    for c in &rows {
        let phrases: Vec<String> = c
            .phrases
            .iter()
            .map(|p| {
                format!(
                    "{}（{}）",
                    escape(&p.phrase),
                    count_link(p.hits as i64, "phrase", &p.phrase, from, to)
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"banned\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.clause),
            count_link(c.hits as i64, "clause", &c.clause, from, to),
            c.windows,
            c.staff,
            phrases.join("、")
        );
    }
    h.push_str("</tbody></table>");
}

/// `GET /reports/evidence?by=&value=&from=&to=`: the hits (and sessions) behind one count.
async fn evidence(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, Error> {
    let p = period(&app, &q).await?;
    let d = Drill::parse(
        q.by.as_deref().unwrap_or(""),
        q.value.as_deref().unwrap_or(""),
    )
    .map_err(|_| Error::BadRequest("请从报表上的数字进入。".into()))?;
    let r = load(&app, p).await?;
    audit(
        &app,
        &viewer,
        "evidence_view",
        Some(&d.to_string()),
        Some(&range(&p)),
    )
    .await?;
    let e = drill::evidence(&r, d);
    let mut h = format!(
        "<p><a href=\"/reports?from={}&amp;to={}\">← 返回报表</a> · 共 {} 条禁忌用语{}</p>",
        r.from,
        r.to,
        e.hits.len(),
        if e.sessions.is_empty() {
            String::new()
        } else {
            format!("，{} 次服务", e.sessions.len())
        }
    );
    h.push_str(
        "<table class=\"list evidence\"><thead><tr><th>时间</th><th>窗口</th><th>人员</th><th>用语</th><th>条款</th>\
         <th>原话</th><th>审核</th><th>播放</th></tr></thead><tbody>",
    );
    for hit in &e.hits {
        let when = hit
            .clock_time
            .as_deref()
            .map(|t| t.get(..19).unwrap_or(t).replace('T', " "))
            .unwrap_or_else(|| hit.day.clone());
        let player = clip_player(hit.clip.as_deref());
        let _ = write!(
            h,
            "<tr class=\"hit\"><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td><td class=\"phrase\">{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{player}</td></tr>",
            escape(&when),
            escape(&hit.window),
            escape(
                &[hit.staff_id.as_deref(), hit.staff_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            escape(&hit.phrase),
            escape(&hit.clause),
            marked(hit.text.as_deref(), hit.span, &hit.matched),
            escape(verdict_label(hit.verdict.as_deref())),
        );
    }
    if e.hits.is_empty() {
        h.push_str("<tr><td colspan=\"8\" class=\"notice\">没有禁忌用语。</td></tr>");
    }
    h.push_str("</tbody></table>");
    if !e.sessions.is_empty() {
        h.push_str(
            "<h2>服务环节</h2><table class=\"list sessions\"><thead><tr><th>开始</th><th>窗口</th><th>人员</th>\
             <th>来有迎声</th><th>走有送声</th><th>禁忌用语</th></tr></thead><tbody>",
        );
        for s in &e.sessions {
            let when = s
                .clock_start
                .as_deref()
                .map(|t| t.get(..19).unwrap_or(t).replace('T', " "))
                .unwrap_or_else(|| s.day.clone());
            let tick = |b: bool| if b { "✓" } else { "✗ 缺" };
            let _ = write!(
                h,
                "<tr class=\"session\"><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&when),
                escape(&s.window),
                escape(s.staff_name.as_deref().or(s.staff_id.as_deref()).unwrap_or("")),
                tick(s.greeting),
                tick(s.farewell),
                s.banned
            );
        }
        h.push_str("</tbody></table>");
    }
    let title = format!("证据 · {} · {} 至 {}", e.drill, r.from, r.to);
    Ok(layout::page_with(&viewer, &title, &["reports.css"], &h).into_response())
}

fn verdict_label(v: Option<&str>) -> &'static str {
    match v {
        Some("confirmed") => "属实",
        Some("false_alarm") => "误报",
        Some("citizen") => "群众说的",
        Some("unclear") => "听不清",
        Some(_) => "已审核",
        None => "未审核",
    }
}

fn attachment(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /reports/export.xlsx?from=&to=`: every table of the period, one sheet each.
async fn export_xlsx(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, Error> {
    let p = period(&app, &q).await?;
    let r = load(&app, p).await?;
    let mut bytes = Vec::new();
    report::xlsx::write(&r, &mut bytes)
        .map_err(|e| Error::BadRequest(format!("无法生成 Excel 文件：{e}")))?;
    audit(
        &app,
        &viewer,
        "report_export",
        Some("xlsx"),
        Some(&range(&p)),
    )
    .await?;
    Ok(attachment(
        bytes,
        report::xlsx::CONTENT_TYPE,
        &format!("courtesy-{}_{}.xlsx", r.from, r.to),
    ))
}

/// `GET /reports/export.csv?table=&from=&to=`: one table of the period as CSV for Excel.
async fn export_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, Error> {
    let p = period(&app, &q).await?;
    let table: Table = q
        .table
        .as_deref()
        .unwrap_or("hits")
        .parse()
        .map_err(|_| Error::BadRequest("没有这个表格。".into()))?;
    let r = load(&app, p).await?;
    let mut bytes = Vec::new();
    report::csv::write(&r, table, &mut bytes)
        .map_err(|e| Error::BadRequest(format!("无法生成 CSV 文件：{e}")))?;
    audit(
        &app,
        &viewer,
        "report_export",
        Some(&format!("csv {table}")),
        Some(&range(&p)),
    )
    .await?;
    Ok(attachment(
        bytes,
        "text/csv; charset=utf-8",
        &format!("courtesy-{table}-{}_{}.csv", r.from, r.to),
    ))
}
