//! The network state of one call, shared by the socket glue
//! ([`super::sockets`]), which runs inside the store, and the HTTP glue
//! ([`super::http`]), whose requests run as tasks beside it: the policy,
//! the per-call caps and what was used of them, the addresses the host
//! resolved for the guest, and the refusals to report.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::policy::{Denial, DenialKind, NetworkPolicy};
use crate::runtime::denials::Denials;
use crate::runtime::descriptors::DescriptorBudget;

use super::http::TlsConfigs;

/// The caps of one call.
#[derive(Debug, Clone, Copy)]
pub struct EgressLimits {
    /// TCP connects and HTTP requests, together (`limits.connections`).
    pub connections: usize,
    /// Bytes received, all connections together (`limits.received_bytes`).
    pub received_bytes: u64,
}

/// One call's network state.
pub struct Egress {
    policy: Arc<NetworkPolicy>,
    limits: EgressLimits,
    /// When the call must be over: every network wait ends by then.
    pub deadline: Instant,
    /// The descriptors all guests share; HTTP connections count in it.
    pub budget: Arc<DescriptorBudget>,
    /// TLS settings of the module's HTTPS grants.
    pub tls: Arc<TlsConfigs>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    connections: usize,
    received: u64,
    /// The received-bytes cap was reached (reported once).
    cut: bool,
    /// For each address the host handed the guest from a lookup, the
    /// names it was looked up as.
    resolved: HashMap<IpAddr, Vec<String>>,
    /// Addresses the policy let the guest connect to; wasmtime-wasi's own
    /// address check asks here again before it connects.
    approved: HashSet<SocketAddr>,
    denials: Denials,
}

impl Egress {
    /// The state of a call under `policy` and `limits`.
    pub fn new(
        policy: Arc<NetworkPolicy>,
        limits: EgressLimits,
        deadline: Instant,
        budget: Arc<DescriptorBudget>,
        tls: Arc<TlsConfigs>,
    ) -> Egress {
        Egress {
            policy,
            limits,
            deadline,
            budget,
            tls,
            state: Mutex::default(),
        }
    }

    /// The module's network policy.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a refusal of any kind.
    pub fn record(&self, denial: Denial) {
        self.state().denials.record(denial);
    }

    /// Records a refusal (`kind="egress"`), naming the destination.
    pub fn deny(&self, target: impl Into<String>, reason: impl Into<String>) {
        self.state().denials.record(Denial {
            kind: DenialKind::Egress,
            target: target.into(),
            reason: reason.into(),
        });
    }

    /// Counts one connection (or request) to `target`; `false`, recorded
    /// as a refusal, once the call has opened `limits.connections`.
    pub fn take_connection(&self, target: &str) -> bool {
        let mut s = self.state();
        if s.connections < self.limits.connections {
            s.connections += 1;
            return true;
        }
        s.denials.record(Denial {
            kind: DenialKind::Egress,
            target: target.to_string(),
            reason: format!(
                "the call has opened {} connections, its limits.connections",
                self.limits.connections
            ),
        });
        false
    }

    /// How many more bytes the call may receive; at 0, the first time, the
    /// cut is recorded as a refusal naming `from`.
    pub fn bytes_left(&self, from: &str) -> u64 {
        let mut s = self.state();
        let left = self.limits.received_bytes.saturating_sub(s.received);
        if left == 0 && !s.cut {
            s.cut = true;
            s.denials.record(Denial {
                kind: DenialKind::Egress,
                target: from.to_string(),
                reason: format!(
                    "the call received {} bytes, its limits.received_bytes; the connection was cut",
                    self.limits.received_bytes
                ),
            });
        }
        left
    }

    /// Counts `n` received bytes.
    pub fn received(&self, n: usize) {
        let mut s = self.state();
        s.received = s.received.saturating_add(n as u64);
    }

    /// Counts `n` bytes received from `from` if they fit under the cap;
    /// otherwise the cap is used up, the cut recorded, and `false`.
    pub fn take_bytes(&self, n: usize, from: &str) -> bool {
        {
            let mut s = self.state();
            let total = s.received.saturating_add(n as u64);
            if total <= self.limits.received_bytes {
                s.received = total;
                return true;
            }
            s.received = self.limits.received_bytes;
        }
        self.bytes_left(from);
        false
    }

    /// The cap on received bytes.
    pub fn max_bytes(&self) -> u64 {
        self.limits.received_bytes
    }

    /// Remembers that a lookup of `name` for the guest returned `ip`.
    pub fn remember(&self, name: &str, ip: IpAddr) {
        let mut s = self.state();
        let names = s.resolved.entry(ip.to_canonical()).or_default();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }

    /// The names whose lookups returned `ip` in this call.
    pub fn names_of(&self, ip: IpAddr) -> Vec<String> {
        self.state()
            .resolved
            .get(&ip.to_canonical())
            .cloned()
            .unwrap_or_default()
    }

    /// Lets the guest's pending connect to `addr` through wasmtime-wasi's
    /// own check.
    pub fn approve(&self, addr: SocketAddr) {
        self.state().approved.insert(addr);
    }

    /// Whether a connect to `addr` was approved by the policy.
    pub fn is_approved(&self, addr: SocketAddr) -> bool {
        self.state().approved.contains(&addr)
    }

    /// The refusals recorded so far, taken out.
    pub fn take_denials(&self) -> Denials {
        std::mem::take(&mut self.state().denials)
    }
}
