//! Progress reporting: the library never prints; it tells a [`Progress`] what happens and the
//! command line shows it on stderr.

/// What the adapter is doing, for people watching a long run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A phase starts, with the number of items it will go through (0 when unknown).
    Phase {
        /// Name of the phase (`organization`, `accounts`, `cloudtrail`, `apply`).
        name: String,
        /// Items it will go through.
        total: usize,
    },
    /// One item of the current phase is done (`ok: false` when it failed, and why).
    Item {
        /// The item (account id, object key, change).
        item: String,
        /// Whether it succeeded.
        ok: bool,
        /// Extra detail (counts, the error).
        detail: String,
    },
}

/// Receives progress events. Implementations must be cheap and never block for long.
pub trait Progress: Send + Sync {
    /// One event.
    fn event(&self, event: ProgressEvent);
}

/// Ignores every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _event: ProgressEvent) {}
}

pub(crate) fn phase(p: &dyn Progress, name: &str, total: usize) {
    p.event(ProgressEvent::Phase {
        name: name.to_owned(),
        total,
    });
}

pub(crate) fn item(p: &dyn Progress, item: &str, ok: bool, detail: impl Into<String>) {
    p.event(ProgressEvent::Item {
        item: item.to_owned(),
        ok,
        detail: detail.into(),
    });
}
