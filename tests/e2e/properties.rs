//! Property tests of the guest-output boundary: generated guest output
//! (names and label values of every byte class, empty and huge strings,
//! NaN and ±Inf, duplicate series, mismatched label counts, every metric
//! kind) through the output checks (`convert`), the merge of several
//! modules, the registry's ordering and the exposition in both formats.
//!
//! - Nothing panics.
//! - Valid output with one fault injected is refused for that fault, with
//!   a message naming it; valid output without one is accepted.
//! - Whatever is accepted renders to an exposition that parsers not
//!   written here accept: `promtool check metrics` (Prometheus' own parser)
//!   for the text format, the Python `prometheus_client` OpenMetrics parser
//!   for OpenMetrics; and both parse back to exactly the series accepted.
//!
//! The external parsers run once per batch of cases, not per case. Case
//! counts are bounded so the test command stays fast; set
//! `PROPERTY_CASES` for a longer run.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::Registry;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{MetricFamily, MetricType};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use wasm_exporter::config::Limits;
use wasm_exporter::convert;
use wasm_exporter::exposition::{self, Format};
use wasm_exporter::merge::Merger;
use wasm_exporter::runtime::Reason;
use wasm_exporter::runtime::bindings::wasm_exporter::scraper::types as wit;

use crate::support::{external_parse, promtool_batch};

/// The metric kinds of the WIT world; a new kind is added here and in
/// [`sample_value`] and [`expected_series`].
const KINDS: &[wit::MetricKind] = &[
    wit::MetricKind::Gauge,
    wit::MetricKind::Counter,
    wit::MetricKind::Untyped,
];

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

fn valid_label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,10}".prop_filter("reserved prefix", |n| !n.starts_with("__"))
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

/// A family generated valid: label names distinct, one value per name,
/// series distinct, counters neither negative nor NaN.
#[derive(Debug, Clone)]
struct Family {
    name: String,
    help: String,
    kind: usize,
    label_names: Vec<String>,
    samples: Vec<(Vec<String>, f64)>,
}

impl Family {
    fn to_wit(&self) -> wit::MetricFamily {
        wit::MetricFamily {
            name: self.name.clone(),
            help: self.help.clone(),
            kind: KINDS[self.kind],
            label_names: self.label_names.clone(),
            samples: self
                .samples
                .iter()
                .map(|(values, value)| wit::Sample {
                    label_values: values.clone(),
                    value: *value,
                })
                .collect(),
        }
    }
}

fn valid_family() -> impl Strategy<Value = Family> {
    (
        valid_metric_name(),
        any_text(),
        0..KINDS.len(),
        proptest::collection::btree_set(valid_label_name(), 0..4),
    )
        .prop_flat_map(|(name, help, kind, labels)| {
            let labels: Vec<String> = labels.into_iter().collect();
            let n = labels.len();
            let series = proptest::collection::vec(
                (proptest::collection::vec(any_text(), n), any_value()),
                0..6,
            );
            (Just(name), Just(help), Just(kind), Just(labels), series)
        })
        .prop_map(|(name, help, kind, label_names, samples)| {
            let mut seen = HashSet::new();
            let samples = samples
                .into_iter()
                .filter(|(values, _)| seen.insert(values.clone()))
                .map(|(values, v)| {
                    let counter = KINDS[kind] == wit::MetricKind::Counter;
                    let v = if counter && v.is_nan() {
                        0.0
                    } else if counter && v < 0.0 {
                        -v
                    } else {
                        v
                    };
                    (values, v)
                })
                .collect();
            Family {
                name,
                help,
                kind,
                label_names,
                samples,
            }
        })
}

/// A module's valid output: families whose names do not meet in either
/// format, whatever their kinds (a counter `x` is `x_total` in
/// OpenMetrics, and takes `x_created` too).
fn valid_output() -> impl Strategy<Value = Vec<Family>> {
    proptest::collection::vec(valid_family(), 0..5).prop_map(|families| {
        let mut taken = HashSet::new();
        families
            .into_iter()
            .filter(|f| {
                let base = f.name.strip_suffix("_total").unwrap_or(&f.name);
                let names = [
                    f.name.clone(),
                    base.to_string(),
                    format!("{base}_total"),
                    format!("{base}_created"),
                ];
                if names.iter().any(|n| taken.contains(n)) {
                    return false;
                }
                taken.extend(names);
                true
            })
            .collect()
    })
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
        Just(Fault::LongLabelValue),
        Just(Fault::LongName),
        Just(Fault::LongHelp),
        Just(Fault::TooManyLabels),
        Just(Fault::TooManySeries),
        Just(Fault::TooManyFamilies),
    ]
}

