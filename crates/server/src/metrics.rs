//! Prometheus metrics, served on their own listener (`[server] metrics_listen`).
//!
//! A handful of counters, a few gauges and one histogram, written in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (seconds) of the request→grant latency histogram.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(String, String), u64>>,
    gauges: Mutex<BTreeMap<(String, String), i64>>,
    leader: AtomicI64,
    directory_people: AtomicI64,
    latency_buckets: [AtomicU64; 12],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    /// Count one event: `name{label="value"}`, or no label when `label` is empty.
    pub fn inc(&self, name: &str, label: &str) {
        self.add(name, label, 1);
    }

    /// Count `n` events at once: `name{label="value"}`, or no label when `label` is empty.
    pub fn add(&self, name: &str, label: &str, n: u64) {
        let mut guard = match self.counters.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let count = guard
            .entry((name.to_owned(), label.to_owned()))
            .or_insert(0);
        *count = count.saturating_add(n);
    }

    /// Set a gauge: `name{label="value"}`, or no label when `label` is empty.
    pub fn set_gauge(&self, name: &str, label: &str, value: i64) {
        let mut guard = match self.gauges.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        guard.insert((name.to_owned(), label.to_owned()), value);
    }

    /// Whether this server runs the scheduler.
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(i64::from(leader), Ordering::Relaxed);
    }

    /// Whether this server runs the scheduler (as last set), and so delivers to SIEM sinks.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed) != 0
    }

    /// How many active people the loaded directory holds.
    pub fn set_directory_people(&self, n: usize) {
        self.directory_people
            .store(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// Record one request→grant latency.
    pub fn observe_grant_latency_ms(&self, ms: i64) {
        let secs = ms.max(0) as f64 / 1000.0;
        for (bound, bucket) in BUCKETS.iter().zip(self.latency_buckets.iter()) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(
            u64::try_from(ms.max(0)).unwrap_or(0) * 1000,
            Ordering::Relaxed,
        );
    }

    /// The text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        write_family(&mut out, "counter", &self.counters);
        write_family(&mut out, "gauge", &self.gauges);
        let _ = writeln!(out, "# TYPE latch_scheduler_leader gauge");
        let _ = writeln!(
            out,
            "latch_scheduler_leader {}",
            self.leader.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# TYPE latch_directory_people gauge");
        let _ = writeln!(
            out,
            "latch_directory_people {}",
            self.directory_people.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# TYPE latch_request_to_grant_seconds histogram");
        for (bound, bucket) in BUCKETS.iter().zip(self.latency_buckets.iter()) {
            let _ = writeln!(
                out,
                "latch_request_to_grant_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "latch_request_to_grant_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "latch_request_to_grant_seconds_sum {}",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "latch_request_to_grant_seconds_count {count}");
        out
    }
}

/// Write every series of a map of `(name, label)` to values, with one `# TYPE` line per name.
fn write_family<T: std::fmt::Display + Clone>(
    out: &mut String,
    kind: &str,
    series: &Mutex<BTreeMap<(String, String), T>>,
) {
    let series = match series.lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    };
    let mut last = String::new();
    for ((name, label), value) in &series {
        if *name != last {
            let _ = writeln!(out, "# TYPE latch_{name} {kind}");
            last.clone_from(name);
        }
        if label.is_empty() {
            let _ = writeln!(out, "latch_{name} {value}");
        } else {
            let _ = writeln!(out, "latch_{name}{{{label}}} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_prometheus_text() {
        let m = super::Metrics::default();
        m.inc("requests_total", "outcome=\"created\"");
        m.inc("requests_total", "outcome=\"created\"");
        m.inc("grants_applied_total", "");
        m.observe_grant_latency_ms(20);
        m.set_leader(true);
        m.add("siem_delivered_total", "sink=\"soc\"", 3);
        m.set_gauge("siem_lag", "sink=\"soc\"", 7);
        let text = m.render();
        assert!(
            text.contains("latch_requests_total{outcome=\"created\"} 2"),
            "{text}"
        );
        assert!(text.contains("latch_grants_applied_total 1"));
        assert!(text.contains("latch_request_to_grant_seconds_bucket{le=\"0.025\"} 1"));
        assert!(text.contains("latch_request_to_grant_seconds_bucket{le=\"0.01\"} 0"));
        assert!(text.contains("latch_scheduler_leader 1"));
        assert!(text.contains("latch_siem_delivered_total{sink=\"soc\"} 3"));
        assert!(text.contains("# TYPE latch_siem_lag gauge\nlatch_siem_lag{sink=\"soc\"} 7\n"));
        assert!(m.is_leader());
    }
}
