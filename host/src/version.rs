//! Build information, filled in by `build.rs`.

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision the binary was built from, or `unknown`.
pub const REVISION: &str = env!("WASM_EXPORTER_REVISION");
/// The git branch the binary was built from, or `unknown`.
pub const BRANCH: &str = env!("WASM_EXPORTER_BRANCH");
/// When the binary was built (UTC, `YYYYMMDD-HH:MM:SS`).
pub const BUILD_DATE: &str = env!("WASM_EXPORTER_BUILD_DATE");
/// The compiler that built the binary.
pub const RUSTC_VERSION: &str = env!("WASM_EXPORTER_RUSTC_VERSION");
/// The target triple.
pub const TARGET: &str = env!("WASM_EXPORTER_TARGET");
/// The WIT world version guests are built against.
pub const WIT_WORLD: &str = "wasm-exporter:scraper/scraper@0.1.0";

/// The long `--version` text, in the layout of other Prometheus exporters.
pub static LONG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "wasm_exporter, version {VERSION} (branch: {BRANCH}, revision: {REVISION})\n  build date:       {BUILD_DATE}\n  rustc version:    {RUSTC_VERSION}\n  platform:         {TARGET}\n  guest interface:  {WIT_WORLD}"
    )
});
