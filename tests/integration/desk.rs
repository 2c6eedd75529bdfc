//! The desk over real HTTP(S) on a socket: logins and their cookies, every route of the table
//! refusing strangers and wrong roles, CSRF, the login rate limit, expiry, audit, clips, TLS, the
//! `courtesy user` and `courtesy serve` commands, and logging in through the form in Chromium.
//!
//! [`Desk`] and [`Client`] are for every desk page test: start a desk on a fresh record, add
//! people, log in, GET and POST with the session's cookie and CSRF token.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use courtesy::config::Config;
use courtesy::desk::{self, Access, Kind, Role};
use courtesy::store::{Store, Value};

use crate::browser::Browser;
use crate::cli::courtesy;

/// A desk on a fresh SQLite record in a temporary folder, with `clips/` beside it.
pub struct Desk {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub server: desk::Server,
    /// `http://127.0.0.1:PORT` (or https).
    pub base: String,
    tls: Option<Vec<u8>>,
}

impl Desk {
    /// A plain-HTTP desk with the default configuration.
    pub fn start() -> Desk {
        Desk::start_with(|_| {})
    }

    /// A desk whose configuration `edit` may change (the record and clips are set first).
    pub fn start_with(edit: impl FnOnce(&mut Config)) -> Desk {
        Desk::start_fed(edit, None)
    }

    /// [`Desk::start_with`] as `courtesy live --http` runs it: with the live run's feed.
    pub fn start_fed(edit: impl FnOnce(&mut Config), feed: Option<courtesy::serve::Feed>) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clips")).unwrap();
        let mut config = Config::default();
        config.batch.db = dir.path().join("courtesy.db").display().to_string();
        config.batch.clips = Some(dir.path().join("clips"));
        config.desk.http = "127.0.0.1:0".into();
        edit(&mut config);
        let store = Arc::new(Store::open(&config.batch.db).unwrap());
        let tls = config
            .desk
            .tls_cert
            .as_ref()
            .map(|p| std::fs::read(p).unwrap());
        let app =
            desk::App::with_feed(config, store.clone(), feed).expect("the desk's configuration");
        let server = desk::Server::start(app).expect("the desk starts");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{}", server.local_addr());
        Desk {
            dir,
            store,
            server,
            base,
            tls,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Adds a user with this role; returns the password.
    pub fn user(&self, name: &str, role: Role) -> String {
        let password = format!("pw-{name}-0123");
        desk::users::add(&self.store, name, role, &password).unwrap();
        password
    }

    /// A client with no session.
    pub fn client(&self) -> Client {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)));
        if let Some(pem) = &self.tls {
            let cert = ureq::tls::Certificate::from_pem(pem).unwrap();
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                    .build(),
            );
        }
        Client {
            agent: config.build().new_agent(),
            base: self.base.clone(),
            addr: self.addr(),
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }

    /// A client logged in as `name` (through the login form, as a browser does).
    pub fn login(&self, name: &str, password: &str) -> Client {
        let mut c = self.client();
        let r = c.login(name, password);
        assert_eq!(r.status, 303, "login as {name}: {}", r.body);
        let home = c.get("/");
        assert_eq!(home.status, 200, "{}", home.body);
        c.csrf = Some(meta_csrf(&home.body).expect("the page has a csrf-token meta"));
        c
    }

    /// Adds a user with `role` and logs in as it.
    pub fn login_as(&self, name: &str, role: Role) -> Client {
        let password = self.user(name, role);
        self.login(name, &password)
    }

    /// Chromium opened on `path` as `name`: the desk sends it to the login page, the form is
    /// filled and sent as a person would, and it lands back on `path`.
    pub fn browser_as(&self, name: &str, password: &str, path: &str) -> Browser {
        let mut b = Browser::open(&format!("{}{path}", self.base));
        if path != "/" {
            b.wait_for_path(&format!("/login?next={}", encode(path)));
        } else {
            b.wait_for_path("/login");
        }
        log_in(&mut b, name, password);
        b.wait_for_path(path);
        b
    }

    /// The audit log's actions (with their user and object), oldest first.
    pub fn audit(&self) -> Vec<(String, Option<String>, Option<String>)> {
        let mut log: Vec<_> = self
            .store
            .audit_log(10_000)
            .unwrap()
            .into_iter()
            .map(|a| (a.action, a.user_name, a.object))
            .collect();
        log.reverse();
        log
    }
}

