//! The forging appliance's `/metrics` (`goodwill forge --metrics-listen`):
//! the same server as a main node's API ([`super::serve`]: hyper, its
//! connection cap, header bound and idle timeout), answering one route.
//! Any other path is a 404 problem, any other method on it a 405.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::api::{Figures, Reply};
use super::{HttpLimits, Service};
use crate::runtime::forge::ForgeShared;

/// The bounds of the appliance's metrics server: a scraper or two, a GET
/// without a body, 5 s of silence at most.
pub const METRICS_LIMITS: HttpLimits = HttpLimits {
    max_connections: 16,
    max_per_ip: 16,
    header_bytes: 8 * 1024,
    body_bytes: 1024,
    idle_ms: 5_000,
};

/// What answers on `--metrics-listen`: the appliance's figures as
/// Prometheus text, with the server's own counters after them.
#[derive(Debug)]
pub struct ApplianceMetrics {
    forge: Arc<ForgeShared>,
    figures: Figures,
}

impl ApplianceMetrics {
    /// The metrics of the appliance `forge`.
    pub fn new(forge: Arc<ForgeShared>) -> ApplianceMetrics {
        ApplianceMetrics {
            forge,
            figures: Figures::default(),
        }
    }
}

impl Service for ApplianceMetrics {
    fn answer(&self, req: &super::Request<'_>) -> Reply {
        let (method, path) = (req.method, req.path);
        if path != "/metrics" {
            return super::api::not_found(&format!(
                "no such resource: {path} (this appliance serves GET /metrics only)"
            ));
        }
        if method != "GET" {
            return super::api::get_only(path, method);
        }
        let mut text = self.forge.metrics();
        let f = &self.figures;
        for (name, help, kind, v) in [
            (
                "goodwill_http_connections",
                "HTTP connections open",
                "gauge",
                f.http_open.load(Ordering::Relaxed),
            ),
            (
                "goodwill_http_requests_total",
                "HTTP requests answered since start",
                "counter",
                f.http_requests.load(Ordering::Relaxed),
            ),
            (
                "goodwill_http_refused_total",
                "HTTP connections refused over the cap since start",
                "counter",
                f.http_refused.load(Ordering::Relaxed),
            ),
        ] {
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        }
        Reply {
            retry_after: None,
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: text.into_bytes(),
            allow: None,
        }
    }

    fn figures(&self) -> &Figures {
        &self.figures
    }
}
