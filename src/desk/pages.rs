//! The desk's own pages: home (the navigation for the role), the admins' users and audit
//! pages, who is logged in (`/api/me`), the clips, and the page for unknown paths.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::on;
use axum::Form;

use super::auth::{audit, Error, Viewer};
use super::html::{escape, percent};
use super::routes::{self, Access, Kind, Role, Route};
use super::users::{self, UserError};
use super::{layout, App};

const ADMIN: Access = Access::Roles(&[Role::Admin]);

pub const ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: "/",
        access: Access::AnyUser,
        kind: Kind::Page,
        nav: Some("首页"),
        handler: |m| on(m, home),
    },
    Route {
        method: Method::GET,
        path: "/admin/users",
        access: ADMIN,
        kind: Kind::Page,
        nav: Some("用户"),
        handler: |m| on(m, users_page),
    },
    Route {
        method: Method::POST,
        path: "/admin/users",
        access: ADMIN,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, user_add),
    },
    Route {
        method: Method::POST,
        path: "/admin/users/disable",
        access: ADMIN,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, user_disable),
    },
    Route {
        method: Method::POST,
        path: "/admin/users/enable",
        access: ADMIN,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, user_enable),
    },
    Route {
        method: Method::GET,
        path: "/admin/audit",
        access: ADMIN,
        kind: Kind::Page,
        nav: Some("审计日志"),
        handler: |m| on(m, audit_page),
    },
    Route {
        method: Method::GET,
        path: "/api/me",
        access: Access::AnyUser,
        kind: Kind::Api,
        nav: None,
        handler: |m| on(m, me),
    },
    Route {
        method: Method::GET,
        path: "/clips/{*path}",
        access: Access::AnyUser,
        kind: Kind::Clip,
        nav: None,
        handler: |m| on(m, clip),
    },
];

/// `GET /`: who is logged in and the pages this role may open.
async fn home(viewer: Viewer) -> Response {
    let links: String = routes::all()
        .filter(|r| r.method == Method::GET && r.path != "/" && viewer.may(r.access))
        .filter_map(|r| r.nav.map(|label| (r.path, label)))
        .map(|(path, label)| {
            format!(
                "<li><a class=\"tile\" href=\"{}\">{}</a></li>",
                escape(path),
                escape(label)
            )
        })
        .collect();
    let links = if links.is_empty() {
        "<p class=\"notice\">您的角色暂时没有可用的页面。</p>".to_string()
    } else {
        format!("<ul class=\"tiles\">{links}</ul>")
    };
    layout::page(
        &viewer,
        "首页",
        &format!(
            "<p>{}，您好。您的角色是<strong>{}</strong>。</p>\n{links}",
            escape(&viewer.name),
            viewer.role.label()
        ),
    )
    .into_response()
}

/// `GET /api/me`: who is logged in, for a page's script.
async fn me(viewer: Viewer) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "name": viewer.name,
        "role": viewer.role,
        "role_label": viewer.role.label(),
        "csrf": viewer.csrf,
    }))
}

#[derive(Debug, Default, serde::Deserialize)]
struct Done {
    done: Option<String>,
    name: Option<String>,
    error: Option<String>,
}

/// `GET /admin/users`: every user, with add, disable and enable forms.
async fn users_page(
    State(app): State<App>,
    viewer: Viewer,
    Query(done): Query<Done>,
) -> Result<Response, Error> {
    let list = app.db(|s| s.users()).await?;
    let csrf = layout::csrf_field(&viewer);
    let name = done.name.as_deref().map(escape).unwrap_or_default();
    let message = match (done.done.as_deref(), done.error.as_deref()) {
        (_, Some(e)) => format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)),
        (Some("added"), _) => format!("<p class=\"ok\">已添加用户 {name}。</p>"),
        (Some("disabled"), _) => format!("<p class=\"ok\">已停用用户 {name}，其登录已失效。</p>"),
        (Some("enabled"), _) => format!("<p class=\"ok\">已启用用户 {name}。</p>"),
        _ => String::new(),
    };
    let rows: String = list
        .iter()
        .map(|u| {
            let role = u
                .role
                .parse::<Role>()
                .map_or_else(|_| escape(&u.role), |r| r.label().to_string());
            let (state, action, label) = if u.disabled {
                ("已停用", "enable", "启用")
            } else {
                ("正常", "disable", "停用")
            };
            let button = if u.name == viewer.name {
                String::new()
            } else {
                format!(
                    "<form method=\"post\" action=\"/admin/users/{action}\">{csrf}<input type=\"hidden\" name=\"name\" value=\"{}\"><button type=\"submit\">{label}</button></form>",
                    escape(&u.name)
                )
            };
            format!(
                "<tr><td>{}</td><td>{role}</td><td>{}</td><td>{state}</td><td>{button}</td></tr>\n",
                escape(&u.name),
                escape(u.created_at.get(..10).unwrap_or(&u.created_at)),
            )
        })
        .collect();
    let options: String = Role::ALL
        .iter()
        .map(|r| format!("<option value=\"{}\">{}</option>", r.as_str(), r.label()))
        .collect();
    let body = format!(
        r#"{message}
<table class="list users">
<thead><tr><th>用户名</th><th>角色</th><th>创建日期</th><th>状态</th><th></th></tr></thead>
<tbody>
{rows}</tbody>
</table>
<h2>添加用户</h2>
<form class="stack" method="post" action="/admin/users">{csrf}
<label>用户名 <input name="name" required maxlength="{max}" autocomplete="off"></label>
<label>角色 <select name="role">{options}</select></label>
<label>密码（至少 {min} 个字符）<input name="password" type="password" required minlength="{min}" autocomplete="new-password"></label>
<button type="submit">添加</button>
</form>"#,
        max = users::MAX_NAME_CHARS,
        min = super::password::MIN_CHARS,
    );
    Ok(layout::page(&viewer, "用户", &body).into_response())
}

