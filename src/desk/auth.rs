//! Who is asking: the session cookie, the guard every route sits behind (session, role, CSRF),
//! logging in and out with a rate limit, and the audit log.
//!
//! A session is a random 32-byte token in an `HttpOnly; SameSite=Strict` cookie (`Secure` over
//! HTTPS); the record keeps only its SHA-256, the expiry and a per-session CSRF token. Every
//! POST/PUT/PATCH/DELETE must carry that token as the `X-CSRF-Token` header or a form field
//! `csrf`; pages show it in `<meta name="csrf-token">` and [`super::layout::csrf_field`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::on;
use axum::Form;
use sha2::{Digest, Sha256};

use super::routes::{Access, Kind, Role, Route};
use super::{html, layout, password, App};
use crate::store::StoreError;

/// The session cookie.
pub const SESSION_COOKIE: &str = "courtesy_session";
/// The login form's own CSRF cookie (there is no session yet to hold the token).
pub const LOGIN_COOKIE: &str = "courtesy_login";
/// The header a script sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Failed logins allowed per remote address and per user name within [`LOGIN_WINDOW`].
pub const LOGIN_FAILURES: usize = 5;
/// The window failed logins are counted in.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(300);
/// The most a form body may hold (the guard reads it to find the CSRF field).
const FORM_LIMIT: usize = 1 << 20;

pub const ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: "/login",
        access: Access::Public,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, login_page),
    },
    Route {
        method: Method::POST,
        path: "/login",
        access: Access::Public,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, login_submit),
    },
    Route {
        method: Method::POST,
        path: "/logout",
        access: Access::AnyUser,
        kind: Kind::Page,
        nav: None,
        handler: |m| on(m, logout),
    },
];

/// The person behind a request, put there by the guard: take it as a handler argument.
///
/// ```ignore
/// async fn my_page(State(app): State<App>, viewer: Viewer) -> Response {
///     audit(&app, &viewer, "view", Some("item 7"), None).await?;
///     layout::page(&viewer, "标题", &format!("<p>{}</p>", html::escape(&viewer.name)))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
    /// This session's CSRF token (for forms and `X-CSRF-Token`).
    pub csrf: String,
    /// The remote address (IP) the request came from.
    pub remote: String,
    /// The request's path, for the navigation bar.
    pub path: String,
    session: String,
}

impl Viewer {
    /// Whether this person may use routes open to `access`.
    pub fn may(&self, access: Access) -> bool {
        access.allows(self.role)
    }

    #[cfg(test)]
    pub(crate) fn for_tests(name: &str, role: Role, path: &str) -> Viewer {
        Viewer {
            user_id: 1,
            name: name.into(),
            role,
            csrf: random_hex(32),
            remote: "127.0.0.1".into(),
            path: path.into(),
            session: random_hex(32),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Viewer, Response> {
        parts.extensions.get::<Viewer>().cloned().ok_or_else(|| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "this route is public but its handler asks who is logged in — a bug in courtesy",
            )
                .into_response()
        })
    }
}

/// A failed handler: logged on the server, a short page or JSON for the person.
#[derive(Debug)]
pub enum Error {
    Store(StoreError),
    /// 400 with a message for the person (already in Chinese).
    BadRequest(String),
    NotFound,
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Store(e)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Store(e) => {
                eprintln!("error: desk: {e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    layout::bare("出错了", "<p>数据库出错，请稍后再试或联系管理员。</p>"),
                )
                    .into_response()
            }
            Error::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                layout::bare("请求有误", &format!("<p>{}</p>", html::escape(&m))),
            )
                .into_response(),
            Error::NotFound => (
                StatusCode::NOT_FOUND,
                layout::bare("未找到", "<p>没有这个页面。</p>"),
            )
                .into_response(),
        }
    }
}

/// Writes one audit line for `viewer`: `action` (e.g. `view`, `verdict`), on `object` (e.g.
/// `hit 1234`), with an optional `detail`.
pub async fn audit(
    app: &App,
    viewer: &Viewer,
    action: &str,
    object: Option<&str>,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    audit_as(
        app,
        Some(&viewer.name),
        action,
        object,
        detail,
        &viewer.remote,
    )
    .await
}

async fn audit_as(
    app: &App,
    user: Option<&str>,
    action: &str,
    object: Option<&str>,
    detail: Option<&str>,
    remote: &str,
) -> Result<(), StoreError> {
    let owned = |s: Option<&str>| s.map(str::to_string);
    let (user, action, object, detail, remote) = (
        owned(user),
        action.to_string(),
        owned(object),
        owned(detail),
        remote.to_string(),
    );
    app.db(move |s| {
        s.add_audit(
            user.as_deref(),
            &action,
            object.as_deref(),
            detail.as_deref(),
            Some(&remote),
        )
    })
    .await
}

