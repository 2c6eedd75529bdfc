//! The desk (`courtesy serve`): one web app, behind logins and roles, where trainers review,
//! the quality office reads reports and fixes rules, and supervisors watch live.
//!
//! Every route is one row of the table in [`routes`]; the router is built from it, and each row's
//! guard ([`auth::guard`]) checks the session, the role and (for POST/PUT/DELETE) the CSRF token
//! before the handler runs. A handler gets the person with the [`auth::Viewer`] extractor and
//! wraps its HTML in the common frame with [`layout::page`]. The record ([`Store`]) is
//! synchronous: handlers call it through [`App::db`], off the async workers.
//!
//! ```no_run
//! use std::sync::Arc;
//! let config = courtesy::config::Config::default();
//! let store = Arc::new(courtesy::store::Store::open("courtesy.db")?);
//! let server = courtesy::desk::Server::start(courtesy::desk::App::new(config, store)?)?;
//! println!("http://{}/", server.local_addr());
//! server.wait();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod auth;
pub mod html;
pub mod layout;
pub mod live;
pub mod pages;
pub mod password;
pub mod reports;
pub mod review;
pub mod routes;
pub mod static_files;
pub mod tls;
pub mod training;
pub mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::store::{Store, StoreError};

pub use auth::{audit, Viewer};
pub use routes::{Access, Kind, Role, Route};

/// `[desk]`: where the desk listens, its certificate and how long a login lasts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeskConfig {
    /// `HOST:PORT` to listen on; loopback unless told otherwise (`0.0.0.0:8443` for the office).
    pub http: String,
    /// A PEM certificate chain; with `tls_key`, the desk speaks HTTPS only.
    pub tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    pub tls_key: Option<PathBuf>,
    /// Hours a login lasts before the desk asks for the password again.
    pub session_hours: f64,
}

impl Default for DeskConfig {
    fn default() -> Self {
        DeskConfig {
            http: "127.0.0.1:8080".into(),
            tls_cert: None,
            tls_key: None,
            session_hours: 12.0,
        }
    }
}

impl DeskConfig {
    /// Checks what the types cannot; the message names the field and the fix.
    pub fn validate(&self) -> Result<(), String> {
        crate::config::in_range("desk.session_hours", self.session_hours, 0.05, 720.0)?;
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return Err(
                    "desk.tls_cert is set but desk.tls_key is not — give both PEM \
                            files, or neither for plain HTTP"
                        .into(),
                )
            }
            (None, Some(_)) => {
                return Err(
                    "desk.tls_key is set but desk.tls_cert is not — give both PEM \
                            files, or neither for plain HTTP"
                        .into(),
                )
            }
            _ => {}
        }
        let (host, port) = self.http.rsplit_once(':').unwrap_or(("", ""));
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(format!(
                "desk.http = {:?} is not HOST:PORT — e.g. 127.0.0.1:8080, or 0.0.0.0:8443 to \
                 serve the whole office",
                self.http
            ));
        }
        Ok(())
    }

    /// Whether the desk speaks HTTPS.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// How long a session lasts.
    pub fn session_length(&self) -> Duration {
        Duration::from_secs_f64(self.session_hours * 3600.0)
    }
}

/// The remote address of a connection, plain or TLS (`ConnectInfo<Remote>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Remote
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Remote {
        Remote(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tls::Listener>>
    for Remote
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tls::Listener>) -> Remote {
        Remote(*stream.remote_addr())
    }
}

/// What every handler shares: the record, the configuration, the clip folder and the login
/// limiter. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    config: Config,
    clip_dir: PathBuf,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    limiter: auth::Limiter,
    /// Window status and rolling scores when the desk runs inside `courtesy live --http`.
    feed: Option<crate::serve::Feed>,
}

impl App {
    /// The app for a validated configuration; reads the TLS certificate and key if configured
    /// (a one-line error names the file that is unreadable or invalid).
    pub fn new(config: Config, store: Arc<Store>) -> Result<App, String> {
        App::with_feed(config, store, None)
    }