#[derive(Debug, serde::Deserialize)]
struct NewUser {
    name: String,
    role: String,
    password: String,
}

/// `POST /admin/users`: adds a user; back to the list with what happened.
async fn user_add(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<NewUser>,
) -> Result<Response, Error> {
    let role = form.role.parse::<Role>().map_err(Error::BadRequest)?;
    let name = form.name.trim().to_string();
    let who = name.clone();
    let added = app
        .db(move |s| match users::add(s, &who, role, &form.password) {
            Ok(_) => Ok(Ok(())),
            Err(UserError::Invalid(m)) => Ok(Err(m)),
            Err(UserError::Store(e)) if e.to_string().contains("already a user") => {
                Ok(Err(e.to_string()))
            }
            Err(UserError::Store(e)) => Err(e),
        })
        .await?;
    if let Err(message) = added {
        return Ok(back_to_users(&format!("error={}", percent(&message))));
    }
    audit(&app, &viewer, "user_add", Some(&name), Some(role.as_str())).await?;
    Ok(back_to_users(&format!(
        "done=added&name={}",
        percent(&name)
    )))
}

#[derive(Debug, serde::Deserialize)]
struct NameForm {
    name: String,
}

async fn user_disable(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<NameForm>,
) -> Result<Response, Error> {
    set_disabled(app, viewer, form.name, true).await
}

async fn user_enable(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<NameForm>,
) -> Result<Response, Error> {
    set_disabled(app, viewer, form.name, false).await
}

async fn set_disabled(
    app: App,
    viewer: Viewer,
    name: String,
    disabled: bool,
) -> Result<Response, Error> {
    if disabled && name == viewer.name {
        return Err(Error::BadRequest("不能停用自己的账号。".into()));
    }
    let who = name.clone();
    let done = app
        .db(move |s| match users::set_disabled(s, &who, disabled) {
            Ok(()) => Ok(true),
            Err(UserError::Invalid(_)) => Ok(false),
            Err(UserError::Store(e)) => Err(e),
        })
        .await?;
    if !done {
        return Err(Error::NotFound);
    }
    let action = if disabled {
        "user_disable"
    } else {
        "user_enable"
    };
    audit(&app, &viewer, action, Some(&name), None).await?;
    let word = if disabled { "disabled" } else { "enabled" };
    Ok(back_to_users(&format!(
        "done={word}&name={}",
        percent(&name)
    )))
}

fn back_to_users(query: &str) -> Response {
    Redirect::to(&format!("/admin/users?{query}")).into_response()
}

/// `GET /admin/audit`: the newest audit lines.
async fn audit_page(State(app): State<App>, viewer: Viewer) -> Result<Response, Error> {
    let log = app.db(|s| s.audit_log(500)).await?;
    let cell = |s: &Option<String>| escape(s.as_deref().unwrap_or(""));
    let rows: String = log
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(a.at.get(..19).unwrap_or(&a.at).replace('T', " ").as_str()),
                cell(&a.user_name),
                escape(&a.action),
                cell(&a.object),
                cell(&a.detail),
                cell(&a.remote),
            )
        })
        .collect();
    let body = format!(
        "<p>最近 {} 条记录，新的在前。</p>\n<table class=\"list\"><thead><tr><th>时间</th><th>用户</th><th>操作</th><th>对象</th><th>详情</th><th>地址</th></tr></thead><tbody>\n{rows}</tbody></table>",
        log.len()
    );
    Ok(layout::page(&viewer, "审计日志", &body).into_response())
}

/// `GET /clips/<path>`: audio from the clip folder only.
async fn clip(State(app): State<App>, Path(rel): Path<String>, headers: HeaderMap) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    crate::serve::clips::respond(app.clip_dir().to_path_buf(), rel, range).await
}

/// Any path not in the table.
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        layout::bare("未找到", "<p>没有这个页面。<a href=\"/\">返回首页</a></p>"),
    )
        .into_response()
}
