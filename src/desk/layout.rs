//! The common frame of every desk page: head (CSRF meta, the desk's CSS and JS), the bar with
//! the navigation for the viewer's role and the logout button, then the page's own HTML.

use axum::response::Html;

use super::auth::Viewer;
use super::html::escape;
use super::routes;

/// The app's name, in every title and the bar.
pub const APP_NAME: &str = "窗口文明服务 · 工作台";

/// A page in the common frame. `title` is text (escaped here); `body` is HTML the caller built,
/// with every string from the record passed through [`escape`].
pub fn page(viewer: &Viewer, title: &str, body: &str) -> Html<String> {
    page_with(viewer, title, &[], body)
}

/// [`page`] with extra files from `/static/` (see [`super::static_files`]): `.css` names become
/// stylesheets, `.js` names deferred scripts. Inline `<script>` is refused by the page's
/// Content-Security-Policy, so a page's script must be such a file.
pub fn page_with(viewer: &Viewer, title: &str, assets: &[&str], body: &str) -> Html<String> {
    let nav: String = routes::all()
        .filter(|r| r.method == axum::http::Method::GET && viewer.may(r.access))
        .filter_map(|r| r.nav.map(|label| (r.path, label)))
        .map(|(path, label)| {
            let here = viewer.path == path
                || (path != "/" && viewer.path.starts_with(&format!("{path}/")));
            format!(
                "<a href=\"{}\"{}>{}</a>",
                escape(path),
                if here {
                    " class=\"here\" aria-current=\"page\""
                } else {
                    ""
                },
                escape(label)
            )
        })
        .collect();
    let bar = format!(
        r#"<header class="bar"><a class="brand" href="/">{APP_NAME}</a><nav>{nav}</nav><div class="who"><span class="user">{name}</span><span class="role">{role}</span><form method="post" action="/logout">{csrf}<button type="submit" class="link">退出</button></form></div></header>"#,
        name = escape(&viewer.name),
        role = viewer.role.label(),
        csrf = csrf_field(viewer),
    );
    document(
        title,
        Some(&viewer.csrf),
        assets,
        &format!("{bar}\n<main><h1>{}</h1>\n{body}\n</main>", escape(title)),
    )
}

/// A page without the bar (login, errors before login).
pub fn bare(title: &str, body: &str) -> Html<String> {
    document(
        title,
        None,
        &[],
        &format!("<main class=\"bare\">\n{body}\n</main>"),
    )
}

/// The hidden form field that carries the CSRF token; put it in every POST form.
pub fn csrf_field(viewer: &Viewer) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&viewer.csrf)
    )
}

fn document(title: &str, csrf: Option<&str>, assets: &[&str], body: &str) -> Html<String> {
    let meta = csrf
        .map(|t| format!("<meta name=\"csrf-token\" content=\"{}\">\n", escape(t)))
        .unwrap_or_default();
    let mut head = String::new();
    for a in assets {
        let href = format!("/static/{}", super::html::percent(a));
        if a.ends_with(".css") {
            head.push_str(&format!("<link rel=\"stylesheet\" href=\"{href}\">\n"));
        } else if a.ends_with(".js") {
            head.push_str(&format!("<script src=\"{href}\" defer></script>\n"));
        }
    }
    Html(format!(
        r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{meta}<title>{title} · {APP_NAME}</title>
<link rel="stylesheet" href="/static/desk.css">
<script src="/static/desk.js" defer></script>
{head}</head>
<body>
{body}
</body>
</html>
"#,
        title = escape(title),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::Role;

    pub(crate) fn viewer(role: Role, path: &str) -> Viewer {
        Viewer::for_tests("王芳<b>", role, path)
    }

    #[test]
    fn the_frame_escapes_and_shows_only_the_roles_pages() {
        let v = viewer(Role::Trainer, "/");
        let Html(page) = page(&v, "首页<i>", "<p>body</p>");
        assert!(page.contains("王芳&lt;b&gt;") && !page.contains("王芳<b>"));
        assert!(page.contains("首页&lt;i&gt;"));
        assert!(page.contains(&format!(
            "<meta name=\"csrf-token\" content=\"{}\">",
            v.csrf
        )));
        assert!(page.contains("action=\"/logout\""));
        assert!(
            !page.contains("/admin/users"),
            "trainers do not manage users"
        );
        let admin = viewer(Role::Admin, "/admin/users");
        let Html(page) = super::page(&admin, "用户", "");
        assert!(
            page.contains("href=\"/admin/users\" class=\"here\""),
            "{page}"
        );
    }
}
