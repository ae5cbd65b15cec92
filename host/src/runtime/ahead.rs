//! Sandboxes instantiated ahead of their call.
//!
//! A call's instantiation (the store, the pool slot, the guest's start
//! code) is a third of a small collector's time in the server. After a
//! `/metrics` call ends, the module's next sandbox is made at once, so
//! the next scrape only runs `collect` (`GuestModule::prepare`). This file
//! holds the bookkeeping: the pool slots such sandboxes wait in, and each
//! module's one prepared sandbox.
//!
//! A waiting sandbox holds an instance-pool slot outside the `concurrency`
//! slots that calls take: the pool has as many again for them
//! ([`super::engine_config`]), and a module finds none free only when
//! more modules than `concurrency` wait prepared; its calls then
//! instantiate as they are made. So waiting sandboxes never keep a call
//! from a slot.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The instance-pool slots that prepared sandboxes wait in, shared by
/// every module of the runtime (and every reload's modules).
#[derive(Clone)]
pub struct AheadSlots(Arc<Semaphore>);

impl AheadSlots {
    /// `slots` sandboxes may wait prepared at once.
    pub fn new(slots: usize) -> Self {
        Self(Arc::new(Semaphore::new(slots)))
    }
}

/// One module's next sandbox: none, being prepared, or prepared (`T`, which
/// holds the slot it waits in).
pub(super) struct Ahead<T> {
    slots: AheadSlots,
    next: Mutex<Next<T>>,
}

enum Next<T> {
    None,
    Preparing,
    Ready(T),
}

impl<T> Ahead<T> {
    /// Nothing prepared yet.
    pub(super) fn new(slots: AheadSlots) -> Self {
        Self {
            slots,
            next: Mutex::new(Next::None),
        }
    }

    /// Starts preparing: a slot to hold while preparing and after, unless
    /// a sandbox is prepared or being prepared already, or no slot is free.
    pub(super) fn begin(&self) -> Option<Preparing<'_, T>> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*next, Next::None) {
            return None;
        }
        let slot = self.slots.0.clone().try_acquire_owned().ok()?;
        *next = Next::Preparing;
        Some(Preparing {
            ahead: self,
            slot: Some(slot),
        })
    }

    /// The prepared sandbox, if there is one; the next call prepares anew.
    pub(super) fn take(&self) -> Option<T> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *next, Next::None) {
            Next::Ready(ready) => Some(ready),
            // Still being prepared: that one is kept for the call after.
            Next::Preparing => {
                *next = Next::Preparing;
                None
            }
            Next::None => None,
        }
    }
}

/// A preparation under way. Dropped without [`Preparing::done`] (it
/// failed, or its task was dropped), the module may prepare again.
pub(super) struct Preparing<'a, T> {
    ahead: &'a Ahead<T>,
    slot: Option<OwnedSemaphorePermit>,
}

impl<T> Preparing<'_, T> {
    /// The slot the sandbox waits in; `make` keeps it in the prepared value
    /// so that the slot is free again only once the sandbox is gone.
    pub(super) fn done(mut self, make: impl FnOnce(OwnedSemaphorePermit) -> T) {
        if let Some(slot) = self.slot.take() {
            let ready = make(slot);
            *self
                .ahead
                .next
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Next::Ready(ready);
        }
    }
}

impl<T> Drop for Preparing<'_, T> {
    fn drop(&mut self) {
        if self.slot.is_some() {
            *self
                .ahead
                .next
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Next::None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sandbox_per_module_and_no_more_than_the_slots() {
        let slots = AheadSlots::new(1);
        let a = Ahead::<(u32, OwnedSemaphorePermit)>::new(slots.clone());
        let b = Ahead::<(u32, OwnedSemaphorePermit)>::new(slots);
        let preparing = a.begin().expect("a slot is free");
        assert!(a.begin().is_none(), "already being prepared");
        assert!(b.begin().is_none(), "the only slot is taken");
        assert!(a.take().is_none(), "not ready yet");
        preparing.done(|slot| (7, slot));
        assert!(a.begin().is_none(), "already prepared");
        assert!(b.begin().is_none(), "the prepared sandbox holds the slot");
        let (value, slot) = a.take().expect("prepared");
        assert_eq!(value, 7);
        assert!(a.take().is_none(), "taken once");
        drop(slot);
        assert!(
            b.begin().is_some(),
            "the slot is free once the sandbox is gone"
        );
    }

    #[test]
    fn a_failed_preparation_lets_the_module_prepare_again() {
        let a = Ahead::<u32>::new(AheadSlots::new(1));
        drop(a.begin().expect("a slot is free"));
        assert_eq!(a.take(), None);
        assert!(a.begin().is_some(), "slot and state given back");
    }
}
