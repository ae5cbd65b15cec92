//! What a module may reach, decided apart from how it is enforced.
//!
//! The operator's grants (config) and the plugin's requests (manifest) are
//! turned here into an [`Access`]: plain rules the runtime consults on every
//! open ([`files::FilePolicy::judge`]). Nothing in this module touches a
//! guest; the WASI glue in `runtime::wasi` asks, enforces and reports.
//!
//! - [`files`]: file, glob and directory grants, read-only.
//! - [`kernelfs`]: what of procfs and sysfs is never shown, whatever the
//!   grant (process entries, the exporter's own process, known-dangerous
//!   files, special files).
//! - [`mounts`]: the mount table: which grants reach a filesystem that can
//!   hang (network, FUSE), whose guests then run on threads of their own.

pub mod files;
pub mod kernelfs;
pub mod mounts;

use std::fmt;
use std::sync::Arc;

pub use files::FilePolicy;

/// Everything a module may reach besides its own memory and the clocks.
#[derive(Debug, Clone)]
pub struct Access {
    /// Files and directories, read-only (shared by every call).
    pub files: Arc<FilePolicy>,
    /// Host environment variables passed through (when set).
    pub env: Vec<String>,
}

impl Access {
    /// Nothing at all.
    pub fn none() -> Access {
        Access {
            files: Arc::new(FilePolicy::none()),
            env: Vec::new(),
        }
    }

    /// Every grant in one line, for the landing page and `plugin check`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.files.shown().map(str::to_owned).collect();
        if !self.env.is_empty() {
            parts.push(format!("env {}", self.env.join(", ")));
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join("; ")
        }
    }
}

/// The `kind` label of `wasm_exporter_access_denied_total`: a small fixed
/// set, whatever a guest tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenialKind {
    /// A path outside the grants, hidden by the procfs/sysfs rules, or a
    /// special file (device, FIFO, socket).
    File,
    /// The module's descriptor cap (`limits.open_files`) or the exporter's
    /// share of descriptors for all guests was reached.
    OpenFiles,
}

impl DenialKind {
    /// Every kind, for initialising the counters at zero.
    pub const ALL: [DenialKind; 2] = [DenialKind::File, DenialKind::OpenFiles];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DenialKind::File => "file",
            DenialKind::OpenFiles => "open_files",
        }
    }
}

impl fmt::Display for DenialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused access, for the log and the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// What kind of access.
    pub kind: DenialKind,
    /// What the guest asked for, as it named it (a guest path), or the
    /// resolved host path when that is what was refused.
    pub target: String,
    /// Why, in words for the operator.
    pub reason: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.kind, self.target, self.reason)
    }
}
