//! Turns what a guest returned into Prometheus metric families, after
//! checking every rule of the exposition format and every output cap.
//!
//! Validation is all-or-nothing per module: the first broken rule fails the
//! module's whole output for this scrape, so a half-valid answer is never
//! served.

use std::collections::{HashMap, HashSet};

use prometheus::proto;

use crate::config::Limits;
use crate::exposition;
use crate::runtime::bindings::wasm_exporter::scraper::types::{MetricFamily, MetricKind};
use crate::runtime::{Failure, Reason};

/// Metric names guests may not use: the exporter's own.
pub const RESERVED_PREFIX: &str = "wasm_exporter_";

/// Validates `families` against the exposition rules and `limits`, and
/// converts them to const metric families.
pub fn to_families(
    families: Vec<MetricFamily>,
    limits: &Limits,
) -> Result<Vec<proto::MetricFamily>, Failure> {
    check_sizes(&families, limits)?;
    let mut names = HashSet::with_capacity(families.len());
    let mut claims = OpenMetricsNames::default();
    let mut out = Vec::with_capacity(families.len());
    for family in families {
        if !names.insert(family.name.clone()) {
            return Err(invalid(format!(
                "metric family {:?} is returned twice",
                family.name
            )));
        }
        let family = convert_family(family, limits)?;
        if let Some(clash) = claims.claim(family.name(), family.get_field_type(), "") {
            return Err(invalid(clash));
        }
        out.push(family);
    }
    Ok(out)
}

