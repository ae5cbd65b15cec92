//! The netdev plugin (C) on fixture data with exact lines, and on this
//! machine's /proc/net/dev against native reads taken around the scrape.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{Exporter, assert_has_lines, fixture, plugin, proc_files, q};

fn netdev(proc_dir: &Path) -> Exporter {
    Exporter::start(&format!(
        "modules:\n  - name: netdev\n    plugin: {}\n    grants: {}\n",
        q(&plugin("netdev")),
        proc_files(proc_dir, &["net/dev"])
    ))
}

#[test]
fn netdev_exact_lines_from_fixture() {
    let exporter = netdev(&fixture("proc"));
    let s = exporter.scrape();
    assert_has_lines(
        &s.text,
        &[
            "# HELP netdev_receive_bytes_total Bytes received by the interface.",
            "# TYPE netdev_receive_bytes_total counter",
            "netdev_receive_bytes_total{device=\"eth0\"} 1990267424",
            "netdev_receive_bytes_total{device=\"lo\"} 9742896539",
            "netdev_receive_packets_total{device=\"eth0\"} 84875",
            "netdev_receive_errors_total{device=\"eth0\"} 3",
            "netdev_receive_drop_total{device=\"eth0\"} 7",
            "netdev_transmit_bytes_total{device=\"eth0\"} 4492119",
            "netdev_transmit_packets_total{device=\"eth0\"} 44716",
            "netdev_transmit_errors_total{device=\"eth0\"} 1",
            "netdev_transmit_drop_total{device=\"eth0\"} 2",
            "netdev_transmit_packets_total{device=\"lo\"} 4295777",
        ],
    );
    let series = s
        .samples
        .keys()
        .filter(|k| k.starts_with("netdev_"))
        .count();
    assert_eq!(series, 16, "8 counters for each of 2 devices");
    assert_eq!(s.all_errors("netdev"), 0.0);
}

/// Counters of /proc/net/dev: device -> the 16 columns.
fn native() -> BTreeMap<String, Vec<f64>> {
    std::fs::read_to_string("/proc/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| {
            let (dev, rest) = l.split_once(':')?;
            Some((
                dev.trim().to_string(),
                rest.split_whitespace()
                    .map(|v| v.parse().unwrap())
                    .collect(),
            ))
        })
        .collect()
}

#[test]
fn netdev_matches_the_real_proc() {
    let exporter = netdev(Path::new("/proc"));
    let before = native();
    let s = exporter.scrape();
    let after = native();
    let columns = [
        ("receive_bytes", 0),
        ("receive_packets", 1),
        ("receive_errors", 2),
        ("receive_drop", 3),
        ("transmit_bytes", 8),
        ("transmit_packets", 9),
        ("transmit_errors", 10),
        ("transmit_drop", 11),
    ];
    for (device, low) in &before {
        let high = &after[device];
        for (name, col) in columns {
            let series = format!("netdev_{name}_total{{device=\"{device}\"}}");
            let served = s
                .value(&series)
                .unwrap_or_else(|| panic!("{series} missing"));
            // Counters only grow: the guest read them between the two
            // native reads (loopback traffic of the scrape itself moves lo).
            assert!(
                low[col] <= served && served <= high[col],
                "{series} = {served}, native {} .. {}",
                low[col],
                high[col]
            );
        }
    }
    let devices = s
        .samples
        .keys()
        .filter(|k| k.starts_with("netdev_receive_bytes_total{"))
        .count();
    assert_eq!(devices, before.len());
}
