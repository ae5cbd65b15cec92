//! The metric model of a scrape: what [`crate::convert`] makes of a guest's
//! answer (whatever WIT version it speaks), what [`crate::merge`] combines
//! across modules and what [`crate::exposition`] writes.
//!
//! It follows OpenMetrics 1.0 as far as a stateless guest can supply it:
//! numbers, histograms, gauge histograms, summaries, info and stateset
//! families, and a unit per family; no created timestamps, no exemplars.
//! Everything in it has been validated: the encoders trust it.

use std::borrow::Cow;
use std::collections::HashMap;

/// The type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A cumulative value, named with `_total`.
    Counter,
    /// A value of unknown type.
    Untyped,
    /// Cumulative buckets of observations, with their count and sum.
    Histogram,
    /// Buckets of what is there now.
    GaugeHistogram,
    /// Precomputed quantiles, with their count and sum.
    Summary,
    /// Information as labels, value 1, named with `_info`.
    Info,
    /// Boolean states, one series each, labelled with the family's name.
    StateSet,
}

impl Kind {
    /// The name in manifests, messages and OpenMetrics' `# TYPE` (except
    /// `untyped`, which OpenMetrics calls `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Untyped => "untyped",
            Kind::Histogram => "histogram",
            Kind::GaugeHistogram => "gaugehistogram",
            Kind::Summary => "summary",
            Kind::Info => "info",
            Kind::StateSet => "stateset",
        }
    }

    /// Whether its samples hold buckets.
    pub fn is_histogram(self) -> bool {
        matches!(self, Kind::Histogram | Kind::GaugeHistogram)
    }
}

/// A name or text of the model: written in this crate (the exporter's own
/// families, made on every scrape without copying it) or a guest's.
pub type Text = Cow<'static, str>;

/// A validated family: its metadata and its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The metric name (with `_total` for counters, `_info` for info).
    pub name: Text,
    /// Help text, unescaped; may be empty.
    pub help: Text,
    /// Unit, or empty.
    pub unit: Text,
    /// The type.
    pub kind: Kind,
    /// Dimension names, shared by every series.
    pub label_names: Vec<Text>,
    /// The series, one per combination of label values.
    pub series: Vec<Series>,
}

/// One series (an OpenMetrics metric point).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Values of the family's `label_names`, in their order.
    pub label_values: Vec<String>,
    /// The value.
    pub value: Value,
}

/// What a series holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Gauge, counter, untyped, info and stateset series.
    Number(f64),
    /// Histogram and gauge-histogram series.
    Histogram(Histogram),
    /// Summary series.
    Summary(Summary),
}

/// Buckets sorted by upper bound, cumulative, the last one +Inf holding
/// `count`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// The buckets.
    pub buckets: Vec<Bucket>,
    /// All observations.
    pub count: u64,
    /// Their sum, when known.
    pub sum: Option<f64>,
}

/// One histogram bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Inclusive upper bound.
    pub upper_bound: f64,
    /// Observations up to it.
    pub count: u64,
}

/// Quantiles sorted by quantile, with count and sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The quantiles.
    pub quantiles: Vec<Quantile>,
    /// All observations.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

/// One quantile of a summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantile {
    /// Between 0 and 1.
    pub quantile: f64,
    /// Its value.
    pub value: f64,
}

impl Value {
    /// How many samples (exposition lines) the value takes: every bucket and
    /// quantile, and `_sum` and `_count`. The output caps count these.
    pub fn exposed_samples(&self) -> usize {
        match self {
            Value::Number(_) => 1,
            Value::Histogram(h) => h.buckets.len() + 2,
            Value::Summary(s) => s.quantiles.len() + 2,
        }
    }
}

impl Family {
    /// Samples the family takes in an exposition (see
    /// [`Value::exposed_samples`]).
    pub fn exposed_samples(&self) -> usize {
        self.series.iter().map(|s| s.value.exposed_samples()).sum()
    }

    /// Sorts the series by label values, so that the output is the same on
    /// every scrape whatever order the guest returned them in.
    ///
    /// A stateset's states of one metric point (the same values of every
    /// label but the state label) stay together: OpenMetrics parsers refuse
    /// a stateset whose points are interleaved.
    pub fn sort_series(&mut self) {
        let state = (self.kind == Kind::StateSet)
            .then(|| self.label_names.iter().position(|n| *n == self.name))
            .flatten();
        match state {
            Some(state) => {
                let point = |s: &Series| {
                    s.label_values
                        .iter()
                        .enumerate()
                        .filter(move |(i, _)| *i != state)
                        .map(|(_, v)| v.clone())
                        .collect::<Vec<_>>()
                };
                self.series.sort_by(|a, b| {
                    point(a)
                        .cmp(&point(b))
                        .then_with(|| a.label_values[state].cmp(&b.label_values[state]))
                });
            }
            None => self
                .series
                .sort_by(|a, b| a.label_values.cmp(&b.label_values)),
        }
    }

