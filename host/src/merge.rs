//! Merges the validated outputs of the modules of one scrape into one set
//! of families.
//!
//! Two modules may emit the same family (two instances of one scraper with
//! different parameters, say) as long as they agree on its type and label
//! names and never emit the same series; the first module in config order
//! is kept, and a later module that conflicts fails as a whole, so a family
//! never mixes types and a series never appears twice.

use std::collections::{HashMap, HashSet};

use prometheus::proto::{Metric, MetricFamily, MetricType};

use crate::convert::OpenMetricsNames;
use crate::runtime::{Failure, Reason};

struct Entry {
    /// Index into `Merger::families`.
    pos: usize,
    owner: String,
    kind: MetricType,
    label_names: Vec<String>,
    /// Label values of the series present, built only once a second module
    /// emits the family.
    series: Option<HashSet<Vec<String>>>,
}

/// Accumulates modules' families.
pub struct Merger<'a> {
    reserved: &'a HashSet<String>,
    /// Names taken in OpenMetrics, by the exporter's own families and the
    /// modules' so far.
    claims: OpenMetricsNames,
    families: Vec<MetricFamily>,
    index: HashMap<String, Entry>,
}

impl<'a> Merger<'a> {
    /// A merger refusing the family names in `reserved` (the exporter's own).
    pub fn new(reserved: &'a HashSet<String>) -> Self {
        let mut claims = OpenMetricsNames::default();
        for name in reserved {
            // The exporter's counters are the families named `_total`.
            let kind = if name.ends_with("_total") {
                MetricType::COUNTER
            } else {
                MetricType::GAUGE
            };
            claims.take(name, kind, " of the exporter");
        }
        Self {
            reserved,
            claims,
            families: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds one module's families, all or nothing; returns the number of
    /// series added.
    pub fn add(&mut self, module: &str, families: Vec<MetricFamily>) -> Result<usize, Failure> {
        let families: Vec<MetricFamily> = families
            .into_iter()
            .filter(|f| !f.get_metric().is_empty())
            .collect();
        self.check(&families)?;
        let mut added = 0;
        for mut family in families {
            added += family.get_metric().len();
            match self.index.get_mut(family.name()) {
                Some(entry) => {
                    if let Some(series) = &mut entry.series {
                        series.extend(family.get_metric().iter().map(label_values));
                    }
                    self.families[entry.pos]
                        .mut_metric()
                        .append(family.mut_metric());
                }
                None => {
                    self.claims.take(
                        family.name(),
                        family.get_field_type(),
                        &format!(" of module {module:?}"),
                    );
                    self.index.insert(
                        family.name().to_owned(),
                        Entry {
                            pos: self.families.len(),
                            owner: module.to_owned(),
                            kind: family.get_field_type(),
                            label_names: label_names(&family.get_metric()[0]),
                            series: None,
                        },
                    );
                    self.families.push(family);
                }
            }
        }
        Ok(added)
    }

    fn check(&mut self, families: &[MetricFamily]) -> Result<(), Failure> {
        for family in families {
            let name = family.name();
            if self.reserved.contains(name) {
                return Err(invalid(format!(
                    "{name:?} is one of the exporter's own metric names"
                )));
            }
            let Some(entry) = self.index.get_mut(name) else {
                if let Some(clash) = self.claims.clash(name, family.get_field_type()) {
                    return Err(invalid(clash));
                }
                continue;
            };
            if entry.kind != family.get_field_type() {
                return Err(invalid(format!(
                    "{name:?} is a {:?} here but a {:?} in module {:?}",
                    family.get_field_type(),
                    entry.kind,
                    entry.owner
                )));
            }
            let names = label_names(&family.get_metric()[0]);
            if names != entry.label_names {
                return Err(invalid(format!(
                    "{name:?} has label names {names:?} here but {:?} in module {:?}",
                    entry.label_names, entry.owner
                )));
            }
            let existing = &self.families[entry.pos];
            let series = entry
                .series
                .get_or_insert_with(|| existing.get_metric().iter().map(label_values).collect());
            if let Some(dup) = family
                .get_metric()
                .iter()
                .map(label_values)
                .find(|v| series.contains(v))
            {
                return Err(invalid(format!(
                    "series {name}{dup:?} was already emitted by module {:?}",
                    entry.owner
                )));
            }
        }
        Ok(())
    }

    /// The merged families.
    pub fn finish(self) -> Vec<MetricFamily> {
        self.families
    }
}

fn label_names(m: &Metric) -> Vec<String> {
    m.get_label().iter().map(|l| l.name().to_owned()).collect()
}

fn label_values(m: &Metric) -> Vec<String> {
    m.get_label().iter().map(|l| l.value().to_owned()).collect()
}

fn invalid(message: String) -> Failure {
    Failure::new(Reason::InvalidOutput, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::proto::{Gauge, LabelPair};

    fn family(name: &str, kind: MetricType, series: &[(&str, &str)]) -> MetricFamily {
        let mut f = MetricFamily::default();
        f.set_name(name.into());
        f.set_field_type(kind);
        f.set_metric(
            series
                .iter()
                .map(|(k, v)| {
                    let mut l = LabelPair::default();
                    l.set_name(k.to_string());
                    l.set_value(v.to_string());
                    let mut m = Metric::from_label(vec![l]);
                    m.set_gauge(Gauge::default());
                    m
                })
                .collect(),
        );
        f
    }

    #[test]
    fn merges_compatible_families_and_refuses_conflicts() {
        let reserved = HashSet::from(["own".to_string()]);
        let mut m = Merger::new(&reserved);
        let g = MetricType::GAUGE;
        assert_eq!(m.add("a", vec![family("x", g, &[("k", "1")])]).unwrap(), 1);
        assert_eq!(m.add("b", vec![family("x", g, &[("k", "2")])]).unwrap(), 1);
        let e = m.add("c", vec![family("x", g, &[("k", "1")])]).unwrap_err();
        assert!(e.message.contains("already emitted by module \"a\""), "{e}");
        let e = m
            .add("d", vec![family("x", MetricType::COUNTER, &[("k", "3")])])
            .unwrap_err();
        assert!(e.message.contains("in module \"a\""), "{e}");
        let e = m
            .add("e", vec![family("x", g, &[("other", "3")])])
            .unwrap_err();
        assert!(e.message.contains("label names"), "{e}");
        // All or nothing: the valid family of a failing module is not kept.
        let e = m
            .add(
                "f",
                vec![
                    family("y", g, &[("k", "1")]),
                    family("own", g, &[("k", "1")]),
                ],
            )
            .unwrap_err();
        assert!(e.message.contains("exporter's own"), "{e}");
        // A counter `z` is `z_total` in OpenMetrics, as is the gauge `z_total`.
        let e = m
            .add("g", vec![family("z_total", g, &[("k", "1")])])
            .and_then(|_| m.add("h", vec![family("z", MetricType::COUNTER, &[("k", "1")])]))
            .unwrap_err();
        assert!(e.message.contains("clash in OpenMetrics"), "{e}");
        assert!(e.message.contains("of module \"g\""), "{e}");
        let e = m
            .add("i", vec![family("own", MetricType::COUNTER, &[("k", "1")])])
            .unwrap_err();
        assert!(e.message.contains("exporter's own"), "{e}");
        let out = m.finish();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].get_metric().len(), 2);
    }
}
