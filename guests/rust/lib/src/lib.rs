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
//! Every type of the metric model of the scraper world 0.2.0 has a
//! constructor: [`Family::gauge`], [`Family::counter`], [`Family::untyped`],
//! [`Family::histogram`] and [`Family::gauge_histogram`] (samples are
//! [`Histogram`]s), [`Family::summary`] (samples are [`Summary`]s),
//! [`Family::info`] and [`Family::stateset`] (samples added with
//! [`Family::states`]); [`Family::with_unit`] sets a family's unit.
//! A guest reports values something else keeps (a service's buckets, a
//! file a job wrote); [`Histogram::from_observations`] and
//! [`Summary::from_observations`] turn single observations it reads into
//! the same.
//!
//! ```
//! use wasm_exporter_guest::{Family, Histogram, Summary};
//!
//! let durations = [0.3, 1.2, 0.7];
//! let jobs = Family::histogram("job_duration_seconds", "Duration of the jobs.")
//!     .with_unit("seconds")
//!     .with_value(Histogram::from_observations([0.5, 1.0], durations));
//! let quantiles = Family::summary("job_duration_quantiles_seconds", "Quantiles of the jobs.")
//!     .with_unit("seconds")
//!     .with_value(Summary::from_observations([0.5, 0.9], durations));
//! # jobs.check().unwrap();
//! # quantiles.check().unwrap();
//! ```
//!
//! What the library checks before the exporter does (so the error names the
//! family): as many label values as label names, no series twice, values of
//! the family's kind, a stateset's own label. The exporter checks every rule
//! of the world again (bucket order, quantile range, units...).
//!
//! Build: a `cdylib` for `wasm32-wasip1`, made a component with the WASI
//! preview1 adapter (see `guests/rust/README.md` of the repository, or the
//! `build.sh` of `wasm_exporter plugin new --lang rust`).
//!
//! [wasm_exporter]: https://example.invalid/wasm_exporter

mod error;
mod family;
mod params;
mod value;

#[doc(hidden)]
pub mod export;

pub use error::{Error, read_to_string};
pub use family::{Family, Kind, Sample};
pub use params::Params;
pub use value::{Histogram, Summary, Value};

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