    /// One of the exporter's own families ([`crate::selfmetrics`]): numbers
    /// under names and help written in this crate, so nothing to validate.
    /// Its series are sorted as a guest's are.
    pub fn own(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        label_names: &[&'static str],
        series: Vec<Series>,
    ) -> Family {
        let mut family = Family {
            name: Text::Borrowed(name),
            help: Text::Borrowed(help),
            unit: Text::Borrowed(""),
            kind,
            label_names: label_names.iter().map(|n| Text::Borrowed(n)).collect(),
            series,
        };
        family.sort_series();
        family
    }

    /// One of the exporter's own families with a single series and no
    /// labels (a counter or gauge of the whole process).
    pub fn own_single(name: &'static str, help: &'static str, kind: Kind, value: f64) -> Family {
        Family::own(
            name,
            help,
            kind,
            &[],
            vec![Series::number(Vec::new(), value)],
        )
    }
}

impl Series {
    /// A series holding one number.
    pub fn number(label_values: Vec<String>, value: f64) -> Series {
        Series {
            label_values,
            value: Value::Number(value),
        }
    }
}

/// The name of a family in OpenMetrics' metadata lines: a counter's without
/// `_total`, an info family's without `_info`.
pub fn openmetrics_family_name(name: &str, kind: Kind) -> &str {
    match kind {
        Kind::Counter => name.strip_suffix("_total").unwrap_or(name),
        Kind::Info => name.strip_suffix("_info").unwrap_or(name),
        _ => name,
    }
}

/// Every name a family takes in the two formats: its family name and the
/// sample names its type uses or reserves (OpenMetrics' suffixes, and the
/// text format's `_sum`/`_count` of histograms, which a gauge histogram is
/// rendered as there). Two families whose names overlap (a gauge `x_count`
/// beside a histogram `x`, a gauge `x` beside a counter `x_total`) would be
/// read as one by a parser, or refused.
pub fn taken_names(name: &str, kind: Kind) -> Vec<String> {
    let family = openmetrics_family_name(name, kind);
    let suffixes: &[&str] = match kind {
        Kind::Counter => &["", "_total", "_created"],
        Kind::Info => &["", "_info"],
        Kind::Histogram => &["", "_bucket", "_count", "_sum", "_created"],
        Kind::GaugeHistogram => &["", "_bucket", "_gcount", "_gsum", "_count", "_sum"],
        Kind::Summary => &["", "_count", "_sum", "_created"],
        Kind::Gauge | Kind::Untyped | Kind::StateSet => &[""],
    };
    suffixes.iter().map(|s| format!("{family}{s}")).collect()
}

/// The names taken so far by the families of a scrape, each with the family
/// that took it and where that family came from, so that a family whose
/// names overlap another's is refused with both named.
#[derive(Debug, Default)]
pub struct NameClaims(HashMap<String, (String, String)>);

impl NameClaims {
    /// Why family `name` of `kind` cannot be added (a name it takes is taken
    /// by another family), if it cannot.
    pub fn clash(&self, name: &str, kind: Kind) -> Option<String> {
        taken_names(name, kind)
            .into_iter()
            .find_map(|n| match self.0.get(&n) {
                Some((other, owner)) if other != name => Some(format!(
                    "{name:?} and {other:?}{owner} clash: both take the name {n:?} in the exposition"
                )),
                _ => None,
            })
    }

    /// Takes the names of family `name` of `kind`; `owner` says where it
    /// came from in messages (such as ` of module "a"`).
    pub fn take(&mut self, name: &str, kind: Kind, owner: &str) {
        for n in taken_names(name, kind) {
            self.0.insert(n, (name.to_owned(), owner.to_owned()));
        }
    }

    /// [`Self::clash`], then [`Self::take`] if there is none.
    pub fn claim(&mut self, name: &str, kind: Kind, owner: &str) -> Option<String> {
        let clash = self.clash(name, kind);
        if clash.is_none() {
            self.take(name, kind, owner);
        }
        clash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_taken_by_each_kind() {
        assert_eq!(
            taken_names("req_seconds", Kind::Histogram),
            [
                "req_seconds",
                "req_seconds_bucket",
                "req_seconds_count",
                "req_seconds_sum",
                "req_seconds_created"
            ]
        );
        assert_eq!(taken_names("x_total", Kind::Counter)[0], "x");
        assert_eq!(
            taken_names("build_info", Kind::Info),
            ["build", "build_info"]
        );
        let mut claims = NameClaims::default();
        assert!(claims.claim("x", Kind::Histogram, "").is_none());
        let clash = claims.claim("x_count", Kind::Gauge, " of module \"b\"");
        assert!(clash.is_some_and(|c| c.contains("\"x_count\" and \"x\"")));
        assert!(
            claims.claim("x", Kind::Histogram, "").is_none(),
            "same family"
        );
        assert!(claims.claim("y_total", Kind::Counter, "").is_none());
        assert!(claims.claim("y", Kind::Gauge, "").is_some());
    }

    #[test]
    fn counts_every_bucket_and_quantile() {
        let h = Value::Histogram(Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: 1.0,
                    count: 1,
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    count: 2,
                },
            ],
            count: 2,
            sum: None,
        });
        assert_eq!(h.exposed_samples(), 4);
        let s = Value::Summary(Summary {
            quantiles: vec![],
            count: 0,
            sum: 0.0,
        });
        assert_eq!(s.exposed_samples(), 2);
        assert_eq!(Value::Number(1.0).exposed_samples(), 1);
    }
}