/// Fills the login form on the page the browser shows and sends it with Enter.
pub fn log_in(b: &mut Browser, name: &str, password: &str) {
    b.wait("document.querySelector('form.login input[name=name]') !== null");
    b.click("input[name=name]");
    b.type_text(name);
    b.click("input[name=password]");
    b.type_text(password);
    b.press("Enter");
}

/// The token in `<meta name="csrf-token" content="…">`.
pub fn meta_csrf(page: &str) -> Option<String> {
    let at = page.find("<meta name=\"csrf-token\" content=\"")?;
    let rest = &page[at + 33..];
    Some(rest[..rest.find('"')?].to_string())
}

/// One answer: status, headers (lower-case names, in order) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Set-Cookie` header for `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .find(|v| v.starts_with(&format!("{name}=")))
    }
}

/// An HTTP client that keeps the desk's cookies and knows its CSRF token once logged in.
pub struct Client {
    agent: ureq::Agent,
    pub base: String,
    addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
    /// The session's CSRF token (set by [`Desk::login`]).
    pub csrf: Option<String>,
}

impl Client {
    pub fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, &[], None)
    }

    /// A form POST with the session's CSRF token added as the `csrf` field.
    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone().unwrap_or_default();
        fields.push(("csrf", &csrf));
        self.post_form_raw(path, &fields)
    }

    /// A form POST exactly as given (no CSRF token added).
    pub fn post_form_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        self.send(
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(body.join("&").into_bytes()),
        )
    }

    /// A JSON request with the session's CSRF token in `X-CSRF-Token`.
    pub fn send_json(&mut self, method: &str, path: &str, json: &serde_json::Value) -> Reply {
        let csrf = self.csrf.clone().unwrap_or_default();
        self.send(
            method,
            path,
            &[
                ("Content-Type", "application/json"),
                ("X-CSRF-Token", &csrf),
            ],
            Some(serde_json::to_vec(json).unwrap()),
        )
    }

    /// Any request; cookies are sent and kept.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if !self.cookies.is_empty() {
            req = req.header("Cookie", self.cookie_header());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self
            .agent
            .run(req.body(body.unwrap_or_default()).unwrap())
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = res.status().as_u16();
        let headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = res
            .into_body()
            .read_to_string()
            .unwrap_or_else(|_| "<not text>".into());
        let reply = Reply {
            status,
            headers,
            body,
        };
        self.keep_cookies(&reply);
        reply
    }

    /// A GET over a raw socket, the path sent exactly as written (`/clips/../x` included).
    pub fn raw_get(&mut self, path: &str) -> (u16, Vec<u8>) {
        let cookie = format!("Cookie: {}\r\n", self.cookie_header());
        let (status, _, body) = crate::serve::get(self.addr, path, &cookie);
        (status, body)
    }

    /// Opens the login page and submits the form (with its CSRF cookie).
    pub fn login(&mut self, name: &str, password: &str) -> Reply {
        let page = self.get("/login");
        assert_eq!(page.status, 200);
        let token = self.cookies.get("courtesy_login").cloned().unwrap();
        self.post_form_raw(
            "/login",
            &[("name", name), ("password", password), ("csrf", &token)],
        )
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, reply: &Reply) {
        for (_, v) in reply.headers.iter().filter(|(n, _)| n == "set-cookie") {
            let Some((name, rest)) = v.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or("");
            if value.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }
}