/// The guard in front of every route (see [`super::routes::router`]): finds the session, refuses
/// strangers (303 to `/login` for pages, 401 otherwise) and the wrong roles (403), checks the
/// CSRF token of state-changing requests (403), and hands the [`Viewer`] to the handler.
pub async fn guard(
    State((app, route)): State<(App, &'static Route)>,
    req: Request,
    next: Next,
) -> Response {
    if route.access == Access::Public {
        return next.run(req).await;
    }
    let remote = remote(req.extensions());
    let session = match session(&app, req.headers()).await {
        Ok(s) => s,
        Err(e) => return Error::Store(e).into_response(),
    };
    let Some((token_hash, s)) = session else {
        return refuse_stranger(route.kind, &req);
    };
    let Ok(role) = s.user.role.parse::<Role>() else {
        eprintln!(
            "error: desk: user {} has the unknown role {:?} — fix it in the record",
            s.user.name, s.user.role
        );
        return forbidden(route.kind, None);
    };
    let viewer = Viewer {
        user_id: s.user.id,
        name: s.user.name,
        role,
        csrf: s.csrf,
        remote,
        path: req.uri().path().to_string(),
        session: token_hash,
    };
    if !route.access.allows(viewer.role) {
        return forbidden(route.kind, Some(&viewer));
    }
    let mut req = req;
    if changes_state(req.method()) {
        req = match check_csrf(req, &viewer.csrf).await {
            Ok(req) => req,
            Err(why) => return csrf_refused(route.kind, why),
        };
    }
    req.extensions_mut().insert(viewer);
    next.run(req).await
}

/// Headers on every answer: no framing, no sniffing, scripts and styles from the desk only,
/// nothing personal kept in caches.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; media-src 'self'; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::CACHE_CONTROL, "no-store");
    res
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The remote IP, as the connection gave it.
fn remote(ext: &axum::http::Extensions) -> String {
    ext.get::<ConnectInfo<super::Remote>>()
        .map(|c| c.0 .0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The valid session named by the request's cookie, with its token hash.
async fn session(
    app: &App,
    headers: &HeaderMap,
) -> Result<Option<(String, crate::store::WebSession)>, StoreError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = sha256_hex(&token);
    let key = hash.clone();
    let now = unix_now();
    Ok(app
        .db(move |s| s.web_session(&key, now))
        .await?
        .map(|s| (hash, s)))
}

fn refuse_stranger(kind: Kind, req: &Request) -> Response {
    match kind {
        Kind::Page => {
            let wanted = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let to = if *req.method() == Method::GET && wanted != "/" {
                format!("/login?next={}", html::percent(wanted))
            } else {
                "/login".to_string()
            };
            Redirect::to(&to).into_response()
        }
        _ => json_error(StatusCode::UNAUTHORIZED, "未登录或登录已过期"),
    }
}

fn forbidden(kind: Kind, viewer: Option<&Viewer>) -> Response {
    match (kind, viewer) {
        (Kind::Page, Some(v)) => (
            StatusCode::FORBIDDEN,
            layout::page(
                v,
                "无权访问",
                &format!(
                    "<p class=\"notice\">您的角色（{}）不能使用此页面。</p><p><a href=\"/\">返回首页</a></p>",
                    v.role.label()
                ),
            ),
        )
            .into_response(),
        (Kind::Page, None) => (
            StatusCode::FORBIDDEN,
            layout::bare("无权访问", "<p>您的账号不能使用此页面。</p>"),
        )
            .into_response(),
        _ => json_error(StatusCode::FORBIDDEN, "无权访问"),
    }
}

fn csrf_refused(kind: Kind, why: CsrfRefusal) -> Response {
    let message = match why {
        CsrfRefusal::Missing => "缺少 CSRF 令牌：请刷新页面后重试",
        CsrfRefusal::Wrong => "CSRF 令牌不符：请刷新页面后重试",
        CsrfRefusal::Origin => "请求来自其他网站，已拒绝",
        CsrfRefusal::TooLarge => "提交的内容过大",
    };
    let status = match why {
        CsrfRefusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::FORBIDDEN,
    };
    match kind {
        Kind::Page => (
            status,
            layout::bare("已拒绝", &format!("<p>{}</p>", html::escape(message))),
        )
            .into_response(),
        _ => json_error(status, message),
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsrfRefusal {
    Missing,
    Wrong,
    Origin,
    TooLarge,
}

/// Checks the token in the `X-CSRF-Token` header, else in a URL-encoded form's `csrf` field
/// (the body is read and put back). A request whose `Origin` is another site is refused too.
async fn check_csrf(req: Request, expected: &str) -> Result<Request, CsrfRefusal> {
    let headers = req.headers();
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        let origin = origin.to_str().unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if origin_host.as_bytes() != host.as_bytes() {
            return Err(CsrfRefusal::Origin);
        }
    }
    if let Some(token) = headers.get(CSRF_HEADER) {
        return if same(token.as_bytes(), expected.as_bytes()) {
            Ok(req)
        } else {
            Err(CsrfRefusal::Wrong)
        };
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(CsrfRefusal::Missing);
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| CsrfRefusal::TooLarge)?;
    let token = bytes
        .split(|&b| b == b'&')
        .find_map(|pair| pair.strip_prefix(b"csrf="))
        .ok_or(CsrfRefusal::Missing)?;
    if !same(token, expected.as_bytes()) {
        return Err(CsrfRefusal::Wrong);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Compares two secrets in time that depends on their length only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of one cookie.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `n` random bytes from the operating system. Without a working random source the desk
/// cannot make secrets, so it stops rather than make guessable ones.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    if let Err(e) = getrandom::getrandom(&mut bytes) {
        panic!("the operating system gave no random bytes ({e}) — cannot make session tokens");
    }
    bytes
}

/// `n` random bytes from the operating system, as hex.
pub(crate) fn random_hex(n: usize) -> String {
    hex(&random_bytes(n))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Strict always, Secure over HTTPS.
fn set_cookie(app: &App, name: &str, value: &str, path: &str, max_age: u64) -> HeaderValue {
    let secure = if app.tls() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Failed logins per key (a remote address or a user name) within [`LOGIN_WINDOW`].
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

/// Keys kept before old ones are swept.
const LIMITER_KEYS: usize = 10_000;

impl Limiter {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Instant>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long until one of `keys` may try again, if any is over the limit.
    fn blocked(&self, keys: &[String], now: Instant) -> Option<Duration> {
        let map = self.map();
        keys.iter()
            .filter_map(|k| map.get(k))
            .filter_map(|times| {
                let recent: Vec<&Instant> = times
                    .iter()
                    .filter(|t| now.duration_since(**t) < LOGIN_WINDOW)
                    .collect();
                (recent.len() >= LOGIN_FAILURES).then(|| {
                    let oldest = **recent.iter().min().unwrap_or(&&now);
                    LOGIN_WINDOW.saturating_sub(now.duration_since(oldest))
                })
            })
            .max()
    }

    fn fail(&self, keys: &[String], now: Instant) {
        let mut map = self.map();
        if map.len() > LIMITER_KEYS {
            map.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < LOGIN_WINDOW));
        }
        for k in keys {
            let times = map.entry(k.clone()).or_default();
            times.retain(|t| now.duration_since(*t) < LOGIN_WINDOW);
            times.push(now);
        }
    }

    fn clear(&self, key: &str) {
        self.map().remove(key);
    }
}

#[derive(Debug, serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Where to go after logging in: a path on this site only (never `//host` or a scheme).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.contains(['\r', '\n'])
                && n != "/login" =>
        {
            n
        }
        _ => "/",
    }
}

/// `GET /login`: the form, with a fresh login CSRF cookie; a logged-in person goes home.
async fn login_page(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if let Ok(Some(_)) = session(&app, &headers).await {
        return Redirect::to(safe_next(q.next.as_deref())).into_response();
    }
    login_form(&app, StatusCode::OK, safe_next(q.next.as_deref()), "", None)
}

fn login_form(
    app: &App,
    status: StatusCode,
    next: &str,
    name: &str,
    error: Option<&str>,
) -> Response {
    let token = random_hex(32);
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html::escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<form class="login" method="post" action="/login">
<h1>窗口文明服务 · 工作台</h1>
{error}<label>用户名 <input name="name" autocomplete="username" required autofocus value="{name}"></label>
<label>密码 <input name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="csrf" value="{token}">
<input type="hidden" name="next" value="{next}">
<button type="submit">登录</button>
</form>"#,
        name = html::escape(name),
        next = html::escape(next),
    );
    let mut res = (status, layout::bare("登录", &body)).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(app, LOGIN_COOKIE, &token, "/login", 1800),
    );
    res
}

