//! Request handlers change nothing themselves: they read through `Core::view` (the store's
//! read half) and every change they cause is a method of `Core`, which audits it. The type
//! system keeps the store private to the service module; this keeps the crate-internal
//! escape hatch (`Core::store`, for the scheduler) out of the handlers.

#![allow(clippy::unwrap_used)]

/// The handlers' sources: the HTTP API, the offers, and every file of every chat platform's
/// folder (a file added there is checked without being listed here).
fn handlers() -> Vec<(String, String)> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("http.rs"), src.join("offers.rs")];
    for platform in ["slack", "teams"] {
        for entry in std::fs::read_dir(src.join(platform)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.display().to_string(), text)
        })
        .collect()
}

#[test]
fn handlers_hold_only_the_read_half_of_the_store() {
    let handlers = handlers();
    assert!(handlers.len() >= 8, "{} files", handlers.len());
    for (file, text) in &handlers {
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
