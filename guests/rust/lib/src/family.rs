//! Metric families and their samples.

use crate::{Error, Value};

/// The type of a family: what its samples hold and how the exporter
/// exposes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A value that can go up and down. Samples: numbers.
    Gauge,
    /// A cumulative value that only increases; name it `..._total`.
    /// Samples: numbers, neither negative nor NaN.
    Counter,
    /// A value whose type is not known. Samples: numbers.
    Untyped,
    /// Cumulative buckets of observations that only increase. Samples:
    /// [`Histogram`](crate::Histogram)s.
    Histogram,
    /// Buckets of what is there now (they may go down). Samples:
    /// [`Histogram`](crate::Histogram)s.
    GaugeHistogram,
    /// Precomputed quantiles. Samples: [`Summary`](crate::Summary)s.
    Summary,
    /// Textual information as labels of a sample whose value is 1; the
    /// name ends in `_info`.
    Info,
    /// A set of boolean states: one sample per state, 1 or 0, with a label
    /// named like the family holding the state (see [`Family::states`]).
    StateSet,
}

impl Kind {
    /// Whether the samples of this kind hold numbers (and which other
    /// value they hold if not).
    fn takes(self, value: &Value) -> bool {
        match value {
            Value::Number(_) => {
                !matches!(self, Kind::Histogram | Kind::GaugeHistogram | Kind::Summary)
            }
            Value::Histogram(_) => matches!(self, Kind::Histogram | Kind::GaugeHistogram),
            Value::Summary(_) => self == Kind::Summary,
        }
    }
}

/// One series: label values in the order of the family's label names.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The label values.
    pub label_values: Vec<String>,
    /// The value: a number, a histogram or a summary, as the family's kind
    /// says.
    pub value: Value,
}

/// A metric family: name, help, unit, type, label names and samples.
///
/// ```
/// use wasm_exporter_guest::{Family, Histogram, Summary};
///
/// let mut disks = Family::gauge("sys_disk_size_bytes", "Size of the device.")
///     .with_unit("bytes")
///     .with_labels(["disk_name"]);
/// disks.sample(["sda"], 500107862016.0);
/// disks.sample(["sdb"], 1000204886016.0);
/// assert_eq!(disks.samples().len(), 2);
///
/// let latency = Family::histogram("http_request_seconds", "Request latency.")
///     .with_unit("seconds")
///     .with_labels(["path"])
///     .with_sample(["/a"], Histogram::new([(0.1, 2), (0.5, 6)], 10, Some(4.5)));
/// let rpc = Family::summary("rpc_seconds", "RPC latency.")
///     .with_value(Summary::new([(0.5, 0.05), (0.99, 0.75)], 120, 9.5));
/// let build = Family::info("app_build_info", "Version of the app.")
///     .with_labels(["version"])
///     .with_sample(["1.2.3"], 1.0);
/// let mut mode = Family::stateset("app_mode", "Operating mode.").with_labels(["app_mode"]);
/// mode.states([] as [&str; 0], [("fast", true), ("slow", false)]);
/// for f in [&latency, &rpc, &build, &mode] {
///     f.check().unwrap();
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    name: String,
    help: String,
    unit: String,
    kind: Kind,
    label_names: Vec<String>,
    samples: Vec<Sample>,
}

