//! Property tests of the guest-output boundary: generated guest output
//! (names and label values of every byte class, empty and huge strings,
//! NaN and ±Inf, duplicate series, mismatched label counts, every metric
//! kind of world 0.2.0: gauges, counters, untyped, histograms, gauge
//! histograms, summaries, info and stateset families, with and without
//! units) through the output checks (`convert`), the merge of several
//! modules and the exposition in both formats.
//!
//! - Nothing panics.
//! - Valid output with one fault injected is refused for that fault, with
//!   a message naming it; valid output without one is accepted.
//! - Whatever is accepted renders to an exposition that parsers not
//!   written here accept: `promtool check metrics` (Prometheus' own parser)
//!   for the text format, the Python `prometheus_client` OpenMetrics parser
//!   for OpenMetrics; and both parse back to exactly the samples accepted
//!   (every bucket, quantile, `_sum` and `_count`).
//!
//! The external parsers run once per batch of cases, not per case. Case
//! counts are bounded so the test command stays fast; set
//! `PROPERTY_CASES` for a longer run.

use std::collections::HashSet;
use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use wasm_exporter::config::Limits;
use wasm_exporter::convert;
use wasm_exporter::exposition::{self, Format};
use wasm_exporter::merge::{Merger, Reserved};
use wasm_exporter::model::{self, Kind, Value};
use wasm_exporter::runtime::bindings::v0_2::wasm_exporter::scraper::types as wit;
use wasm_exporter::runtime::{GuestFamilies, Reason};

use crate::support::{external_parse, promtool_batch};

/// The metric kinds of the WIT world; a new kind is added here, in
/// [`valid_value`] and in [`kind_of`].
const KINDS: &[wit::MetricKind] = &[
    wit::MetricKind::Gauge,
    wit::MetricKind::Counter,
    wit::MetricKind::Untyped,
    wit::MetricKind::Histogram,
    wit::MetricKind::GaugeHistogram,
    wit::MetricKind::Summary,
    wit::MetricKind::Info,
    wit::MetricKind::Stateset,
];

fn kind_of(kind: wit::MetricKind) -> Kind {
    match kind {
        wit::MetricKind::Gauge => Kind::Gauge,
        wit::MetricKind::Counter => Kind::Counter,
        wit::MetricKind::Untyped => Kind::Untyped,
        wit::MetricKind::Histogram => Kind::Histogram,
        wit::MetricKind::GaugeHistogram => Kind::GaugeHistogram,
        wit::MetricKind::Summary => Kind::Summary,
        wit::MetricKind::Info => Kind::Info,
        wit::MetricKind::Stateset => Kind::StateSet,
    }
}

/// Cases per property; `PROPERTY_CASES` overrides.
fn cases(default: u32) -> u32 {
    std::env::var("PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // Fault cases without a family to break are skipped; about half.
        max_global_rejects: cases.saturating_mul(2),
        failure_persistence: None,
        ..Config::default()
    })
}

// ---- generators -----------------------------------------------------------

fn valid_metric_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,16}".prop_filter("reserved prefixes", |n| {
        !n.starts_with("__") && !n.starts_with(convert::RESERVED_PREFIX)
    })
}

/// Label names; `le` and `quantile` are left out, as histograms and
/// summaries reserve them (a fault puts them back).
fn valid_label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,10}".prop_filter("reserved names", |n| {
        !n.starts_with("__") && n != "le" && n != "quantile"
    })
}

/// Label values and help texts: any characters (control characters, quotes,
/// backslashes, newlines, non-ASCII), empty, or long.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ".{0,12}",
        2 => "[\"\\\\\n\r\t\u{0}\u{7f}\u{85}\u{2028}é€😀 {}=,#]{0,8}",
        1 => Just(String::new()),
        1 => "[a-z]{100,300}",
    ]
}

fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => -1e6f64..1e6,
        2 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => prop_oneof![Just(f64::MAX), Just(f64::MIN), Just(f64::MIN_POSITIVE), Just(5e-324), Just(1e21), Just(1e-7)],
    ]
}

/// Finite bucket bounds and quantiles as real sources write them, and
/// arbitrary ones.
fn any_bound() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => prop_oneof![Just(0.005), Just(0.1), Just(0.25), Just(1.0), Just(2.5), Just(10.0), Just(1e6), Just(0.0)],
        2 => -1e4f64..1e4,
        1 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
    ]
}

