//! The web desk's HTTP routes on arbitrary requests — method, path (mostly under `/clips/`,
//! `/live/clips/`, `/api/`, `/reports`), query, `Range`, a session of any role or none — called as
//! a tower service on a real record: never a 5xx, never a byte from outside the clip folder.
#![no_main]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use courtesy::desk::{App, Remote};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// A record with one user and session per role, a clip folder with one clip, and a secret
/// next to it that must never be served.
struct World {
    _dir: tempfile::TempDir,
    app: App,
    runtime: tokio::runtime::Runtime,
}

const SECRET: &[u8] = b"RIFF-SECRET-outside-the-clip-folder";
const ROLES: [&str; 4] = ["trainer", "office", "supervisor", "admin"];

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let clips: PathBuf = dir.path().join("clips");
        std::fs::create_dir_all(clips.join("w07")).unwrap();
        std::fs::write(clips.join("w07/a.wav"), b"RIFF-clip-w07").unwrap();
        std::fs::write(dir.path().join("secret.wav"), SECRET).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("secret.wav"), clips.join("w07/link.wav"))
            .unwrap();
        let store = courtesy::store::Store::open(dir.path().join("r.db").to_str().unwrap()).unwrap();
        for role in ROLES {
            let id = store.add_user(role, role, "not-a-hash").unwrap();
            let token = Sha256::digest(format!("token-{role}").as_bytes());
            let hex: String = token.iter().map(|b| format!("{b:02x}")).collect();
            store
                .create_web_session(&hex, id, &format!("csrf-{role}"), i64::MAX / 2)
                .unwrap();
        }
        let mut config = courtesy::config::Config::default();
        config.batch.clips = Some(clips.clone());
        config.live.clips = clips;
        let app = App::new(config, Arc::new(store)).unwrap();
        // Timers on, as the desk's server has them (the event streams keep alive with them).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        World {
            _dir: dir,
            app,
            runtime,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    // Bytes: [method/prefix] [session/csrf] [range length] range... path-and-query...
    let [m, s, r, rest @ ..] = data else {
        return;
    };
    let r = (*r as usize).min(rest.len());
    let (range, path) = rest.split_at(r);
    let method = ["GET", "HEAD", "POST", "OPTIONS", "DELETE"][*m as usize % 5];
    let mut uri = String::from_utf8_lossy(path).into_owned();
    match m >> 4 {
        0..=4 => uri.insert_str(0, "/clips/"),
        5..=7 => uri.insert_str(0, "/live/clips/"),
        8..=10 => uri.insert_str(0, "/api/"),
        11..=12 => uri.insert_str(0, "/reports"),
        _ => {}
    }
    let mut request = Request::builder().method(method).uri(uri.as_str());
    if s & 0b100 != 0 {
        let role = ROLES[*s as usize % 4];
        request = request.header("cookie", format!("courtesy_session=token-{role}"));
        // Writes only with the right token; the fuzzer never gets to change the record.
        if s & 0b1000 != 0 {
            request = request.header("x-csrf-token", "not-the-token");
        }
    }
    if !range.is_empty() {
        request = request.header("range", range);
    }
    // A URI or header the HTTP layer itself refuses never reaches the desk.
    let Ok(mut request) = request.body(Body::empty()) else {
        return;
    };
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(Remote(peer)));
    let app = courtesy::desk::routes::router(w.app.clone());
    w.runtime.block_on(async {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        assert!(!status.is_server_error(), "{status} for {method} {uri:?}");
        let streaming = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if streaming {
            return;
        }
        let body = axum::body::to_bytes(response.into_body(), 8 << 20)
            .await
            .unwrap();
        assert!(
            !body.windows(6).any(|x| x == b"SECRET"),
            "{method} {uri:?} served the secret"
        );
    });
});