impl Fault {
    /// Breaks `output` (which has at least one family with a sample and
    /// one label); returns the limits to check it under, the reason and a
    /// fragment the refusal's message must contain.
    fn inject(&self, output: &mut Vec<Family>) -> (Limits, Reason, String) {
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
                f.kind = KINDS
                    .iter()
                    .position(|k| *k == wit::MetricKind::Counter)
                    .expect("counters exist");
                f.samples[0].1 = *v;
                (limits, invalid, "negative or NaN value".into())
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
                let total: usize = output.iter().map(|f| f.samples.len()).sum();
                let limits = Limits {
                    max_series: total - 1,
                    ..limits
                };
                (limits, cap, "series returned, the limit is".into())
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

// ---- the pipeline ---------------------------------------------------------

/// The scrape's ordering of families and series, through a registry as
/// the exporter does.
struct Gathered(Mutex<Vec<MetricFamily>>);

impl Collector for Gathered {
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }
    fn collect(&self) -> Vec<MetricFamily> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

fn gather(families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    let registry = Registry::new();
    registry
        .register(Box::new(Gathered(Mutex::new(families))))
        .unwrap();
    registry.gather()
}

/// One module's output through `convert` and the merge; the families
/// served, or each module's refusal.
fn pipeline(
    modules: &[(Vec<wit::MetricFamily>, Limits)],
) -> (
    Vec<MetricFamily>,
    Vec<Option<wasm_exporter::runtime::Failure>>,
) {
    let reserved = HashSet::from([
        "wasm_exporter_scrapes_total".to_string(),
        "process_cpu_seconds_total".to_string(),
    ]);
    let mut merger = Merger::new(&reserved);
    let mut outcomes = Vec::new();
    for (i, (families, limits)) in modules.iter().enumerate() {
        let outcome = convert::to_families(families.clone(), limits)
            .and_then(|converted| merger.add(&format!("m{i}"), converted).map(|_| ()));
        outcomes.push(outcome.err());
    }
    (gather(merger.finish()), outcomes)
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

fn sample_value(kind: MetricType, m: &prometheus::proto::Metric) -> f64 {
    match kind {
        MetricType::COUNTER => m.get_counter().value(),
        MetricType::GAUGE => m.get_gauge().value(),
        _ => m.untyped.value(),
    }
}

/// The series a parser must read from the exposition of `families` (in
/// either format: they differ in counter names only, and the parsers
/// agree on those).
fn expected_series(families: &[MetricFamily]) -> Vec<Series> {
    let mut out = Vec::new();
    for f in families {
        let kind = f.get_field_type();
        // OpenMetrics names a counter's samples `_total`; so does the
        // Python text parser when it reads a counter written without it.
        let name = match kind {
            MetricType::COUNTER => {
                format!(
                    "{}_total",
                    f.name().strip_suffix("_total").unwrap_or(f.name())
                )
            }
            _ => f.name().to_owned(),
        };
        for m in f.get_metric() {
            let mut labels: Vec<(String, String)> = m
                .get_label()
                .iter()
                .map(|l| (l.name().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            out.push((name.clone(), labels, ValueKey::of(sample_value(kind, m))));
        }
    }
    out.sort();
    out
}

/// An accepted case waiting for the external parsers.
struct Rendered {
    input: String,
    families: Vec<MetricFamily>,
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
            let name = format!("c{i}_{}", f.name());
            f.set_name(name);
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
        let expected = expected_series(&case.families);
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
                let served: usize = families.iter().map(|f| f.get_metric().len()).sum();
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
        0..KINDS.len(),
        proptest::collection::vec(prop_oneof![4 => valid_label_name(), 1 => ".{0,6}"], 0..3),
        proptest::collection::vec(
            (
                proptest::collection::vec(prop_oneof![3 => "[ab]", 1 => any_text()], 0..3),
                any_value(),
            ),
            0..5,
        ),
    )
        .prop_map(
            |(name, help, kind, label_names, samples)| wit::MetricFamily {
                name,
                help,
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
            let served: usize = families.iter().map(|f| f.get_metric().len()).sum();
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
