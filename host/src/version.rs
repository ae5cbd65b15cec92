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
/// A version of the scraper world (`wit/<version>/scraper.wit`). The host
/// serves every one of them side by side: a component's version is found at
/// load from what it exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum World {
    /// `wasm-exporter:scraper/scraper@0.1.0`: gauges, counters, untyped.
    V0_1,
    /// `wasm-exporter:scraper/scraper@0.2.0`: adds histograms, gauge
    /// histograms, summaries, info, stateset and units.
    V0_2,
}

impl World {
    /// Every version served, oldest first.
    pub const ALL: [World; 2] = [World::V0_1, World::V0_2];
    /// The version new scrapers are built against.
    pub const LATEST: World = World::V0_2;

    /// The world's full name, as manifests write it.
    pub fn name(self) -> &'static str {
        match self {
            World::V0_1 => "wasm-exporter:scraper/scraper@0.1.0",
            World::V0_2 => "wasm-exporter:scraper/scraper@0.2.0",
        }
    }

    /// The package version alone (`0.2.0`).
    pub fn version(self) -> &'static str {
        match self {
            World::V0_1 => "0.1.0",
            World::V0_2 => "0.2.0",
        }
    }

    /// The world named `name`, if this host serves it.
    pub fn parse(name: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The names of every world served, for messages.
    pub fn all_names() -> String {
        World::ALL.map(World::name).join(", ")
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The long `--version` text, in the layout of other Prometheus exporters.
pub static LONG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "wasm_exporter, version {VERSION} (branch: {BRANCH}, revision: {REVISION})\n  build date:       {BUILD_DATE}\n  rustc version:    {RUSTC_VERSION}\n  platform:         {TARGET}\n  guest interfaces: {}",
        World::all_names()
    )
});
