//! Host file descriptors held by guests: a cap per call
//! (`limits.open_files`) and a share of the process's descriptors for all
//! calls together, so that no guest can make the exporter's `accept` fail.
//!
//! The exporter keeps half of its soft `RLIMIT_NOFILE` for itself
//! (listeners, connections, the compile cache, logs); guests share the
//! other half. A descriptor counts from its open until the last handle to
//! it is gone: the guest's descriptor and every stream reading it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

/// The descriptors all guest calls may hold at once.
#[derive(Debug)]
pub struct DescriptorBudget {
    capacity: usize,
    in_use: AtomicUsize,
}

impl DescriptorBudget {
    /// Half of the process's soft descriptor limit, as it is now (the
    /// exporter raises it to the hard limit at start).
    pub fn from_rlimit() -> DescriptorBudget {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1 << 20);
        DescriptorBudget::new((limit / 2) as usize)
    }

    /// A budget of `capacity` descriptors.
    pub fn new(capacity: usize) -> DescriptorBudget {
        DescriptorBudget {
            capacity,
            in_use: AtomicUsize::new(0),
        }
    }

    /// How many descriptors guests may hold together.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many they hold now.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    fn try_acquire(&self, n: usize) -> bool {
        self.in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&u| u <= self.capacity)
            })
            .is_ok()
    }

    fn release(&self, n: usize) {
        self.in_use.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Why a descriptor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The call holds `limits.open_files` already.
    CallLimit(usize),
    /// All guests together hold the exporter's share.
    ProcessShare(usize),
}

impl Refused {
    /// Why, for the operator.
    pub fn reason(self) -> String {
        match self {
            Refused::CallLimit(n) => {
                format!("the module holds {n} open files, its limits.open_files")
            }
            Refused::ProcessShare(n) => format!(
                "guests together hold {n} descriptors, the exporter's share for them (half of its RLIMIT_NOFILE)"
            ),
        }
    }
}

/// The descriptors of one call.
#[derive(Debug)]
pub struct CallDescriptors {
    limit: usize,
    budget: Arc<DescriptorBudget>,
    /// Files and directories the guest opened, alive while any handle is.
    live: Vec<Weak<std::fs::File>>,
    /// Taken from the budget and not yet given back.
    held: usize,
    peak: usize,
}

impl CallDescriptors {
    /// Accounting for a call allowed `limit` open files.
    pub fn new(limit: usize, budget: Arc<DescriptorBudget>) -> CallDescriptors {
        CallDescriptors {
            limit,
            budget,
            live: Vec::new(),
            held: 0,
            peak: 0,
        }
    }

    /// Takes `n` descriptors the host opens for the call itself (its
    /// preopened directories), outside the guest's own cap.
    pub fn take_for_host(&mut self, n: usize) -> Result<(), Refused> {
        if !self.budget.try_acquire(n) {
            return Err(Refused::ProcessShare(self.budget.capacity));
        }
        self.held += n;
        Ok(())
    }

    /// Reserves one descriptor for an open the guest asked for; give it
    /// back with [`Self::cancel`] if the open fails, or hand the opened file
    /// to [`Self::track`].
    pub fn reserve(&mut self) -> Result<(), Refused> {
        self.prune();
        if self.live.len() >= self.limit {
            return Err(Refused::CallLimit(self.limit));
        }
        if !self.budget.try_acquire(1) {
            return Err(Refused::ProcessShare(self.budget.capacity));
        }
        self.held += 1;
        Ok(())
    }

    /// Gives back a reservation whose open failed.
    pub fn cancel(&mut self) {
        self.held -= 1;
        self.budget.release(1);
    }

    /// Counts an opened file until its last handle is gone.
    pub fn track(&mut self, file: &Arc<std::fs::File>) {
        self.live.push(Arc::downgrade(file));
        self.peak = self.peak.max(self.live.len());
    }

    /// The most files the guest held open at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Forgets files whose handles are all gone and gives their
    /// descriptors back.
    fn prune(&mut self) {
        let before = self.live.len();
        self.live.retain(|f| f.strong_count() > 0);
        let closed = before - self.live.len();
        self.held -= closed;
        self.budget.release(closed);
    }
}

impl Drop for CallDescriptors {
    fn drop(&mut self) {
        // The call's store, and with it every descriptor, goes away with
        // this; whatever is still held goes back to the budget.
        self.budget.release(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_call_and_for_the_process() {
        let budget = Arc::new(DescriptorBudget::new(3));
        let mut a = CallDescriptors::new(2, budget.clone());
        let mut files = Vec::new();
        for _ in 0..2 {
            a.reserve().unwrap();
            let f = Arc::new(std::fs::File::open("/proc/meminfo").unwrap());
            a.track(&f);
            files.push(f);
        }
        assert_eq!(a.reserve(), Err(Refused::CallLimit(2)));
        let mut b = CallDescriptors::new(10, budget.clone());
        b.reserve().unwrap();
        b.cancel();
        b.take_for_host(1).unwrap();
        assert_eq!(b.reserve(), Err(Refused::ProcessShare(3)));
        // Closing a file gives its descriptor back.
        files.pop();
        a.reserve().unwrap();
        a.cancel();
        assert_eq!(a.peak(), 2);
        drop(a);
        drop(b);
        drop(files);
        assert_eq!(budget.in_use(), 0);
    }
}
