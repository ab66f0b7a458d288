//! Calling AWS Organizations no faster than it allows.
//!
//! AWS throttles the calls that write policies and their attachments (`CreatePolicy`,
//! `UpdatePolicy`, `AttachPolicy`, `DetachPolicy`, `DeletePolicy`) per account, at the rate
//! [`RequestRate::ORGANIZATIONS_POLICY_WRITES`] records. Every such call Latch makes — `apply`,
//! `drift --repair`, `emergency-stop`, `resync`, the Identity Center grants of the server —
//! goes through one entry point, [`Pacer::call`] (through [`Aws::org_write`](crate::Aws::org_write)):
//!
//! - a token bucket per (account, [`Family`]) ([`TokenBucket`]) holds each call until the rate
//!   allows it, so a run of writes never asks faster than AWS accepts;
//! - a throttled (`TooManyRequestsException`, `ThrottlingException`, `Throttling`), busy
//!   (`ConcurrentModificationException`) or transient answer (no response, a timeout, a 5xx
//!   service error) is retried after a jittered exponential back-off ("full jitter": a random
//!   wait up to `base × 2^attempt`, capped), each attempt taking a token again, at most
//!   [`RetryPolicy::max_attempts`] times;
//! - a call that still fails is returned as an error naming the call, AWS's code and how many
//!   attempts were made: the caller reports it, nothing is dropped.
//!
//! Time is tokio's (`tokio::time::Instant`, `tokio::time::sleep`), so tests and benchmarks run
//! on a paused clock without waiting in real time.

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use latch_catalog::RequestRate;
use tokio::time::Instant;

use crate::error::{call_err, AwsError, Result};

/// Calls AWS throttles together, per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// `CreatePolicy`, `UpdatePolicy`, `AttachPolicy`, `DetachPolicy`, `DeletePolicy`:
    /// paced to [`RequestRate::ORGANIZATIONS_POLICY_WRITES`].
    PolicyWrite,
    /// `TagResource`, `UntagResource` on Latch's policies (the server's records of Identity
    /// Center grants): retried with back-off when throttled, not paced (Latch knows no
    /// published rate for them).
    Tagging,
}

impl Family {
    /// The rate calls of this family are paced to, when there is one.
    pub fn rate(self) -> Option<RequestRate> {
        match self {
            Family::PolicyWrite => Some(RequestRate::ORGANIZATIONS_POLICY_WRITES),
            Family::Tagging => None,
        }
    }
}

