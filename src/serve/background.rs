//! An HTTP server on a thread of its own with a small tokio runtime, so the programs that start
//! one (the live pipeline, `courtesy serve`) stay synchronous. Dropping it stops it.

use std::future::Future;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

/// A running server thread.
#[derive(Debug)]
pub(crate) struct Background {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// Turns true when the server should stop; servers end their streams and stop accepting on it.
pub(crate) type Stopped = watch::Receiver<bool>;

impl Background {
    /// Binds `addr` (a one-line error with the fix) and runs `serve(listener, stopped)` on a
    /// thread named `name`. `serve` returns the server future; it must end soon after `stopped`
    /// turns true (axum's graceful shutdown), and is given 2 s to.
    pub(crate) fn start<F, Fut>(addr: SocketAddr, name: &str, serve: F) -> std::io::Result<Self>
    where
        F: FnOnce(tokio::net::TcpListener, Stopped) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind(addr).map_err(|e| super::bind_error(addr, e))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()?;
        let listener = {
            let _inside = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                runtime.block_on(async move {
                    let task = tokio::spawn(serve(listener, stopped.clone()));
                    let mut stopped = stopped;
                    let _ = stopped.wait_for(|stop| *stop).await;
                    // Event streams end on the same signal, so this is quick unless a client
                    // stalls a download.
                    let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
                });
                runtime.shutdown_timeout(Duration::from_millis(500));
            })?;
        Ok(Background {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on (the real port when asked for port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the server thread ends (it runs until stopped).
    pub(crate) fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Stops the server and waits (briefly) for its thread.
    pub(crate) fn stop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A future that ends when `stopped` turns true: axum's graceful-shutdown signal.
pub(crate) async fn until(mut stopped: Stopped) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