/// A valid histogram: sorted unique finite bounds and +Inf, cumulative
/// counts, the count on +Inf, and a sum where the kind allows one.
fn valid_histogram(gauge: bool) -> impl Strategy<Value = wit::SampleValue> {
    (
        proptest::collection::vec((any_bound(), 0u64..1_000), 0..5),
        0u64..1_000,
        proptest::option::of(prop_oneof![0.0f64..1e6, -1e6f64..0.0, Just(0.0)]),
    )
        .prop_map(move |(pairs, inf_extra, sum)| {
            let mut pairs = pairs;
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            pairs.dedup_by(|a, b| a.0 == b.0);
            let mut total = 0u64;
            let mut buckets: Vec<wit::Bucket> = pairs
                .into_iter()
                .map(|(upper_bound, n)| {
                    total += n;
                    wit::Bucket {
                        upper_bound,
                        count: total,
                    }
                })
                .collect();
            total += inf_extra;
            buckets.push(wit::Bucket {
                upper_bound: f64::INFINITY,
                count: total,
            });
            let negative_bound = buckets.iter().any(|b| b.upper_bound < 0.0);
            let sum = match sum {
                // A histogram's sum is a counter: absent with a negative
                // bound, never negative.
                Some(_) if !gauge && negative_bound => None,
                Some(s) if s < 0.0 && !negative_bound => Some(-s),
                other => other,
            };
            wit::SampleValue::Histogram(wit::Histogram {
                buckets,
                count: total,
                sum,
            })
        })
}

/// A valid summary: unique quantiles in [0, 1], values not negative (or
/// NaN), a sum neither negative nor NaN.
fn valid_summary() -> impl Strategy<Value = wit::SampleValue> {
    (
        proptest::collection::btree_map(
            prop_oneof![
                Just(0.0),
                Just(0.5),
                Just(0.9),
                Just(0.99),
                Just(1.0),
                (0u32..=1000).prop_map(|q| f64::from(q) / 1000.0)
            ]
            .prop_map(f64::to_bits),
            prop_oneof![4 => 0.0f64..1e6, 1 => Just(f64::NAN), 1 => Just(f64::INFINITY)],
            0..4,
        ),
        0u64..u64::MAX,
        0.0f64..1e9,
    )
        .prop_map(|(quantiles, count, sum)| {
            wit::SampleValue::Summary(wit::Summary {
                quantiles: quantiles
                    .into_iter()
                    .map(|(q, value)| wit::Quantile {
                        quantile: f64::from_bits(q),
                        value,
                    })
                    .collect(),
                count,
                sum,
            })
        })
}

/// A value valid for a family of `kind`.
fn valid_value(kind: wit::MetricKind) -> BoxedStrategy<wit::SampleValue> {
    use wit::MetricKind as K;
    let number = |s: BoxedStrategy<f64>| s.prop_map(wit::SampleValue::Number).boxed();
    match kind {
        K::Gauge | K::Untyped => number(any_value().boxed()),
        K::Counter => number(
            any_value()
                .prop_map(|v| if v.is_nan() { 0.0 } else { v.abs() })
                .boxed(),
        ),
        K::Info => number(Just(1.0).boxed()),
        K::Stateset => number(prop_oneof![Just(0.0), Just(1.0)].boxed()),
        K::Histogram => valid_histogram(false).boxed(),
        K::GaugeHistogram => valid_histogram(true).boxed(),
        K::Summary => valid_summary().boxed(),
    }
}

/// A sample as generated: label values and a value.
type GenSample = (Vec<String>, wit::SampleValue);

/// A family generated valid: label names distinct, one value per name,
/// series distinct, values valid for the kind, names and units as the kind
/// requires.
#[derive(Debug, Clone)]
struct Family {
    name: String,
    help: String,
    unit: String,
    kind: wit::MetricKind,
    label_names: Vec<String>,
    samples: Vec<GenSample>,
}

