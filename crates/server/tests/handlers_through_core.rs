//! Request handlers change nothing themselves: they read through `Core::view` (the store's
//! read half) and every change they cause is a method of `Core`, which audits it. The type
//! system keeps the store private to the service module; this keeps the crate-internal
//! escape hatch (`Core::store`, for the scheduler) out of the handlers.

const HANDLERS: [(&str, &str); 8] = [
    ("http.rs", include_str!("../src/http.rs")),
    ("offers.rs", include_str!("../src/offers.rs")),
    ("slack/mod.rs", include_str!("../src/slack/mod.rs")),
    ("slack/verify.rs", include_str!("../src/slack/verify.rs")),
    ("slack/client.rs", include_str!("../src/slack/client.rs")),
    (
        "slack/messages.rs",
        include_str!("../src/slack/messages.rs"),
    ),
    (
        "slack/commands.rs",
        include_str!("../src/slack/commands.rs"),
    ),
    (
        "slack/notifier.rs",
        include_str!("../src/slack/notifier.rs"),
    ),
];

#[test]
fn handlers_hold_only_the_read_half_of_the_store() {
    for (file, text) in HANDLERS {
        for forbidden in [".store()", "Changeset", ".commit("] {
            let hits: Vec<usize> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.contains(forbidden))
                .map(|(n, _)| n + 1)
                .collect();
            assert!(
                hits.is_empty(),
                "{file} uses `{forbidden}` on lines {hits:?}: a handler's changes go through Core"
            );
        }
    }
}
