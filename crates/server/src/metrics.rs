//! Prometheus metrics, served on their own listener (`[server] metrics_listen`).
//!
//! Every metric is declared once, below, with its type, labels and meaning; the server counts
//! through those declarations only, `/metrics` writes each one's `# HELP` from them, and
//! docs/operations.md lists them (a test keeps the three in step, and checks the example alert
//! rules in deploy/prometheus name only metrics declared here).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (seconds) of the request→grant latency histogram.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// A metric's type, as the exposition format names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// A value now.
    Gauge,
    /// Observations in buckets.
    Histogram,
}

impl Kind {
    /// `counter`, `gauge` or `histogram`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric the server exposes, as `latch_` + `name`.
#[derive(Debug)]
pub struct Metric {
    /// The name after `latch_`.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The labels its series carry.
    pub labels: &'static [&'static str],
    /// What it measures (its `# HELP`).
    pub help: &'static str,
}

macro_rules! metrics {
    ($($(#[$doc:meta])* $id:ident = $name:literal, $kind:ident, [$($label:literal),*], $help:literal;)*) => {
        $($(#[$doc])* pub const $id: Metric = Metric {
            name: $name,
            kind: Kind::$kind,
            labels: &[$($label),*],
            help: $help,
        };)*
        /// Every metric, in the order `/metrics` writes them.
        pub const ALL: &[&Metric] = &[$(&$id),*];
    };
}

metrics! {
    /// Access requests by what became of them.
    REQUESTS = "requests_total", Counter, ["outcome", "code"],
        "Access requests: outcome granted, pending, refused (with the refusal code), escalated or expired.";
    /// Approvers' answers.
    APPROVALS = "approvals_total", Counter, ["outcome", "code"],
        "Approvers' answers: outcome approve or deny, or refused (with the refusal code).";
    /// Grants written to the cloud.
    GRANTS_APPLIED = "grants_applied_total", Counter, [],
        "Grants applied in the cloud and read back.";
    /// Grants that ended.
    GRANTS_ENDED = "grants_ended_total", Counter, ["status"],
        "Grants ended and removed from the cloud, by how they ended (expired, revoked).";
    /// Grants approved but not applied within the stuck threshold.
    GRANTS_STUCK = "grants_stuck_total", Counter, [],
        "Grants still not applied in the cloud past the stuck threshold (each is alerted once).";
    /// Grants past their expiry that still hold access.
    GRANTS_OVERDUE = "grants_overdue", Gauge, [],
        "Grants more than a minute past their expiry still applied in the cloud (the scheduler's last look; 0 on a server not leading).";
    /// Cloud calls that failed.
    CLOUD_FAILURES = "cloud_failures_total", Counter, ["op"],
        "Writes to the cloud that failed (they are retried with backoff), by operation: apply or revoke.";
    /// Drift put back.
    DRIFT_REPAIRS = "drift_repairs_total", Counter, ["kind"],
        "Changes made outside Latch to what it enforces, put back, by kind.";
    /// Offers of access after a denial.
    OFFERS = "offers_total", Counter, ["outcome"],
        "Offers of access sent after an AccessDenied, and what became of them.";
    /// On-call schedule lookups.
    ON_CALL_CHECKS = "on_call_checks_total", Counter, ["outcome"],
        "On-call schedule lookups that could not be answered (the request then goes to approvers).";
    /// Scan reports and plans pushed to the server.
    POSTURE_PUSHES = "posture_pushes_total", Counter, ["kind"],
        "Scan reports, plans and proofs pushed to the server, by kind.";
    /// Audit checkpoints.
    AUDIT_CHECKPOINTS = "audit_checkpoints_total", Counter, ["result"],
        "Audit log checkpoints: published, publish_failed, log_broken or store_error.";
    /// Whether the audit log verified at the last checkpoint.
    AUDIT_LOG_INTACT = "audit_log_intact", Gauge, [],
        "Whether the audit log's hash chain verified at the last checkpoint (1) or not (0).";
    /// Directory syncs.
    DIRECTORY_SYNCS = "directory_syncs_total", Counter, ["outcome"],
        "Directory (SCIM / Identity Center) syncs, ok or failed.";
    /// People in the directory.
    DIRECTORY_PEOPLE = "directory_people", Gauge, [],
        "Active people in the loaded directory.";
    /// Audit entries delivered to a SIEM sink.
    SIEM_DELIVERED = "siem_delivered_total", Counter, ["sink"],
        "Audit entries a SIEM sink acknowledged.";
    /// Failed SIEM deliveries.
    SIEM_FAILED = "siem_failed_total", Counter, ["sink"],
        "Deliveries to a SIEM sink that failed (retried with backoff).";
    /// SIEM deliveries given up.
    SIEM_DEAD_LETTERS = "siem_dead_letters_total", Counter, ["sink"],
        "Audit entries a SIEM sink refused for good (kept as dead letters).";
    /// How far a SIEM sink is behind.
    SIEM_LAG = "siem_lag", Gauge, ["sink"],
        "Audit entries a SIEM sink has not acknowledged yet.";
    /// Slack calls refused.
    SLACK_REJECTED = "slack_rejected_total", Counter, ["reason"],
        "Calls from Slack refused (bad signature, stale, replayed, unknown team), by reason.";
    /// Teams calls refused.
    TEAMS_REJECTED = "teams_rejected_total", Counter, ["reason"],
        "Calls from Teams refused (bad token, wrong tenant), by reason.";
    /// Chat messages that could not be sent.
    CHAT_FAILURES = "chat_failures_total", Counter, ["platform", "what"],
        "Messages to Slack or Teams that failed (approval asks, decisions, reminders, alerts), by platform and kind.";
    /// Whether this server runs the scheduler.
    SCHEDULER_LEADER = "scheduler_leader", Gauge, [],
        "Whether this server runs the scheduler, which applies, expires and revokes grants (1) or not (0).";
    /// Request→grant latency.
    REQUEST_TO_GRANT = "request_to_grant_seconds", Histogram, [],
        "From an approved request to its grant applied in the cloud.";
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    gauges: Mutex<BTreeMap<(&'static str, String), i64>>,
    leader: AtomicI64,
    directory_people: AtomicI64,
    latency_buckets: [AtomicU64; 12],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    /// Count one event of `metric`, a counter: `{label="value",…}`, or none when `label`
    /// is empty.
    pub fn inc(&self, metric: &'static Metric, label: &str) {
        self.add(metric, label, 1);
    }

    /// Count `n` events of `metric`, a counter, at once.
    pub fn add(&self, metric: &'static Metric, label: &str, n: u64) {
        let mut guard = match self.counters.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let count = guard.entry((metric.name, label.to_owned())).or_insert(0);
        *count = count.saturating_add(n);
    }

    /// Set `metric`, a gauge: `{label="value",…}`, or none when `label` is empty.
    pub fn set_gauge(&self, metric: &'static Metric, label: &str, value: i64) {
        let mut guard = match self.gauges.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        guard.insert((metric.name, label.to_owned()), value);
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

    /// The text exposition: every declared metric that has a value, with its `# HELP` and
    /// `# TYPE`.
    #[must_use]
    pub fn render(&self) -> String {
        let counters = match self.counters.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let gauges = match self.gauges.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let mut out = String::new();
        for metric in ALL {
            let name = metric.name;
            let mut family = String::new();
            let mut series = |label: &str, value: &dyn std::fmt::Display| {
                if label.is_empty() {
                    let _ = writeln!(family, "latch_{name} {value}");
                } else {
                    let _ = writeln!(family, "latch_{name}{{{label}}} {value}");
                }
            };
            if std::ptr::eq(*metric, &SCHEDULER_LEADER) {
                series("", &self.leader.load(Ordering::Relaxed));
            } else if std::ptr::eq(*metric, &DIRECTORY_PEOPLE) {
                series("", &self.directory_people.load(Ordering::Relaxed));
            } else if std::ptr::eq(*metric, &REQUEST_TO_GRANT) {
                self.write_latency(&mut family);
            } else if metric.kind == Kind::Counter {
                for ((_, label), value) in counters.iter().filter(|((n, _), _)| *n == name) {
                    series(label, value);
                }
            } else {
                for ((_, label), value) in gauges.iter().filter(|((n, _), _)| *n == name) {
                    series(label, value);
                }
            }
            if !family.is_empty() {
                let _ = writeln!(out, "# HELP latch_{name} {}", metric.help);
                let _ = writeln!(out, "# TYPE latch_{name} {}", metric.kind.as_str());
                out.push_str(&family);
            }
        }
        out
    }

    fn write_latency(&self, out: &mut String) {
        let name = REQUEST_TO_GRANT.name;
        for (bound, bucket) in BUCKETS.iter().zip(self.latency_buckets.iter()) {
            let _ = writeln!(
                out,
                "latch_{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "latch_{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "latch_{name}_sum {}",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "latch_{name}_count {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.inc(&REQUESTS, "outcome=\"created\"");
        m.inc(&REQUESTS, "outcome=\"created\"");
        m.inc(&GRANTS_APPLIED, "");
        m.observe_grant_latency_ms(20);
        m.set_leader(true);
        m.add(&SIEM_DELIVERED, "sink=\"soc\"", 3);
        m.set_gauge(&SIEM_LAG, "sink=\"soc\"", 7);
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
        assert!(text.contains(
            "# HELP latch_siem_lag Audit entries a SIEM sink has not acknowledged yet.\n\
             # TYPE latch_siem_lag gauge\nlatch_siem_lag{sink=\"soc\"} 7\n"
        ));
        // A family with no series yet is not written.
        assert!(!text.contains("latch_offers_total"), "{text}");
        assert!(m.is_leader());
    }

    #[test]
    fn each_metric_is_declared_once() {
        let mut names: Vec<&str> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a metric is declared twice");
        for m in ALL {
            assert_eq!(
                m.kind == Kind::Counter,
                m.name.ends_with("_total"),
                "{}: counters, and only they, end in _total",
                m.name
            );
        }
    }
}