/// `s` percent-encoded for a URL's query or a form (all but unreserved characters).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A concrete path for a route: each `{param}` becomes `x`, a `{*rest}` becomes `w07/a.wav`.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with("{*") {
                "w07/a.wav".to_string()
            } else if seg.starts_with('{') {
                "x".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn logging_in_sets_a_strict_http_only_cookie_and_logging_out_ends_it() {
    let desk = Desk::start();
    let password = desk.user("王芳", Role::Trainer);
    let mut c = desk.client();

    // Strangers are sent to the login page, which sets the form's own CSRF cookie.
    let home = c.get("/");
    assert_eq!(home.status, 303);
    assert_eq!(home.header("location"), Some("/login"));
    let page = c.get("/login");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("登录") && page.body.contains("name=\"password\""));
    let login_cookie = page.cookie("courtesy_login").unwrap();
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"));

    // A wrong password: 401, the form again, an audit line, no cookie.
    let wrong = c.login("王芳", "not the password");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("用户名或密码不对"));
    assert!(wrong.cookie("courtesy_session").is_none());

    // The login form without its CSRF cookie is refused.
    let mut other = desk.client();
    let forged = other.post_form_raw(
        "/login",
        &[("name", "王芳"), ("password", &password), ("csrf", "0")],
    );
    assert_eq!(forged.status, 403);
    assert!(forged.cookie("courtesy_session").is_none());

    let ok = c.login("王芳", &password);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.header("location"), Some("/"));
    let cookie = ok.cookie("courtesy_session").unwrap();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("courtesy_session=");
    assert_eq!(token.len(), 64, "32 random bytes in hex: {cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(flag), "no {flag} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // Only the token's hash is in the record.
    let rows = desk
        .store
        .query("SELECT token_sha256, csrf FROM web_sessions", &[])
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored = rows[0].str("token_sha256").unwrap();
    assert_ne!(stored, token);
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(stored, hash);

    let home = c.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("王芳") && home.body.contains("培训人员"));
    let csrf = meta_csrf(&home.body).unwrap();
    assert_eq!(csrf, rows[0].str("csrf").unwrap());
    let me: serde_json::Value = serde_json::from_str(&c.get("/api/me").body).unwrap();
    assert_eq!(
        me,
        serde_json::json!({"name": "王芳", "role": "trainer", "role_label": "培训人员", "csrf": csrf})
    );
    for header in [
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
    ] {
        assert!(home.header(header).is_some(), "no {header}");
    }
    assert_eq!(home.header("cache-control"), Some("no-store"));

    // Logging out needs the token too, then ends the session in the record.
    c.csrf = Some(csrf);
    assert_eq!(c.post_form_raw("/logout", &[]).status, 403);
    let out = c.post_form("/logout", &[]);
    assert_eq!(out.status, 303);
    assert!(out
        .cookie("courtesy_session")
        .unwrap()
        .contains("Max-Age=0"));
    let left = desk
        .store
        .query("SELECT count(*) AS n FROM web_sessions", &[])
        .unwrap();
    assert_eq!(left[0].i64("n").unwrap(), 0);
    // The old cookie no longer opens anything.
    c.cookies.insert("courtesy_session".into(), token.into());
    assert_eq!(c.get("/").status, 303);

    let actions: Vec<(String, Option<String>, Option<String>)> = desk.audit();
    let expected = [
        ("login_failed", None, Some("王芳")),
        ("login", Some("王芳"), None),
        ("logout", Some("王芳"), None),
    ];
    let expected: Vec<(String, Option<String>, Option<String>)> = expected
        .iter()
        .map(|(a, u, o)| (a.to_string(), u.map(String::from), o.map(String::from)))
        .collect();
    assert_eq!(actions, expected);
    let remote = desk.store.audit_log(1).unwrap()[0].remote.clone();
    assert_eq!(remote.as_deref(), Some("127.0.0.1"));
}

