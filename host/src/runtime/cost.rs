//! What a call costs the host: CPU time, memory and descriptors, reported
//! per module so a platform can see (and alert on) who uses what.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// The cost of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCost {
    /// CPU time spent running the call (guest code and host calls made for
    /// it), on whichever thread it ran.
    pub cpu: Duration,
    /// The most linear memory the guest held at once, all its memories
    /// together.
    pub memory_peak: usize,
    /// The most files and directories the guest held open at once.
    pub open_files_peak: usize,
}

/// Runs a future and adds the CPU time of each of its polls to a counter.
/// Per poll, because an async call may move between threads.
pub struct CpuMetered<'a, F> {
    inner: Pin<Box<F>>,
    spent_ns: &'a AtomicU64,
}

impl<'a, F> CpuMetered<'a, F> {
    /// Meters `inner` into `spent_ns`.
    pub fn new(inner: F, spent_ns: &'a AtomicU64) -> Self {
        Self {
            inner: Box::pin(inner),
            spent_ns,
        }
    }
}

impl<F: Future> Future for CpuMetered<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = thread_cpu_ns();
        let out = self.inner.as_mut().poll(cx);
        self.spent_ns
            .fetch_add(thread_cpu_ns().saturating_sub(start), Ordering::Relaxed);
        out
    }
}

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the meter counts is the polling thread's CPU time: all of it
    /// for a future that does its work in one poll.
    #[tokio::test]
    async fn counts_cpu_of_polls() {
        let spent = AtomicU64::new(0);
        let busy = async {
            let mut x = 0u64;
            for i in 0..20_000_000u64 {
                x = x.wrapping_add(std::hint::black_box(i));
            }
            x
        };
        let before = thread_cpu_ns();
        CpuMetered::new(busy, &spent).await;
        let around = thread_cpu_ns() - before;
        let ns = spent.load(Ordering::Relaxed);
        assert!(
            ns > 0 && ns <= around,
            "{ns} ns metered, {around} ns around"
        );
        assert!(ns * 10 >= around * 9, "{ns} ns metered, {around} ns around");
    }
}
