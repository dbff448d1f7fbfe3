//! The HTTP server: a plain hyper accept loop around the axum router, so that a handler can
//! ask for its connection to be closed without any response (dropped-connection and
//! lost-response faults), which axum alone cannot do.

use crate::App;
use axum::body::Body;
use axum::http::{Request, Uri};
use axum::Router;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

/// Response extension asking the server to close the connection instead of answering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// The `<tenant>` segment of a `/<tenant>/scim/v2/...` request, stripped before routing.
#[derive(Debug, Clone)]
pub(crate) struct PathTenant(pub String);

/// Error handed to hyper so that it closes the connection without writing a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped on purpose by fault injection")]
struct ConnectionDropped;

/// Stops the accept loop and its connections.
pub(crate) struct ServerHandle {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    pub(crate) async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Binds and starts serving; returns the bound address.
pub(crate) async fn serve(
    listen: SocketAddr,
    app: App,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let router = crate::routes::router(app);
    let (tx, mut rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut rx => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => { conns.spawn(serve_connection(stream, router.clone())); }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    });
    Ok((
        addr,
        ServerHandle {
            stop: Some(tx),
            task,
        },
    ))
}

/// Collapses `//` in the path so `.../scim/v2//Users` works like AWS (probably) does, and
/// moves a tenant segment (`/<tenant>/scim/v2/...`) into a [`PathTenant`] extension.
fn normalise_path(req: &mut Request<Body>) {
    let path = req.uri().path();
    let tenant = path
        .trim_start_matches('/')
        .split_once('/')
        .filter(|(seg, rest)| {
            !seg.is_empty() && *seg != "scim" && *seg != "admin" && rest.starts_with("scim/v2")
        })
        .map(|(seg, _)| seg.to_string());
    if !path.contains("//") && tenant.is_none() {
        return;
    }
    let mut collapsed = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    if let Some(t) = tenant {
        if let Some(rest) = collapsed.trim_start_matches('/').strip_prefix(t.as_str()) {
            collapsed = rest.to_string();
        }
        req.extensions_mut().insert(PathTenant(t));
    }
    let pq = match req.uri().query() {
        Some(q) => format!("{collapsed}?{q}"),
        None => collapsed,
    };
    if let Ok(uri) = pq.parse::<Uri>() {
        *req.uri_mut() = uri;
    }
}

async fn serve_connection(stream: TcpStream, router: Router) {
    let _ = stream.set_nodelay(true);
    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let router = router.clone();
        async move {
            let mut req = req.map(Body::new);
            normalise_path(&mut req);
            let resp = match router.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if resp.extensions().get::<DropConnection>().is_some() {
                return Err(ConnectionDropped);
            }
            Ok(resp)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}
