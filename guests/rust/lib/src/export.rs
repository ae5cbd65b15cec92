//! The bridge between a [`Collector`](crate::Collector) and the generated
//! bindings, called by [`export_collector!`](crate::export_collector).

use crate::bindings::wasm_exporter::scraper::types as wit;
use crate::{Collector, Family, Kind, Params, Value};

/// Runs `C::collect` with the host's parameters and converts the result.
pub fn collect<C: Collector>(params: Vec<wit::Param>) -> Result<Vec<wit::MetricFamily>, String> {
    let params = Params::new(params.into_iter().map(|p| (p.name, p.value)));
    let families = C::collect(&params).map_err(|e| e.to_string())?;
    families.into_iter().map(convert).collect()
}

fn convert(family: Family) -> Result<wit::MetricFamily, String> {
    family.check().map_err(|e| e.to_string())?;
    let (name, help, unit, kind, label_names, samples) = family.into_parts();
    Ok(wit::MetricFamily {
        name,
        help,
        unit,
        kind: match kind {
            Kind::Gauge => wit::MetricKind::Gauge,
            Kind::Counter => wit::MetricKind::Counter,
            Kind::Untyped => wit::MetricKind::Untyped,
            Kind::Histogram => wit::MetricKind::Histogram,
            Kind::GaugeHistogram => wit::MetricKind::GaugeHistogram,
            Kind::Summary => wit::MetricKind::Summary,
            Kind::Info => wit::MetricKind::Info,
            Kind::StateSet => wit::MetricKind::Stateset,
        },
        label_names,
        samples: samples
            .into_iter()
            .map(|s| wit::Sample {
                label_values: s.label_values,
                value: sample_value(s.value),
            })
            .collect(),
    })
}

fn sample_value(value: Value) -> wit::SampleValue {
    match value {
        Value::Number(v) => wit::SampleValue::Number(v),
        Value::Histogram(h) => wit::SampleValue::Histogram(wit::Histogram {
            buckets: h
                .buckets()
                .iter()
                .map(|&(upper_bound, count)| wit::Bucket { upper_bound, count })
                .collect(),
            count: h.count(),
            sum: h.sum(),
        }),
        Value::Summary(s) => wit::SampleValue::Summary(wit::Summary {
            quantiles: s
                .quantiles()
                .iter()
                .map(|&(quantile, value)| wit::Quantile { quantile, value })
                .collect(),
            count: s.count(),
            sum: s.sum(),
        }),
    }
}
