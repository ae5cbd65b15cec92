//! Arbitrary `plugin.yaml` text through the manifest parser: never a
//! panic, and a manifest that is accepted writes back (as `plugin pack`
//! does) to YAML that parses to the same manifest.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_exporter::plugin::manifest::Manifest;

fuzz_target!(|text: &str| {
    if let Ok(manifest) = Manifest::parse(text) {
        let yaml = manifest.to_yaml().expect("an accepted manifest serializes");
        let again = Manifest::parse(&yaml)
            .unwrap_or_else(|e| panic!("the written manifest is refused: {e:#}\n{yaml}"));
        assert_eq!(manifest, again);
    }
});
