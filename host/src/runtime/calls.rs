//! The threads guest calls run on, at most one call per slot at a time.
//!
//! A call that could block in the kernel (a read on a network or FUSE
//! filesystem that never returns, out of reach of the epoch deadline) runs
//! on a thread of its own, driven with `block_on`, rather than as a task on
//! a fixed set of async workers: it then holds one thread and its slot,
//! never a worker that other calls need. A thread that finishes a call
//! takes the next queued one itself, so a scrape with more modules than
//! slots costs no extra thread wake-ups. Every other call runs inline, as a
//! task of the HTTP server's own workers ([`CallPool::run_inline`]): no
//! guest thread to wake. Both kinds take the same slots, and so do
//! sandboxes instantiated ahead of their call ([`SlotSource`]).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::JoinHandle;
use wasmtime::Engine;

use super::epoch::EpochTicker;
use super::{Failure, Reason};

/// How long an idle guest thread waits for the next call before it ends:
/// longer than the usual scrape interval, so scrapes do not start threads.
const KEEP_ALIVE: Duration = Duration::from_secs(300);

/// Blocking threads beyond the slots, for any blocking work WASI does on
/// its own; the slots alone bound the calls.
const SPARE_THREADS: usize = 64;

/// A queued call, type-erased: runs the call (or refuses it once its
/// deadline has passed) and sends the outcome to whoever waits for it.
struct Job {
    deadline: Instant,
    run: Box<dyn FnOnce(&Handle) + Send>,
}

/// The guest threads, the slots and the queue of calls waiting for one.
pub struct CallPool {
    /// A runtime of its own: its timer serves the calls' deadlines and
    /// sleeps, apart from the threads serving HTTP.
    runtime: Option<Runtime>,
    /// The slots and the queue, shared with the inline calls' slots.
    threads: Arc<Threads>,
    /// Where sandboxes prepared ahead take their slots, if anywhere.
    ahead: Option<SlotSource>,
}

impl CallPool {
    /// Starts the pool with `slots` calls at once at most, of which up to
    /// `ahead` may be held by sandboxes prepared ahead of their call.
    pub fn new(slots: usize, ahead: usize) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(slots + SPARE_THREADS)
            .thread_keep_alive(KEEP_ALIVE)
            .thread_name("guest")
            .enable_all()
            .build()
            .context("starting the guest threads")?;
        let threads = Arc::new(Threads {
            handle: runtime.handle().clone(),
            slots: Arc::new(Semaphore::new(slots)),
            queue: Arc::default(),
        });
        let ahead = (ahead > 0).then(|| SlotSource {
            threads: threads.clone(),
            ahead: Arc::new(Semaphore::new(ahead.min(slots))),
        });
        Ok(Self {
            runtime: Some(runtime),
            threads,
            ahead,
        })
    }

    /// Where sandboxes prepared ahead take their slots; none when the
    /// runtime does not prepare them.
    pub fn slot_source(&self) -> Option<&SlotSource> {
        self.ahead.as_ref()
    }

    /// Runs `ticker` for `engine` on the pool's own async thread, which
    /// guest calls never hold: ticks go on while every HTTP worker runs a
    /// guest.
    pub fn tick_epochs(&self, ticker: Arc<EpochTicker>, engine: Engine) {
        let Some(runtime) = &self.runtime else { return };
        runtime.spawn(ticker.run(engine));
    }

    /// Runs `call` on a guest thread as soon as a slot is free. The outcome
    /// is a timeout failure if no slot frees up before `deadline`. Dropping
    /// the returned future does not stop a call that has started.
    pub fn spawn<F>(
        &self,
        deadline: Instant,
        call: F,
    ) -> impl Future<Output = Result<F::Output, Failure>> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (answer, outcome) = oneshot::channel();
        let run = Box::new(move |handle: &Handle| {
            let result = if Instant::now() >= deadline {
                Err(no_slot())
            } else {
                Ok(handle.block_on(call))
            };
            let _ = answer.send(result);
        });
        {
            let mut queue = (self.threads.queue)
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Calls whose deadline passed while every slot was taken are
            // dropped (their scrape has answered), so that slots stuck for
            // good do not make the queue grow scrape after scrape.
            let now = Instant::now();
            queue.retain(|job| job.deadline > now);
            queue.push_back(Job { deadline, run });
        }
        self.threads.start_thread_if_free();
        async move { outcome.await.unwrap_or_else(|_| Err(no_slot())) }
    }

    /// Runs `call` as a task of the caller's runtime (the HTTP server's
    /// workers) once one of the same slots is free: for calls that cannot
    /// block in the kernel (see `GuestModule::may_block`), which then cost
    /// no guest thread. A timeout failure if no slot frees up before
    /// `deadline`.
    ///
    /// The slot is taken here, in the caller's task, so that the calls of a
    /// scrape get slots in the order they are first polled; the call then
    /// runs as a task of its own. Run in the caller's task instead, all the
    /// calls of one scrape would share one worker thread while holding
    /// several slots, and the other scrapes, queued behind them for the
    /// slots, could not use the other cores. Dropping the returned future
    /// stops the call.
    pub async fn run_inline<F>(&self, deadline: Instant, call: F) -> Result<F::Output, Failure>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let permit = match tokio::time::timeout_at(
            deadline.into(),
            self.threads.slots.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => return Err(no_slot()),
        };
        let slot = InlineSlot {
            permit: Some(permit),
            threads: self.threads.clone(),
        };
        let task = AbortOnDrop(tokio::spawn(async move {
            let _slot = slot;
            call.await
        }));
        task.await
    }

    /// Runs `call`, which holds a slot already (a sandbox prepared ahead,
    /// which holds a `HeldSlot`), as a task of the caller's runtime: as
    /// [`Self::run_inline`] without waiting for a slot.
    pub async fn run_in_held_slot<F>(call: F) -> Result<F::Output, Failure>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        AbortOnDrop(tokio::spawn(call)).await
    }
}