#[test]
fn every_route_refuses_strangers_and_the_wrong_roles() {
    let desk = Desk::start();
    let mut stranger = desk.client();
    let mut clients: Vec<(Role, Client)> = Role::ALL
        .iter()
        .map(|r| (*r, desk.login_as(&format!("user-{r}"), *r)))
        .collect();
    let (mut checked, mut refused_roles) = (0, 0);
    for route in desk::routes::all() {
        let path = concrete(route.path);
        let method = route.method.as_str();
        if route.access == Access::Public {
            continue;
        }
        let r = stranger.send(method, &path, &[], None);
        match route.kind {
            Kind::Page => {
                assert_eq!(r.status, 303, "{method} {path} without a session");
                let to = r.header("location").unwrap_or_default();
                assert!(to.starts_with("/login"), "{method} {path} went to {to}");
            }
            _ => assert_eq!(r.status, 401, "{method} {path} without a session"),
        }
        checked += 1;
        for (role, client) in &mut clients {
            if route.access.allows(*role) {
                continue;
            }
            // The role check comes before the CSRF check: send the token so only the role
            // can be the reason.
            let csrf = client.csrf.clone().unwrap();
            let r = client.send(method, &path, &[("X-CSRF-Token", &csrf)], None);
            assert_eq!(r.status, 403, "{method} {path} as {role}: {}", r.body);
            refused_roles += 1;
        }
    }
    assert!(checked >= 7, "only {checked} routes checked");
    assert!(refused_roles >= 5, "only {refused_roles} refusals checked");
    // A page refused to a role says so in the frame, with the role's navigation.
    let (_, trainer) = &mut clients[0];
    let r = trainer.get("/admin/users");
    assert!(r.body.contains("无权访问") && r.body.contains("培训人员"));
    assert!(!r.body.contains("href=\"/admin/users\""));
}