impl Family {
    fn to_wit(&self) -> wit::MetricFamily {
        wit::MetricFamily {
            name: self.name.clone(),
            help: self.help.clone(),
            unit: self.unit.clone(),
            kind: self.kind,
            label_names: self.label_names.clone(),
            samples: self
                .samples
                .iter()
                .map(|(values, value)| wit::Sample {
                    label_values: values.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }

    /// Samples the exposition will hold (what the output caps count).
    fn exposed(&self) -> usize {
        self.samples
            .iter()
            .map(|(_, v)| match v {
                wit::SampleValue::Number(_) => 1,
                wit::SampleValue::Histogram(h) => h.buckets.len() + 2,
                wit::SampleValue::Summary(s) => s.quantiles.len() + 2,
            })
            .sum()
    }

    /// Makes the family a `kind` one with valid values: every sample
    /// `value`, the name and unit fit for the kind.
    fn retype(&mut self, kind: wit::MetricKind, value: wit::SampleValue) {
        self.kind = kind;
        self.unit.clear();
        if kind == wit::MetricKind::Info && !self.name.ends_with("_info") {
            self.name = format!("m{}_info", self.name);
        }
        for (_, v) in &mut self.samples {
            *v = value.clone();
        }
    }
}

fn valid_family() -> impl Strategy<Value = Family> {
    (
        valid_metric_name(),
        any_text(),
        0..KINDS.len(),
        proptest::collection::btree_set(valid_label_name(), 0..4),
        any::<bool>(),
    )
        .prop_flat_map(|(name, help, kind, labels, with_unit)| {
            let kind = KINDS[kind];
            let mut labels: Vec<String> = labels.into_iter().collect();
            let mut name = name;
            let mut unit = String::new();
            match kind {
                wit::MetricKind::Info => name.push_str("_info"),
                wit::MetricKind::Stateset => {
                    // The state's label is named like the family.
                    name = name.replace(':', "_");
                    if !labels.contains(&name) {
                        labels.push(name.clone());
                    }
                }
                wit::MetricKind::Counter if with_unit => {
                    let base = name.strip_suffix("_total").unwrap_or(&name).to_string();
                    name = format!("{base}_seconds_total");
                    unit = "seconds".into();
                }
                _ if with_unit => {
                    name.push_str("_seconds");
                    unit = "seconds".into();
                }
                _ => {}
            }
            // A suffix or a replaced `:` may have made a `__` prefix.
            if name.starts_with("__") {
                name.insert(0, 'm');
                if kind == wit::MetricKind::Stateset {
                    labels.retain(|l| !l.starts_with("__"));
                    labels.push(name.clone());
                }
            }
            let n = labels.len();
            let series = proptest::collection::vec(
                (proptest::collection::vec(any_text(), n), valid_value(kind)),
                0..5,
            );
            (
                Just(name),
                Just(help),
                Just(unit),
                Just(kind),
                Just(labels),
                series,
            )
        })
        .prop_map(|(name, help, unit, kind, label_names, samples)| {
            let mut seen = HashSet::new();
            let samples = samples
                .into_iter()
                .filter(|(values, _)| seen.insert(values.clone()))
                .collect();
            Family {
                name,
                help,
                unit,
                kind,
                label_names,
                samples,
            }
        })
}

/// A module's valid output: families whose names do not meet in either
/// format, whatever their kinds (a counter `x` is `x_total` in
/// OpenMetrics, a histogram `x` takes `x_bucket`, `x_count` and `x_sum`).
fn valid_output() -> impl Strategy<Value = Vec<Family>> {
    proptest::collection::vec(valid_family(), 0..5).prop_map(|families| {
        let mut taken = HashSet::new();
        families
            .into_iter()
            .filter(|f| {
                let names = model::taken_names(&f.name, kind_of(f.kind));
                if names.iter().any(|n| taken.contains(n)) {
                    return false;
                }
                taken.extend(names);
                true
            })
            .collect()
    })
}

/// A histogram value broken in one way; each is a rule of world 0.2.0.
#[derive(Debug, Clone, Copy)]
enum BadHistogram {
    NoBuckets,
    Unsorted,
    RepeatedBound,
    NotCumulative,
    NoInf,
    CountMismatch,
    NanBound,
    NanSum,
    NegativeSum,
    SumWithNegativeBound,
}

impl BadHistogram {
    const ALL: [BadHistogram; 10] = [
        Self::NoBuckets,
        Self::Unsorted,
        Self::RepeatedBound,
        Self::NotCumulative,
        Self::NoInf,
        Self::CountMismatch,
        Self::NanBound,
        Self::NanSum,
        Self::NegativeSum,
        Self::SumWithNegativeBound,
    ];

    /// The broken value and a fragment of the refusal.
    fn value(self) -> (wit::SampleValue, &'static str) {
        let b = |upper_bound, count| wit::Bucket { upper_bound, count };
        let inf = f64::INFINITY;
        let (buckets, count, sum, fragment) = match self {
            Self::NoBuckets => (vec![], 0, Some(0.0), "has no buckets"),
            Self::Unsorted => (
                vec![b(2.0, 1), b(1.0, 1), b(inf, 1)],
                1,
                Some(1.0),
                "not sorted",
            ),
            Self::RepeatedBound => (
                vec![b(1.0, 1), b(1.0, 1), b(inf, 1)],
                1,
                Some(1.0),
                "not sorted",
            ),
            Self::NotCumulative => (
                vec![b(1.0, 3), b(2.0, 2), b(inf, 3)],
                3,
                Some(1.0),
                "not cumulative",
            ),
            Self::NoInf => (vec![b(1.0, 1), b(2.0, 2)], 2, Some(1.0), "no +Inf bucket"),
            Self::CountMismatch => (
                vec![b(1.0, 1), b(inf, 2)],
                5,
                Some(1.0),
                "the +Inf bucket counts 2 but the count is 5",
            ),
            Self::NanBound => (
                vec![b(f64::NAN, 1), b(inf, 1)],
                1,
                Some(1.0),
                "upper bound is NaN",
            ),
            Self::NanSum => (vec![b(inf, 1)], 1, Some(f64::NAN), "NaN sum"),
            Self::NegativeSum => (vec![b(1.0, 1), b(inf, 1)], 1, Some(-1.0), "negative sum"),
            Self::SumWithNegativeBound => (
                vec![b(-1.0, 1), b(inf, 1)],
                1,
                Some(1.0),
                "negative bucket bound",
            ),
        };
        (
            wit::SampleValue::Histogram(wit::Histogram {
                buckets,
                count,
                sum,
            }),
            fragment,
        )
    }
}

/// A summary value broken in one way.
#[derive(Debug, Clone, Copy)]
enum BadSummary {
    QuantileAboveOne,
    NegativeQuantile,
    NanQuantile,
    RepeatedQuantile,
    NegativeValue,
    NegativeSum,
    NanSum,
}

impl BadSummary {
    const ALL: [BadSummary; 7] = [
        Self::QuantileAboveOne,
        Self::NegativeQuantile,
        Self::NanQuantile,
        Self::RepeatedQuantile,
        Self::NegativeValue,
        Self::NegativeSum,
        Self::NanSum,
    ];

    fn value(self) -> (wit::SampleValue, &'static str) {
        let q = |quantile, value| wit::Quantile { quantile, value };
        let (quantiles, sum, fragment) = match self {
            Self::QuantileAboveOne => (vec![q(1.5, 1.0)], 1.0, "quantiles are between 0 and 1"),
            Self::NegativeQuantile => (vec![q(-0.5, 1.0)], 1.0, "quantiles are between 0 and 1"),
            Self::NanQuantile => (vec![q(f64::NAN, 1.0)], 1.0, "quantiles are between 0 and 1"),
            Self::RepeatedQuantile => (vec![q(0.5, 1.0), q(0.5, 2.0)], 1.0, "twice"),
            Self::NegativeValue => (vec![q(0.5, -1.0)], 1.0, "negative value"),
            Self::NegativeSum => (vec![q(0.5, 1.0)], -1.0, "neither negative nor NaN"),
            Self::NanSum => (vec![q(0.5, 1.0)], f64::NAN, "neither negative nor NaN"),
        };
        (
            wit::SampleValue::Summary(wit::Summary {
                quantiles,
                count: 1,
                sum,
            }),
            fragment,
        )
    }
}

/// One rule broken on purpose, and what the refusal must say.
#[derive(Debug, Clone)]
enum Fault {
    MetricName(String),
    LabelName(String),
    DuplicateLabelName,
    MissingLabelValue,
    ExtraLabelValue,
    DuplicateSeries,
    DuplicateFamily,
    NegativeCounter(f64),
    Histogram(BadHistogram, bool),
    Summary(BadSummary),
    ReservedLabel(bool),
    WrongValueCase,
    InfoValue(f64),
    InfoName,
    StateValue(f64),
    StateSetWithoutStateLabel,
    UnitNotInName,
    UnitOnInfo,
    LongLabelValue,
    LongName,
    LongHelp,
    TooManyLabels,
    TooManySeries,
    TooManyFamilies,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        prop_oneof![
            Just(String::new()),
            "[0-9][a-z0-9_]{0,6}",
            "__[a-z_]{0,6}",
            "wasm_exporter_[a-z_]{1,6}",
            "[a-z]{1,4}[-. é\"{}][a-z]{0,4}",
        ]
        .prop_map(Fault::MetricName),
        prop_oneof![
            Just(String::new()),
            "[0-9][a-z0-9_]{0,6}",
            "__[a-z_]{0,6}",
            "[a-z]{1,4}[-.: é\"][a-z]{0,4}",
        ]
        .prop_map(Fault::LabelName),
        Just(Fault::DuplicateLabelName),
        Just(Fault::MissingLabelValue),
        Just(Fault::ExtraLabelValue),
        Just(Fault::DuplicateSeries),
        Just(Fault::DuplicateFamily),
        prop_oneof![
            Just(-1.0),
            Just(f64::NEG_INFINITY),
            Just(-1e-300),
            Just(f64::NAN)
        ]
        .prop_map(Fault::NegativeCounter),
        (0..BadHistogram::ALL.len(), any::<bool>())
            .prop_map(|(i, gauge)| Fault::Histogram(BadHistogram::ALL[i], gauge)),
        (0..BadSummary::ALL.len()).prop_map(|i| Fault::Summary(BadSummary::ALL[i])),
        any::<bool>().prop_map(Fault::ReservedLabel),
        Just(Fault::WrongValueCase),
        prop_oneof![Just(0.0), Just(2.0), Just(f64::NAN)].prop_map(Fault::InfoValue),
        Just(Fault::InfoName),
        prop_oneof![Just(0.5), Just(2.0), Just(-1.0), Just(f64::NAN)].prop_map(Fault::StateValue),
        Just(Fault::StateSetWithoutStateLabel),
        Just(Fault::UnitNotInName),
        Just(Fault::UnitOnInfo),
        Just(Fault::LongLabelValue),
        Just(Fault::LongName),
        Just(Fault::LongHelp),
        Just(Fault::TooManyLabels),
        Just(Fault::TooManySeries),
        Just(Fault::TooManyFamilies),
    ]
}

fn number(v: f64) -> wit::SampleValue {
    wit::SampleValue::Number(v)
}

impl Fault {
    /// Breaks `output` (which has at least one family with a sample and
    /// one label); returns the limits to check it under, the reason and a
    /// fragment the refusal's message must contain.
    fn inject(&self, output: &mut Vec<Family>) -> (Limits, Reason, String) {
        use wit::MetricKind as K;
        let limits = Limits::default();
        let f = &mut output[0];
        let invalid = Reason::InvalidOutput;
        let cap = Reason::OutputLimit;
        match self {
            Fault::MetricName(name) => {
                f.name = name.clone();
                let fragment = if name.starts_with(convert::RESERVED_PREFIX) {
                    "reserved"
                } else {
                    "not a valid metric name"
                };
                (limits, invalid, fragment.into())
            }
            Fault::LabelName(name) => {
                f.label_names[0] = name.clone();
                (limits, invalid, "not a valid label name".into())
            }
            Fault::DuplicateLabelName => {
                let first = f.label_names[0].clone();
                f.label_names.push(first.clone());
                for (values, _) in &mut f.samples {
                    values.push(String::new());
                }
                (limits, invalid, format!("label name {first:?} twice"))
            }
            Fault::MissingLabelValue => {
                f.samples[0].0.pop();
                (limits, invalid, "label values for".into())
            }
            Fault::ExtraLabelValue => {
                f.samples[0].0.push("extra".into());
                (limits, invalid, "label values for".into())
            }
            Fault::DuplicateSeries => {
                let again = f.samples[0].clone();
                f.samples.push(again);
                (limits, invalid, "same label values".into())
            }
            Fault::DuplicateFamily => {
                let again = f.clone();
                output.push(again);
                (limits, invalid, "returned twice".into())
            }
            Fault::NegativeCounter(v) => {
                f.retype(K::Counter, number(1.0));
                f.samples[0].1 = number(*v);
                (limits, invalid, "negative or NaN value".into())
            }
            Fault::Histogram(bad, gauge) => {
                let kind = if *gauge {
                    K::GaugeHistogram
                } else {
                    K::Histogram
                };
                let (value, fragment) = bad.value();
                // A gauge histogram may have a negative sum with a
                // negative bound: that rule is the histogram's alone.
                let kind = match bad {
                    BadHistogram::SumWithNegativeBound => K::Histogram,
                    _ => kind,
                };
                f.retype(kind, BadHistogram::CountMismatch.fixed());
                f.samples[0].1 = value;
                (limits, invalid, fragment.into())
            }
            Fault::Summary(bad) => {
                let (value, fragment) = bad.value();
                f.retype(
                    K::Summary,
                    wit::SampleValue::Summary(wit::Summary {
                        quantiles: vec![],
                        count: 0,
                        sum: 0.0,
                    }),
                );
                f.samples[0].1 = value;
                (limits, invalid, fragment.into())
            }
            Fault::ReservedLabel(summary) => {
                let (kind, value, label) = if *summary {
                    (K::Summary, valid_summary_value(), "quantile")
                } else {
                    (K::Histogram, BadHistogram::CountMismatch.fixed(), "le")
                };
                f.retype(kind, value);
                f.label_names[0] = label.into();
                (
                    limits,
                    invalid,
                    format!("has the label \"{label}\", which the exposition"),
                )
            }
            Fault::WrongValueCase => {
                f.retype(K::Gauge, number(1.0));
                f.samples[0].1 = valid_summary_value();
                (limits, invalid, "holds a summary value".into())
            }
            Fault::InfoValue(v) => {
                f.retype(K::Info, number(1.0));
                f.samples[0].1 = number(*v);
                (limits, invalid, "an info sample's value is 1".into())
            }
            Fault::InfoName => {
                f.retype(K::Info, number(1.0));
                f.name = f.name.trim_end_matches("_info").to_string() + "_inf";
                (limits, invalid, "suffix _info".into())
            }
            Fault::StateValue(v) => {
                f.retype(K::Stateset, number(1.0));
                f.name = f.label_names[0].clone();
                f.samples[0].1 = number(*v);
                (limits, invalid, "a state's value is 1".into())
            }
            Fault::StateSetWithoutStateLabel => {
                f.retype(K::Stateset, number(1.0));
                f.name = format!("s{}_state_x", f.label_names.join("_"));
                (limits, invalid, "no label named".into())
            }
            Fault::UnitNotInName => {
                f.retype(K::Gauge, number(1.0));
                f.name = format!("m{}_sec", f.name);
                f.unit = "seconds".into();
                (limits, invalid, "to end in _seconds".into())
            }
            Fault::UnitOnInfo => {
                f.retype(K::Info, number(1.0));
                f.unit = "info".into();
                (
                    limits,
                    invalid,
                    "OpenMetrics gives info families none".into(),
                )
            }
            Fault::LongLabelValue => {
                f.samples[0].0[0] = "v".repeat(limits.max_label_value_length + 1);
                (limits, cap, "bytes long, the limit is".into())
            }
            Fault::LongName => {
                f.name = "n".repeat(limits.max_name_length + 1);
                (limits, cap, "bytes long, the limit is".into())
            }
            Fault::LongHelp => {
                f.help = "h".repeat(limits.max_help_length + 1);
                (limits, cap, "help of".into())
            }
            Fault::TooManyLabels => {
                let limits = Limits {
                    max_labels: f.label_names.len() - 1,
                    ..limits
                };
                (limits, cap, "label names, the limit is".into())
            }
            Fault::TooManySeries => {
                let total: usize = output.iter().map(Family::exposed).sum();
                let limits = Limits {
                    max_series: total - 1,
                    ..limits
                };
                (limits, cap, "series returned".into())
            }
            Fault::TooManyFamilies => {
                let limits = Limits {
                    max_families: output.len() - 1,
                    ..limits
                };
                (limits, cap, "metric families returned, the limit is".into())
            }
        }
    }
}

impl BadHistogram {
    /// A valid histogram value, for the samples a fault leaves alone.
    fn fixed(self) -> wit::SampleValue {
        wit::SampleValue::Histogram(wit::Histogram {
            buckets: vec![
                wit::Bucket {
                    upper_bound: 1.0,
                    count: 1,
                },
                wit::Bucket {
                    upper_bound: f64::INFINITY,
                    count: 2,
                },
            ],
            count: 2,
            sum: Some(1.5),
        })
    }
}

fn valid_summary_value() -> wit::SampleValue {
    wit::SampleValue::Summary(wit::Summary {
        quantiles: vec![wit::Quantile {
            quantile: 0.5,
            value: 1.0,
        }],
        count: 1,
        sum: 1.0,
    })
}

// ---- the pipeline ---------------------------------------------------------

/// Each module's output through `convert`, the merge and the ordering, as a
/// scrape does;
/// the families served, and each module's refusal.
fn pipeline(
    modules: &[(Vec<wit::MetricFamily>, Limits)],
) -> (
    Vec<model::Family>,
    Vec<Option<wasm_exporter::runtime::Failure>>,
) {
    let reserved = Reserved::new(HashSet::from([
        "wasm_exporter_scrapes_total".to_string(),
        "process_cpu_seconds_total".to_string(),
    ]));
    let mut merger = Merger::new(&reserved);
    let mut outcomes = Vec::new();
    for (i, (families, limits)) in modules.iter().enumerate() {
        let outcome = convert::to_families(GuestFamilies::V0_2(families.clone()), limits)
            .and_then(|converted| merger.add(&format!("m{i}"), converted).map(|_| ()));
        outcomes.push(outcome.err());
    }
    // Sorted as a scrape sorts them.
    let mut families = merger.finish();
    for family in &mut families {
        family.sort_series();
    }
    families.sort_by(|a, b| a.name.cmp(&b.name));
    (families, outcomes)
}

/// A sample as a parser reads it back: name, sorted labels, value.
pub type Series = (String, Vec<(String, String)>, ValueKey);

/// Values compared bit-for-bit, except that every NaN is one NaN and
/// -0 equals 0 (no format distinguishes them reliably).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValueKey(u64);

impl ValueKey {
    pub fn of(v: f64) -> Self {
        if v.is_nan() {
            ValueKey(f64::NAN.to_bits())
        } else if v == 0.0 {
            ValueKey(0)
        } else {
            ValueKey(v.to_bits())
        }
    }
}

/// The samples a parser must read from the exposition of `families` in
/// `format`: every bucket, quantile, `_sum` and `_count`, with `le` and
/// `quantile` spelled as that format spells them.
fn expected_series(families: &[model::Family], format: Format) -> Vec<Series> {
    let om = format == Format::OpenMetrics;
    let spell: fn(f64) -> String = if om {
        exposition::openmetrics_label_float
    } else {
        exposition::label_float
    };
    let mut out = Vec::new();
    for f in families {
        let name = &*f.name;
        for s in &f.series {
            let labels: Vec<(String, String)> = f
                .label_names
                .iter()
                .map(|n| n.to_string())
                .zip(s.label_values.iter().cloned())
                .collect();
            let mut push = |sample: String, extra: Option<(&str, String)>, v: f64| {
                let mut labels = labels.clone();
                if let Some((k, v)) = extra {
                    labels.push((k.to_owned(), v));
                }
                labels.sort();
                out.push((sample, labels, ValueKey::of(v)));
            };
            match &s.value {
                // OpenMetrics names a counter's samples `_total`; so does
                // the Python text parser when it reads a counter written
                // without it.
                Value::Number(v) if f.kind == Kind::Counter => push(
                    format!("{}_total", name.strip_suffix("_total").unwrap_or(name)),
                    None,
                    *v,
                ),
                Value::Number(v) => push(name.to_owned(), None, *v),
                Value::Histogram(h) => {
                    for b in &h.buckets {
                        push(
                            format!("{name}_bucket"),
                            Some(("le", spell(b.upper_bound))),
                            b.count as f64,
                        );
                    }
                    let (count, sum) = if om && f.kind == Kind::GaugeHistogram {
                        ("_gcount", "_gsum")
                    } else {
                        ("_count", "_sum")
                    };
                    // OpenMetrics writes the count only beside a sum.
                    if !om || h.sum.is_some() {
                        push(format!("{name}{count}"), None, h.count as f64);
                    }
                    if let Some(v) = h.sum {
                        push(format!("{name}{sum}"), None, v);
                    }
                }
                Value::Summary(q) => {
                    for quantile in &q.quantiles {
                        push(
                            name.to_owned(),
                            Some(("quantile", spell(quantile.quantile))),
                            quantile.value,
                        );
                    }
                    push(format!("{name}_count"), None, q.count as f64);
                    push(format!("{name}_sum"), None, q.sum);
                }
            }
        }
    }
    out.sort();
    out
}

/// An accepted case waiting for the external parsers.
struct Rendered {
    input: String,
    families: Vec<model::Family>,
}

/// Runs the external parsers on every rendered case: promtool on all text
/// expositions at once (families renamed per case so they do not meet),
/// the Python parsers on each exposition in both formats, compared with the
/// series accepted.
fn check_externally(cases: &[Rendered]) {
    // promtool: one run for the batch.
    let mut batch = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut renamed = case.families.clone();
        for f in &mut renamed {
            f.name = format!("c{i}_{}", f.name).into();
        }
        batch.push(exposition::encode(&renamed, Format::Text));
    }
    if let Err((i, message)) = promtool_batch(&batch) {
        panic!(
            "promtool refused the text exposition of an accepted case ({message}):\n{}\n--- input:\n{}",
            batch[i], cases[i].input
        );
    }
    // Python: both formats, every case, one process.
    let mut texts = Vec::new();
    for case in cases {
        texts.push((
            Format::Text,
            exposition::encode(&case.families, Format::Text),
        ));
        texts.push((
            Format::OpenMetrics,
            exposition::encode(&case.families, Format::OpenMetrics),
        ));
    }
    let parsed = external_parse(&texts);
    for (i, result) in parsed.into_iter().enumerate() {
        let case = &cases[i / 2];
        let (format, text) = &texts[i];
        let series = match result {
            Ok(s) => s,
            Err(e) => panic!(
                "prometheus_client refused the {format:?} exposition of an accepted case: {e}\n{text}\n--- input:\n{}",
                case.input
            ),
        };
        let expected = expected_series(&case.families, *format);
        assert_eq!(
            series, expected,
            "{format:?} did not read back to the series accepted:\n{text}\n--- input:\n{}",
            case.input
        );
    }
}

// ---- the properties -------------------------------------------------------

/// Valid output is accepted; with one fault injected it is refused with
/// that fault's reason and a message naming it. Everything accepted passes
/// the external parsers.
#[test]
fn valid_output_is_served_and_each_fault_is_refused_for_its_reason() {
    let rendered = Mutex::new(Vec::new());
    let strategy = (valid_output(), proptest::option::of(fault()));
    runner(cases(192))
        .run(&strategy, |(mut output, fault)| {
            let Some(fault) = fault else {
                let wit: Vec<_> = output.iter().map(Family::to_wit).collect();
                let (families, outcomes) = pipeline(&[(wit, Limits::default())]);
                if let Some(failure) = &outcomes[0] {
                    return Err(TestCaseError::fail(format!(
                        "valid output refused: {failure}"
                    )));
                }
                let served: usize = families.iter().map(|f| f.series.len()).sum();
                let sent: usize = output.iter().map(|f| f.samples.len()).sum();
                prop_assert_eq!(served, sent);
                rendered.lock().unwrap().push(Rendered {
                    input: format!("{output:#?}"),
                    families,
                });
                return Ok(());
            };
            // The fault needs a family with a label and a sample.
            let has_room = output
                .first()
                .is_some_and(|f| !f.label_names.is_empty() && !f.samples.is_empty());
            prop_assume!(has_room);
            let (limits, reason, fragment) = fault.inject(&mut output);
            let wit: Vec<_> = output.iter().map(Family::to_wit).collect();
            let (families, outcomes) = pipeline(&[(wit, limits)]);
            let Some(failure) = &outcomes[0] else {
                return Err(TestCaseError::fail(format!("{fault:?} was accepted")));
            };
            prop_assert!(families.is_empty(), "a refused module contributes nothing");
            prop_assert_eq!(failure.reason, reason, "{:?}: {}", fault, failure.message);
            prop_assert!(
                failure.message.contains(&fragment),
                "{:?}: {:?} should contain {:?}",
                fault,
                failure.message,
                fragment
            );
            Ok(())
        })
        .unwrap();
    let rendered = rendered.into_inner().unwrap();
    assert!(
        rendered.len() > 10,
        "too few valid cases: {}",
        rendered.len()
    );
    check_externally(&rendered);
}

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => valid_metric_name(),
        1 => ".{0,8}",
        1 => "[a-z_:]{1,4}(_total|_created|_bucket|_count|_sum|_info)",
        1 => Just("__name__".to_string()),
        1 => "[a-z]{255,260}",
    ]
}

