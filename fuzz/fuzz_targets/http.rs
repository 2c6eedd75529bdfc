//! The live page's HTTP routes on arbitrary requests (method, path, query, Range header), called
//! as a tower service: never a 5xx, never a byte from outside the clip folder.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

/// A clip folder with one clip, next to a secret the server must never hand out.
struct World {
    _dir: tempfile::TempDir,
    clips: PathBuf,
    runtime: tokio::runtime::Runtime,
}

const SECRET: &[u8] = b"RIFF-SECRET-outside-the-clip-folder";
const CLIP: &[u8] = b"RIFF-clip-w07";

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let clips = dir.path().join("clips");
        std::fs::create_dir_all(clips.join("w07")).unwrap();
        std::fs::write(clips.join("w07/a.wav"), CLIP).unwrap();
        std::fs::write(dir.path().join("secret.wav"), SECRET).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("secret.wav"), clips.join("w07/link.wav"))
            .unwrap();
        // Timers on, as in `Server::start`: the event stream's keep-alive needs them (a first
        // run without found that, at /events).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        World {
            _dir: dir,
            clips,
            runtime,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    // Bytes: [method selector] [range header length] range... path...
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let Some((&r, rest)) = rest.split_first() else {
        return;
    };
    let r = (r as usize).min(rest.len());
    let (range, path) = rest.split_at(r);
    let method = ["GET", "HEAD", "POST", "OPTIONS", "PUT"][m as usize % 5];
    let mut uri = String::from_utf8_lossy(path).into_owned();
    // Most inputs aim at the routes that read input: /clips/ and /api/.
    match m >> 4 {
        0..=5 => uri.insert_str(0, "/clips/"),
        6..=9 => uri.insert_str(0, "/api/"),
        _ => {}
    }
    let mut request = Request::builder().method(method).uri(uri.as_str());
    if !range.is_empty() {
        request = request.header("range", range);
    }
    // A URI or header the HTTP layer itself refuses never reaches our routes.
    let Ok(request) = request.body(Body::empty()) else {
        return;
    };
    let app = courtesy::serve::router(courtesy::serve::ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        clip_dir: w.clips.clone(),
        windows: vec![("w07".into(), "7号窗口".into())],
    });
    w.runtime.block_on(async {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        assert!(!status.is_server_error(), "{status} for {uri:?}");
        let streaming = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if streaming {
            return;
        }
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(
            !body.windows(6).any(|x| x == b"SECRET"),
            "{uri:?} served the secret"
        );
    });
});
