//! Write [wasm_exporter] scrapers in Rust.
//!
//! A scraper is a type implementing [`Collector`]: on every scrape the
//! exporter instantiates the component afresh and calls
//! [`Collector::collect`] once, with the module's parameters. It returns
//! metric [`Family`]s, or an [`Error`] that fails this module's scrape (the
//! exporter counts a `guest_error` and logs the reason).
//!
//! ```no_run
//! use wasm_exporter_guest::{Collector, Error, Family, Params, read_to_string};
//!
//! struct Uptime;
//!
//! impl Collector for Uptime {
//!     fn collect(params: &Params) -> Result<Vec<Family>, Error> {
//!         let path = format!("{}/uptime", params.get_or("proc_dir", "/proc"));
//!         let text = read_to_string(&path)?;
//!         let seconds: f64 = text
//!             .split_whitespace()
//!             .next()
//!             .and_then(|s| s.parse().ok())
//!             .ok_or_else(|| Error::new(format!("{path}: no number")))?;
//!         Ok(vec![Family::gauge("uptime_seconds", "Time since boot.").with_value(seconds)])
//!     }
//! }
//!
//! wasm_exporter_guest::export_collector!(Uptime);
//! ```
//!
//! What the library checks before the exporter does (so the error names the
//! family): as many label values as label names, and no series twice.
//!
//! Counters, gauges and untyped families are supported. Histograms and
//! summaries come with version 0.2 of the scraper world, whose metric model
//! carries them; they will be added as [`Family::histogram`]-style
//! constructors and new [`Kind`] variants (the enum is `non_exhaustive` for
//! that reason).
//!
//! Build: a `cdylib` for `wasm32-wasip1`, made a component with the WASI
//! preview1 adapter (see `guests/rust/README.md` of the repository, or the
//! `build.sh` of `wasm_exporter plugin new --lang rust`).
//!
//! [wasm_exporter]: https://example.invalid/wasm_exporter

mod error;
mod family;
mod params;

#[doc(hidden)]
pub mod export;

pub use error::{Error, read_to_string};
pub use family::{Family, Kind, Sample};
pub use params::Params;

/// A scraper: one collection per call, with no state kept between calls.
pub trait Collector {
    /// Collects the metrics now, with the module's parameters.
    fn collect(params: &Params) -> Result<Vec<Family>, Error>;
}

// The generated code names this crate by its name, from inside it too.
extern crate self as wasm_exporter_guest;

/// The WIT bindings of the scraper world (used by [`export_collector!`]).
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "scraper",
        pub_export_macro: true,
        default_bindings_module: "wasm_exporter_guest::bindings",
        runtime_path: "wasm_exporter_guest::__private::wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

/// Makes a [`Collector`] the component's `collect` export. Use it once, in
/// the crate root of a `cdylib`.
#[macro_export]
macro_rules! export_collector {
    ($collector:ty) => {
        #[doc(hidden)]
        struct __WasmExporterCollect;
        impl $crate::bindings::Guest for __WasmExporterCollect {
            fn collect(
                params: ::std::vec::Vec<$crate::bindings::wasm_exporter::scraper::types::Param>,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::bindings::wasm_exporter::scraper::types::MetricFamily>,
                ::std::string::String,
            > {
                $crate::export::collect::<$collector>(params)
            }
        }
        $crate::bindings::export!(__WasmExporterCollect with_types_in $crate::bindings);
    };
}
