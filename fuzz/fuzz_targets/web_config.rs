//! Arbitrary web configuration text (exporter-toolkit format) through its
//! parser, inline PEM certificates and keys included: never a panic.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wasm_exporter::webconfig::WebSecurity;

fuzz_target!(|text: &str| {
    if let Ok(web) = WebSecurity::parse(text, Path::new("/nonexistent-fuzz-base")) {
        // Without credentials no request passes when users are set, and
        // no bcrypt runs (the hashes come from the fuzzer: any cost).
        assert_eq!(web.authorized(None), !web.auth_required());
    }
});