/// Families built without care: names of every class (and many sharing a
/// stem with `_total`), label counts that may not match, values of any
/// kind, series that may repeat; several modules, under default or tight
/// caps.
fn any_family() -> impl Strategy<Value = wit::MetricFamily> {
    (
        any_name(),
        any_text(),
        prop_oneof![4 => Just(String::new()), 1 => Just("seconds".to_string()), 1 => ".{0,4}"],
        0..KINDS.len(),
        proptest::collection::vec(prop_oneof![4 => valid_label_name(), 1 => ".{0,6}"], 0..3),
        proptest::collection::vec(
            (
                proptest::collection::vec(prop_oneof![3 => "[ab]", 1 => any_text()], 0..3),
                any_sample_value(),
            ),
            0..5,
        ),
    )
        .prop_map(
            |(name, help, unit, kind, label_names, samples)| wit::MetricFamily {
                name,
                help,
                unit,
                kind: KINDS[kind],
                label_names,
                samples: samples
                    .into_iter()
                    .map(|(label_values, value)| wit::Sample {
                        label_values,
                        value,
                    })
                    .collect(),
            },
        )
}

/// Any value of any case, whatever the family's kind: numbers of every
/// class, histograms and summaries with arbitrary parts.
fn any_sample_value() -> impl Strategy<Value = wit::SampleValue> {
    prop_oneof![
        3 => any_value().prop_map(wit::SampleValue::Number),
        1 => (
            proptest::collection::vec((any_value(), 0u64..100), 0..4),
            prop_oneof![0u64..100, Just(u64::MAX)],
            proptest::option::of(any_value()),
        )
            .prop_map(|(buckets, count, sum)| wit::SampleValue::Histogram(wit::Histogram {
                buckets: buckets
                    .into_iter()
                    .map(|(upper_bound, count)| wit::Bucket { upper_bound, count })
                    .collect(),
                count,
                sum,
            })),
        1 => (
            proptest::collection::vec((any_value(), any_value()), 0..3),
            any::<u64>(),
            any_value(),
        )
            .prop_map(|(quantiles, count, sum)| wit::SampleValue::Summary(wit::Summary {
                quantiles: quantiles
                    .into_iter()
                    .map(|(quantile, value)| wit::Quantile { quantile, value })
                    .collect(),
                count,
                sum,
            })),
    ]
}