#[derive(Debug, serde::Deserialize)]
struct LoginForm {
    name: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`: checks the form's CSRF cookie, the rate limit and the password; on success
/// opens a session and goes where the person was headed.
async fn login_submit(
    State(app): State<App>,
    headers: HeaderMap,
    ConnectInfo(super::Remote(peer)): ConnectInfo<super::Remote>,
    Form(form): Form<LoginForm>,
) -> Response {
    let remote = peer.ip().to_string();
    let next = safe_next(Some(&form.next)).to_string();
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(form.csrf.as_bytes(), expected.as_bytes()) {
        return login_form(
            &app,
            StatusCode::FORBIDDEN,
            &next,
            &form.name,
            Some("登录页已过期，请重新输入。"),
        );
    }
    let name = form.name.trim().to_string();
    let keys = [format!("addr {remote}"), format!("user {name}")];
    if let Some(wait) = app.limiter().blocked(&keys, Instant::now()) {
        let secs = wait.as_secs().max(1);
        let mut res = login_form(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &name,
            Some(&format!(
                "登录失败次数过多，请 {} 分钟后再试。",
                secs.div_ceil(60)
            )),
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return res;
    }
    let who = name.clone();
    let pw = form.password;
    let found = app
        .db(move |s| {
            let user = s.user(&who)?;
            // Unknown and disabled users cost the same hashing time as known ones.
            let hash = user
                .as_ref()
                .map_or(password::dummy_hash(), |u| u.password_hash.as_str());
            let ok = password::verify(&pw, hash);
            Ok(user.filter(|u| ok && !u.disabled))
        })
        .await;
    let user = match found {
        Ok(u) => u,
        Err(e) => return Error::Store(e).into_response(),
    };
    let Some(user) = user else {
        app.limiter().fail(&keys, Instant::now());
        if let Err(e) = audit_as(&app, None, "login_failed", Some(&name), None, &remote).await {
            return Error::Store(e).into_response();
        }
        return login_form(
            &app,
            StatusCode::UNAUTHORIZED,
            &next,
            &name,
            Some("用户名或密码不对。"),
        );
    };
    app.limiter().clear(&keys[1]);
    let token = random_hex(32);
    let csrf = random_hex(32);
    let length = app.config().desk.session_length();
    let expires = unix_now() + length.as_secs() as i64;
    let (hash, user_id) = (sha256_hex(&token), user.id);
    let opened = app
        .db(move |s| {
            s.delete_expired_web_sessions(unix_now())?;
            s.create_web_session(&hash, user_id, &csrf, expires)
        })
        .await;
    if let Err(e) = opened {
        return Error::Store(e).into_response();
    }
    if let Err(e) = audit_as(&app, Some(&user.name), "login", None, None, &remote).await {
        return Error::Store(e).into_response();
    }
    let mut res = Redirect::to(&next).into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&app, SESSION_COOKIE, &token, "/", length.as_secs()),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(&app, LOGIN_COOKIE, "", "/login", 0),
    );
    res
}

/// `POST /logout`: ends the session in the record and in the browser.
async fn logout(State(app): State<App>, viewer: Viewer) -> Result<Response, Error> {
    let hash = viewer.session.clone();
    app.db(move |s| s.delete_web_session(&hash)).await?;
    audit(&app, &viewer, "logout", None, None).await?;
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app, SESSION_COOKIE, "", "/", 0),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_failures_per_key_within_the_window() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let keys = ["addr 1".to_string(), "user a".to_string()];
        for _ in 0..LOGIN_FAILURES - 1 {
            l.fail(&keys, t0);
        }
        assert_eq!(l.blocked(&keys, t0), None);
        l.fail(&keys, t0);
        let wait = l.blocked(&keys, t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(wait, LOGIN_WINDOW - Duration::from_secs(10));
        // The same name from another address is still blocked; another name from it too.
        assert!(l.blocked(&["addr 2".into(), "user a".into()], t0).is_some());
        assert!(l.blocked(&["addr 1".into(), "user b".into()], t0).is_some());
        assert_eq!(l.blocked(&keys, t0 + LOGIN_WINDOW), None);
        l.clear("user a");
        l.clear("addr 1");
        assert_eq!(l.blocked(&keys, t0), None);
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/review?day=1")), "/review?day=1");
        for bad in [
            "//evil.example",
            "/\\evil",
            "https://evil",
            "",
            "/login",
            "/a\r\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; courtesy_session=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert_eq!(random_hex(32).len(), 64);
        assert_ne!(random_hex(32), random_hex(32));
    }
}
