//! Structured logs (pretty for people, JSON for machines) and the in-process metrics that
//! `/metrics` exposes in Prometheus text format.

use std::{
    collections::BTreeMap,
    sync::Mutex,
    time::Duration,
};

use crate::config::LogFormat;

pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    // a second init (tests) is not an error worth failing on
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Series {
    counts: [u64; BUCKETS.len()],
    total: u64,
    sum: f64,
}

/// Request counts and latency histograms by (method, route, status).
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let Ok(mut map) = self.series.lock() else { return };
        let s = map.entry((method.to_owned(), route.to_owned(), status)).or_default();
        s.total += 1;
        s.sum += secs;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                s.counts[i] += 1;
            }
        }
    }

    /// Totals over every route: (requests, 5xx answers, p95 latency in seconds from the histogram's
    /// bucket bounds). `/metrics`, `/healthz` and static files are left out: they are not traffic.
    pub fn summary(&self) -> (u64, u64, f64) {
        let Ok(map) = self.series.lock() else { return (0, 0, 0.0) };
        let mut counts = [0u64; BUCKETS.len()];
        let (mut total, mut errors) = (0u64, 0u64);
        for ((_, route, status), s) in map.iter() {
            if matches!(route.as_str(), "/metrics" | "/healthz" | "/readyz" | "/pkg/*") {
                continue;
            }
            total += s.total;
            if *status >= 500 {
                errors += s.total;
            }
            for (i, c) in s.counts.iter().enumerate() {
                counts[i] += c;
            }
        }
        let want = (total as f64 * 0.95).ceil() as u64;
        let p95 = BUCKETS.iter().zip(counts).find(|(_, c)| *c >= want).map(|(le, _)| *le).unwrap_or(BUCKETS[BUCKETS.len() - 1]);
        (total, errors, if total == 0 { 0.0 } else { p95 })
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP http_requests_total HTTP requests handled, by method, route and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        let Ok(map) = self.series.lock() else { return out };
        for ((m, r, st), s) in map.iter() {
            out.push_str(&format!("http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{st}\"}} {}\n", esc(r), s.total));
        }
        out.push_str("# HELP http_request_duration_seconds Time to produce the response head.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((m, r, st), s) in map.iter() {
            let labels = format!("method=\"{m}\",route=\"{}\",status=\"{st}\"", esc(r));
            for (i, le) in BUCKETS.iter().enumerate() {
                out.push_str(&format!("http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}\n", s.counts[i]));
            }
            out.push_str(&format!("http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n", s.total));
            out.push_str(&format!("http_request_duration_seconds_sum{{{labels}}} {}\n", s.sum));
            out.push_str(&format!("http_request_duration_seconds_count{{{labels}}} {}\n", s.total));
        }
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.observe("GET", "/healthz", 200, Duration::from_micros(500));
        m.observe("GET", "/healthz", 200, Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains("http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.001\"} 1"));
        assert!(text.contains("le=\"0.05\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