fn any_limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        3 => Just(Limits::default()),
        1 => (0usize..4, 0usize..8, 0usize..3, 1usize..12, 0usize..8, 0usize..8, 0u64..200).prop_map(
            |(fam, series, labels, name, value, help, bytes)| Limits {
                max_families: fam,
                max_series: series,
                max_labels: labels,
                max_name_length: name,
                max_label_value_length: value,
                max_help_length: help,
                max_output_bytes: bytesize::ByteSize::b(bytes),
                ..Limits::default()
            }
        ),
    ]
}

/// Arbitrary output of several modules: never a panic, every refusal a
/// counted reason with a message, and what is served passes the external
/// parsers and reads back to the same series.
#[test]
fn arbitrary_output_never_panics_and_what_is_served_parses_back() {
    let rendered = Mutex::new(Vec::new());
    let module = (proptest::collection::vec(any_family(), 0..5), any_limits());
    let strategy = proptest::collection::vec(module, 1..4);
    runner(cases(256))
        .run(&strategy, |modules| {
            let (families, outcomes) = pipeline(&modules);
            for failure in outcomes.iter().flatten() {
                prop_assert!(
                    matches!(failure.reason, Reason::InvalidOutput | Reason::OutputLimit),
                    "{failure}"
                );
                prop_assert!(!failure.message.is_empty());
            }
            let served: usize = families.iter().map(|f| f.series.len()).sum();
            let accepted: usize = modules
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| o.is_none())
                .map(|((fs, _), _)| fs.iter().map(|f| f.samples.len()).sum::<usize>())
                .sum();
            prop_assert_eq!(served, accepted, "every accepted series is served once");
            if !families.is_empty() {
                rendered.lock().unwrap().push(Rendered {
                    input: format!("{modules:#?}"),
                    families,
                });
            }
            Ok(())
        })
        .unwrap();
    let rendered = rendered.into_inner().unwrap();
    check_externally(&rendered);
}