impl Family {
    /// A family of `kind` without unit, labels or samples.
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: Kind) -> Family {
        Family {
            name: name.into(),
            help: help.into(),
            unit: String::new(),
            kind,
            label_names: Vec::new(),
            samples: Vec::new(),
        }
    }

    /// A gauge family.
    pub fn gauge(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, help, Kind::Gauge)
    }

    /// A counter family (name it `..._total`).
    pub fn counter(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, help, Kind::Counter)
    }

    /// An untyped family.
    pub fn untyped(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, help, Kind::Untyped)
    }

    /// A histogram family: its samples are [`Histogram`](crate::Histogram)s,
    /// exposed as `NAME_bucket{le=...}`, `NAME_sum` and `NAME_count` (`le`
    /// is not a label name of the family).
    pub fn histogram(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, help, Kind::Histogram)
    }

    /// A gauge-histogram family: buckets of what is there now (the ages of
    /// the items in a queue), which may go down.
    pub fn gauge_histogram(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, help, Kind::GaugeHistogram)
    }

    /// A summary family: its samples are [`Summary`](crate::Summary)s,
    /// exposed as `NAME{quantile=...}`, `NAME_sum` and `NAME_count`
    /// (`quantile` is not a label name of the family).
    pub fn summary(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, help, Kind::Summary)
    }

    /// An info family (name it `..._info`): each sample carries its
    /// information as label values and the value 1.
    pub fn info(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, help, Kind::Info)
    }

    /// A stateset family: give it a label named like the family (it holds
    /// the state's name) and add samples with [`Family::states`].
    pub fn stateset(name: impl Into<String>, help: impl Into<String>) -> Family {
        Family::new(name, help, Kind::StateSet)
    }

    /// The family with this unit (`seconds`, `bytes`): the name must end
    /// in `_` and the unit (before `_total` for a counter), as OpenMetrics
    /// requires. Exposed as `# UNIT` in OpenMetrics.
    pub fn with_unit(mut self, unit: impl Into<String>) -> Family {
        self.unit = unit.into();
        self
    }

    /// The family with these label names.
    pub fn with_labels<I, S>(mut self, names: I) -> Family
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.label_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Appends a sample; `label_values` in the order of the label names,
    /// `value` a number (`f64`), a [`Histogram`](crate::Histogram) or a
    /// [`Summary`](crate::Summary), as the family's kind takes.
    pub fn sample<I, S>(&mut self, label_values: I, value: impl Into<Value>) -> &mut Family
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.samples.push(Sample {
            label_values: label_values.into_iter().map(Into::into).collect(),
            value: value.into(),
        });
        self
    }

    /// Appends one sample per state of a stateset family: 1 for a state
    /// that holds, 0 for one that does not. The state goes into the label
    /// named like the family; `label_values` are the values of the other
    /// labels, in order.
    pub fn states<I, S, T, N>(&mut self, label_values: I, states: T) -> &mut Family
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        T: IntoIterator<Item = (N, bool)>,
        N: Into<String>,
    {
        let others: Vec<String> = label_values.into_iter().map(Into::into).collect();
        // Without its own label the family fails `check`, naming it; the
        // state then goes last so that nothing is lost before that.
        let at = self
            .label_names
            .iter()
            .position(|n| *n == self.name)
            .unwrap_or(others.len())
            .min(others.len());
        for (state, holds) in states {
            let mut values = others.clone();
            values.insert(at, state.into());
            self.sample(values, if holds { 1.0 } else { 0.0 });
        }
        self
    }

    /// The family with one more sample (for families built in one
    /// expression).
    pub fn with_sample<I, S>(mut self, label_values: I, value: impl Into<Value>) -> Family
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sample(label_values, value);
        self
    }

    /// The family with one sample without labels (for families of a single
    /// value).
    pub fn with_value(self, value: impl Into<Value>) -> Family {
        self.with_sample(std::iter::empty::<String>(), value)
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The help text.
    pub fn help(&self) -> &str {
        &self.help
    }

    /// The unit, or "" for none.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// The type.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The label names.
    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }

    /// The samples so far.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Checks what the library can check before the exporter does, so
    /// that the error names the family: as many label values as label
    /// names in every sample, no series twice, values of the family's kind,
    /// a stateset's own label. The exporter checks every rule of the
    /// scraper world again (names, units, buckets, quantiles...).
    pub fn check(&self) -> Result<(), Error> {
        let fail = |what: String| Err(Error::new(format!("family {}: {what}", self.name)));
        if self.kind == Kind::StateSet && !self.label_names.contains(&self.name) {
            return fail(format!(
                "a stateset needs a label named like the family, has {:?}",
                self.label_names
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.samples {
            if s.label_values.len() != self.label_names.len() {
                return fail(format!(
                    "a sample has {} label values {:?} for {} label names {:?}",
                    s.label_values.len(),
                    s.label_values,
                    self.label_names.len(),
                    self.label_names
                ));
            }
            if !self.kind.takes(&s.value) {
                let what = match s.value {
                    Value::Number(_) => "a number",
                    Value::Histogram(_) => "a histogram",
                    Value::Summary(_) => "a summary",
                };
                return fail(format!(
                    "the series {:?} holds {what}, which a {:?} family does not take",
                    s.label_values, self.kind
                ));
            }
            if !seen.insert(&s.label_values) {
                return fail(format!("the series {:?} appears twice", s.label_values));
            }
        }
        Ok(())
    }

    pub(crate) fn into_parts(self) -> (String, String, String, Kind, Vec<String>, Vec<Sample>) {
        (
            self.name,
            self.help,
            self.unit,
            self.kind,
            self.label_names,
            self.samples,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Histogram, Summary};

    #[test]
    fn builds_families_with_labels_and_samples() {
        let mut f = Family::counter("x_bytes_total", "X.")
            .with_unit("bytes")
            .with_labels(["a", "b"]);
        f.sample(["1", "2"], 3.0).sample(["1", "3"], 4.0);
        assert_eq!(f.kind(), Kind::Counter);
        assert_eq!(f.unit(), "bytes");
        assert_eq!(f.label_names(), ["a", "b"]);
        assert_eq!(f.samples()[1].label_values, ["1", "3"]);
        assert_eq!(f.samples()[1].value, Value::Number(4.0));
        assert!(f.check().is_ok());
    }

    #[test]
    fn check_names_the_family() {
        let f = Family::gauge("g", "G.")
            .with_labels(["a"])
            .with_sample(["1", "2"], 1.0);
        let e = f.check().unwrap_err();
        assert!(
            e.reason()
                .starts_with("family g: a sample has 2 label values"),
            "{e}"
        );
        let f = Family::gauge("g", "G.").with_value(1.0).with_value(2.0);
        assert_eq!(
            f.check().unwrap_err().reason(),
            "family g: the series [] appears twice"
        );
    }

    #[test]
    fn histograms_and_summaries_are_samples_of_their_kinds() {
        let h = Family::histogram("h_seconds", "H.")
            .with_labels(["path"])
            .with_sample(["/a"], Histogram::new([(0.1, 1)], 2, Some(0.3)))
            .with_sample(["/b"], Histogram::from_observations([0.1], [0.05]));
        assert!(h.check().is_ok());
        let Value::Histogram(first) = &h.samples()[0].value else {
            panic!("{h:?}")
        };
        assert_eq!(first.buckets(), [(0.1, 1), (f64::INFINITY, 2)]);
        let gh = Family::gauge_histogram("queue_age_seconds", "Q.").with_value(Histogram::new(
            [(10.0, 5)],
            7,
            Some(21.0),
        ));
        assert!(gh.check().is_ok());
        let s = Family::summary("s_seconds", "S.").with_value(Summary::new([(0.5, 1.0)], 3, 4.0));
        assert!(s.check().is_ok());

        let wrong = Family::gauge("g", "G.").with_value(Summary::new([], 0, 0.0));
        assert_eq!(
            wrong.check().unwrap_err().reason(),
            "family g: the series [] holds a summary, which a Gauge family does not take"
        );
        let wrong = Family::histogram("h", "H.").with_value(1.0);
        assert!(
            wrong
                .check()
                .unwrap_err()
                .reason()
                .contains("holds a number, which a Histogram family")
        );
        let wrong = Family::summary("s", "S.").with_value(Histogram::new([], 0, None));
        assert!(wrong.check().is_err());
    }

    #[test]
    fn states_fill_the_family_label() {
        let mut f = Family::stateset("mode", "M.").with_labels(["disk", "mode", "host"]);
        f.states(["sda", "a"], [("fast", true), ("slow", false)]);
        assert!(f.check().is_ok());
        let series: Vec<(Vec<String>, Value)> = f
            .samples()
            .iter()
            .map(|s| (s.label_values.clone(), s.value.clone()))
            .collect();
        assert_eq!(
            series,
            [
                (
                    vec!["sda".into(), "fast".into(), "a".into()],
                    Value::Number(1.0)
                ),
                (
                    vec!["sda".into(), "slow".into(), "a".into()],
                    Value::Number(0.0)
                ),
            ]
        );
        let mut f = Family::stateset("mode", "M.").with_labels(["state"]);
        f.states([] as [&str; 0], [("on", true)]);
        assert_eq!(
            f.check().unwrap_err().reason(),
            "family mode: a stateset needs a label named like the family, has [\"state\"]"
        );
    }

    #[test]
    fn info_families_take_numbers() {
        let f = Family::info("app_info", "A.")
            .with_labels(["version"])
            .with_sample(["1.0"], 1.0);
        assert_eq!(f.kind(), Kind::Info);
        assert!(f.check().is_ok());
    }
}
