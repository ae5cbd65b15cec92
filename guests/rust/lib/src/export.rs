//! The bridge between a [`Collector`](crate::Collector) and the generated
//! bindings, called by [`export_collector!`](crate::export_collector).

use crate::bindings::wasm_exporter::scraper::types::{MetricFamily, MetricKind, Param, Sample};
use crate::{Collector, Family, Kind, Params};

/// Runs `C::collect` with the host's parameters and converts the result.
pub fn collect<C: Collector>(params: Vec<Param>) -> Result<Vec<MetricFamily>, String> {
    let params = Params::new(params.into_iter().map(|p| (p.name, p.value)));
    let families = C::collect(&params).map_err(|e| e.to_string())?;
    families.into_iter().map(convert).collect()
}

fn convert(family: Family) -> Result<MetricFamily, String> {
    family.check().map_err(|e| e.to_string())?;
    let (name, help, kind, label_names, samples) = family.into_parts();
    Ok(MetricFamily {
        name,
        help,
        kind: match kind {
            Kind::Gauge => MetricKind::Gauge,
            Kind::Counter => MetricKind::Counter,
            Kind::Untyped => MetricKind::Untyped,
        },
        label_names,
        samples: samples
            .into_iter()
            .map(|s| Sample {
                label_values: s.label_values,
                value: s.value,
            })
            .collect(),
    })
}
