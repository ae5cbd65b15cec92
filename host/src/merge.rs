//! Merges the validated outputs of the modules of one scrape into one set
//! of families.
//!
//! Two modules may emit the same family (two instances of one scraper with
//! different parameters or operator labels, say) as long as they agree on
//! its type, unit and label names and never emit the same series; the first
//! module in config order is kept, and a later module that conflicts fails
//! as a whole, so a family never mixes types and a series never appears
//! twice. Nor may a module's family take a name another family's samples
//! use (a gauge `x_count` beside a histogram `x`).

use std::collections::{HashMap, HashSet};

use crate::model::{Family, Kind, NameClaims};
use crate::runtime::{Failure, Reason};

struct Entry {
    /// Index into `Merger::families`.
    pos: usize,
    owner: String,
    /// Label values of the series present, built only once a second module
    /// emits the family.
    series: Option<HashSet<Vec<String>>>,
}

/// The exporter's own family names and the names their samples take, which
/// no module may use. Built once per loaded config, not on every scrape.
pub struct Reserved {
    names: HashSet<String>,
    claims: NameClaims,
}

impl Reserved {
    /// The reserved family `names`: those named `_total` are the exporter's
    /// counters, the rest gauges.
    pub fn new(names: HashSet<String>) -> Self {
        let mut claims = NameClaims::default();
        for name in &names {
            let kind = if name.ends_with("_total") {
                Kind::Counter
            } else {
                Kind::Gauge
            };
            claims.take(name, kind, " of the exporter");
        }
        Self { names, claims }
    }
}

/// Accumulates modules' families.
pub struct Merger<'a> {
    reserved: &'a Reserved,
    /// Names taken in the exposition by the modules' families so far.
    claims: NameClaims,
    families: Vec<Family>,
    index: HashMap<String, Entry>,
}

impl<'a> Merger<'a> {
    /// A merger refusing the `reserved` names.
    pub fn new(reserved: &'a Reserved) -> Self {
        Self {
            reserved,
            claims: NameClaims::default(),
            families: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds one module's families, all or nothing; returns the number of
    /// series added (each bucket and quantile counted, as the caps count
    /// them).
    pub fn add(&mut self, module: &str, families: Vec<Family>) -> Result<usize, Failure> {
        let families: Vec<Family> = families
            .into_iter()
            .filter(|f| !f.series.is_empty())
            .collect();
        self.check(&families)?;
        let mut added = 0;
        for mut family in families {
            added += family.exposed_samples();
            match self.index.get_mut(&*family.name) {
                Some(entry) => {
                    if let Some(series) = &mut entry.series {
                        series.extend(family.series.iter().map(|s| s.label_values.clone()));
                    }
                    self.families[entry.pos].series.append(&mut family.series);
                }
                None => {
                    self.claims
                        .take(&family.name, family.kind, &format!(" of module {module:?}"));
                    self.index.insert(
                        family.name.to_string(),
                        Entry {
                            pos: self.families.len(),
                            owner: module.to_owned(),
                            series: None,
                        },
                    );
                    self.families.push(family);
                }
            }
        }
        Ok(added)
    }

    fn check(&mut self, families: &[Family]) -> Result<(), Failure> {
        for family in families {
            let name = &family.name;
            if self.reserved.names.contains(&**name) {
                return Err(invalid(format!(
                    "{name:?} is one of the exporter's own metric names"
                )));
            }
            let Some(entry) = self.index.get_mut(&**name) else {
                if let Some(clash) = (self.reserved.claims.clash(name, family.kind))
                    .or_else(|| self.claims.clash(name, family.kind))
                {
                    return Err(invalid(clash));
                }
                continue;
            };
            let existing = &self.families[entry.pos];
            if existing.kind != family.kind {
                return Err(invalid(format!(
                    "{name:?} is a {} here but a {} in module {:?}",
                    family.kind.as_str(),
                    existing.kind.as_str(),
                    entry.owner
                )));
            }
            if existing.unit != family.unit {
                return Err(invalid(format!(
                    "{name:?} has the unit {:?} here but {:?} in module {:?}",
                    family.unit, existing.unit, entry.owner
                )));
            }
            if existing.label_names != family.label_names {
                return Err(invalid(format!(
                    "{name:?} has label names {:?} here but {:?} in module {:?}",
                    family.label_names, existing.label_names, entry.owner
                )));
            }
            let series = entry.series.get_or_insert_with(|| {
                existing
                    .series
                    .iter()
                    .map(|s| s.label_values.clone())
                    .collect()
            });
            if let Some(dup) = family
                .series
                .iter()
                .find(|s| series.contains(&s.label_values))
            {
                return Err(invalid(format!(
                    "series {name}{:?} was already emitted by module {:?}",
                    dup.label_values, entry.owner
                )));
            }
        }
        Ok(())
    }

    /// The merged families.
    pub fn finish(self) -> Vec<Family> {
        self.families
    }
}

fn invalid(message: String) -> Failure {
    Failure::new(Reason::InvalidOutput, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Series, Value};

    fn family(name: &str, kind: Kind, series: &[(&str, &str)]) -> Family {
        Family {
            name: name.to_owned().into(),
            help: Default::default(),
            unit: Default::default(),
            kind,
            label_names: series
                .first()
                .map(|(k, _)| vec![k.to_string().into()])
                .unwrap_or_default(),
            series: series
                .iter()
                .map(|(_, v)| Series {
                    label_values: vec![v.to_string()],
                    value: Value::Number(1.0),
                })
                .collect(),
        }
    }

    #[test]
    fn merges_compatible_families_and_refuses_conflicts() {
        let reserved = Reserved::new(HashSet::from(["own".to_string()]));
        let mut m = Merger::new(&reserved);
        let g = Kind::Gauge;
        assert_eq!(m.add("a", vec![family("x", g, &[("k", "1")])]).unwrap(), 1);
        assert_eq!(m.add("b", vec![family("x", g, &[("k", "2")])]).unwrap(), 1);
        let e = m.add("c", vec![family("x", g, &[("k", "1")])]).unwrap_err();
        assert!(e.message.contains("already emitted by module \"a\""), "{e}");
        let e = m
            .add("d", vec![family("x", Kind::Counter, &[("k", "3")])])
            .unwrap_err();
        assert!(e.message.contains("in module \"a\""), "{e}");
        let e = m
            .add("e", vec![family("x", g, &[("other", "3")])])
            .unwrap_err();
        assert!(e.message.contains("label names"), "{e}");
        let mut seconds = family("x", g, &[("k", "4")]);
        seconds.unit = "seconds".into();
        let e = m.add("e2", vec![seconds]).unwrap_err();
        assert!(e.message.contains("unit \"seconds\" here but \"\""), "{e}");
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
        // A histogram `h` takes `h_count`, which a gauge of another module
        // then may not take.
        assert!(
            m.add("g", vec![family("h", Kind::Histogram, &[("k", "1")])])
                .is_ok()
        );
        let e = m
            .add("h", vec![family("h_count", g, &[("k", "1")])])
            .unwrap_err();
        assert!(e.message.contains("clash"), "{e}");
        assert!(e.message.contains("of module \"g\""), "{e}");
        // The exporter's counter `own_total` would take `own`.
        let reserved = Reserved::new(HashSet::from(["own_total".to_string()]));
        let mut m2 = Merger::new(&reserved);
        let e = m2
            .add("i", vec![family("own", g, &[("k", "1")])])
            .unwrap_err();
        assert!(e.message.contains("of the exporter"), "{e}");
        let out = m.finish();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].series.len(), 2);
    }
}