#[test]
fn every_state_change_needs_the_csrf_token() {
    let desk = Desk::start();
    let mut admin = desk.login_as("admin", Role::Admin);
    let token = admin.csrf.clone().unwrap();
    // Every non-GET route of the table, without a token, with a wrong one, from another site.
    let mut checked = 0;
    for route in desk::routes::all() {
        if route.access == Access::Public || route.method == axum::http::Method::GET {
            continue;
        }
        let path = concrete(route.path);
        let method = route.method.as_str();
        let none = admin.post_form_raw(&path, &[("name", "x")]);
        assert_eq!(none.status, 403, "{method} {path} without a token");
        let json = admin.send(method, &path, &[("Content-Type", "application/json")], None);
        assert_eq!(json.status, 403, "{method} {path} JSON without a token");
        let wrong = admin.send(method, &path, &[("X-CSRF-Token", &"0".repeat(64))], None);
        assert_eq!(wrong.status, 403, "{method} {path} with a wrong token");
        let foreign = admin.send(
            method,
            &path,
            &[("X-CSRF-Token", &token), ("Origin", "http://evil.example")],
            None,
        );
        assert_eq!(foreign.status, 403, "{method} {path} from another site");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} state-changing routes");

    // Nothing happened; with the token (form field or header) it does.
    let fields = [
        ("name", "李四"),
        ("role", "office"),
        ("password", "long enough"),
    ];
    assert_eq!(admin.post_form_raw("/admin/users", &fields).status, 403);
    assert!(desk.store.user("李四").unwrap().is_none());
    let added = admin.post_form("/admin/users", &fields);
    assert_eq!(added.status, 303, "{}", added.body);
    assert!(desk.store.user("李四").unwrap().is_some());
    let r = admin.send(
        "POST",
        "/admin/users/disable",
        &[
            ("X-CSRF-Token", &token),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(b"name=%E6%9D%8E%E5%9B%9B".to_vec()),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(desk.store.user("李四").unwrap().unwrap().disabled);
    // A script's JSON with the header passes the guard (the form handler then refuses JSON).
    let json = admin.send_json(
        "POST",
        "/admin/users/enable",
        &serde_json::json!({ "name": "李四" }),
    );
    assert_eq!(json.status, 415, "{}", json.body);
    assert!(desk.audit().iter().any(|(a, u, o)| a == "user_disable"
        && u.as_deref() == Some("admin")
        && o.as_deref() == Some("李四")));
}

#[test]
fn failed_logins_are_limited_per_address_and_per_name() {
    let desk = Desk::start();
    let password = desk.user("王芳", Role::Office);
    desk.user("李四", Role::Office);
    let mut c = desk.client();
    for _ in 0..desk::auth::LOGIN_FAILURES {
        assert_eq!(c.login("王芳", "wrong password").status, 401);
    }
    // Now even the right password waits.
    let limited = c.login("王芳", &password);
    assert_eq!(limited.status, 429, "{}", limited.body);
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 300, "{wait}");
    assert!(limited.body.contains("登录失败次数过多"));
    assert!(limited.cookie("courtesy_session").is_none());
    // The same address cannot go on with another name either.
    assert_eq!(c.login("李四", "pw-李四-0123").status, 429);
    // An unknown name fails like a wrong password (same answer, audited).
    let desk = Desk::start();
    let mut c = desk.client();
    let unknown = c.login("nobody", "whatever123");
    assert_eq!(unknown.status, 401);
    assert!(unknown.body.contains("用户名或密码不对"));
    assert_eq!(desk.audit()[0].0, "login_failed");
}

#[test]
fn expired_sessions_and_disabled_users_are_refused() {
    let desk = Desk::start();
    let mut trainer = desk.login_as("王芳", Role::Trainer);
    assert_eq!(trainer.get("/").status, 200);
    let past = chrono::Utc::now().timestamp() - 1;
    desk.store
        .execute(
            "UPDATE web_sessions SET expires_at = $1",
            &[Value::Int(past)],
        )
        .unwrap();
    assert_eq!(trainer.get("/").status, 303);
    assert_eq!(trainer.get("/clips/w07/a.wav").status, 401);
    assert_eq!(trainer.get("/api/me").status, 401);

    let mut office = desk.login_as("李四", Role::Office);
    let mut admin = desk.login_as("admin", Role::Admin);
    assert_eq!(office.get("/").status, 200);
    assert_eq!(
        admin
            .post_form("/admin/users/disable", &[("name", "李四")])
            .status,
        303
    );
    assert_eq!(office.get("/").status, 303, "disabling logs out at once");
    let again = office.login("李四", "pw-李四-0123");
    assert_eq!(again.status, 401, "a disabled user cannot log in");
    // An admin cannot lock themselves out.
    let r = admin.post_form("/admin/users/disable", &[("name", "admin")]);
    assert_eq!(r.status, 400);
}

#[test]
fn names_from_the_record_are_escaped() {
    let desk = Desk::start();
    desk.user("<script>alert(1)</script>", Role::Trainer);
    let mut admin = desk.login_as("admin", Role::Admin);
    let page = admin.get("/admin/users");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains("<script>alert(1)"));
    let hostile = desk.login(
        "<script>alert(1)</script>",
        "pw-<script>alert(1)</script>-0123",
    );
    drop(hostile);
    let audit = admin.get("/admin/audit");
    assert!(!audit.body.contains("<script>alert(1)"), "{}", audit.body);
}

