//! Arbitrary configuration text through the config parser: never a panic,
//! every refusal with a message, and every accepted config within the
//! documented bounds.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wasm_exporter::config::{Config, MAX_CONCURRENCY};

fuzz_target!(|text: &str| {
    match Config::parse(text, Path::new("/nonexistent-fuzz-base")) {
        Ok(config) => {
            assert!((1..=MAX_CONCURRENCY).contains(&config.global.concurrency));
            for m in &config.modules {
                assert!(!m.name.is_empty() && m.name.len() <= 64);
                assert!(!m.limits.timeout.is_zero());
                assert!(m.grants.dirs.iter().all(|d| d.guest.starts_with('/')));
            }
        }
        Err(e) => assert!(!format!("{e:#}").is_empty()),
    }
});
