//! Arbitrary guest output of world 0.2.0 (every kind, numbers, histograms
//! and summaries), as a component could return it, through the output
//! checks (`convert`), the merge of two modules and both exposition formats.
//! Nothing may panic, and every accepted series must come out of the
//! exposition as the sample lines its value takes (one for a number; each
//! bucket or quantile, `_sum` and `_count` otherwise), each reading back to
//! the series' label values, and a number to its value.

#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasm_exporter::config::Limits;
use wasm_exporter::convert;
use wasm_exporter::exposition::{self, Format};
use wasm_exporter::merge::Merger;
use wasm_exporter::model;
use wasm_exporter::runtime::GuestFamilies;
use wasm_exporter::runtime::bindings::v0_2::wasm_exporter::scraper::types as wit;

/// Names are mostly drawn from the characters that matter to the rules, so
/// that valid names (and near misses) are common; sometimes they are any
/// string at all.
#[derive(Debug, Arbitrary)]
enum Name {
    Alphabet(Vec<u8>),
    Any(String),
}

const ALPHABET: &[u8] = b"a_:Zx09-.";

impl Name {
    fn build(&self) -> String {
        match self {
            Name::Alphabet(bytes) => bytes
                .iter()
                .take(40)
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect(),
            Name::Any(s) => s.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Value {
    Bits(u64),
    Small(i8),
    Nan,
    Inf,
    NegInf,
    NegZero,
}

impl Value {
    fn build(&self) -> f64 {
        match self {
            Value::Bits(b) => f64::from_bits(*b),
            Value::Small(i) => f64::from(*i),
            Value::Nan => f64::NAN,
            Value::Inf => f64::INFINITY,
            Value::NegInf => f64::NEG_INFINITY,
            Value::NegZero => -0.0,
        }
    }
}

/// What a sample holds: any case, whatever the family's kind.
#[derive(Debug, Arbitrary)]
enum SampleValue {
    Number(Value),
    Histogram {
        buckets: Vec<(Value, u64)>,
        count: u64,
        sum: Option<Value>,
    },
    Summary {
        quantiles: Vec<(Value, Value)>,
        count: u64,
        sum: Value,
    },
}

impl SampleValue {
    fn build(&self) -> wit::SampleValue {
        match self {
            SampleValue::Number(v) => wit::SampleValue::Number(v.build()),
            SampleValue::Histogram {
                buckets,
                count,
                sum,
            } => wit::SampleValue::Histogram(wit::Histogram {
                buckets: buckets
                    .iter()
                    .map(|(b, n)| wit::Bucket {
                        upper_bound: b.build(),
                        count: *n,
                    })
                    .collect(),
                count: *count,
                sum: sum.as_ref().map(Value::build),
            }),
            SampleValue::Summary {
                quantiles,
                count,
                sum,
            } => wit::SampleValue::Summary(wit::Summary {
                quantiles: quantiles
                    .iter()
                    .map(|(q, v)| wit::Quantile {
                        quantile: q.build(),
                        value: v.build(),
                    })
                    .collect(),
                count: *count,
                sum: sum.build(),
            }),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Family {
    name: Name,
    help: String,
    unit: Name,
    /// Index into the kinds of the WIT world (new kinds slot in here).
    kind: u8,
    label_names: Vec<Name>,
    samples: Vec<(Vec<String>, SampleValue)>,
}

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

impl Family {
    fn build(&self) -> wit::MetricFamily {
        wit::MetricFamily {
            name: self.name.build(),
            help: self.help.clone(),
            unit: self.unit.build(),
            kind: KINDS[usize::from(self.kind) % KINDS.len()],
            label_names: self.label_names.iter().map(Name::build).collect(),
            samples: self
                .samples
                .iter()
                .map(|(values, v)| wit::Sample {
                    label_values: values.clone(),
                    value: v.build(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Caps {
    max_families: u8,
    max_series: u8,
    max_labels: u8,
    max_name_length: u8,
    max_label_value_length: u16,
    max_help_length: u16,
    max_output_bytes: u16,
}

#[derive(Debug, Arbitrary)]
struct Input {
    first: Vec<Family>,
    second: Vec<Family>,
    caps: Option<Caps>,
}

fn limits(caps: &Option<Caps>) -> Limits {
    let Some(c) = caps else {
        return Limits::default();
    };
    Limits {
        max_families: c.max_families.into(),
        max_series: c.max_series.into(),
        max_labels: c.max_labels.into(),
        max_name_length: usize::from(c.max_name_length).max(1),
        max_label_value_length: c.max_label_value_length.into(),
        max_help_length: c.max_help_length.into(),
        max_output_bytes: bytesize(c.max_output_bytes),
        ..Limits::default()
    }
}

fn bytesize(n: u16) -> bytesize::ByteSize {
    bytesize::ByteSize::b(u64::from(n))
}

fuzz_target!(|input: Input| {
    let limits = limits(&input.caps);
    let reserved = HashSet::from(["wasm_exporter_scrapes_total".to_string()]);
    let mut merger = Merger::new(&reserved);
    for (module, families) in [("a", &input.first), ("b", &input.second)] {
        let families: Vec<wit::MetricFamily> = families.iter().map(Family::build).collect();
        match convert::to_families(GuestFamilies::V0_2(families), &limits) {
            Ok(converted) => {
                let _ = merger.add(module, converted);
            }
            Err(failure) => assert!(!failure.message.is_empty(), "a refusal names its reason"),
        }
    }
    let mut families = merger.finish();
    for family in &mut families {
        family.sort_series();
    }
    families.sort_by(|a, b| a.name.cmp(&b.name));
    for format in [Format::Text, Format::OpenMetrics] {
        let text = exposition::encode(&families, format);
        check_round_trip(&families, &text, format);
    }
});

/// Every series appears as the lines its value takes, in order, each with
/// the series' label values (and `le` or `quantile` last); a number reads
/// back to its value.
fn check_round_trip(families: &[model::Family], text: &str, format: Format) {
    let om = format == Format::OpenMetrics;
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    for family in families {
        for series in &family.series {
            let (count, number) = match &series.value {
                model::Value::Number(v) => (1, Some(*v)),
                model::Value::Histogram(h) => {
                    let tail = match (om, h.sum.is_some()) {
                        (true, true) | (false, true) => 2,
                        (true, false) => 0,
                        (false, false) => 1,
                    };
                    (h.buckets.len() + tail, None)
                }
                model::Value::Summary(s) => (s.quantiles.len() + 2, None),
            };
            for _ in 0..count {
                let line = lines.next().expect("a sample line per exposed sample");
                let (values, value) = parse_sample(line);
                assert!(
                    values.len() >= series.label_values.len()
                        && values[..series.label_values.len()] == series.label_values[..],
                    "label values of {line:?}"
                );
                if let Some(original) = number {
                    assert!(
                        (value.is_nan() && original.is_nan()) || value == original,
                        "{line:?}: {value} != {original}"
                    );
                }
            }
        }
    }
    assert!(lines.next().is_none(), "no extra sample lines");
    if om {
        assert!(text.ends_with("# EOF\n"));
    }
}

/// `name{l="v",...} value`, unescaping `\\`, `\"` and `\n`.
fn parse_sample(line: &str) -> (Vec<String>, f64) {
    let mut values = Vec::new();
    let rest = match line.find(['{', ' ']) {
        Some(i) if line.as_bytes()[i] == b'{' => {
            let mut chars = line[i + 1..].char_indices();
            let mut end = None;
            loop {
                match chars.next() {
                    Some((_, '}')) => {
                        end = chars.next().map(|(j, _)| i + 1 + j);
                        break;
                    }
                    Some((_, ',')) => {}
                    Some(_) => {
                        // label name up to ="
                        for (_, c) in chars.by_ref() {
                            if c == '"' {
                                break;
                            }
                        }
                        let mut v = String::new();
                        while let Some((_, c)) = chars.next() {
                            match c {
                                '"' => break,
                                '\\' => match chars.next().map(|(_, c)| c) {
                                    Some('n') => v.push('\n'),
                                    Some(c) => v.push(c),
                                    None => panic!("dangling escape in {line:?}"),
                                },
                                c => v.push(c),
                            }
                        }
                        values.push(v);
                    }
                    None => panic!("unterminated labels in {line:?}"),
                }
            }
            &line[end.expect("a value after the labels")..]
        }
        Some(i) => &line[i..],
        None => panic!("no value in {line:?}"),
    };
    let value = match rest.trim_start() {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|e| panic!("value of {line:?}: {e}")),
    };
    (values, value)
}
