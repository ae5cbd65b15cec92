//! Writes metric families in the Prometheus text format 0.0.4 or in
//! OpenMetrics 1.0.0, chosen from the client's `Accept` header.
//!
//! The `prometheus` crate's `TextEncoder` writes infinities as Rust prints
//! them (`inf`, `-inf`), which the format spells `+Inf` and `-Inf`, and it
//! has no OpenMetrics encoder, so the exporter renders both formats itself.
//! Names and label values arrive here already validated by `convert`.

use std::fmt::Write as _;

use prometheus::proto::{self, MetricFamily, MetricType};

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics text format 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Picks the format the client prefers among those offered, by the
    /// q-values of its `Accept` header; the text format when it has none or
    /// accepts neither explicitly.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut best = (Format::Text, 0.0f32);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "q" => q = v.trim().parse().unwrap_or(0.0),
                        "version" => version = Some(v.trim().to_string()),
                        _ => {}
                    }
                }
            }
            let format = match media.as_str() {
                "application/openmetrics-text"
                    if matches!(version.as_deref(), None | Some("1.0.0") | Some("0.0.1")) =>
                {
                    Format::OpenMetrics
                }
                "text/plain" if matches!(version.as_deref(), None | Some("0.0.4")) => Format::Text,
                _ => continue,
            };
            // Ties go to the first listed, as the client ordered them.
            if q > best.1 {
                best = (format, q);
            }
        }
        best.0
    }
}

/// The names a family takes in OpenMetrics: its family name (a counter's
/// without `_total`) and the sample names its type reserves, as
/// OpenMetrics parsers count them. Two families whose names overlap (a
/// gauge `x_total` beside a counter `x`, a gauge `x` beside a counter
/// `x_total`) would be refused as clashing by every OpenMetrics parser, so
/// `convert` and `merge` refuse the second one.
pub fn openmetrics_names(name: &str, kind: MetricType) -> Vec<String> {
    let (family, suffixes): (&str, &[&str]) = match kind {
        MetricType::COUNTER => (
            name.strip_suffix("_total").unwrap_or(name),
            &["", "_total", "_created"],
        ),
        MetricType::SUMMARY => (name, &["", "_count", "_sum", "_created"]),
        MetricType::HISTOGRAM => (name, &["", "_count", "_sum", "_bucket", "_created"]),
        MetricType::GAUGE | MetricType::UNTYPED => (name, &[""]),
    };
    suffixes.iter().map(|s| format!("{family}{s}")).collect()
}

/// Encodes `families` (sorted and validated) in `format`.
pub fn encode(families: &[MetricFamily], format: Format) -> String {
    let mut out = String::with_capacity(
        families
            .iter()
            .map(|f| 64 + f.get_metric().len() * 48)
            .sum::<usize>()
            + 8,
    );
    for family in families {
        if family.get_metric().is_empty() {
            continue;
        }
        match format {
            Format::Text => write_text_family(&mut out, family),
            Format::OpenMetrics => write_openmetrics_family(&mut out, family),
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn write_text_family(out: &mut String, family: &MetricFamily) {
    let name = family.name();
    let kind = family.get_field_type();
    write_header(out, name, family.help(), text_type(kind), false);
    for metric in family.get_metric() {
        write_sample(out, name, metric, sample_value(kind, metric));
    }
}

/// OpenMetrics names a counter family without `_total` and its sample with
/// it; a counter named without the suffix gets it on the sample, as the Go
/// client does.
fn write_openmetrics_family(out: &mut String, family: &MetricFamily) {
    let name = family.name();
    let kind = family.get_field_type();
    let (family_name, sample_name) = if kind == MetricType::COUNTER {
        let base = name.strip_suffix("_total").unwrap_or(name);
        (base, format!("{base}_total"))
    } else {
        (name, name.to_string())
    };
    write_header(
        out,
        family_name,
        family.help(),
        openmetrics_type(kind),
        true,
    );
    for metric in family.get_metric() {
        write_sample(out, &sample_name, metric, sample_value(kind, metric));
    }
}

/// HELP (omitted when empty, as it carries nothing) and TYPE lines.
fn write_header(out: &mut String, name: &str, help: &str, kind: &str, openmetrics: bool) {
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        // OpenMetrics escapes double quotes in HELP too; the text format does not.
        escape_into(out, help, openmetrics);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

fn write_sample(out: &mut String, name: &str, metric: &proto::Metric, value: f64) {
    out.push_str(name);
    write_labels(out, metric.get_label());
    out.push(' ');
    write_value(out, value);
    out.push('\n');
}

fn text_type(t: MetricType) -> &'static str {
    match t {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::SUMMARY => "summary",
        MetricType::HISTOGRAM => "histogram",
        MetricType::UNTYPED => "untyped",
    }
}

fn openmetrics_type(t: MetricType) -> &'static str {
    match t {
        MetricType::UNTYPED => "unknown",
        other => text_type(other),
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

/// Escapes `\` and newline, and `"` when `quote` is set, as both formats
/// require.
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

    fn family(
        name: &str,
        kind: MetricType,
        help: &str,
        label: (&str, &str),
        v: f64,
    ) -> MetricFamily {
        let mut pair = proto::LabelPair::default();
        pair.set_name(label.0.into());
        pair.set_value(label.1.into());
        let mut m = proto::Metric::from_label(vec![pair]);
        match kind {
            MetricType::COUNTER => {
                let mut c = proto::Counter::default();
                c.set_value(v);
                m.set_counter(c);
            }
            _ => {
                let mut g = proto::Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
            }
        }
        let mut f = MetricFamily::default();
        f.set_name(name.into());
        f.set_help(help.into());
        f.set_field_type(kind);
        f.set_metric(vec![m]);
        f
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
    fn text_format_escapes_help_and_label_values() {
        let f = family(
            "x",
            MetricType::GAUGE,
            "line1\nline2 \\ \"q\"",
            ("path", "a\"b\\c\nd"),
            1.0,
        );
        assert_eq!(
            encode(&[f], Format::Text),
            "# HELP x line1\\nline2 \\\\ \"q\"\n# TYPE x gauge\nx{path=\"a\\\"b\\\\c\\nd\"} 1\n"
        );
    }

    #[test]
    fn openmetrics_names_counters_and_ends_with_eof() {
        let families = [
            family(
                "bytes_total",
                MetricType::COUNTER,
                "Bytes \"sent\".",
                ("dev", "eth0"),
                5.0,
            ),
            family("errors", MetricType::COUNTER, "", ("dev", "eth0"), 1.0),
            family("temp", MetricType::GAUGE, "T", ("room", "a"), 20.5),
        ];
        assert_eq!(
            encode(&families, Format::OpenMetrics),
            "# HELP bytes Bytes \\\"sent\\\".\n# TYPE bytes counter\nbytes_total{dev=\"eth0\"} 5\n\
             # TYPE errors counter\nerrors_total{dev=\"eth0\"} 1\n\
             # HELP temp T\n# TYPE temp gauge\ntemp{room=\"a\"} 20.5\n# EOF\n"
        );
    }

    #[test]
    fn negotiates_like_prometheus_expects() {
        use Format::*;
        let prometheus_2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus_2)), OpenMetrics);
        assert_eq!(Format::negotiate(None), Text);
        assert_eq!(Format::negotiate(Some("*/*")), Text);
        assert_eq!(Format::negotiate(Some("text/plain")), Text);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text")),
            OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=2.0.0")),
            Text
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
            Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Text
        );
    }
}
