//! Writes metric families in the Prometheus text exposition format 0.0.4.
//!
//! The `prometheus` crate's `TextEncoder` writes infinities as Rust prints
//! them (`inf`, `-inf`), which the format spells `+Inf` and `-Inf`, so the
//! exporter renders values itself; names and label values arrive here
//! already validated by `convert`.

use std::fmt::Write as _;

use prometheus::proto::{self, MetricFamily, MetricType};

/// The content type of the text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Encodes `families` (sorted and validated) in the text format.
pub fn encode_text(families: &[MetricFamily]) -> String {
    let mut out = String::with_capacity(
        families
            .iter()
            .map(|f| 64 + f.get_metric().len() * 48)
            .sum(),
    );
    for family in families {
        if family.get_metric().is_empty() {
            continue;
        }
        let name = family.name();
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape_into(&mut out, family.help(), false);
        out.push('\n');
        out.push_str("# TYPE ");
        out.push_str(name);
        out.push(' ');
        out.push_str(type_name(family.get_field_type()));
        out.push('\n');
        for metric in family.get_metric() {
            out.push_str(name);
            write_labels(&mut out, metric.get_label());
            out.push(' ');
            write_value(&mut out, sample_value(family.get_field_type(), metric));
            out.push('\n');
        }
    }
    out
}

fn type_name(t: MetricType) -> &'static str {
    match t {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::SUMMARY => "summary",
        MetricType::HISTOGRAM => "histogram",
        MetricType::UNTYPED => "untyped",
    }
}

/// The value of a single-value sample. The exporter only produces gauges,
/// counters and untyped metrics (its own and the guests'); the process
/// collector does the same.
fn sample_value(t: MetricType, m: &proto::Metric) -> f64 {
    match t {
        MetricType::COUNTER => m.get_counter().value(),
        MetricType::GAUGE => m.get_gauge().value(),
        _ => m.untyped.value(),
    }
}

fn write_labels(out: &mut String, labels: &[proto::LabelPair]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(l.name());
        out.push_str("=\"");
        escape_into(out, l.value(), true);
        out.push('"');
    }
    out.push('}');
}

/// Escapes `\` and newline (and `"` inside label values), as the format
/// requires.
fn escape_into(out: &mut String, s: &str, quote: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Shortest round-tripping decimal; exponent form for very large or small
/// magnitudes, so no value prints as hundreds of digits.
pub fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v != 0.0 && (v.abs() >= 1e21 || v.abs() < 1e-6) {
        let _ = write!(out, "{v:e}");
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: f64) -> String {
        let mut s = String::new();
        write_value(&mut s, v);
        s
    }

    #[test]
    fn renders_special_and_extreme_values() {
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(value(0.0), "0");
        assert_eq!(value(-0.5), "-0.5");
        assert_eq!(value(1234567.0), "1234567");
        assert_eq!(value(1e300), "1e300");
        assert_eq!(value(2.5e-9), "2.5e-9");
        assert_eq!(value(f64::MAX).parse::<f64>().unwrap(), f64::MAX);
    }

    #[test]
    fn escapes_help_and_label_values() {
        let mut pair = proto::LabelPair::default();
        pair.set_name("path".into());
        pair.set_value("a\"b\\c\nd".into());
        let mut g = proto::Gauge::default();
        g.set_value(1.0);
        let mut m = proto::Metric::from_label(vec![pair]);
        m.set_gauge(g);
        let mut f = MetricFamily::default();
        f.set_name("x".into());
        f.set_help("line1\nline2 \\ \"q\"".into());
        f.set_field_type(MetricType::GAUGE);
        f.set_metric(vec![m]);
        assert_eq!(
            encode_text(&[f]),
            "# HELP x line1\\nline2 \\\\ \"q\"\n# TYPE x gauge\nx{path=\"a\\\"b\\\\c\\nd\"} 1\n"
        );
    }
}
