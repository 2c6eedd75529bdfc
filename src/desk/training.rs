//! Trainers' training sets (`/training`): playlists of confirmed clips per staff member, built
//! from the hits judged 属实, each with the civil wording to say instead (the lexicon's, editable),
//! clips played in place, printed as a one-page sheet. Every change and print is audited.

use std::collections::HashSet;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::on;
use axum::Form;

use super::auth::{audit, Error, Viewer};
use super::html::{clip_player, escape, percent};
use super::routes::{Access, Kind, Role, Route};
use super::{layout, App};
use crate::report::html::marked;
use crate::store::NewPlaylistItem;
use crate::training::{self, Candidate, SheetItem};

const TRAINERS: Access = Access::Roles(&[Role::Trainer]);

pub const ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: "/training",
        access: TRAINERS,
        kind: Kind::Page,
        nav: Some("培训"),
        handler: |m| on(m, lists),
    },
    Route {
        method: Method::POST,
        path: "/training",
        access: TRAINERS,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, create),
    },
    Route {
        method: Method::GET,
        path: "/training/{id}",
        access: TRAINERS,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, list_page),
    },
    Route {
        method: Method::POST,
        path: "/training/{id}/add",
        access: TRAINERS,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, add),
    },
    Route {
        method: Method::POST,
        path: "/training/{id}/remove",
        access: TRAINERS,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, remove),
    },
    Route {
        method: Method::POST,
        path: "/training/{id}/instead",
        access: TRAINERS,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, set_instead),
    },
    Route {
        method: Method::GET,
        path: "/training/{id}/sheet",
        access: TRAINERS,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, sheet),
    },
];

/// Candidates come from this many days up to the newest scored day, unless asked otherwise.
const CANDIDATE_DAYS: i64 = 90;

fn playlist_id(id: &str) -> Result<i64, Error> {
    id.parse().map_err(|_| Error::NotFound)
}

/// `GET /training`: the playlists and a form for a new one (for a staff member on the roster).
async fn lists(State(app): State<App>, viewer: Viewer) -> Result<Response, Error> {
    let (lists, roster) = app.db(|s| Ok((s.playlists()?, s.roster()?))).await?;
    let csrf = layout::csrf_field(&viewer);
    let mut staff: Vec<(String, String)> =
        roster.into_iter().map(|e| (e.staff_id, e.name)).collect();
    staff.sort();
    staff.dedup_by(|a, b| a.0 == b.0);
    let options: String = staff
        .iter()
        .map(|(id, name)| {
            format!(
                "<option value=\"{}\">{} {}</option>",
                escape(id),
                escape(id),
                escape(name)
            )
        })
        .collect();
    let mut h = String::from(
        "<table class=\"list playlists\"><thead><tr><th>清单</th><th>人员</th><th>条目</th><th>建立人</th>\
         <th>建立时间</th><th></th></tr></thead><tbody>",
    );
    for l in &lists {
        let _ = write!(
            h,
            "<tr><td><a href=\"/training/{id}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><a href=\"/training/{id}/sheet\" target=\"_blank\">打印培训单</a></td></tr>",
            escape(&l.name),
            escape(l.staff_id.as_deref().unwrap_or("全体")),
            l.items,
            escape(&l.created_by),
            escape(l.created_at.get(..16).unwrap_or(&l.created_at).replace('T', " ").as_str()),
            id = l.id,
        );
    }
    if lists.is_empty() {
        h.push_str("<tr><td colspan=\"6\" class=\"notice\">还没有培训清单。</td></tr>");
    }
    let _ = write!(
        h,
        r#"</tbody></table>
<h2>新建培训清单</h2>
<form class="stack" method="post" action="/training">{csrf}
<label>人员 <select name="staff_id"><option value="">全体人员</option>{options}</select></label>
<label>名称 <input name="name" required maxlength="80" placeholder="例如：张三 十一月"></label>
<button type="submit">新建</button>
</form>"#
    );
    Ok(layout::page_with(&viewer, "培训清单", &["training.css"], &h).into_response())
}

#[derive(Debug, serde::Deserialize)]
struct NewList {
    name: String,
    staff_id: Option<String>,
}

