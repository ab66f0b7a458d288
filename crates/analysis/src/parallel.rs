//! Work split over the available cores, results in input order: the same input gives the same
//! output whatever the number of threads.

/// Runs `f` on `items` split into one contiguous chunk per available core; one result per
/// chunk, in order.
pub(crate) fn per_chunk<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || f(part)))
            .collect();
        // A worker that panicked takes the caller down with it: dropping its chunk would
        // shift every later result onto the wrong item.
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Runs `f` over `items` split into one contiguous chunk per available core, keeping order.
pub(crate) fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    per_chunk(items, f).into_iter().flatten().collect()
}
