//! filefd: allocated and maximum file handles of the host, from
//! `/proc/sys/fs/file-nr` (like node_exporter's filefd collector), read
//! through the directory the operator grants as `/proc`.
//!
//! - `filefd_allocated`: file handles allocated now
//! - `filefd_maximum`: the system-wide limit
//!
//! Parameter `proc_dir` (default `/proc`): where the granted proc
//! filesystem is in the guest.
//!
//! Build where the `wasm32-wasip2` target is installed (see README.md):
//! `cargo build --release -p filefd-guest --target wasm32-wasip2`.

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "scraper",
});

use wasm_exporter::scraper::types::{MetricKind, Sample};

struct FileFd;

impl Guest for FileFd {
    fn collect(params: Vec<Param>) -> Result<Vec<MetricFamily>, String> {
        let proc_dir = params
            .iter()
            .find(|p| p.name == "proc_dir")
            .map_or("/proc", |p| p.value.as_str());
        let path = format!("{proc_dir}/sys/fs/file-nr");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
        // "allocated  unused  maximum"
        let fields: Vec<f64> = text
            .split_whitespace()
            .map(|f| {
                f.parse::<f64>()
                    .map_err(|_| format!("{path}: {f:?} is not a number"))
            })
            .collect::<Result<_, _>>()?;
        let [allocated, _, maximum] = fields[..] else {
            return Err(format!("{path}: expected 3 fields, got {}", fields.len()));
        };
        Ok(vec![
            gauge("filefd_allocated", "File handles allocated.", allocated),
            gauge("filefd_maximum", "Maximum number of file handles.", maximum),
        ])
    }
}

fn gauge(name: &str, help: &str, value: f64) -> MetricFamily {
    MetricFamily {
        name: name.into(),
        help: help.into(),
        kind: MetricKind::Gauge,
        label_names: Vec::new(),
        samples: vec![Sample {
            label_values: Vec::new(),
            value,
        }],
    }
}

export!(FileFd);