#[test]
fn clips_are_served_behind_login_from_the_clip_folder_only() {
    let desk = Desk::start();
    let clips = desk.dir.path().join("clips/2026-11-30/w07");
    std::fs::create_dir_all(&clips).unwrap();
    std::fs::write(clips.join("083005_abcdef_1500.opus"), b"OggS opus bytes").unwrap();
    std::fs::write(desk.dir.path().join("secret.wav"), b"not yours").unwrap();
    let clip = "/clips/2026-11-30/w07/083005_abcdef_1500.opus";

    let mut stranger = desk.client();
    assert_eq!(stranger.get(clip).status, 401);
    assert_eq!(stranger.raw_get("/clips/../secret.wav").0, 401);

    let mut c = desk.login_as("王芳", Role::Trainer);
    let r = c.get(clip);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("audio/ogg; codecs=opus"));
    assert_eq!(r.body, "OggS opus bytes");
    let part = c.send("GET", clip, &[("Range", "bytes=0-3")], None);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, "OggS");
    for path in [
        "/clips/../secret.wav",
        "/clips/2026-11-30/../../secret.wav",
        "/clips/%2e%2e/secret.wav",
        "/clips/..%2fsecret.wav",
        "/clips/%2fetc%2fpasswd",
        "/clips/..%5csecret.wav",
        "/clips//etc/passwd",
    ] {
        let (status, body) = c.raw_get(path);
        assert!(
            status == 400 || status == 404,
            "{path} gave {status}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(body != b"not yours", "{path} escaped the clip folder");
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files in `dir`.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    (c, k)
}

#[test]
fn the_desk_speaks_https_with_a_secure_cookie() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certs.path());
    let desk = Desk::start_with(|c| {
        c.desk.tls_cert = Some(cert.clone());
        c.desk.tls_key = Some(key.clone());
    });
    assert!(desk.base.starts_with("https://"));
    let password = desk.user("王芳", Role::Supervisor);
    let mut c = desk.client();
    let ok = c.login("王芳", &password);
    assert_eq!(ok.status, 303, "{}", ok.body);
    let cookie = ok.cookie("courtesy_session").unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let home = c.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("值班主管"));

    // Plain HTTP to the HTTPS port gets no page.
    let mut s = TcpStream::connect(desk.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("HTTP/1.1 303"));
    // The desk still serves others afterwards.
    assert_eq!(c.get("/").status, 200);

    // A certificate that is not one is named in one line.
    std::fs::write(certs.path().join("bad.pem"), "garbage").unwrap();
    let mut config = Config::default();
    config.desk.tls_cert = Some(certs.path().join("bad.pem"));
    config.desk.tls_key = Some(key.clone());
    let store = Arc::new(Store::open(certs.path().join("r.db").to_str().unwrap()).unwrap());
    let e = desk::App::new(config, store).err().unwrap();
    assert!(e.contains("bad.pem") && !e.contains('\n'), "{e}");
}

#[test]
fn the_user_and_serve_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("courtesy.db");
    let db = db.to_str().unwrap();
    let out = courtesy(
        &[
            "user",
            "add",
            "王芳",
            "--role",
            "office",
            "--password-stdin",
            "--db",
            db,
        ],
        Some("office-secret\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let short = courtesy(
        &[
            "user",
            "add",
            "李四",
            "--role",
            "trainer",
            "--password-stdin",
            "--db",
            db,
        ],
        Some("short\n"),
    );
    assert_eq!(short.status.code(), Some(2));
    let err = String::from_utf8_lossy(&short.stderr);
    assert!(
        err.contains("at least 8") && err.lines().count() == 1,
        "{err}"
    );
    let role = courtesy(&["user", "add", "李四", "--role", "boss", "--db", db], None);
    assert!(String::from_utf8_lossy(&role.stderr).contains("trainer, office, supervisor, admin"));
    let no_tty = courtesy(
        &["user", "add", "李四", "--role", "trainer", "--db", db],
        None,
    );
    assert!(String::from_utf8_lossy(&no_tty.stderr).contains("--password-stdin"));
    let list = courtesy(&["user", "list", "--db", db], None);
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("王芳") && list.contains("office") && !list.contains("李四"),
        "{list}"
    );
    let store = Store::open(db).unwrap();
    let hash = store.user("王芳").unwrap().unwrap().password_hash;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(courtesy::desk::password::verify("office-secret", &hash));
    let passwd = courtesy(
        &["user", "passwd", "王芳", "--password-stdin", "--db", db],
        Some("a new secret\n"),
    );
    assert!(passwd.status.success());
    let hash = store.user("王芳").unwrap().unwrap().password_hash;
    assert!(courtesy::desk::password::verify("a new secret", &hash));
    assert!(courtesy(&["user", "disable", "王芳", "--db", db], None)
        .status
        .success());
    assert!(store.user("王芳").unwrap().unwrap().disabled);
    let missing = courtesy(&["user", "disable", "nobody", "--db", db], None);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no user named nobody"));

    // `courtesy serve` on a free port: it says where, and refuses strangers.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_courtesy"))
        .args(["serve", "--db", db, "--http", "127.0.0.1:0"])
        .env_remove("COURTESY_DB")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        use std::io::BufRead;
        assert!(stderr.read_line(&mut line).unwrap() > 0, "serve ended");
        if let Some(rest) = line.strip_prefix("courtesy desk on http://") {
            break rest.split('/').next().unwrap().to_string();
        }
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let r = agent
        .get(&format!("http://{addr}/admin/users"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 303);
    let _ = child.kill();
    let _ = child.wait();

    // A bad [desk] section is named at load.
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[desk]\nsession_hours = 0\n").unwrap();
    let bad = courtesy(
        &["serve", "--db", db, "--config", cfg.to_str().unwrap()],
        None,
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("c.toml") && err.contains("desk.session_hours"),
        "{err}"
    );
}

