//! Sandboxes instantiated ahead of their call.
//!
//! A call's instantiation (the store, the pool slot, the guest's start
//! code) is a third of a small collector's time in the server. After a
//! `/metrics` call ends, the module's next sandbox is made at once, so
//! the next scrape only runs `collect` (`GuestModule::prepare`). This file
//! holds each module's one prepared sandbox. When preparing pays (an
//! instantiation of 20 µs or more, a scrape that started alone) is decided
//! by `GuestModule::could_prepare` and the scrape (`crate::scrape`).
//!
//! A waiting sandbox holds one of the `concurrency` call slots (and so its
//! instance-pool slot), taken only when one is free and never more than
//! `concurrency - 1` of them ([`super::calls::SlotSource`]); the call that
//! uses it runs in that slot. Growing the pool for them instead cost 13 %
//! of the scrapes under load (`bench/ab.sh`: a pool twice as large, with
//! nothing prepared).

use std::sync::{Mutex, PoisonError};

use super::calls::{HeldSlot, SlotSource};

/// One module's next sandbox: none, being prepared, or prepared (`T`, which
/// holds the slot it waits in).
pub(super) struct Ahead<T> {
    slots: SlotSource,
    next: Mutex<Next<T>>,
}

enum Next<T> {
    None,
    Preparing,
    Ready(T),
}

impl<T> Ahead<T> {
    /// Nothing prepared yet.
    pub(super) fn new(slots: SlotSource) -> Self {
        Self {
            slots,
            next: Mutex::new(Next::None),
        }
    }

    /// Whether [`Self::begin`] would start now: checked before a task is
    /// spawned for it, which under load (every slot taken) would be spawned
    /// for nothing after every call.
    pub(super) fn could_begin(&self) -> bool {
        matches!(
            *self.next.lock().unwrap_or_else(PoisonError::into_inner),
            Next::None
        ) && self.slots.any_free()
    }

    /// Starts preparing: a slot to hold while preparing and after, unless
    /// a sandbox is prepared or being prepared already, or no slot is free.
    pub(super) fn begin(&self) -> Option<Preparing<'_, T>> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*next, Next::None) {
            return None;
        }
        let slot = self.slots.try_take()?;
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
    slot: Option<HeldSlot>,
}

impl<T> Preparing<'_, T> {
    /// The slot the sandbox waits in; `make` keeps it in the prepared value
    /// so that the slot is free again only once the sandbox is gone.
    pub(super) fn done(mut self, make: impl FnOnce(HeldSlot) -> T) {
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
    use super::super::CallPool;
    use super::*;

    #[test]
    fn one_sandbox_per_module_and_no_more_than_the_cap() {
        // Three slots, of which two may wait prepared.
        let pool = CallPool::new(3, 2).unwrap();
        let slots = pool.slot_source().unwrap();
        let modules: Vec<Ahead<(u32, HeldSlot)>> =
            (0..3).map(|_| Ahead::new(slots.clone())).collect();
        let preparing = modules[0].begin().expect("a slot is free");
        assert!(modules[0].begin().is_none(), "already being prepared");
        assert!(modules[0].take().is_none(), "not ready yet");
        preparing.done(|slot| (7, slot));
        assert!(modules[0].begin().is_none(), "already prepared");
        modules[1]
            .begin()
            .expect("a second slot")
            .done(|slot| (8, slot));
        assert!(
            modules[2].begin().is_none(),
            "the cap leaves a slot to calls"
        );
        let (value, slot) = modules[0].take().expect("prepared");
        assert_eq!(value, 7);
        assert!(modules[0].take().is_none(), "taken once");
        assert!(modules[2].begin().is_none(), "the call holds the slot");
        drop(slot);
        assert!(modules[2].begin().is_some(), "free once the call is gone");
    }

    #[test]
    fn a_failed_preparation_lets_the_module_prepare_again() {
        let pool = CallPool::new(2, 1).unwrap();
        let a = Ahead::<HeldSlot>::new(pool.slot_source().unwrap().clone());
        drop(a.begin().expect("a slot is free"));
        assert!(a.take().is_none());
        assert!(a.begin().is_some(), "slot and state given back");
    }
}