/// Hands out slots to sandboxes prepared ahead of their call
/// (`runtime::ahead`), never more than its own cap at once, and only when
/// one is free at once: they never wait for one, and never take one a
/// call is waiting for (the semaphore gives released slots to waiters
/// first).
///
/// The cap is below the number of slots, so that sandboxes waiting for a
/// call that does not come soon (a module whose turn is the next scrape)
/// always leave a slot to the calls of others (`/probe`).
#[derive(Clone)]
pub struct SlotSource {
    threads: Arc<Threads>,
    ahead: Arc<Semaphore>,
}

impl SlotSource {
    /// Whether [`Self::try_take`] would find a slot now (it may not, a
    /// moment later).
    pub fn any_free(&self) -> bool {
        self.ahead.available_permits() > 0 && self.threads.slots.available_permits() > 0
    }

    /// A free slot, if there is one and the cap allows it.
    pub fn try_take(&self) -> Option<HeldSlot> {
        let cap = self.ahead.clone().try_acquire_owned().ok()?;
        let permit = self.threads.slots.clone().try_acquire_owned().ok()?;
        Some(HeldSlot {
            _slot: InlineSlot {
                permit: Some(permit),
                threads: self.threads.clone(),
            },
            _cap: cap,
        })
    }
}

/// A slot held by a sandbox prepared ahead, and then by the call that runs
/// in it; given back (and a queued call started) when dropped.
pub struct HeldSlot {
    _slot: InlineSlot,
    _cap: OwnedSemaphorePermit,
}

/// The slots and the queue of calls waiting for a guest thread, and the
/// runtime whose blocking threads serve it.
struct Threads {
    /// Where guest threads are started. After the pool is dropped its
    /// runtime refuses new threads, and a slot given back later (by an
    /// inline call outliving a reload) starts none.
    handle: Handle,
    /// One permit per slot of the instance pool; shared by every exporter
    /// built on the runtime, so a reload's overlap cannot exhaust the pool.
    slots: Arc<Semaphore>,
    queue: Arc<Mutex<VecDeque<Job>>>,
}

impl Threads {
    /// Starts a thread for the queue if a slot is free.
    fn start_thread_if_free(&self) {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return;
        };
        let runner = self.handle.clone();
        let (queue, slots) = (self.queue.clone(), self.slots.clone());
        self.handle
            .spawn_blocking(move || run_queue(&runner, &queue, &slots, slot));
    }
}

/// A slot held by an inline call. When the call ends (or is dropped), a
/// call queued for a guest thread meanwhile may take the slot: a thread is
/// started for it, as a finishing guest thread would.
struct InlineSlot {
    permit: Option<OwnedSemaphorePermit>,
    threads: Arc<Threads>,
}

impl Drop for InlineSlot {
    fn drop(&mut self) {
        drop(self.permit.take());
        let queued = !self
            .threads
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        if queued {
            self.threads.start_thread_if_free();
        }
    }
}

/// An inline call's task, stopped when whoever waits for it goes away (a
/// scrape whose client hung up), as a call polled in place would be.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| {
            joined.map_err(|e| {
                Failure::new(
                    Reason::Trap,
                    format!("the host failed while running the call: {e}"),
                )
            })
        })
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for CallPool {
    fn drop(&mut self) {
        // Dropped from async code after a reload: do not wait for the
        // threads (a call stuck in the kernel may never return).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A guest thread: runs queued calls while holding `slot`, and gives the
/// slot back when the queue is empty.
fn run_queue(
    handle: &Handle,
    queue: &Mutex<VecDeque<Job>>,
    slots: &Arc<Semaphore>,
    mut slot: OwnedSemaphorePermit,
) {
    loop {
        let job = queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        match job {
            // A panicking call drops its answer (its waiter sees a failure);
            // the thread and the slot go on serving the queue.
            Some(job) => drop(catch_unwind(AssertUnwindSafe(|| (job.run)(handle)))),
            None => {
                drop(slot);
                // A call queued between the pop and the drop found no free
                // slot and started no thread: take it here.
                let empty = queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_empty();
                match slots.clone().try_acquire_owned() {
                    Ok(again) if !empty => slot = again,
                    _ => return,
                }
            }
        }
    }
}

fn no_slot() -> Failure {
    Failure::new(
        Reason::Timeout,
        "deadline reached while waiting for a free guest slot (raise global.concurrency)",
    )
}
