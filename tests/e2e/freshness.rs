//! A fresh sandbox on every scrape, even when the kernel swaps: pool slots
//! are reused, and what one call wrote must never reach the next, including
//! pages the kernel swapped out while the call ran.
//!
//! The test needs a swap area and root (swapon, and `process_madvise` on
//! the exporter): on a machine without swap it enables a swap file of its
//! own for its duration.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::support::{Exporter, Scrape, guest, heavy, q, request};

/// A swap file enabled for the test's duration, when the machine had no
/// swap; nothing when it had.
struct Swap(Option<(tempfile::TempDir, PathBuf)>);

impl Swap {
    fn ensure() -> Swap {
        let swaps = fs::read_to_string("/proc/swaps").expect("reading /proc/swaps");
        if swaps.lines().count() > 1 {
            return Swap(None);
        }
        // On the root filesystem, not a tmpfs /tmp: swap files need a disk.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a directory");
        let file = dir.path().join("swap");
        let run = |program: &str, args: &[&str]| {
            let out = Command::new(program)
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("running {program}: {e}"));
            assert!(
                out.status.success(),
                "{program} {args:?} failed ({}): {}; this test needs root and a kernel with swap",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let path = file.to_str().expect("a UTF-8 path");
        run("fallocate", &["-l", "64M", path]);
        run("chmod", &["600", path]);
        run("mkswap", &[path]);
        run("swapon", &[path]);
        Swap(Some((dir, file)))
    }
}

impl Drop for Swap {
    fn drop(&mut self) {
        if let Some((_, file)) = &self.0 {
            let _ = Command::new("swapoff").arg(file).status();
        }
    }
}

/// Asks the kernel to page out every private writable mapping of `pid`
/// (`process_madvise(MADV_PAGEOUT)`), as memory pressure would, and
/// returns the process's `VmSwap` in KiB afterwards.
fn page_out(pid: u32) -> u64 {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).expect("reading the maps");
    let ranges: Vec<libc::iovec> = maps
        .lines()
        .filter(|line| line.split_whitespace().nth(1) == Some("rw-p"))
        .filter_map(|line| {
            let (start, end) = line.split_whitespace().next()?.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            Some(libc::iovec {
                iov_base: start as *mut libc::c_void,
                iov_len: end - start,
            })
        })
        .collect();
    assert!(!ranges.is_empty(), "no writable mappings in {pid}'s maps");
    // SAFETY: pidfd_open and process_madvise only read their arguments;
    // the ranges are another process's addresses, never dereferenced here.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0);
        assert!(
            pidfd >= 0,
            "pidfd_open: {}",
            std::io::Error::last_os_error()
        );
        for chunk in ranges.chunks(512) {
            // Fails for mappings that cannot be paged out (none here are
            // locked); what could be paged out is, and VmSwap says so.
            libc::syscall(
                libc::SYS_process_madvise,
                pidfd as libc::c_int,
                chunk.as_ptr(),
                chunk.len(),
                libc::MADV_PAGEOUT,
                0u32,
            );
        }
        libc::close(pidfd as libc::c_int);
    }
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("reading the status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmSwap:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSwap in the status")
}

/// The `leftover` guest writes a marker over 256 KiB of its memory and
/// sleeps; while it sleeps the exporter's memory is paged out to swap; the
/// next scrape's instance, in the same pool slot, must find none of the
/// marker. Wasmtime as released skipped written pages that were swapped out
/// when it reset a slot (vendor/README.md): with it, the second scrape read
/// 102,400 of the first one's 131,072 bytes (25 of its 32 pages).
#[test]
fn a_swapped_out_page_does_not_outlive_its_scrape() {
    let _heavy = heavy();
    let _swap = Swap::ensure();
    let config = format!(
        "modules:\n  - name: good\n    component: {ok}\n  - name: leftover\n    component: {adv}\n    params: {{mode: leftover, ms: \"1500\"}}\n",
        ok = q(&guest("ok")),
        adv = q(&guest("adversary")),
    );
    let exporter = Exporter::start(&config);
    let addr = exporter.addr.clone();
    for round in 1..=3 {
        let scrape = thread::spawn({
            let addr = addr.clone();
            move || request("GET", &format!("http://{addr}/metrics"), &[])
        });
        // The guest has written its marker and sleeps for 1.5 s.
        thread::sleep(Duration::from_millis(600));
        let swapped = page_out(exporter.pid());
        assert!(
            swapped > 0,
            "round {round}: nothing was paged out (VmSwap 0)"
        );
        let answer = scrape.join().expect("the scrape thread");
        assert_eq!(answer.status, 200, "round {round}: {}", answer.body);
        let s = Scrape::parse(&answer.body);
        assert_eq!(
            s.value("adversary_leftover_bytes"),
            Some(0.0),
            "round {round}: the call found a previous call's bytes\n{}",
            answer.body
        );
        assert!(
            s.text.lines().any(|l| l == "wat_ok 42"),
            "round {round}: the good module's line is missing:\n{}",
            s.text
        );
        for module in ["good", "leftover"] {
            assert_eq!(
                s.value(&format!("wasm_exporter_module_up{{module=\"{module}\"}}")),
                Some(1.0),
                "round {round}: {module}"
            );
        }
    }
}
