//! Plain HTTP pages on the JSON-RPC port, answered before any group is looked up:
//!
//! - `GET /metrics`: the node's Prometheus metrics in the text exposition format, from the
//!   source the node installs with [`crate::RpcHandle::set_metrics_source`] (404 until then);
//! - `GET /browser/...`: the block browser's static files ([`crate::browser`]), which read
//!   everything they show through the same port's JSON-RPC, with no other privilege.
//!
//! Everything else goes on to the group router. A JSON-RPC request is a POST (or a
//! WebSocket upgrade) to `/` or `/g/<group>`, so these paths never shadow one.

use jsonrpsee::server::{HttpBody, HttpResponse};
use std::sync::Arc;

/// Renders the metrics text on each scrape.
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

/// The content type Prometheus expects for the text format.
const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The answer for `path`, or `None` when it is not one of these pages.
pub(crate) fn serve(
    method: &hyper::Method,
    path: &str,
    metrics: impl FnOnce() -> Option<MetricsSource>,
) -> Option<HttpResponse> {
    let get = method == hyper::Method::GET || method == hyper::Method::HEAD;
    if path == "/metrics" {
        if !get {
            return Some(plain(hyper::StatusCode::METHOD_NOT_ALLOWED, "use GET"));
        }
        return Some(match metrics() {
            Some(source) => with_type(
                HttpResponse::new(HttpBody::from(source())),
                METRICS_CONTENT_TYPE,
            ),
            None => plain(
                hyper::StatusCode::NOT_FOUND,
                "this server exports no metrics",
            ),
        });
    }
    if path == "/browser" {
        let mut rp = plain(hyper::StatusCode::MOVED_PERMANENTLY, "see /browser/");
        rp.headers_mut().insert(
            hyper::header::LOCATION,
            hyper::header::HeaderValue::from_static("/browser/"),
        );
        return Some(rp);
    }
    let file = path.strip_prefix("/browser/")?;
    if !get {
        return Some(plain(hyper::StatusCode::METHOD_NOT_ALLOWED, "use GET"));
    }
    Some(match crate::browser::asset(file) {
        Some((content_type, body)) => with_type(
            HttpResponse::new(HttpBody::from(body.to_vec())),
            content_type,
        ),
        None => plain(hyper::StatusCode::NOT_FOUND, "no such browser page"),
    })
}

fn with_type(mut rp: HttpResponse, content_type: &'static str) -> HttpResponse {
    rp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    rp
}

fn plain(status: hyper::StatusCode, text: &'static str) -> HttpResponse {
    let mut rp = with_type(
        HttpResponse::new(HttpBody::from(text)),
        "text/plain; charset=utf-8",
    );
    *rp.status_mut() = status;
    rp
}