/// A token bucket as a schedule (the generic cell rate algorithm, which admits exactly what a
/// bucket of `burst` tokens refilled at `per_second` admits): each reservation says when its
/// request may be sent. Reservations are handed out in order, so callers waiting together are
/// served first come, first served.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    interval: Duration,
    tolerance: Duration,
    /// When the bucket would next be "on time": the theoretical arrival time.
    next: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`. A rate of 0 requests a second is taken as 1 (never stall).
    pub fn new(rate: RequestRate, now: Instant) -> TokenBucket {
        let per_second = rate.per_second.max(1);
        let interval = Duration::from_secs(1) / per_second;
        TokenBucket {
            interval,
            tolerance: interval.saturating_mul(rate.burst.max(1) - 1),
            next: now,
        }
    }

    /// Reserves one request at `now`; returns when it may be sent (`now` or later).
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let earliest = self.next.checked_sub(self.tolerance).unwrap_or(now);
        let at = earliest.max(now);
        self.next = self.next.max(at) + self.interval;
        at
    }
}

/// How often and how patiently a throttled or failed write is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1: no retry).
    pub max_attempts: u32,
    /// The first back-off's upper bound.
    pub base: Duration,
    /// No back-off waits longer.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(20),
        }
    }
}

/// What the pacer did, for tests, benchmarks and people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacerStats {
    /// Requests sent (every attempt).
    pub sent: u64,
    /// Requests held back by a bucket before they were sent.
    pub held: u64,
    /// Answers that were throttling (`TooManyRequestsException`, …).
    pub throttled: u64,
    /// Answers that were `ConcurrentModificationException`.
    pub busy: u64,
    /// No answer, a timeout or a 5xx service error.
    pub transient: u64,
    /// Calls that failed after their last attempt.
    pub gave_up: u64,
}

/// Paces and retries AWS Organizations writes: see the module documentation. One per
/// connection ([`Aws`](crate::Aws) shares it between its clones).
#[derive(Debug)]
pub struct Pacer {
    retry: RetryPolicy,
    buckets: Mutex<BTreeMap<(String, Family), TokenBucket>>,
    rates: BTreeMap<Family, RequestRate>,
    jitter: AtomicU64,
    sent: AtomicU64,
    held: AtomicU64,
    throttled: AtomicU64,
    busy: AtomicU64,
    transient: AtomicU64,
    gave_up: AtomicU64,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(RetryPolicy::default())
    }
}

/// AWS error codes that mean "too fast".
const THROTTLED: &[&str] = &[
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
];
/// AWS error codes of a service that failed this time.
const TRANSIENT: &[&str] = &[
    "ServiceException",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];
const BUSY: &str = "ConcurrentModificationException";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Throttled,
    Busy,
    Transient,
    Final,
}

fn verdict<E, R>(err: &SdkError<E, R>) -> Verdict
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Verdict::Transient
        }
        SdkError::ServiceError(_) => match err.code() {
            Some(c) if THROTTLED.contains(&c) => Verdict::Throttled,
            Some(c) if c == BUSY => Verdict::Busy,
            Some(c) if TRANSIENT.contains(&c) => Verdict::Transient,
            _ => Verdict::Final,
        },
        _ => Verdict::Final,
    }
}

impl Pacer {
    /// A pacer with AWS's rates ([`Family::rate`]) and `retry`.
    pub fn new(retry: RetryPolicy) -> Pacer {
        let rates = [Family::PolicyWrite, Family::Tagging]
            .into_iter()
            .filter_map(|f| f.rate().map(|r| (f, r)))
            .collect();
        Pacer::with_rates(rates, retry)
    }

    /// A pacer with other rates (a lower one, or a fake endpoint's); a family without a
    /// rate is not paced.
    pub fn with_rates(rates: BTreeMap<Family, RequestRate>, retry: RetryPolicy) -> Pacer {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Pacer {
            retry: RetryPolicy {
                max_attempts: retry.max_attempts.max(1),
                ..retry
            },
            buckets: Mutex::new(BTreeMap::new()),
            rates,
            jitter: AtomicU64::new(seed | 1),
            sent: AtomicU64::new(0),
            held: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            transient: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
        }
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The rate `family` is paced to here.
    pub fn rate(&self, family: Family) -> Option<RequestRate> {
        self.rates.get(&family).copied()
    }

    /// What it did so far.
    pub fn stats(&self) -> PacerStats {
        PacerStats {
            sent: self.sent.load(Ordering::Relaxed),
            held: self.held.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
            transient: self.transient.load(Ordering::Relaxed),
            gave_up: self.gave_up.load(Ordering::Relaxed),
        }
    }

    /// Waits until `account` may send one more request of `family`.
    pub async fn acquire(&self, account: &str, family: Family) {
        let Some(rate) = self.rate(family) else {
            return;
        };
        let now = Instant::now();
        let at = {
            let Ok(mut buckets) = self.buckets.lock() else {
                return;
            };
            buckets
                .entry((account.to_owned(), family))
                .or_insert_with(|| TokenBucket::new(rate, now))
                .reserve(now)
        };
        if at > now {
            self.held.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep_until(at).await;
        }
    }

    /// A random back-off before attempt `attempt + 1` (`attempt` ≥ 1): uniform in
    /// `[0, min(cap, base × 2^(attempt-1))]`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .retry
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.retry.cap);
        // SplitMix64 over a shared counter: cheap, and different for every wait.
        let mut z = self
            .jitter
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(z.checked_rem(nanos.saturating_add(1)).unwrap_or(0))
    }

    /// Sends `op` for `account` when the rate of `family` allows, retrying throttled, busy
    /// and transient answers with back-off; `call` names it in errors
    /// (`organizations:DetachPolicy p-… from ou-…`).
    ///
    /// # Errors
    /// AWS's answer when it is final, or the last one after
    /// [`RetryPolicy::max_attempts`] attempts (the message says how many were made).
    pub async fn call<T, E, R, F, Fut>(
        &self,
        account: &str,
        family: Family,
        call: &str,
        mut op: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.acquire(account, family).await;
            self.sent.fetch_add(1, Ordering::Relaxed);
            let err = match op().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let v = verdict(&err);
            match v {
                Verdict::Throttled => self.throttled.fetch_add(1, Ordering::Relaxed),
                Verdict::Busy => self.busy.fetch_add(1, Ordering::Relaxed),
                Verdict::Transient => self.transient.fetch_add(1, Ordering::Relaxed),
                Verdict::Final => 0,
            };
            if v == Verdict::Final {
                return Err(call_err(call, err));
            }
            if attempt >= self.retry.max_attempts {
                self.gave_up.fetch_add(1, Ordering::Relaxed);
                return Err(match call_err(call, err) {
                    AwsError::Call {
                        call,
                        code,
                        message,
                    } => AwsError::Call {
                        call,
                        code,
                        message: format!("{message} (gave up after {attempt} attempts)"),
                    },
                    other => other,
                });
            }
            tokio::time::sleep(self.backoff(attempt)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    use std::sync::Arc;

    use aws_sdk_organizations::operation::update_policy::UpdatePolicyError;
    use aws_sdk_organizations::types::error::{
        ConcurrentModificationException, PolicyNotFoundException, TooManyRequestsException,
    };

    const RATE: RequestRate = RequestRate::ORGANIZATIONS_POLICY_WRITES;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_lets_a_burst_through_then_two_a_second() {
        let start = Instant::now();
        let mut b = TokenBucket::new(RATE, start);
        let at: Vec<u128> = (0..8).map(|_| ms(b.reserve(start) - start)).collect();
        assert_eq!(at, [0, 0, 0, 500, 1000, 1500, 2000, 2500]);
        // A quiet spell refills it, never beyond the burst.
        let later = start + Duration::from_secs(60);
        let at: Vec<u128> = (0..5).map(|_| ms(b.reserve(later) - later)).collect();
        assert_eq!(at, [0, 0, 0, 500, 1000]);
        // Half a second refills one token.
        let mut b = TokenBucket::new(RATE, start);
        for _ in 0..3 {
            b.reserve(start);
        }
        let t = start + Duration::from_millis(500);
        assert_eq!(b.reserve(t), t);
        assert_eq!(ms(b.reserve(t) - t), 500);
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_admits_what_a_token_bucket_admits_at_any_arrival_pattern() {
        // Within every window [t, t + w], at most burst + rate × w requests are sent.
        let start = Instant::now();
        let mut b = TokenBucket::new(RATE, start);
        let mut sent = Vec::new();
        let mut now = start;
        for i in 0u64..300 {
            now += Duration::from_millis((i * 7919) % 900);
            sent.push(b.reserve(now));
        }
        for (i, t) in sent.iter().enumerate() {
            for w_ms in [0u64, 400, 500, 1000, 2500, 10_000] {
                let end = *t + Duration::from_millis(w_ms);
                let n = sent[i..].iter().filter(|s| **s <= end).count() as u64;
                assert!(n <= 3 + 2 * w_ms / 1000, "{n} requests in {w_ms} ms");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_bucket_per_account_and_family() {
        let pacer = Arc::new(Pacer::default());
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..10 {
            let pacer = Arc::clone(&pacer);
            let account = if i < 7 {
                "111111111111"
            } else {
                "222222222222"
            };
            tasks.push(tokio::spawn(async move {
                pacer.acquire(account, Family::PolicyWrite).await;
                (account, Instant::now() - start)
            }));
        }
        let mut done: Vec<(&str, u128)> = Vec::new();
        for t in tasks {
            let (a, d) = t.await.unwrap();
            done.push((a, ms(d)));
        }
        done.sort();
        let first: Vec<u128> = done
            .iter()
            .filter(|d| d.0 == "111111111111")
            .map(|d| d.1)
            .collect();
        assert_eq!(first, [0, 0, 0, 500, 1000, 1500, 2000]);
        let second: Vec<u128> = done
            .iter()
            .filter(|d| d.0 == "222222222222")
            .map(|d| d.1)
            .collect();
        assert_eq!(second, [0, 0, 0]);
        // Tagging has no published rate: never held.
        let before = Instant::now();
        for _ in 0..20 {
            pacer.acquire("111111111111", Family::Tagging).await;
        }
        assert_eq!(Instant::now(), before);
        assert_eq!(pacer.stats().held, 4);
    }

    fn throttled() -> SdkError<UpdatePolicyError, ()> {
        SdkError::service_error(
            UpdatePolicyError::TooManyRequestsException(
                TooManyRequestsException::builder()
                    .message("slow down")
                    .meta(
                        aws_sdk_organizations::error::ErrorMetadata::builder()
                            .code("TooManyRequestsException")
                            .message("slow down")
                            .build(),
                    )
                    .build(),
            ),
            (),
        )
    }

    fn busy() -> SdkError<UpdatePolicyError, ()> {
        SdkError::service_error(
            UpdatePolicyError::ConcurrentModificationException(
                ConcurrentModificationException::builder()
                    .meta(
                        aws_sdk_organizations::error::ErrorMetadata::builder()
                            .code("ConcurrentModificationException")
                            .build(),
                    )
                    .build(),
            ),
            (),
        )
    }

    fn not_found() -> SdkError<UpdatePolicyError, ()> {
        SdkError::service_error(
            UpdatePolicyError::PolicyNotFoundException(
                PolicyNotFoundException::builder()
                    .message("no such policy")
                    .meta(
                        aws_sdk_organizations::error::ErrorMetadata::builder()
                            .code("PolicyNotFoundException")
                            .message("no such policy")
                            .build(),
                    )
                    .build(),
            ),
            (),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_and_busy_answers_are_retried_with_growing_jittered_waits() {
        let pacer = Pacer::default();
        let mut answers = vec![Err(throttled()), Err(busy()), Err(throttled()), Ok(7)];
        answers.reverse();
        let answers = Mutex::new(answers);
        let start = Instant::now();
        let got = pacer
            .call(
                "111111111111",
                Family::PolicyWrite,
                "organizations:UpdatePolicy p-1",
                || {
                    let next = answers.lock().unwrap().pop().unwrap();
                    async move { next }
                },
            )
            .await
            .unwrap();
        assert_eq!(got, 7);
        let s = pacer.stats();
        assert_eq!((s.sent, s.throttled, s.busy, s.gave_up), (4, 2, 1, 0));
        // Back-offs of at most 250 + 500 + 1000 ms; the bucket held nothing (burst of 3, and
        // the fourth attempt came after at least one refill or waited for it).
        assert!(Instant::now() - start <= Duration::from_millis(1750 + 500));
        // Every back-off lies in [0, min(cap, base × 2^(n-1))].
        for attempt in 1..30 {
            let d = pacer.backoff(attempt);
            let ceiling = Duration::from_millis(250)
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(Duration::from_secs(20));
            assert!(d <= ceiling, "{attempt}: {d:?}");
        }
        let waits: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| pacer.backoff(6)).collect();
        assert!(waits.len() > 40, "jittered: {waits:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_keeps_failing_is_reported_never_dropped() {
        let pacer = Pacer::new(RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        });
        let err = pacer
            .call(
                "111111111111",
                Family::PolicyWrite,
                "organizations:UpdatePolicy p-1",
                || async { Err::<(), _>(throttled()) },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("TooManyRequestsException"));
        assert_eq!(
            err.to_string(),
            "organizations:UpdatePolicy p-1 failed (TooManyRequestsException): slow down (gave up after 4 attempts)"
        );
        assert_eq!(pacer.stats().gave_up, 1);
        // A final answer is not retried.
        let err = pacer
            .call(
                "111111111111",
                Family::PolicyWrite,
                "organizations:UpdatePolicy p-2",
                || async { Err::<(), _>(not_found()) },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("PolicyNotFoundException"));
        assert_eq!(pacer.stats().sent, 5);
    }
}