    /// [`App::new`] inside a live run: the live view also shows each window's status and rolling
    /// score from `feed`.
    pub fn with_feed(
        config: Config,
        store: Arc<Store>,
        feed: Option<crate::serve::Feed>,
    ) -> Result<App, String> {
        config.desk.validate()?;
        let tls = match (&config.desk.tls_cert, &config.desk.tls_key) {
            (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
            _ => None,
        };
        Ok(App {
            inner: Arc::new(Inner {
                store,
                clip_dir: config.batch.clip_dir(),
                config,
                tls,
                limiter: auth::Limiter::default(),
                feed,
            }),
        })
    }

    /// The record, for reads in a blocking context; async handlers use [`App::db`].
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The whole validated configuration (lexicons, scores, `[desk]`, `[batch]`…).
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The folder `/clips/…` serves from (`[batch] clips`).
    pub fn clip_dir(&self) -> &std::path::Path {
        &self.inner.clip_dir
    }

    /// The live run's feed, when the desk runs inside `courtesy live --http`.
    pub fn feed(&self) -> Option<&crate::serve::Feed> {
        self.inner.feed.as_ref()
    }

    /// Whether the desk speaks HTTPS (cookies are then `Secure`).
    pub fn tls(&self) -> bool {
        self.inner.tls.is_some()
    }

    pub(crate) fn limiter(&self) -> &auth::Limiter {
        &self.inner.limiter
    }

    /// Runs `f` with the record on a blocking thread: the store is synchronous and must not
    /// hold an async worker.
    ///
    /// ```no_run
    /// # async fn f(app: courtesy::desk::App) -> Result<(), courtesy::store::StoreError> {
    /// let users = app.db(|s| s.users()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn db<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::db(
                store_name(&self.inner.store),
                format!("a database call failed ({e}) — a bug in courtesy"),
            )),
        }
    }
}

fn store_name(store: &Store) -> &str {
    store.describe()
}

/// The running desk, on a thread of its own with its own tokio runtime. Dropping it stops it.
pub struct Server {
    background: crate::serve::Background,
}

impl Server {
    /// Binds `[desk] http` and serves on a thread of its own: HTTPS when a certificate is
    /// configured, else plain HTTP. A bind error is one line naming the address and the fix.
    pub fn start(app: App) -> std::io::Result<Server> {
        let addr = crate::serve::resolve(&app.config().desk.http)
            .map_err(|m| std::io::Error::new(std::io::ErrorKind::InvalidInput, m))?;
        let background =
            crate::serve::Background::start(addr, "courtesy-desk", move |listener, stopped| {
                let tls = app.inner.tls.clone();
                let service = routes::router(app).into_make_service_with_connect_info::<Remote>();
                let shutdown = crate::serve::background::until(stopped);
                async move {
                    let _ = match tls {
                        None => {
                            axum::serve(listener, service)
                                .with_graceful_shutdown(shutdown)
                                .await
                        }
                        Some(config) => {
                            axum::serve(tls::Listener::new(listener, config), service)
                                .with_graceful_shutdown(shutdown)
                                .await
                        }
                    };
                }
            })?;
        Ok(Server { background })
    }

    /// The address it listens on (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.background.local_addr()
    }

    /// Serves until the process ends.
    pub fn wait(self) {
        self.background.wait();
    }

    /// Stops listening and waits (briefly) for open requests.
    pub fn shutdown(mut self) {
        self.background.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_is_shared_by_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<App>();
        assert_send_sync::<Server>();
    }

    #[test]
    fn desk_settings_are_checked_with_the_fix() {
        DeskConfig::default().validate().unwrap();
        let bad = |c: DeskConfig| c.validate().unwrap_err();
        let e = bad(DeskConfig {
            session_hours: 0.0,
            ..DeskConfig::default()
        });
        assert!(e.contains("desk.session_hours"), "{e}");
        let e = bad(DeskConfig {
            tls_cert: Some("c.pem".into()),
            ..DeskConfig::default()
        });
        assert!(e.contains("desk.tls_key"), "{e}");
        let e = bad(DeskConfig {
            http: "8080".into(),
            ..DeskConfig::default()
        });
        assert!(e.contains("desk.http") && e.contains("HOST:PORT"), "{e}");
        assert!(!e.contains('\n'));
    }
}
