//! How much of what a call wrote a pool slot keeps, to be reset in place
//! when the slot is used again.
//!
//! wasmtime resets a reused slot in one of two ways. With the kernel's
//! `PAGEMAP_SCAN` (Linux 6.7 and later) it asks which pages the call wrote
//! and copies the original contents back over those only, up to the
//! amount kept, decommitting the rest; without it, it copies back the whole
//! first part of the memory, up to the amount kept, whatever was written.
//! Keeping more pays with the scan (an interpreter's next call does not
//! fault its heap in again) and costs without it (every call of every
//! guest copies that much), so the amount depends on which the kernel has.

use std::fs::File;
use std::os::fd::AsRawFd;

/// Written bytes a slot keeps when the kernel has `PAGEMAP_SCAN`: a Python
/// guest writes 2-3 MiB per call (CPython's heap, scattered over its
/// image), a small C guest a few pages. At 1 MiB the interpreter faulted
/// ~320 pages in again on every call (cpustat in process 1.29 ms, against
/// 1.13 at 4 MiB and 1.11 at 8, with the vendored scan). An idle slot
/// keeps at most this much of its last call's pages.
pub const WITH_SCAN: usize = 4 << 20;

/// Bytes a slot resets in place without `PAGEMAP_SCAN`: all of them are
/// copied on every reuse, written or not, so little.
pub const WITHOUT_SCAN: usize = 1 << 20;

/// What a slot keeps on this kernel ([`WITH_SCAN`] or [`WITHOUT_SCAN`]).
pub fn keep_resident() -> usize {
    if pagemap_scan_supported() {
        WITH_SCAN
    } else {
        WITHOUT_SCAN
    }
}

/// `struct pm_scan_arg` of `<linux/fs.h>`.
#[repr(C)]
#[derive(Default)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

/// `PAGEMAP_SCAN`: `_IOWR('f', 16, struct pm_scan_arg)`.
const PAGEMAP_SCAN: u64 = (3 << 30) | ((size_of::<PmScanArg>() as u64) << 16) | (0x66 << 8) | 16;

/// Whether the kernel answers `PAGEMAP_SCAN`, asked as wasmtime asks it
/// (an empty range of this process's pagemap): wasmtime uses the scan
/// exactly when this succeeds.
pub fn pagemap_scan_supported() -> bool {
    let Ok(pagemap) = File::open("/proc/self/pagemap") else {
        return false;
    };
    // One `struct page_region` (start, end, categories).
    let mut regions = [0u64; 3];
    let mut arg = PmScanArg {
        size: size_of::<PmScanArg>() as u64,
        vec: regions.as_mut_ptr() as u64,
        vec_len: 1,
        max_pages: 1,
        category_mask: u64::MAX >> 56,
        ..PmScanArg::default()
    };
    // SAFETY: the argument is a complete `pm_scan_arg` whose output vector
    // (one region) outlives the call; the range is empty, so nothing is
    // read from or written to this process's memory but those two.
    let rc = unsafe {
        libc::ioctl(
            pagemap.as_raw_fd(),
            PAGEMAP_SCAN as libc::Ioctl,
            &mut arg as *mut PmScanArg,
        )
    };
    rc >= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe agrees with the kernel's version: `PAGEMAP_SCAN` came in
    /// Linux 6.7.
    #[test]
    fn the_probe_matches_the_kernel_version() {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("the release");
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let major: u32 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a major version");
        let minor: u32 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a minor version");
        let has_scan = (major, minor) >= (6, 7);
        assert_eq!(pagemap_scan_supported(), has_scan, "kernel {release}");
        assert_eq!(
            keep_resident(),
            if has_scan { WITH_SCAN } else { WITHOUT_SCAN }
        );
    }
}
