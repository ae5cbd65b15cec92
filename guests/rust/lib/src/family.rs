//! Metric families and their samples.

/// The Prometheus type of a family.
///
/// Histograms and summaries are added with version 0.2 of the scraper world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A value that can go up and down.
    Gauge,
    /// A cumulative value that only increases; name it `..._total`.
    Counter,
    /// A value whose type is not known.
    Untyped,
}

/// One series: label values in the order of the family's label names.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The label values.
    pub label_values: Vec<String>,
    /// The value; NaN and ±Inf are valid.
    pub value: f64,
}

/// A metric family: name, help, type, label names and samples.
///
/// ```
/// use wasm_exporter_guest::Family;
///
/// let mut disks = Family::gauge("sys_disk_size", "Size in bytes.").with_labels(["disk_name"]);
/// disks.sample(["sda"], 500107862016.0);
/// disks.sample(["sdb"], 1000204886016.0);
/// assert_eq!(disks.samples().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    name: String,
    help: String,
    kind: Kind,
    label_names: Vec<String>,
    samples: Vec<Sample>,
}

impl Family {
    /// A family of `kind` without labels or samples.
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: Kind) -> Family {
        Family {
            name: name.into(),
            help: help.into(),
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

    /// The family with these label names.
    pub fn with_labels<I, S>(mut self, names: I) -> Family
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.label_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Appends a sample; `label_values` in the order of the label names.
    pub fn sample<I, S>(&mut self, label_values: I, value: f64) -> &mut Family
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.samples.push(Sample {
            label_values: label_values.into_iter().map(Into::into).collect(),
            value,
        });
        self
    }

    /// The family with one more sample (for families built in one
    /// expression).
    pub fn with_sample<I, S>(mut self, label_values: I, value: f64) -> Family
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sample(label_values, value);
        self
    }

    /// The family with one sample without labels (for families of a single
    /// value).
    pub fn with_value(self, value: f64) -> Family {
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

    /// Checks what the library can check before the exporter does: as many
    /// label values as label names in every sample, no series twice.
    pub fn check(&self) -> Result<(), crate::Error> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.samples {
            if s.label_values.len() != self.label_names.len() {
                return Err(crate::Error::new(format!(
                    "family {}: a sample has {} label values {:?} for {} label names {:?}",
                    self.name,
                    s.label_values.len(),
                    s.label_values,
                    self.label_names.len(),
                    self.label_names
                )));
            }
            if !seen.insert(&s.label_values) {
                return Err(crate::Error::new(format!(
                    "family {}: the series {:?} appears twice",
                    self.name, s.label_values
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn into_parts(self) -> (String, String, Kind, Vec<String>, Vec<Sample>) {
        (
            self.name,
            self.help,
            self.kind,
            self.label_names,
            self.samples,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_families_with_labels_and_samples() {
        let mut f = Family::counter("x_total", "X.").with_labels(["a", "b"]);
        f.sample(["1", "2"], 3.0).sample(["1", "3"], 4.0);
        assert_eq!(f.kind(), Kind::Counter);
        assert_eq!(f.label_names(), ["a", "b"]);
        assert_eq!(f.samples()[1].label_values, ["1", "3"]);
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
}
