//! Accepting connections: how many may be open at once, how long a client may take to send a
//! request's head (and to start the next one on a kept-alive connection), how slowly it may
//! send a body, and a graceful stop that lets requests in flight finish.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use futures_core::Stream;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::ConnectionLimits;
use crate::error::Error;

/// Serves `router` on `listener` until `shutdown` resolves, then waits for the requests in
/// flight.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A full file-descriptor table and the like: pause rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(place) = open.clone().try_acquire_owned() else {
            tracing::warn!(
                limit = limits.max_connections,
                "connection refused: too many open"
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let app = app.clone();
            async move { Ok::<Response, Infallible>(handle(app, request, remote, limits).await) }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = watched.await;
            drop(place);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn handle(
    app: Router,
    request: hyper::Request<Incoming>,
    remote: SocketAddr,
    limits: ConnectionLimits,
) -> Response {
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ConnectInfo(remote));
    let body = Body::new(body);
    // A body that arrives slower than the minimum rate is cut off (the handler then sees a
    // read error and answers 400); bodiless requests need no pacing.
    let body = match parts
        .headers
        .contains_key(axum::http::header::CONTENT_LENGTH)
        || parts
            .headers
            .contains_key(axum::http::header::TRANSFER_ENCODING)
    {
        true => Body::from_stream(Paced::new(body, limits)),
        false => body,
    };
    match app.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// A request body held to a minimum rate: after the grace period, at least `min_body_rate`
/// bytes for every second since.
struct Paced {
    body: axum::body::BodyDataStream,
    started: Instant,
    received: u64,
    limits: ConnectionLimits,
    /// Wakes the reader when the body would fall behind, should the client go silent.
    alarm: Pin<Box<tokio::time::Sleep>>,
}

impl Paced {
    fn new(body: Body, limits: ConnectionLimits) -> Paced {
        let started = Instant::now();
        Paced {
            body: body.into_data_stream(),
            started,
            received: 0,
            limits,
            alarm: Box::pin(tokio::time::sleep_until(started + limits.body_grace)),
        }
    }

    fn too_slow(&self) -> bool {
        let elapsed = self.started.elapsed();
        let Some(paced) = elapsed.checked_sub(self.limits.body_grace) else {
            return false;
        };
        let due = u128::from(self.limits.min_body_rate) * paced.as_millis() / 1000;
        u128::from(self.received) < due
    }
}

#[derive(Debug)]
struct TooSlow;

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body arrives too slowly")
    }
}

impl std::error::Error for TooSlow {}

impl Stream for Paced {
    type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.too_slow() {
            return Poll::Ready(Some(Err(Box::new(TooSlow))));
        }
        match Pin::new(&mut this.body).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                // Be woken when the rate would be missed, so a silent client is cut off too.
                let check = this.next_check();
                this.alarm.as_mut().reset(check);
                if this.alarm.as_mut().poll(cx).is_ready() {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

impl Paced {
    /// When the body falls behind the minimum rate if nothing more arrives.
    fn next_check(&self) -> Instant {
        let rate = self.limits.min_body_rate.max(1);
        let covered = Duration::from_millis(self.received.saturating_mul(1000) / rate);
        self.started + self.limits.body_grace + covered + Duration::from_millis(10)
    }
}