/// Size caps first, before any per-sample work, so an oversized answer costs
/// one pass of length sums.
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
        series = series.saturating_add(f.samples.len());
        bytes = bytes
            .saturating_add(f.name.len() as u64)
            .saturating_add(f.help.len() as u64);
        bytes = f
            .label_names
            .iter()
            .fold(bytes, |b, n| b.saturating_add(n.len() as u64));
        for s in &f.samples {
            bytes = s.label_values.iter().fold(bytes.saturating_add(8), |b, v| {
                b.saturating_add(v.len() as u64)
            });
        }
    }
    if series > limits.max_series {
        return Err(limit(format!(
            "{series} series returned, the limit is {}",
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

fn convert_family(family: MetricFamily, limits: &Limits) -> Result<proto::MetricFamily, Failure> {
    let MetricFamily {
        name,
        help,
        kind,
        label_names,
        samples,
    } = family;
    check_metric_name(&name, limits)?;
    if help.len() > limits.max_help_length {
        return Err(limit(format!(
            "help of {name:?} is {} bytes long, the limit is {}",
            help.len(),
            limits.max_help_length
        )));
    }
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
    }

    let mut metrics = Vec::with_capacity(samples.len());
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
        // OpenMetrics forbids NaN counters, and its parsers refuse them.
        if kind == MetricKind::Counter && (sample.value < 0.0 || sample.value.is_nan()) {
            return Err(invalid(format!(
                "counter {name:?} has a negative or NaN value {}",
                sample.value
            )));
        }
        // The guest's strings move into the labels; only the label names,
        // shared by every sample, are copied.
        let labels: Vec<proto::LabelPair> = label_names
            .iter()
            .zip(sample.label_values)
            .map(|(n, v)| {
                let mut pair = proto::LabelPair::default();
                pair.set_name(n.clone());
                pair.set_value(v);
                pair
            })
            .collect();
        let mut metric = proto::Metric::from_label(labels);
        match kind {
            MetricKind::Gauge => {
                let mut g = proto::Gauge::default();
                g.set_value(sample.value);
                metric.set_gauge(g);
            }
            MetricKind::Counter => {
                let mut c = proto::Counter::default();
                c.set_value(sample.value);
                metric.set_counter(c);
            }
            MetricKind::Untyped => {
                let mut u = proto::Untyped::default();
                u.set_value(sample.value);
                metric.untyped = Some(u).into();
            }
        }
        metrics.push(metric);
    }
    check_unique_series(&name, &metrics)?;

    let mut mf = proto::MetricFamily::default();
    mf.set_name(name);
    mf.set_help(help);
    mf.set_field_type(match kind {
        MetricKind::Gauge => proto::MetricType::GAUGE,
        MetricKind::Counter => proto::MetricType::COUNTER,
        MetricKind::Untyped => proto::MetricType::UNTYPED,
    });
    mf.set_metric(metrics);
    Ok(mf)
}

/// The OpenMetrics names taken so far ([`exposition::openmetrics_names`]),
/// each with the family that took it and where that family came from.
#[derive(Default)]
pub struct OpenMetricsNames(HashMap<String, (String, String)>);

impl OpenMetricsNames {
    /// Why family `name` of `kind` cannot be added (a name it takes is
    /// taken by another family), if it cannot.
    pub fn clash(&self, name: &str, kind: proto::MetricType) -> Option<String> {
        exposition::openmetrics_names(name, kind)
            .into_iter()
            .find_map(|n| match self.0.get(&n) {
                Some((other, owner)) if other != name => Some(format!(
                    "{name:?} and {other:?}{owner} clash in OpenMetrics: both take the name {n:?}"
                )),
                _ => None,
            })
    }

    /// Takes the names of family `name` of `kind`; `owner` says where it
    /// came from in messages (such as ` of module "a"`).
    pub fn take(&mut self, name: &str, kind: proto::MetricType, owner: &str) {
        for n in exposition::openmetrics_names(name, kind) {
            self.0.insert(n, (name.to_owned(), owner.to_owned()));
        }
    }

    /// [`Self::clash`], then [`Self::take`] if there is none.
    pub fn claim(&mut self, name: &str, kind: proto::MetricType, owner: &str) -> Option<String> {
        let clash = self.clash(name, kind);
        if clash.is_none() {
            self.take(name, kind, owner);
        }
        clash
    }
}

/// Two samples with the same label values would be one series twice.
fn check_unique_series(name: &str, metrics: &[proto::Metric]) -> Result<(), Failure> {
    let mut seen: HashSet<Vec<&str>> = HashSet::with_capacity(metrics.len());
    for m in metrics {
        if !seen.insert(m.get_label().iter().map(|l| l.value()).collect()) {
            return Err(invalid(format!(
                "{name:?} has two samples with the same label values {}",
                describe_labels(m.get_label())
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

fn describe_labels(labels: &[proto::LabelPair]) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name(), truncate(l.value())))
        .collect();
    format!("{{{}}}", inner.join(","))
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
    use crate::runtime::bindings::wasm_exporter::scraper::types::Sample;

    fn family(name: &str, labels: &[&str], samples: &[(&[&str], f64)]) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            help: "help".into(),
            kind: MetricKind::Gauge,
            label_names: labels.iter().map(|s| s.to_string()).collect(),
            samples: samples
                .iter()
                .map(|(values, value)| Sample {
                    label_values: values.iter().map(|s| s.to_string()).collect(),
                    value: *value,
                })
                .collect(),
        }
    }

    fn reject(families: Vec<MetricFamily>, limits: &Limits) -> Failure {
        to_families(families, limits).expect_err("output should be rejected")
    }

    #[test]
    fn converts_valid_output() {
        let out = to_families(
            vec![family(
                "sys_disk_size",
                &["disk_name"],
                &[(&["sda"], 1.0), (&["a\"b\\c\nd"], f64::NAN)],
            )],
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name(), "sys_disk_size");
        assert_eq!(out[0].get_metric().len(), 2);
        assert_eq!(out[0].get_metric()[1].get_label()[0].value(), "a\"b\\c\nd");
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
        let mut counter = family("x_total", &[], &[]);
        counter.kind = MetricKind::Counter;
        let e = reject(vec![family("x", &[], &[]), counter], &l);
        assert!(
            e.message
                .contains("\"x_total\" and \"x\" clash in OpenMetrics"),
            "{e}"
        );
        // Found by the property tests: OpenMetrics parsers refuse a NaN
        // counter, so it is refused here.
        let mut counter = family("n_total", &[], &[(&[], f64::NAN)]);
        counter.kind = MetricKind::Counter;
        let e = reject(vec![counter], &l);
        assert!(e.message.contains("negative or NaN value NaN"), "{e}");
        let mut counter = family("c_total", &[], &[(&[], -1.0)]);
        counter.kind = MetricKind::Counter;
        assert_eq!(reject(vec![counter], &l).reason, Reason::InvalidOutput);
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
    }
}
