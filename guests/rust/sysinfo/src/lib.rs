//! sysinfo in Rust: the two collectors of the exporter development guide,
//! the same series as the C plugin (`guests/c/sysinfo`), read through the
//! directory the operator grants as `/proc`.
//!
//! - `sys_mem_usage`: memory in use, percent of `MemTotal`
//!   (`(MemTotal - MemAvailable) / MemTotal`)
//! - `sys_disk_size{disk_name}`: size of each block device in bytes
//!   (`/proc/partitions`, 1 KiB blocks)
//!
//! Parameter `proc_dir` (default `/proc`): where the granted proc
//! filesystem is in the guest.

use wasm_exporter_guest::{Collector, Error, Family, Params, fail, read_to_string};

struct Sysinfo;

impl Collector for Sysinfo {
    fn collect(params: &Params) -> Result<Vec<Family>, Error> {
        let proc_dir = params.get_or("proc_dir", "/proc");
        let mem = Family::gauge("sys_mem_usage", "Memory in use, percent of total memory.")
            .with_value(mem_usage(&format!("{proc_dir}/meminfo"))?);
        let mut disks = Family::gauge("sys_disk_size", "Size of the block device in bytes.")
            .with_labels(["disk_name"]);
        let path = format!("{proc_dir}/partitions");
        for line in read_to_string(&path)?.lines() {
            // "major minor  #blocks  name"; the header and blank line do not parse.
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [major, minor, blocks, name] = fields[..] else {
                continue;
            };
            if major.parse::<u32>().is_err() || minor.parse::<u32>().is_err() {
                continue;
            }
            let Ok(blocks) = blocks.parse::<u64>() else {
                continue;
            };
            disks.sample([name], blocks as f64 * 1024.0);
        }
        Ok(vec![mem, disks])
    }
}

/// `(MemTotal - MemAvailable) / MemTotal`, in percent.
fn mem_usage(path: &str) -> Result<f64, Error> {
    let (mut total, mut available) = (None, None);
    for line in read_to_string(path)?.lines() {
        let mut fields = line.split_whitespace();
        let slot = match fields.next() {
            Some("MemTotal:") => &mut total,
            Some("MemAvailable:") => &mut available,
            _ => continue,
        };
        *slot = fields.next().and_then(|v| v.parse::<f64>().ok());
    }
    match (total, available) {
        (Some(total), Some(available)) if total > 0.0 && available >= 0.0 => {
            Ok((total - available) / total * 100.0)
        }
        _ => fail!("{path} has no MemTotal or MemAvailable line"),
    }
}

wasm_exporter_guest::export_collector!(Sysinfo);
