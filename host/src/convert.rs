//! Turns what a guest returned into the families of [`crate::model`], after
//! checking every rule of the exposition formats and every output cap.
//!
//! Both versions of the scraper world arrive here: a 0.1.0 answer is read as
//! the 0.2.0 answer it is a subset of (no unit, one number per sample), so
//! there is one set of rules for everyone.
//!
//! Validation is all-or-nothing per module: the first broken rule fails the
//! module's whole output for this scrape, so a half-valid answer is never
//! served.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::config::Limits;
use crate::model::{self, Bucket, Family, Kind, NameClaims, Quantile, Series, Text, Value};
use crate::runtime::bindings::{v0_1, v0_2};
use crate::runtime::{Failure, GuestFamilies, Reason};

use v0_2::wasm_exporter::scraper::types::{
    MetricFamily, MetricKind, Sample, SampleValue, Summary as GuestSummary,
};

/// Metric names guests may not use: the exporter's own.
pub const RESERVED_PREFIX: &str = "wasm_exporter_";

/// Validates what a guest returned against the exposition rules and
/// `limits`, and converts it to the model.
pub fn to_families(families: GuestFamilies, limits: &Limits) -> Result<Vec<Family>, Failure> {
    let families = match families {
        GuestFamilies::V0_1(families) => families.into_iter().map(upgrade).collect(),
        GuestFamilies::V0_2(families) => families,
    };
    check_sizes(&families, limits)?;
    let mut names = HashSet::with_capacity(families.len());
    let mut claims = NameClaims::default();
    let mut out = Vec::with_capacity(families.len());
    for family in families {
        if !names.insert(family.name.clone()) {
            return Err(invalid(format!(
                "metric family {:?} is returned twice",
                family.name
            )));
        }
        let family = convert_family(family, limits)?;
        if let Some(clash) = claims.claim(&family.name, family.kind, "") {
            return Err(invalid(clash));
        }
        out.push(family);
    }
    Ok(out)
}

/// A 0.1.0 family as the 0.2.0 family that means the same.
fn upgrade(f: v0_1::wasm_exporter::scraper::types::MetricFamily) -> MetricFamily {
    use v0_1::wasm_exporter::scraper::types::MetricKind as Old;
    MetricFamily {
        name: f.name,
        help: f.help,
        unit: String::new(),
        kind: match f.kind {
            Old::Gauge => MetricKind::Gauge,
            Old::Counter => MetricKind::Counter,
            Old::Untyped => MetricKind::Untyped,
        },
        label_names: f.label_names,
        samples: f
            .samples
            .into_iter()
            .map(|s| Sample {
                label_values: s.label_values,
                value: SampleValue::Number(s.value),
            })
            .collect(),
    }
}

/// Size caps first, before any per-sample work, so an oversized answer costs
/// one pass of length sums. Every bucket and quantile counts as a series,
/// and so do the `_sum` and `_count` of histograms and summaries: that is
/// what the exposition and Prometheus' storage hold.
fn check_sizes(families: &[MetricFamily], limits: &Limits) -> Result<(), Failure> {
    if families.len() > limits.max_families {
        return Err(limit(format!(
            "{} metric families returned, the limit is {}",
            families.len(),
            limits.max_families
        )));
    }
    let mut series = 0usize;
    let mut bytes = 0u64;
    for f in families {
        bytes = bytes
            .saturating_add(f.name.len() as u64)
            .saturating_add(f.help.len() as u64)
            .saturating_add(f.unit.len() as u64);
        bytes = f
            .label_names
            .iter()
            .fold(bytes, |b, n| b.saturating_add(n.len() as u64));
        for s in &f.samples {
            let (exposed, value_bytes) = match &s.value {
                SampleValue::Number(_) => (1, 8),
                SampleValue::Histogram(h) => (h.buckets.len() + 2, 16 * (h.buckets.len() + 1)),
                SampleValue::Summary(q) => (q.quantiles.len() + 2, 16 * (q.quantiles.len() + 1)),
            };
            series = series.saturating_add(exposed);
            bytes = s
                .label_values
                .iter()
                .fold(bytes.saturating_add(value_bytes as u64), |b, v| {
                    b.saturating_add(v.len() as u64)
                });
        }
    }
    if series > limits.max_series {
        return Err(limit(format!(
            "{series} series returned (each bucket and quantile counts, and each _sum and _count), the limit is {}",
            limits.max_series
        )));
    }
    if bytes > limits.max_output_bytes.as_u64() {
        return Err(limit(format!(
            "{bytes} bytes of output returned, the limit is {}",
            limits.max_output_bytes.as_u64()
        )));
    }
    Ok(())
}

