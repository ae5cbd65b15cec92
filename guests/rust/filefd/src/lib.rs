//! filefd: allocated and maximum file handles of the host, from
//! `/proc/sys/fs/file-nr` (like node_exporter's filefd collector), read
//! through the directory the operator grants as `/proc`.
//!
//! - `filefd_allocated`: file handles allocated now
//! - `filefd_maximum`: the system-wide limit
//!
//! Parameter `proc_dir` (default `/proc`): where the granted proc
//! filesystem is in the guest.

use wasm_exporter_guest::{Collector, Error, Family, Params, fail, read_to_string};

struct FileFd;

impl Collector for FileFd {
    fn collect(params: &Params) -> Result<Vec<Family>, Error> {
        let path = format!("{}/sys/fs/file-nr", params.get_or("proc_dir", "/proc"));
        let text = read_to_string(&path)?;
        // "allocated  unused  maximum"
        let fields = text
            .split_whitespace()
            .map(|f| {
                f.parse::<f64>()
                    .map_err(|_| Error::new(format!("{path}: {f:?} is not a number")))
            })
            .collect::<Result<Vec<f64>, Error>>()?;
        let [allocated, _, maximum] = fields[..] else {
            fail!("{path}: expected 3 fields, got {}", fields.len());
        };
        Ok(vec![
            Family::gauge("filefd_allocated", "File handles allocated.").with_value(allocated),
            Family::gauge("filefd_maximum", "Maximum number of file handles.").with_value(maximum),
        ])
    }
}

wasm_exporter_guest::export_collector!(FileFd);
