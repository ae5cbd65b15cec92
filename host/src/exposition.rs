//! Writes metric families in the Prometheus text format 0.0.4 or in
//! OpenMetrics 1.0.0, chosen from the client's `Accept` header.
//!
//! The `prometheus` crate's `TextEncoder` writes infinities as Rust prints
//! them (`inf`, `-inf`), which the format spells `+Inf` and `-Inf`, and it
//! has no OpenMetrics encoder, so the exporter renders both formats itself,
//! from [`crate::model`]. Everything arrives here validated by `convert`.

use std::fmt::Write as _;

use crate::model::{Family, Kind, Series, Summary, Text, Value, openmetrics_family_name};

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

/// Encodes `families` (sorted and validated) in `format`.
pub fn encode(families: &[Family], format: Format) -> String {
    let mut out = String::with_capacity(
        families
            .iter()
            .map(|f| 64 + f.exposed_samples() * 48)
            .sum::<usize>()
            + 8,
    );
    for family in families {
        if family.series.is_empty() {
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

/// The text format 0.0.4 knows counters, gauges, histograms, summaries and
/// untyped metrics: a gauge histogram is written as a histogram, info and
/// stateset families as gauges (as the Go client does), and the unit is
/// left out (it is in the name).
fn write_text_family(out: &mut String, family: &Family) {
    let name = &family.name;
    let kind = match family.kind {
        Kind::Counter => "counter",
        Kind::Gauge | Kind::Info | Kind::StateSet => "gauge",
        Kind::Untyped => "untyped",
        Kind::Histogram | Kind::GaugeHistogram => "histogram",
        Kind::Summary => "summary",
    };
    write_help(out, name, &family.help, false);
    write_meta(out, "TYPE", name, kind);
    for series in &family.series {
        let labels = Labels::new(family, series);
        match &series.value {
            Value::Number(v) => write_sample(out, name, "", &labels, None, |o| write_value(o, *v)),
            Value::Histogram(h) => {
                for b in &h.buckets {
                    let le = label_float(b.upper_bound);
                    write_sample(out, name, "_bucket", &labels, Some(("le", &le)), |o| {
                        write_count(o, b.count)
                    });
                }
                if let Some(sum) = h.sum {
                    write_sample(out, name, "_sum", &labels, None, |o| write_value(o, sum));
                }
                write_sample(out, name, "_count", &labels, None, |o| {
                    write_count(o, h.count)
                });
            }
            Value::Summary(s) => {
                write_quantiles(out, name, &labels, s, label_float);
                write_sample(out, name, "_sum", &labels, None, |o| write_value(o, s.sum));
                write_sample(out, name, "_count", &labels, None, |o| {
                    write_count(o, s.count)
                });
            }
        }
    }
}

/// OpenMetrics names a counter family without `_total` and its sample with
/// it (a counter named without the suffix gets it on the sample, as the Go
/// client does), and an info family without `_info`. `le` and `quantile`
/// values are written as canonical numbers (`1.0`, not `1`). No `_created`
/// samples: guests cannot know when their counters started.
fn write_openmetrics_family(out: &mut String, family: &Family) {
    let name = &*family.name;
    let kind = family.kind;
    let family_name = openmetrics_family_name(name, kind);
    let type_name = match kind {
        Kind::Untyped => "unknown",
        other => other.as_str(),
    };
    write_help(out, family_name, &family.help, true);
    write_meta(out, "TYPE", family_name, type_name);
    if !family.unit.is_empty() {
        write_meta(out, "UNIT", family_name, &family.unit);
    }
    let counter_sample = format!("{family_name}_total");
    let sample_name = match kind {
        Kind::Counter => counter_sample.as_str(),
        _ => name,
    };
    let (gcount, gsum) = match kind {
        Kind::GaugeHistogram => ("_gcount", "_gsum"),
        _ => ("_count", "_sum"),
    };
    for series in &family.series {
        let labels = Labels::new(family, series);
        match &series.value {
            Value::Number(v) => {
                write_sample(out, sample_name, "", &labels, None, |o| write_value(o, *v))
            }
            Value::Histogram(h) => {
                for b in &h.buckets {
                    let le = openmetrics_label_float(b.upper_bound);
                    write_sample(out, name, "_bucket", &labels, Some(("le", &le)), |o| {
                        write_count(o, b.count)
                    });
                }
                // The count is written only with a sum, as OpenMetrics
                // requires; the +Inf bucket holds it anyway.
                if let Some(sum) = h.sum {
                    write_sample(out, name, gcount, &labels, None, |o| {
                        write_count(o, h.count)
                    });
                    write_sample(out, name, gsum, &labels, None, |o| write_value(o, sum));
                }
            }
            Value::Summary(s) => {
                write_quantiles(out, name, &labels, s, openmetrics_label_float);
                write_sample(out, name, "_count", &labels, None, |o| {
                    write_count(o, s.count)
                });
                write_sample(out, name, "_sum", &labels, None, |o| write_value(o, s.sum));
            }
        }
    }
}

fn write_quantiles(
    out: &mut String,
    name: &str,
    labels: &Labels<'_>,
    summary: &Summary,
    render: fn(f64) -> String,
) {
    for q in &summary.quantiles {
        let quantile = render(q.quantile);
        write_sample(out, name, "", labels, Some(("quantile", &quantile)), |o| {
            write_value(o, q.value)
        });
    }
}

/// HELP, omitted when empty, as it carries nothing.
fn write_help(out: &mut String, name: &str, help: &str, openmetrics: bool) {
    if help.is_empty() {
        return;
    }
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    // OpenMetrics escapes double quotes in HELP too; the text format does not.
    escape_into(out, help, openmetrics);
    out.push('\n');
}

/// A TYPE or UNIT line (neither needs escaping: both are validated names).
fn write_meta(out: &mut String, keyword: &str, name: &str, value: &str) {
    out.push_str("# ");
    out.push_str(keyword);
    out.push(' ');
    out.push_str(name);
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

/// A series' label pairs.
struct Labels<'a> {
    names: &'a [Text],
    values: &'a [String],
}

impl<'a> Labels<'a> {
    fn new(family: &'a Family, series: &'a Series) -> Self {
        Labels {
            names: &family.label_names,
            values: &series.label_values,
        }
    }
}

/// One sample line: `name` + `suffix`, the labels and an extra one (`le`,
/// `quantile`), and the value `value` writes.
fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &Labels<'_>,
    extra: Option<(&str, &str)>,
    value: impl FnOnce(&mut String),
) {
    out.push_str(name);
    out.push_str(suffix);
    let pairs = labels
        .names
        .iter()
        .map(|n| &**n)
        .zip(labels.values.iter().map(String::as_str))
        .chain(extra);
    let mut first = true;
    for (n, v) in pairs {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(n);
        out.push_str("=\"");
        escape_into(out, v, true);
        out.push('"');
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
    value(out);
    out.push('\n');
}

/// Escapes `\` and newline, and `"` when `quote` is set, as both formats
/// require.
fn escape_into(out: &mut String, s: &str, quote: bool) {
    // Copied in runs between the characters to escape (all ASCII, so every
    // cut is on a character boundary): most strings have none, and a
    // scrape writes thousands of them.
    let special = |b: &u8| *b == b'\\' || *b == b'\n' || (quote && *b == b'"');
    let mut rest = s;
    while let Some(i) = rest.as_bytes().iter().position(special) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            _ => "\\\"",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
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

/// Bucket and observation counts are whole numbers, written as such.
fn write_count(out: &mut String, n: u64) {
    let _ = write!(out, "{n}");
}

/// An `le` or `quantile` value in the text format, exactly as the Go client
/// writes it (`strconv.FormatFloat(v, 'g', -1, 64)`: `0.25`, `1`, `1e+06`,
/// `+Inf`). These are label values: a different spelling of the same bound
/// would be a different series in Prometheus, so the exporter spells them
/// as every Go exporter does (node_exporter's textfile collector among
/// them).
pub fn label_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // Rust's `{:e}` is the shortest round-tripping mantissa, as Go's is.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        // `%f` with the digits needed, which Rust's `{}` writes too.
        format!("{v}")
    } else {
        format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        )
    }
}

/// An `le` or `quantile` value in OpenMetrics: a canonical number, the Go
/// spelling with `.0` added to whole numbers (`1.0`, `0.25`, `1e+06`).
pub fn openmetrics_label_float(v: f64) -> String {
    let mut s = label_float(v);
    if v.is_finite() && !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: f64) -> String {
        let mut s = String::new();
        write_value(&mut s, v);
        s
    }

    fn family(name: &str, kind: Kind, help: &str, label: (&str, &str), v: f64) -> Family {
        with_value(name, kind, help, label, Value::Number(v))
    }

    fn with_value(name: &str, kind: Kind, help: &str, label: (&str, &str), v: Value) -> Family {
        Family {
            name: name.to_owned().into(),
            help: help.to_owned().into(),
            unit: Default::default(),
            kind,
            label_names: vec![label.0.to_owned().into()],
            series: vec![Series {
                label_values: vec![label.1.into()],
                value: v,
            }],
        }
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
            Kind::Gauge,
            "line1\nline2 \\ \"q\"",
            ("path", "a\"b\\c\nd"),
            1.0,
        );
        assert_eq!(
            encode(&[f], Format::Text),
            "# HELP x line1\\nline2 \\\\ \"q\"\n# TYPE x gauge\nx{path=\"a\\\"b\\\\c\\nd\"} 1\n"
        );
        // Characters of several bytes around and between the escaped ones.
        let f = family("y", Kind::Gauge, "é\n", ("p", "\"ü\\€\n"), 1.0);
        assert_eq!(
            encode(&[f], Format::Text),
            "# HELP y é\\n\n# TYPE y gauge\ny{p=\"\\\"ü\\\\€\\n\"} 1\n"
        );
    }

    #[test]
    fn openmetrics_names_counters_and_ends_with_eof() {
        let families = [
            family(
                "bytes_total",
                Kind::Counter,
                "Bytes \"sent\".",
                ("dev", "eth0"),
                5.0,
            ),
            family("errors", Kind::Counter, "", ("dev", "eth0"), 1.0),
            family("temp", Kind::Gauge, "T", ("room", "a"), 20.5),
        ];
        assert_eq!(
            encode(&families, Format::OpenMetrics),
            "# HELP bytes Bytes \\\"sent\\\".\n# TYPE bytes counter\nbytes_total{dev=\"eth0\"} 5\n\
             # TYPE errors counter\nerrors_total{dev=\"eth0\"} 1\n\
             # HELP temp T\n# TYPE temp gauge\ntemp{room=\"a\"} 20.5\n# EOF\n"
        );
    }

    #[test]
    fn spells_bounds_and_quantiles_as_go_does() {
        for (v, text, om) in [
            (0.0, "0", "0.0"),
            (1.0, "1", "1.0"),
            (0.005, "0.005", "0.005"),
            (0.25, "0.25", "0.25"),
            (2.5, "2.5", "2.5"),
            (100000.0, "100000", "100000.0"),
            (1e6, "1e+06", "1e+06"),
            (1234567.0, "1.234567e+06", "1.234567e+06"),
            (0.0001, "0.0001", "0.0001"),
            (0.00001, "1e-05", "1e-05"),
            (1.5e-7, "1.5e-07", "1.5e-07"),
            (1e23, "1e+23", "1e+23"),
            (-2.0, "-2", "-2.0"),
            (f64::INFINITY, "+Inf", "+Inf"),
            (f64::NEG_INFINITY, "-Inf", "-Inf"),
        ] {
            assert_eq!(label_float(v), text, "{v}");
            assert_eq!(openmetrics_label_float(v), om, "{v}");
        }
    }

    fn histogram(kind: Kind, sum: Option<f64>) -> Family {
        let mut f = with_value(
            "req_seconds",
            kind,
            "Request latency.",
            ("path", "/"),
            Value::Histogram(crate::model::Histogram {
                buckets: vec![
                    crate::model::Bucket {
                        upper_bound: 0.5,
                        count: 2,
                    },
                    crate::model::Bucket {
                        upper_bound: 1.0,
                        count: 3,
                    },
                    crate::model::Bucket {
                        upper_bound: f64::INFINITY,
                        count: 4,
                    },
                ],
                count: 4,
                sum,
            }),
        );
        f.unit = "seconds".into();
        f
    }

    #[test]
    fn writes_histograms_in_both_formats() {
        let h = histogram(Kind::Histogram, Some(3.25));
        assert_eq!(
            encode(std::slice::from_ref(&h), Format::Text),
            "# HELP req_seconds Request latency.\n# TYPE req_seconds histogram\n\
             req_seconds_bucket{path=\"/\",le=\"0.5\"} 2\n\
             req_seconds_bucket{path=\"/\",le=\"1\"} 3\n\
             req_seconds_bucket{path=\"/\",le=\"+Inf\"} 4\n\
             req_seconds_sum{path=\"/\"} 3.25\nreq_seconds_count{path=\"/\"} 4\n"
        );
        assert_eq!(
            encode(&[h], Format::OpenMetrics),
            "# HELP req_seconds Request latency.\n# TYPE req_seconds histogram\n# UNIT req_seconds seconds\n\
             req_seconds_bucket{path=\"/\",le=\"0.5\"} 2\n\
             req_seconds_bucket{path=\"/\",le=\"1.0\"} 3\n\
             req_seconds_bucket{path=\"/\",le=\"+Inf\"} 4\n\
             req_seconds_count{path=\"/\"} 4\nreq_seconds_sum{path=\"/\"} 3.25\n# EOF\n"
        );
        // A gauge histogram: a histogram in the text format, _gcount and
        // _gsum in OpenMetrics; without a sum, no count either there.
        let g = histogram(Kind::GaugeHistogram, None);
        let text = encode(std::slice::from_ref(&g), Format::Text);
        assert!(text.contains("# TYPE req_seconds histogram\n"), "{text}");
        assert!(text.contains("req_seconds_count{path=\"/\"} 4\n"), "{text}");
        assert!(!text.contains("_sum"), "{text}");
        let om = encode(&[g], Format::OpenMetrics);
        assert!(om.contains("# TYPE req_seconds gaugehistogram\n"), "{om}");
        assert!(!om.contains("_gcount") && !om.contains("_count"), "{om}");
        let om = encode(
            &[histogram(Kind::GaugeHistogram, Some(1.0))],
            Format::OpenMetrics,
        );
        assert!(
            om.contains("req_seconds_gcount{path=\"/\"} 4\nreq_seconds_gsum{path=\"/\"} 1\n"),
            "{om}"
        );
    }

    #[test]
    fn writes_summaries_info_and_statesets() {
        let summary = with_value(
            "rpc_seconds",
            Kind::Summary,
            "",
            ("m", "get"),
            Value::Summary(crate::model::Summary {
                quantiles: vec![
                    crate::model::Quantile {
                        quantile: 0.5,
                        value: 0.25,
                    },
                    crate::model::Quantile {
                        quantile: 1.0,
                        value: f64::NAN,
                    },
                ],
                count: 7,
                sum: 2.5,
            }),
        );
        let info = family("build_info", Kind::Info, "Build.", ("version", "1.2"), 1.0);
        let mut state = family("mode", Kind::StateSet, "Mode.", ("mode", "fast"), 1.0);
        state.series.push(Series {
            label_values: vec!["slow".into()],
            value: Value::Number(0.0),
        });
        let families = [info, state, summary];
        assert_eq!(
            encode(&families, Format::Text),
            "# HELP build_info Build.\n# TYPE build_info gauge\nbuild_info{version=\"1.2\"} 1\n\
             # HELP mode Mode.\n# TYPE mode gauge\nmode{mode=\"fast\"} 1\nmode{mode=\"slow\"} 0\n\
             # TYPE rpc_seconds summary\nrpc_seconds{m=\"get\",quantile=\"0.5\"} 0.25\n\
             rpc_seconds{m=\"get\",quantile=\"1\"} NaN\nrpc_seconds_sum{m=\"get\"} 2.5\n\
             rpc_seconds_count{m=\"get\"} 7\n"
        );
        assert_eq!(
            encode(&families, Format::OpenMetrics),
            "# HELP build Build.\n# TYPE build info\nbuild_info{version=\"1.2\"} 1\n\
             # HELP mode Mode.\n# TYPE mode stateset\nmode{mode=\"fast\"} 1\nmode{mode=\"slow\"} 0\n\
             # TYPE rpc_seconds summary\nrpc_seconds{m=\"get\",quantile=\"0.5\"} 0.25\n\
             rpc_seconds{m=\"get\",quantile=\"1.0\"} NaN\nrpc_seconds_count{m=\"get\"} 7\n\
             rpc_seconds_sum{m=\"get\"} 2.5\n# EOF\n"
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
