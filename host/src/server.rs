//! Running the HTTP server: bind, serve, and shut down gracefully so that
//! in-flight requests finish. A serving process also runs the background
//! workers (the job scheduler, the event dispatcher and the mail worker) unless the operator
//! turned them off (`PLAZA_WORKERS=false`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::Server;
use poem::listener::{Acceptor, Listener, TcpListener};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::http;

/// A server running in the background (tests and embedding).
pub struct Running {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    workers: Option<Workers>,
}

/// The background workers of a serving process.
struct Workers {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    fn start(app: &Arc<App>) -> Self {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let scheduler =
            crate::workers::Scheduler::new(Arc::clone(&app.modules), app.db.clone(), Arc::clone(&app.metrics));
        let dispatcher = crate::workers::Dispatcher::new(
            Arc::clone(&app.modules),
            app.db.clone(),
            Arc::clone(&app.metrics),
            &app.config,
        );
        let shared = &app.modules.services().mail;
        let mail = crate::mail::Worker::new(app.db.clone(), Arc::clone(&shared.config), Arc::clone(&shared.wake));
        let tasks = vec![
            tokio::spawn(scheduler.run(stopped.clone())),
            tokio::spawn(dispatcher.run(stopped.clone())),
            tokio::spawn(mail.run(stopped)),
        ];
        Self { stop, tasks }
    }

    /// Stops taking new work; runs already started finish on their own
    /// (a run cut short is taken over by another process when its lease ends).
    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl Running {
    /// Asks the server to stop and waits until in-flight requests are done.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(workers) = self.workers.take() {
            workers.stop().await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Binds `app.config.listen` and serves in the background.
pub async fn start(app: Arc<App>) -> std::io::Result<Running> {
    let acceptor = http::connection::CheckedAcceptor(TcpListener::bind(app.config.listen).into_acceptor().await?);
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("listener has no socket address"))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let grace = Duration::from_secs(app.config.shutdown_grace_secs);
    let endpoint = http::router(Arc::clone(&app));
    let task = tokio::spawn(async move {
        Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                endpoint,
                async move {
                    let _ = stopped.await;
                },
                Some(grace),
            )
            .await
    });
    let workers = app.config.workers.then(|| Workers::start(&app));
    Ok(Running { addr, stop: Some(stop), task, workers })
}

/// Serves until SIGTERM or SIGINT, then lets in-flight requests finish.
pub async fn serve_until_signal(app: Arc<App>) -> std::io::Result<()> {
    let running = start(Arc::clone(&app)).await?;
    tracing::info!(addr = %running.addr, "listening; API docs at http://{}/docs", running.addr);
    shutdown_signal().await;
    tracing::info!(grace_secs = app.config.shutdown_grace_secs, "shutting down; finishing in-flight requests");
    running.shutdown().await?;
    app.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