fn kind_of(kind: MetricKind) -> Kind {
    match kind {
        MetricKind::Gauge => Kind::Gauge,
        MetricKind::Counter => Kind::Counter,
        MetricKind::Untyped => Kind::Untyped,
        MetricKind::Histogram => Kind::Histogram,
        MetricKind::GaugeHistogram => Kind::GaugeHistogram,
        MetricKind::Summary => Kind::Summary,
        MetricKind::Info => Kind::Info,
        MetricKind::Stateset => Kind::StateSet,
    }
}

fn convert_family(family: MetricFamily, limits: &Limits) -> Result<Family, Failure> {
    let MetricFamily {
        name,
        help,
        unit,
        kind,
        label_names,
        samples,
    } = family;
    let kind = kind_of(kind);
    check_metric_name(&name, limits)?;
    if help.len() > limits.max_help_length {
        return Err(limit(format!(
            "help of {name:?} is {} bytes long, the limit is {}",
            help.len(),
            limits.max_help_length
        )));
    }
    check_kind_name(&name, kind)?;
    check_unit(&name, kind, &unit, limits)?;
    if label_names.len() > limits.max_labels {
        return Err(limit(format!(
            "{name:?} has {} label names, the limit is {}",
            label_names.len(),
            limits.max_labels
        )));
    }
    let mut seen_labels = HashSet::with_capacity(label_names.len());
    for label in &label_names {
        check_label_name(&name, label, limits)?;
        if !seen_labels.insert(label.as_str()) {
            return Err(invalid(format!(
                "{name:?} has the label name {label:?} twice"
            )));
        }
        if let Some(reserved) = reserved_label(kind)
            && label == reserved
        {
            return Err(invalid(format!(
                "{} {name:?} has the label {label:?}, which the exposition of its samples uses",
                kind.as_str()
            )));
        }
    }
    if kind == Kind::StateSet && !label_names.contains(&name) {
        return Err(invalid(format!(
            "stateset {name:?} has no label named {name:?} to hold the state names (its label names are {label_names:?})"
        )));
    }

    let mut series = Vec::with_capacity(samples.len());
    for sample in samples {
        if sample.label_values.len() != label_names.len() {
            return Err(invalid(format!(
                "a sample of {name:?} has {} label values for {} label names",
                sample.label_values.len(),
                label_names.len()
            )));
        }
        if let Some(v) = sample
            .label_values
            .iter()
            .find(|v| v.len() > limits.max_label_value_length)
        {
            return Err(limit(format!(
                "a label value of {name:?} is {} bytes long, the limit is {}",
                v.len(),
                limits.max_label_value_length
            )));
        }
        let value = convert_value(sample.value, kind).map_err(|why| {
            invalid(format!(
                "{} {}: {why}",
                kind.as_str(),
                series_name(&name, &label_names, &sample.label_values)
            ))
        })?;
        series.push(Series {
            label_values: sample.label_values,
            value,
        });
    }
    check_unique_series(&name, &label_names, &series)?;
    Ok(Family {
        name: name.into(),
        help: help.into(),
        unit: unit.into(),
        kind,
        label_names: label_names.into_iter().map(Text::from).collect(),
        series,
    })
}

/// The label a kind's exposition adds to its samples.
pub fn reserved_label(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Histogram | Kind::GaugeHistogram => Some("le"),
        Kind::Summary => Some("quantile"),
        _ => None,
    }
}

