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
        let mut info = Family::gauge("{{metric}}_info", "A constant, to show the shape of a plugin.")
            .with_labels(["greeting"]);
        info.sample([params.get_or("greeting", "hello")], 1.0);
        Ok(vec![info])
    }
}

wasm_exporter_guest::export_collector!(Plugin);
