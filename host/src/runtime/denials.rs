//! Accesses refused during one call: counted by kind for
//! `wasm_exporter_access_denied_total`, the first few kept for the log so a
//! guest that retries in a loop cannot flood it.

use crate::policy::{Denial, DenialKind};

/// Denials kept in full per call; the rest are only counted.
const KEPT: usize = 8;

/// The refused accesses of one call.
#[derive(Debug, Default, Clone)]
pub struct Denials {
    counts: [u64; DenialKind::ALL.len()],
    kept: Vec<Denial>,
}

impl Denials {
    /// Records one refusal.
    pub fn record(&mut self, denial: Denial) {
        self.counts[index(denial.kind)] += 1;
        if self.kept.len() < KEPT {
            self.kept.push(denial);
        }
    }

    /// How many refusals of `kind`.
    pub fn count(&self, kind: DenialKind) -> u64 {
        self.counts[index(kind)]
    }

    /// How many refusals in all.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The first refusals, in order.
    pub fn kept(&self) -> &[Denial] {
        &self.kept
    }

    /// Writes the kept refusals to the log at `warn`, and how many more
    /// there were.
    pub fn log(&self, module: &str) {
        for d in &self.kept {
            tracing::warn!(
                module,
                kind = %d.kind,
                "access denied: {}: {}",
                d.target,
                d.reason
            );
        }
        let more = self.total().saturating_sub(self.kept.len() as u64);
        if more > 0 {
            tracing::warn!(
                module,
                "access denied {more} more times in this call (not logged one by one)"
            );
        }
    }
}

fn index(kind: DenialKind) -> usize {
    DenialKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_all_keeps_the_first() {
        let mut d = Denials::default();
        for i in 0..20 {
            d.record(Denial {
                kind: if i % 2 == 0 {
                    DenialKind::File
                } else {
                    DenialKind::OpenFiles
                },
                target: format!("/x/{i}"),
                reason: "not granted".into(),
            });
        }
        assert_eq!(d.count(DenialKind::File), 10);
        assert_eq!(d.count(DenialKind::OpenFiles), 10);
        assert_eq!(d.kept().len(), KEPT);
        assert_eq!(d.kept()[0].target, "/x/0");
    }
}