/// The same logins, sessions, users and audit on a PostgreSQL record.
#[test]
fn the_desk_on_postgresql() {
    let pg = crate::pg::database();
    let desk = Desk::start_with(|c| c.batch.db = pg.url.clone());
    let mut admin = desk.login_as("admin", Role::Admin);
    let added = admin.post_form(
        "/admin/users",
        &[
            ("name", "王芳"),
            ("role", "trainer"),
            ("password", "long enough"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.body);
    let mut trainer = desk.login("王芳", "long enough");
    assert_eq!(trainer.get("/").status, 200);
    assert_eq!(trainer.get("/admin/users").status, 403);
    let r = admin.post_form("/admin/users/disable", &[("name", "王芳")]);
    assert_eq!(r.status, 303);
    assert_eq!(trainer.get("/").status, 303);
    assert_eq!(admin.post_form("/logout", &[]).status, 303);
    let actions: Vec<String> = desk.audit().into_iter().map(|(a, _, _)| a).collect();
    assert_eq!(
        actions,
        ["login", "user_add", "login", "user_disable", "logout"]
    );
}

#[test]
fn logging_in_through_the_form_in_chromium_lands_on_home() {
    let desk = Desk::start();
    let password = desk.user("王芳", Role::Trainer);
    let mut b = Browser::open(&format!("{}/admin/users", desk.base));
    // A stranger is sent to the login page, which remembers where they were going.
    b.wait_for_path("/login?next=%2Fadmin%2Fusers");
    b.screenshot("desk-login.png");
    log_in(&mut b, "王芳", &password);
    // A trainer may not manage users: the desk says so inside the frame.
    b.wait(
        "document.querySelector('h1') && document.querySelector('h1').textContent === '无权访问'",
    );
    b.navigate(&format!("{}/", desk.base));
    b.wait("document.querySelector('.bar .user') !== null");
    assert_eq!(b.path(), "/");
    let user = b.eval("document.querySelector('.bar .user').textContent");
    assert_eq!(user, "王芳");
    let nav = b.eval("Array.from(document.querySelectorAll('.bar nav a')).map(a => a.textContent)");
    assert_eq!(nav, serde_json::json!(["首页", "审核", "培训"]));
    // The page fits the office screen: no horizontal scrolling.
    let fits = b.eval("document.documentElement.scrollWidth <= window.innerWidth");
    assert_eq!(fits, serde_json::Value::Bool(true));
    let csrf = b.eval("desk.csrf()");
    assert_eq!(
        csrf.as_str().map(str::len),
        Some(64),
        "desk.js reads the token: {csrf}"
    );
    b.screenshot("desk-home.png");
    // Logging out from the bar ends the session.
    b.click(".bar form button");
    b.wait_for_path("/login");
    assert!(desk
        .audit()
        .iter()
        .map(|(a, _, _)| a.as_str())
        .eq(["login", "logout"]));
    drop(b);

    // An admin lands where they were going, and sees the users page in the frame.
    let password = desk.user("管理员甲", Role::Admin);
    let mut b = desk.browser_as("管理员甲", &password, "/admin/users");
    let rows = b.eval("document.querySelectorAll('table.users tbody tr').length");
    assert_eq!(rows, 2);
    let fits = b.eval("document.documentElement.scrollWidth <= window.innerWidth");
    assert_eq!(fits, serde_json::Value::Bool(true));
    b.screenshot("desk-users.png");
}
