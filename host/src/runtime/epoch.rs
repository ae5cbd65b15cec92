//! The engine's epoch: advanced every [`EPOCH_TICK`] while a guest runs,
//! and not at all while none does.
//!
//! Guests check the epoch in loops and function prologues; each tick is
//! when a call past its deadline is stopped and when a running guest
//! yields its thread. With no guest running there is nothing to check, and
//! a ticker that kept going would wake the exporter 200 times a second
//! between scrapes (about 1 % of a core, measured idle); it stops a
//! moment after the last call ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;
use wasmtime::Engine;

use super::EPOCH_TICK;

/// Ticks the ticker goes on after the last call ended before it sleeps:
/// under load calls follow each other closely, and a ticker that slept
/// between them would have its thread woken for nearly every call. 250 ms:
/// some fifty wake-ups per scrape at Prometheus' usual intervals, instead
/// of 200 a second.
const IDLE_TICKS: u32 = 50;

/// Counts the guest calls running, and wakes the ticker when the first one
/// starts.
#[derive(Default)]
pub struct EpochTicker {
    running: AtomicUsize,
    wake: Notify,
}

/// Held by a running call: the epoch advances while any is held.
pub struct Ticking(Arc<EpochTicker>);

impl EpochTicker {
    /// A ticker with no call running; [`Self::run`] drives it.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Marks a call as running until the returned guard is dropped. Taken
    /// before the call's store exists, so its first epoch check comes
    /// within a tick of its start.
    pub fn running(self: &Arc<Self>) -> Ticking {
        if self.running.fetch_add(1, Ordering::AcqRel) == 0 {
            // Stored as a permit if the ticker is not waiting yet (it saw
            // no call and is about to wait): it then does not wait.
            self.wake.notify_one();
        }
        Ticking(self.clone())
    }

    /// Advances `engine`'s epoch every [`EPOCH_TICK`] while a call runs,
    /// and for [`IDLE_TICKS`] after the last one ended; runs forever, on a
    /// thread that guest calls never hold.
    pub async fn run(self: Arc<Self>, engine: Engine) {
        self.run_with(IDLE_TICKS, move || engine.increment_epoch())
            .await
    }

    async fn run_with(self: Arc<Self>, idle_ticks: u32, mut tick: impl FnMut()) {
        let mut ticks = tokio::time::interval(EPOCH_TICK);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut idle = 0;
        loop {
            if self.running.load(Ordering::Acquire) > 0 {
                idle = 0;
            } else if idle < idle_ticks {
                idle += 1;
            } else {
                self.wake.notified().await;
                // The first tick a full period after the wake-up, not at
                // once for the periods slept through.
                ticks.reset();
                idle = 0;
                continue;
            }
            ticks.tick().await;
            tick();
        }
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    /// No tick with no call running (after the idle ticks); ticks every
    /// period while one runs, from within a tick of its start, also when
    /// calls overlap.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ticks_only_while_a_call_runs() {
        let ticker = EpochTicker::new();
        let count = Arc::new(AtomicU64::new(0));
        let counted = count.clone();
        tokio::spawn(ticker.clone().run_with(2, move || {
            counted.fetch_add(1, Ordering::Relaxed);
        }));
        let ticks_during = |ms: u64| {
            let count = count.clone();
            async move {
                let before = count.load(Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                count.load(Ordering::Relaxed) - before
            }
        };
        let period = EPOCH_TICK.as_millis() as u64;
        tokio::time::sleep(Duration::from_millis(period * 5)).await;
        assert_eq!(ticks_during(period * 10).await, 0, "idle");
        let first = ticker.running();
        let second = ticker.running();
        let ticked = ticks_during(period * 20).await;
        // Bounds loose enough for a loaded machine: at most one tick per
        // period, and ticking at all.
        assert!((3..=21).contains(&ticked), "{ticked} ticks in 20 periods");
        drop(first);
        let ticked = ticks_during(period * 4).await;
        assert!(ticked >= 1, "{ticked} ticks with one call left");
        drop(second);
        tokio::time::sleep(Duration::from_millis(period * 5)).await;
        assert_eq!(ticks_during(period * 10).await, 0, "idle again");
        // A call starting after the ticker went idle wakes it.
        let _again = ticker.running();
        let ticked = ticks_during(period * 6).await;
        assert!(ticked >= 1, "{ticked} ticks after the wake-up");
    }
}
