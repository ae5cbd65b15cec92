//! Arbitrary guest output, as a component could return it, through the
//! output checks (`convert`), the merge of two modules and both exposition
//! formats. Nothing may panic, and every accepted series must come out of
//! the exposition as exactly one sample line that reads back to the same
//! name, label values and value.

#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasm_exporter::config::Limits;
use wasm_exporter::convert;
use wasm_exporter::exposition::{self, Format};
use wasm_exporter::merge::Merger;
use wasm_exporter::runtime::bindings::wasm_exporter::scraper::types as wit;

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

#[derive(Debug, Arbitrary)]
struct Family {
    name: Name,
    help: String,
    /// Index into the kinds of the WIT world (new kinds slot in here).
    kind: u8,
    label_names: Vec<Name>,
    samples: Vec<(Vec<String>, Value)>,
}

const KINDS: &[wit::MetricKind] = &[
    wit::MetricKind::Gauge,
    wit::MetricKind::Counter,
    wit::MetricKind::Untyped,
];

impl Family {
    fn build(&self) -> wit::MetricFamily {
        wit::MetricFamily {
            name: self.name.build(),
            help: self.help.clone(),
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
        match convert::to_families(families, &limits) {
            Ok(converted) => {
                let _ = merger.add(module, converted);
            }
            Err(failure) => assert!(!failure.message.is_empty(), "a refusal names its reason"),
        }
    }
    let mut families = merger.finish();
    families.sort_by(|a, b| a.name().cmp(b.name()));
    for format in [Format::Text, Format::OpenMetrics] {
        let text = exposition::encode(&families, format);
        check_round_trip(&families, &text, format);
    }
});

/// Every series appears as one line, in order, that reads back to its
/// label values and value.
fn check_round_trip(families: &[prometheus::proto::MetricFamily], text: &str, format: Format) {
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    for family in families {
        for metric in family.get_metric() {
            let line = lines.next().expect("a sample line per series");
            let (values, value) = parse_sample(line);
            let expected: Vec<&str> = metric.get_label().iter().map(|l| l.value()).collect();
            assert_eq!(values, expected, "label values of {line:?}");
            let original = match family.get_field_type() {
                prometheus::proto::MetricType::COUNTER => metric.get_counter().value(),
                prometheus::proto::MetricType::GAUGE => metric.get_gauge().value(),
                _ => metric.untyped.value(),
            };
            assert!(
                (value.is_nan() && original.is_nan()) || value == original,
                "{line:?}: {value} != {original}"
            );
        }
    }
    assert!(lines.next().is_none(), "no extra sample lines");
    if format == Format::OpenMetrics {
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