/// `POST /training`: a new playlist; on to it.
async fn create(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<NewList>,
) -> Result<Response, Error> {
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(Error::BadRequest(
            "请给清单起一个 1 到 80 个字的名称。".into(),
        ));
    }
    let staff = form.staff_id.filter(|s| !s.trim().is_empty());
    let (n, st, by) = (name.clone(), staff.clone(), viewer.name.clone());
    let id = app
        .db(move |s| s.create_playlist(&n, st.as_deref(), &by))
        .await?;
    audit(
        &app,
        &viewer,
        "playlist_create",
        Some(&format!("playlist {id}")),
        Some(&format!("{name} {}", staff.as_deref().unwrap_or("全体"))),
    )
    .await?;
    Ok(Redirect::to(&format!("/training/{id}")).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
struct Days {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /training/{id}`: the list with its clips, then the confirmed hits that may join it.
async fn list_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(days): Query<Days>,
) -> Result<Response, Error> {
    let id = playlist_id(&id)?;
    let Some(list) = app.db(move |s| s.playlist(id)).await? else {
        return Err(Error::NotFound);
    };
    let items = app.db(move |s| training::sheet_items(s, id)).await?;
    let p = super::reports::period_or(
        &app,
        days.from.as_deref(),
        days.to.as_deref(),
        CANDIDATE_DAYS,
    )
    .await?;
    let lexicon = app
        .config()
        .lexicon()
        .map_err(|e| Error::BadRequest(e.to_string()))?;
    let report = app.db(move |s| crate::report::query(s, p, None)).await?;
    let candidates = training::candidates(&report, &lexicon, list.staff_id.as_deref());
    let on_list: HashSet<&str> = items.iter().map(|i| i.item.as_str()).collect();
    let csrf = layout::csrf_field(&viewer);

    let who = list.staff_id.as_deref().unwrap_or("全体人员");
    let mut h = format!(
        "<p class=\"list-head\"><span>人员：<strong>{}</strong></span><span>共 {} 条</span>\
         <a class=\"print\" href=\"/training/{id}/sheet\" target=\"_blank\">打印培训单</a>\
         <a href=\"/training\">全部清单</a></p>",
        escape(who),
        items.len()
    );
    h.push_str(
        "<table class=\"list items\"><thead><tr><th>#</th><th>时间 · 窗口</th><th>当时所说</th><th>播放</th>\
         <th>应当这样说</th><th></th></tr></thead><tbody>",
    );
    for (n, it) in items.iter().enumerate() {
        item_row(&mut h, n + 1, it, id, &csrf);
    }
    if items.is_empty() {
        h.push_str("<tr><td colspan=\"6\" class=\"notice\">清单还是空的：从下面的已核实片段中加入。</td></tr>");
    }
    h.push_str("</tbody></table>");

    let _ = write!(
        h,
        r#"<h2>可加入的已核实片段</h2>
<form class="period" method="get" action="/training/{id}">
<label>开始 <input type="date" name="from" value="{from}"></label>
<label>结束 <input type="date" name="to" value="{to}"></label>
<button type="submit">查找</button>
<span class="notice">审核结论为“属实”的禁忌用语{whose}，共 {n} 条。</span>
</form>
<table class="list candidates"><thead><tr><th>时间 · 窗口</th><th>人员</th><th>当时所说</th><th>播放</th><th>应当这样说</th><th></th></tr></thead><tbody>"#,
        from = report.from,
        to = report.to,
        whose = list
            .staff_id
            .as_deref()
            .map(|s| format!("（{}）", escape(s)))
            .unwrap_or_default(),
        n = candidates.len(),
    );
    for c in &candidates {
        candidate_row(&mut h, c, id, &csrf, on_list.contains(c.hit.item.as_str()));
    }
    if candidates.is_empty() {
        h.push_str("<tr><td colspan=\"6\" class=\"notice\">这段时间没有已核实（属实）的禁忌用语。</td></tr>");
    }
    h.push_str("</tbody></table>");
    Ok(layout::page_with(
        &viewer,
        &format!("培训清单 · {}", list.name),
        &["training.css"],
        &h,
    )
    .into_response())
}

fn when(clock: Option<&str>, day: Option<&str>, window: Option<&str>) -> String {
    let t = clock
        .map(|t| t.get(..16).unwrap_or(t).replace('T', " "))
        .or(day.map(str::to_string))
        .unwrap_or_default();
    format!("{}<br>{}", escape(&t), escape(window.unwrap_or("")))
}

fn item_row(h: &mut String, n: usize, it: &SheetItem, id: i64, csrf: &str) {
    let item = escape(&it.item);
    let _ = write!(
        h,
        r#"<tr class="item" data-item="{item}"><td>{n}</td><td class="nowrap">{}</td><td><span class="phrase">{}</span> {}</td><td>{}</td>
<td><form class="inline" method="post" action="/training/{id}/instead">{csrf}<input type="hidden" name="item" value="{item}"><input name="instead" value="{}" maxlength="200" aria-label="应当这样说"><button type="submit">保存</button></form></td>
<td><form class="inline" method="post" action="/training/{id}/remove">{csrf}<input type="hidden" name="item" value="{item}"><button type="submit" class="secondary">移除</button></form></td></tr>"#,
        when(
            it.clock_time.as_deref(),
            it.day.as_deref(),
            it.window.as_deref()
        ),
        escape(&it.phrase),
        marked(it.text.as_deref(), it.span, &it.matched),
        clip_player(it.clip.as_deref()),
        escape(it.instead.as_deref().unwrap_or("")),
    );
}

fn candidate_row(h: &mut String, c: &Candidate, id: i64, csrf: &str, on_list: bool) {
    let hit = &c.hit;
    let action = if on_list {
        "<span class=\"notice\">已在清单中</span>".to_string()
    } else {
        format!(
            r#"<form class="inline add" method="post" action="/training/{id}/add">{csrf}<input type="hidden" name="item" value="{}"><input type="hidden" name="utterance_id" value="{}"><input type="hidden" name="phrase" value="{}"><input name="instead" value="{}" maxlength="200" aria-label="应当这样说"><button type="submit">加入</button></form>"#,
            escape(&hit.item),
            hit.utterance_id,
            escape(&hit.phrase),
            escape(c.instead.as_deref().unwrap_or("")),
        )
    };
    let _ = write!(
        h,
        "<tr class=\"candidate{}\" data-item=\"{}\"><td class=\"nowrap\">{}</td><td>{}</td><td><span class=\"phrase\">{}</span> {}</td><td>{}</td><td colspan=\"2\">{action}</td></tr>",
        if on_list { " on-list" } else { "" },
        escape(&hit.item),
        when(hit.clock_time.as_deref(), Some(&hit.day), Some(&hit.window)),
        escape(
            &[hit.staff_id.as_deref(), hit.staff_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        ),
        escape(&hit.phrase),
        marked(hit.text.as_deref(), hit.span, &hit.matched),
        clip_player(hit.clip.as_deref()),
    );
}

#[derive(Debug, serde::Deserialize)]
struct AddForm {
    item: String,
    utterance_id: i64,
    phrase: String,
    instead: Option<String>,
}

/// `POST /training/{id}/add`: one confirmed hit onto the list.
async fn add(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<AddForm>,
) -> Result<Response, Error> {
    let id = playlist_id(&id)?;
    // Only a hit judged 属实 joins a training set: the item must name this utterance and phrase.
    let key = crate::store::ItemKey::Hit {
        utterance_id: form.utterance_id,
        phrase: form.phrase.clone(),
    }
    .to_string();
    if key != form.item {
        return Err(Error::BadRequest("条目与片段不符。".into()));
    }
    let item = crate::store::ItemKey::parse(&form.item).map_err(Error::BadRequest)?;
    let confirmed = app
        .db(move |s| {
            Ok(s.verdict_history(&item)?
                .last()
                .is_some_and(|v| v.verdict.as_str() == training::CONFIRMED))
        })
        .await?;
    if !confirmed {
        return Err(Error::BadRequest(
            "只有审核为“属实”的片段才能加入培训清单。".into(),
        ));
    }
    let new = NewPlaylistItem {
        item: form.item.clone(),
        utterance_id: Some(form.utterance_id),
        phrase: Some(form.phrase.clone()),
        instead: form.instead.clone(),
    };
    let by = viewer.name.clone();
    let added = app.db(move |s| s.add_to_playlist(id, &new, &by)).await?;
    if added {
        audit(
            &app,
            &viewer,
            "playlist_add",
            Some(&format!("playlist {id}")),
            Some(&form.item),
        )
        .await?;
    }
    Ok(back(id))
}

#[derive(Debug, serde::Deserialize)]
struct ItemForm {
    item: String,
    instead: Option<String>,
}

/// `POST /training/{id}/remove`.
async fn remove(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ItemForm>,
) -> Result<Response, Error> {
    let id = playlist_id(&id)?;
    let item = form.item.clone();
    if app.db(move |s| s.remove_from_playlist(id, &item)).await? {
        audit(
            &app,
            &viewer,
            "playlist_remove",
            Some(&format!("playlist {id}")),
            Some(&form.item),
        )
        .await?;
    }
    Ok(back(id))
}

/// `POST /training/{id}/instead`: the trainer's own wording for one item.
async fn set_instead(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<ItemForm>,
) -> Result<Response, Error> {
    let id = playlist_id(&id)?;
    let instead: String = form.instead.unwrap_or_default().chars().take(200).collect();
    let (item, text) = (form.item.clone(), instead.clone());
    if !app
        .db(move |s| s.set_playlist_instead(id, &item, &text))
        .await?
    {
        return Err(Error::NotFound);
    }
    audit(
        &app,
        &viewer,
        "playlist_instead",
        Some(&format!("playlist {id} {}", form.item)),
        Some(&instead),
    )
    .await?;
    Ok(back(id))
}

fn back(id: i64) -> Response {
    Redirect::to(&format!("/training/{}", percent(&id.to_string()))).into_response()
}

/// `GET /training/{id}/sheet`: the printable one-page sheet.
async fn sheet(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let id = playlist_id(&id)?;
    let Some(list) = app.db(move |s| s.playlist(id)).await? else {
        return Err(Error::NotFound);
    };
    let staff = list.staff_id.clone();
    let (items, name) = app
        .db(move |s| {
            let name = match &staff {
                Some(st) => training::staff_name(s, st)?,
                None => None,
            };
            Ok((training::sheet_items(s, id)?, name))
        })
        .await?;
    audit(
        &app,
        &viewer,
        "playlist_print",
        Some(&format!("playlist {id}")),
        None,
    )
    .await?;
    let printed = chrono::Local::now().format("%Y-%m-%d").to_string();
    Ok(Html(training::sheet_html(
        &list,
        name.as_deref(),
        &items,
        &printed,
    ))
    .into_response())
}
