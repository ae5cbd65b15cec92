//! {{name}}: a wasm_exporter plugin in Rust.
//!
//! `collect` runs once per scrape in a fresh sandbox. Read files only under
//! the directories the manifest asks for (capabilities.dirs) and the
//! operator grants (`wasm_exporter_guest::read_to_string` names the file in
//! its errors); emit only the metrics the manifest declares. On failure,
//! return an error (`fail!("...")`) naming what went wrong: the exporter
//! counts a guest_error and serves none of this plugin's series for that
//! scrape. The library's documentation: `cargo doc --open -p wasm-exporter-guest`.

use wasm_exporter_guest::{Collector, Error, Family, Params};

struct Plugin;

impl Collector for Plugin {
    fn collect(params: &Params) -> Result<Vec<Family>, Error> {
        // An info family: its information in labels, the value 1. Other
        // types: Family::gauge, counter, histogram (samples are
        // wasm_exporter_guest::Histogram), summary, stateset; with_unit.
        let info = Family::info("{{metric}}_info", "A constant, to show the shape of a plugin.")
            .with_labels(["greeting"])
            .with_sample([params.get_or("greeting", "hello")], 1.0);
        Ok(vec![info])
    }
}

wasm_exporter_guest::export_collector!(Plugin);