/// Names a kind requires: an info family's ends in `_info`, which
/// OpenMetrics puts on its sample.
fn check_kind_name(name: &str, kind: Kind) -> Result<(), Failure> {
    if kind == Kind::Info && name.strip_suffix("_info").is_none_or(str::is_empty) {
        return Err(invalid(format!(
            "info {name:?} must be named with the suffix _info"
        )));
    }
    Ok(())
}

/// OpenMetrics: a unit is a suffix of the family name (after `_`), and info
/// and stateset families have none.
fn check_unit(name: &str, kind: Kind, unit: &str, limits: &Limits) -> Result<(), Failure> {
    if unit.is_empty() {
        return Ok(());
    }
    if unit.len() > limits.max_name_length {
        return Err(limit(format!(
            "the unit of {name:?} is {} bytes long, the limit is {}",
            unit.len(),
            limits.max_name_length
        )));
    }
    if !unit
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(invalid(format!(
            "unit {unit:?} of {name:?} may only contain [a-zA-Z0-9_:]"
        )));
    }
    if matches!(kind, Kind::Info | Kind::StateSet) {
        return Err(invalid(format!(
            "{} {name:?} has the unit {unit:?}; OpenMetrics gives {} families none",
            kind.as_str(),
            kind.as_str()
        )));
    }
    let family = model::openmetrics_family_name(name, kind);
    if !family
        .strip_suffix(unit)
        .is_some_and(|rest| rest.ends_with('_') && rest.len() > 1)
    {
        return Err(invalid(format!(
            "unit {unit:?} of {name:?}: OpenMetrics requires the name{} to end in _{unit}",
            if kind == Kind::Counter {
                " (without _total)"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// Checks one sample's value against its family's kind; the reason is
/// returned bare, the caller names the series.
fn convert_value(value: SampleValue, kind: Kind) -> Result<Value, String> {
    match (kind, value) {
        (Kind::Gauge | Kind::Untyped, SampleValue::Number(v)) => Ok(Value::Number(v)),
        (Kind::Counter, SampleValue::Number(v)) => {
            // OpenMetrics: a counter's total is neither negative nor NaN.
            if v < 0.0 || v.is_nan() {
                Err(format!("has a negative or NaN value {v}"))
            } else {
                Ok(Value::Number(v))
            }
        }
        (Kind::Info, SampleValue::Number(v)) => {
            if v == 1.0 {
                Ok(Value::Number(v))
            } else {
                Err(format!("has the value {v}; an info sample's value is 1"))
            }
        }
        (Kind::StateSet, SampleValue::Number(v)) => {
            if v == 0.0 || v == 1.0 {
                Ok(Value::Number(v))
            } else {
                Err(format!(
                    "has the value {v}; a state's value is 1 (it holds) or 0"
                ))
            }
        }
        (Kind::Histogram | Kind::GaugeHistogram, SampleValue::Histogram(h)) => {
            let buckets: Vec<Bucket> = h
                .buckets
                .iter()
                .map(|b| Bucket {
                    upper_bound: b.upper_bound,
                    count: b.count,
                })
                .collect();
            let h = model::Histogram {
                buckets,
                count: h.count,
                sum: h.sum,
            };
            check_histogram(&h, kind)?;
            Ok(Value::Histogram(h))
        }
        (Kind::Summary, SampleValue::Summary(s)) => Ok(Value::Summary(check_summary(s)?)),
        (kind, value) => Err(format!(
            "holds a {} value; {} samples hold {}",
            match value {
                SampleValue::Number(_) => "number",
                SampleValue::Histogram(_) => "histogram",
                SampleValue::Summary(_) => "summary",
            },
            kind.as_str(),
            match kind {
                Kind::Histogram | Kind::GaugeHistogram => "a histogram",
                Kind::Summary => "a summary",
                _ => "a number",
            }
        )),
    }
}

/// OpenMetrics' histogram rules: buckets sorted by a unique, non-NaN upper
/// bound, cumulative, the last one +Inf holding the count; the sum neither
/// NaN nor, for a histogram, negative, and absent when a bound is negative
/// (a gauge histogram may then have a negative sum).
fn check_histogram(h: &model::Histogram, kind: Kind) -> Result<(), String> {
    let Some(last) = h.buckets.last() else {
        return Err("has no buckets (at least the +Inf bucket is needed)".into());
    };
    for (i, b) in h.buckets.iter().enumerate() {
        if b.upper_bound.is_nan() {
            return Err("has a bucket whose upper bound is NaN".into());
        }
        if let Some(prev) = i.checked_sub(1).map(|p| h.buckets[p]) {
            if b.upper_bound <= prev.upper_bound {
                return Err(format!(
                    "buckets are not sorted by upper bound (le=\"{}\" after le=\"{}\"), or a bound is repeated",
                    le(b.upper_bound),
                    le(prev.upper_bound)
                ));
            }
            if b.count < prev.count {
                return Err(format!(
                    "buckets are not cumulative: le=\"{}\" counts {}, fewer than le=\"{}\" with {}",
                    le(b.upper_bound),
                    b.count,
                    le(prev.upper_bound),
                    prev.count
                ));
            }
        }
    }
    if last.upper_bound != f64::INFINITY {
        return Err(format!(
            "has no +Inf bucket (the last bucket is le=\"{}\")",
            le(last.upper_bound)
        ));
    }
    if last.count != h.count {
        return Err(format!(
            "the +Inf bucket counts {} but the count is {}",
            last.count, h.count
        ));
    }
    let negative_bound = h.buckets.iter().any(|b| b.upper_bound < 0.0);
    match h.sum {
        Some(sum) if sum.is_nan() => Err("has a NaN sum".into()),
        Some(sum) if kind == Kind::Histogram && negative_bound => Err(format!(
            "has a sum ({sum}) and a negative bucket bound; OpenMetrics allows no sum then, as it would not be a counter"
        )),
        Some(sum) if sum < 0.0 && !negative_bound => Err(format!(
            "has a negative sum {sum} but no negative bucket bound"
        )),
        _ => Ok(()),
    }
}

/// OpenMetrics' summary rules: quantiles within [0, 1] and unique, their
/// values not negative (NaN when nothing was observed), the sum neither
/// negative nor NaN. Quantiles come out sorted.
fn check_summary(s: GuestSummary) -> Result<model::Summary, String> {
    if s.sum.is_nan() || s.sum < 0.0 {
        return Err(format!(
            "has the sum {}; it may be neither negative nor NaN",
            s.sum
        ));
    }
    let mut quantiles: Vec<Quantile> = s
        .quantiles
        .iter()
        .map(|q| Quantile {
            quantile: q.quantile,
            value: q.value,
        })
        .collect();
    for q in &quantiles {
        if !(0.0..=1.0).contains(&q.quantile) {
            return Err(format!(
                "has the quantile {}; quantiles are between 0 and 1",
                q.quantile
            ));
        }
        if q.value < 0.0 {
            return Err(format!(
                "quantile {} has the negative value {}",
                le(q.quantile),
                q.value
            ));
        }
    }
    quantiles.sort_by(|a, b| a.quantile.total_cmp(&b.quantile));
    if let Some(w) = quantiles
        .windows(2)
        .find(|w| w[0].quantile == w[1].quantile)
    {
        return Err(format!("has the quantile {} twice", le(w[0].quantile)));
    }
    Ok(model::Summary {
        quantiles,
        count: s.count,
        sum: s.sum,
    })
}

/// A bound or quantile as the exposition writes it.
fn le(v: f64) -> String {
    crate::exposition::label_float(v)
}

/// `name{a="x",b="y"}`, shortened, for messages.
fn series_name(name: &str, label_names: &[String], label_values: &[String]) -> String {
    let mut s = name.to_string();
    if !label_names.is_empty() {
        s.push('{');
        for (i, (n, v)) in label_names.iter().zip(label_values).enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{n}={:?}", truncate(v));
        }
        s.push('}');
    }
    s
}

/// Two samples with the same label values would be one series twice.
fn check_unique_series(
    name: &str,
    label_names: &[String],
    series: &[Series],
) -> Result<(), Failure> {
    let mut seen: HashSet<&[String]> = HashSet::with_capacity(series.len());
    for s in series {
        if !seen.insert(&s.label_values) {
            return Err(invalid(format!(
                "{name:?} has two samples with the same label values {}",
                series_name("", label_names, &s.label_values)
            )));
        }
    }
    Ok(())
}

fn check_metric_name(name: &str, limits: &Limits) -> Result<(), Failure> {
    if name.len() > limits.max_name_length {
        return Err(limit(format!(
            "metric name {:?}… is {} bytes long, the limit is {}",
            truncate(name),
            name.len(),
            limits.max_name_length
        )));
    }
    if !is_metric_name(name) {
        return Err(invalid(format!(
            "{name:?} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, no leading __)"
        )));
    }
    if name.starts_with(RESERVED_PREFIX) {
        return Err(invalid(format!(
            "{name:?}: the prefix {RESERVED_PREFIX} is reserved for the exporter's own metrics"
        )));
    }
    Ok(())
}

fn check_label_name(family: &str, label: &str, limits: &Limits) -> Result<(), Failure> {
    if label.len() > limits.max_name_length {
        return Err(limit(format!(
            "a label name of {family:?} is {} bytes long, the limit is {}",
            label.len(),
            limits.max_name_length
        )));
    }
    if !is_label_name(label) {
        return Err(invalid(format!(
            "{label:?} (in {family:?}) is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)"
        )));
    }
    Ok(())
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` without the reserved `__` prefix.
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !name.starts_with("__")
}

/// `[a-zA-Z_][a-zA-Z0-9_]*` without the reserved `__` prefix.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn invalid(message: String) -> Failure {
    Failure::new(Reason::InvalidOutput, message)
}

fn limit(message: String) -> Failure {
    Failure::new(Reason::OutputLimit, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use v0_2::wasm_exporter::scraper::types::Quantile as GQuantile;
    use v0_2::wasm_exporter::scraper::types::{Bucket as GBucket, Histogram as GHistogram};

    fn family(name: &str, labels: &[&str], samples: &[(&[&str], f64)]) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            help: "help".into(),
            unit: Default::default(),
            kind: MetricKind::Gauge,
            label_names: labels.iter().map(|s| s.to_string()).collect(),
            samples: samples
                .iter()
                .map(|(values, value)| Sample {
                    label_values: values.iter().map(|s| s.to_string()).collect(),
                    value: SampleValue::Number(*value),
                })
                .collect(),
        }
    }

    fn histogram(buckets: &[(f64, u64)], count: u64, sum: Option<f64>) -> SampleValue {
        SampleValue::Histogram(GHistogram {
            buckets: buckets
                .iter()
                .map(|&(upper_bound, count)| GBucket { upper_bound, count })
                .collect(),
            count,
            sum,
        })
    }

    fn summary(quantiles: &[(f64, f64)], count: u64, sum: f64) -> SampleValue {
        SampleValue::Summary(GuestSummary {
            quantiles: quantiles
                .iter()
                .map(|&(quantile, value)| GQuantile { quantile, value })
                .collect(),
            count,
            sum,
        })
    }

    /// A family of `kind` with one sample per value, labelled `n="i"`.
    fn typed(name: &str, kind: MetricKind, values: Vec<SampleValue>) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            help: Default::default(),
            unit: Default::default(),
            kind,
            label_names: vec!["n".into()],
            samples: values
                .into_iter()
                .enumerate()
                .map(|(i, value)| Sample {
                    label_values: vec![i.to_string()],
                    value,
                })
                .collect(),
        }
    }

    fn convert(families: Vec<MetricFamily>, limits: &Limits) -> Result<Vec<Family>, Failure> {
        to_families(GuestFamilies::V0_2(families), limits)
    }

    fn reject(families: Vec<MetricFamily>, limits: &Limits) -> Failure {
        convert(families, limits).expect_err("output should be rejected")
    }

    fn assert_rejected(f: MetricFamily, reason: Reason, expected: &str) {
        let e = reject(vec![f], &Limits::default());
        assert_eq!(e.reason, reason, "{e}");
        assert!(
            e.message.contains(expected),
            "{e} should mention {expected}"
        );
    }

    #[test]
    fn converts_valid_output() {
        let out = convert(
            vec![family(
                "sys_disk_size",
                &["disk_name"],
                &[(&["sda"], 1.0), (&["a\"b\\c\nd"], f64::NAN)],
            )],
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "sys_disk_size");
        assert_eq!(out[0].series.len(), 2);
        assert_eq!(out[0].series[1].label_values[0], "a\"b\\c\nd");
    }

    #[test]
    fn reads_a_0_1_answer_as_the_same_0_2_answer() {
        use v0_1::wasm_exporter::scraper::types as old;
        let answer = vec![old::MetricFamily {
            name: "bytes_total".into(),
            help: "Bytes.".into(),
            kind: old::MetricKind::Counter,
            label_names: vec!["dev".into()],
            samples: vec![old::Sample {
                label_values: vec!["eth0".into()],
                value: 5.0,
            }],
        }];
        let out = to_families(GuestFamilies::V0_1(answer), &Limits::default()).unwrap();
        assert_eq!(
            out,
            [Family {
                name: "bytes_total".into(),
                help: "Bytes.".into(),
                unit: Default::default(),
                kind: Kind::Counter,
                label_names: vec!["dev".into()],
                series: vec![Series {
                    label_values: vec!["eth0".into()],
                    value: Value::Number(5.0),
                }],
            }]
        );
    }

    #[test]
    fn rejects_invalid_names_and_shapes() {
        let l = Limits::default();
        let cases = [
            (family("1abc", &[], &[]), "not a valid metric name"),
            (family("__x", &[], &[]), "not a valid metric name"),
            (family("a-b", &[], &[]), "not a valid metric name"),
            (family("wasm_exporter_up", &[], &[]), "reserved"),
            (family("ok", &["bad-label"], &[]), "not a valid label name"),
            (family("ok", &["__name__"], &[]), "not a valid label name"),
            (family("ok", &["a", "a"], &[]), "label name \"a\" twice"),
            (family("ok", &["a"], &[(&[], 1.0)]), "0 label values for 1"),
            (
                family("ok", &["a"], &[(&["x"], 1.0), (&["x"], 2.0)]),
                "same label values",
            ),
        ];
        for (f, expected) in cases {
            let e = reject(vec![f], &l);
            assert_eq!(e.reason, Reason::InvalidOutput, "{e}");
            assert!(
                e.message.contains(expected),
                "{e} should mention {expected}"
            );
        }
        let e = reject(vec![family("a", &[], &[]), family("a", &[], &[])], &l);
        assert!(e.message.contains("returned twice"), "{e}");
        for bad in [-1.0, f64::NAN] {
            let mut counter = family("c_total", &[], &[(&[], bad)]);
            counter.kind = MetricKind::Counter;
            assert_rejected(counter, Reason::InvalidOutput, "negative or NaN value");
        }
        // A counter `x_total` and a gauge `x` are one name in OpenMetrics.
        let mut counter = family("x_total", &[], &[]);
        counter.kind = MetricKind::Counter;
        let e = reject(vec![family("x", &[], &[]), counter], &l);
        assert!(e.message.contains("\"x_total\" and \"x\" clash"), "{e}");
    }

    #[test]
    fn accepts_histograms_summaries_info_and_statesets() {
        let inf = f64::INFINITY;
        let mut info = typed(
            "build_info",
            MetricKind::Info,
            vec![SampleValue::Number(1.0)],
        );
        info.label_names = vec!["version".into()];
        let mut state = typed(
            "mode",
            MetricKind::Stateset,
            vec![SampleValue::Number(1.0), SampleValue::Number(0.0)],
        );
        state.label_names = vec!["mode".into()];
        let mut seconds = typed(
            "req_seconds",
            MetricKind::Histogram,
            vec![histogram(&[(0.5, 1), (1.0, 3), (inf, 4)], 4, Some(2.5))],
        );
        seconds.unit = "seconds".into();
        let out = convert(
            vec![
                seconds,
                typed(
                    "queue_age",
                    MetricKind::GaugeHistogram,
                    vec![histogram(&[(-1.0, 1), (inf, 2)], 2, Some(-3.0))],
                ),
                typed(
                    "lat",
                    MetricKind::Summary,
                    vec![summary(
                        &[(0.99, 3.0), (0.5, 1.0), (0.9, f64::NAN)],
                        10,
                        12.0,
                    )],
                ),
                info,
                state,
            ],
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(out[0].unit, "seconds");
        let Value::Summary(s) = &out[2].series[0].value else {
            panic!("a summary");
        };
        let qs: Vec<f64> = s.quantiles.iter().map(|q| q.quantile).collect();
        assert_eq!(qs, [0.5, 0.9, 0.99], "quantiles sorted");
        assert_eq!(out[4].kind, Kind::StateSet);
    }

    #[test]
    fn rejects_broken_histograms_with_the_reason() {
        let inf = f64::INFINITY;
        let h = |buckets: &[(f64, u64)], count, sum| {
            typed(
                "h",
                MetricKind::Histogram,
                vec![histogram(buckets, count, sum)],
            )
        };
        for (f, expected) in [
            (h(&[], 0, None), "no buckets"),
            (h(&[(1.0, 1)], 1, None), "no +Inf bucket"),
            (h(&[(2.0, 1), (1.0, 1), (inf, 1)], 1, None), "not sorted"),
            (h(&[(1.0, 1), (1.0, 1), (inf, 1)], 1, None), "not sorted"),
            (h(&[(f64::NAN, 1), (inf, 1)], 1, None), "NaN"),
            (
                h(&[(1.0, 5), (2.0, 3), (inf, 5)], 5, None),
                "not cumulative: le=\"2\"",
            ),
            (
                h(&[(1.0, 1), (inf, 4)], 5, None),
                "+Inf bucket counts 4 but the count is 5",
            ),
            (h(&[(1.0, 1), (inf, 1)], 1, Some(f64::NAN)), "NaN sum"),
            (h(&[(1.0, 1), (inf, 1)], 1, Some(-1.0)), "negative sum"),
            (
                h(&[(-1.0, 1), (inf, 1)], 1, Some(1.0)),
                "negative bucket bound",
            ),
            (
                typed("h", MetricKind::Histogram, vec![SampleValue::Number(1.0)]),
                "holds a number value; histogram samples hold a histogram",
            ),
            (
                typed(
                    "g",
                    MetricKind::Gauge,
                    vec![histogram(&[(inf, 1)], 1, None)],
                ),
                "holds a histogram value",
            ),
        ] {
            assert_rejected(f, Reason::InvalidOutput, expected);
        }
        // The series is named in the message.
        let e = reject(vec![h(&[(1.0, 1)], 1, None)], &Limits::default());
        assert!(e.message.contains("histogram h{n=\"0\"}"), "{e}");
        let mut le = h(&[(inf, 1)], 1, None);
        le.label_names = vec!["le".into()];
        assert_rejected(le, Reason::InvalidOutput, "has the label \"le\"");
    }

    #[test]
    fn rejects_broken_summaries_info_statesets_and_units() {
        let s = |quantiles: &[(f64, f64)], sum| {
            typed("s", MetricKind::Summary, vec![summary(quantiles, 1, sum)])
        };
        for (f, expected) in [
            (s(&[(1.5, 1.0)], 1.0), "quantiles are between 0 and 1"),
            (s(&[(f64::NAN, 1.0)], 1.0), "quantiles are between 0 and 1"),
            (s(&[(-0.1, 1.0)], 1.0), "quantiles are between 0 and 1"),
            (s(&[(0.5, -1.0)], 1.0), "negative value"),
            (s(&[(0.5, 1.0), (0.5, 2.0)], 1.0), "twice"),
            (s(&[], -1.0), "neither negative nor NaN"),
            (s(&[], f64::NAN), "neither negative nor NaN"),
            (
                typed("x", MetricKind::Info, vec![SampleValue::Number(1.0)]),
                "suffix _info",
            ),
            (
                typed("x_info", MetricKind::Info, vec![SampleValue::Number(2.0)]),
                "an info sample's value is 1",
            ),
            (
                typed("mode", MetricKind::Stateset, vec![SampleValue::Number(1.0)]),
                "no label named \"mode\"",
            ),
        ] {
            assert_rejected(f, Reason::InvalidOutput, expected);
        }
        let mut q = s(&[], 1.0);
        q.label_names = vec!["quantile".into()];
        assert_rejected(q, Reason::InvalidOutput, "has the label \"quantile\"");
        let mut state = typed("mode", MetricKind::Stateset, vec![SampleValue::Number(0.5)]);
        state.label_names = vec!["mode".into()];
        assert_rejected(state, Reason::InvalidOutput, "a state's value is 1");

        let with_unit = |name: &str, kind, unit: &str| {
            let mut f = typed(name, kind, vec![]);
            f.unit = unit.into();
            f
        };
        for (f, expected) in [
            (
                with_unit("req_seconds", MetricKind::Gauge, "bytes"),
                "to end in _bytes",
            ),
            (
                with_unit("seconds", MetricKind::Gauge, "seconds"),
                "to end in _seconds",
            ),
            (
                with_unit("a_sec onds", MetricKind::Gauge, "sec onds"),
                "not a valid metric name",
            ),
            (
                with_unit("x_seconds", MetricKind::Gauge, "sec-onds"),
                "may only contain",
            ),
            (
                with_unit("b_bytes_info", MetricKind::Info, "bytes"),
                "gives info families none",
            ),
            (
                with_unit("sent_total", MetricKind::Counter, "total"),
                "(without _total) to end in _total",
            ),
        ] {
            assert_rejected(f, Reason::InvalidOutput, expected);
        }
        let ok = convert(
            vec![
                with_unit("sent_bytes_total", MetricKind::Counter, "bytes"),
                with_unit("up_seconds", MetricKind::Gauge, "seconds"),
            ],
            &Limits::default(),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn enforces_output_caps() {
        let l = Limits {
            max_series: 2,
            max_label_value_length: 4,
            max_families: 2,
            ..Limits::default()
        };
        let e = reject(
            vec![family(
                "a",
                &["x"],
                &[(&["1"], 1.0), (&["2"], 1.0), (&["3"], 1.0)],
            )],
            &l,
        );
        assert_eq!(e.reason, Reason::OutputLimit);
        assert!(e.message.contains("3 series"), "{e}");
        let e = reject(vec![family("a", &["x"], &[(&["12345"], 1.0)])], &l);
        assert!(e.message.contains("5 bytes long"), "{e}");
        let e = reject(
            vec![
                family("a", &[], &[]),
                family("b", &[], &[]),
                family("c", &[], &[]),
            ],
            &l,
        );
        assert!(e.message.contains("3 metric families"), "{e}");
        let l = Limits {
            max_output_bytes: bytesize::ByteSize::b(20),
            ..Limits::default()
        };
        let e = reject(vec![family("abc", &["x"], &[(&["1234567890"], 1.0)])], &l);
        assert!(e.message.contains("bytes of output"), "{e}");

        // Every bucket counts as a series, and _sum and _count too.
        let inf = f64::INFINITY;
        let l = Limits {
            max_series: 5,
            ..Limits::default()
        };
        let buckets = |n: usize| -> Vec<(f64, u64)> {
            (0..n)
                .map(|i| (if i + 1 == n { inf } else { i as f64 }, 0))
                .collect()
        };
        let fits = typed(
            "h",
            MetricKind::Histogram,
            vec![histogram(&buckets(3), 0, None)],
        );
        assert!(convert(vec![fits], &l).is_ok());
        let e = reject(
            vec![typed(
                "h",
                MetricKind::Histogram,
                vec![histogram(&buckets(4), 0, None)],
            )],
            &l,
        );
        assert_eq!(e.reason, Reason::OutputLimit);
        assert!(e.message.contains("6 series"), "{e}");
        let e = reject(
            vec![typed(
                "s",
                MetricKind::Summary,
                vec![summary(
                    &[(0.1, 1.0), (0.5, 1.0), (0.9, 1.0), (0.99, 1.0)],
                    1,
                    1.0,
                )],
            )],
            &l,
        );
        assert!(e.message.contains("6 series"), "{e}");
    }
}
