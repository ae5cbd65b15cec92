//! Operator labels: the `labels: {name: value}` of a module in the config,
//! added to every series the module serves, so that two instances of one
//! plugin (two textfile directories, two services) can be told apart.
//!
//! A name is checked when the config is read (a valid label name, not
//! reserved), against the plugin's declarations when the module is loaded
//! (a label the manifest declares for any metric is refused then), and on
//! every scrape against what the guest emits (a clash fails the module's
//! scrape with `invalid_output` and says which label of which family).

use anyhow::{Result, bail, ensure};

use crate::convert::is_label_name;
use crate::model::{Family, Text};
use crate::plugin::Manifest;
use crate::runtime::{Failure, Reason};

/// Label names the exposition itself writes: an operator label of that name
/// would collide with a histogram's buckets or a summary's quantiles.
pub const RESERVED: [&str; 2] = ["le", "quantile"];

/// Checks an operator label as the config gives it.
pub fn check(name: &str, value: &str, max_value_length: usize) -> Result<()> {
    ensure!(
        is_label_name(name),
        "{name:?} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)"
    );
    ensure!(
        !RESERVED.contains(&name),
        "{name:?} is reserved: histograms and summaries use it for their buckets and quantiles"
    );
    ensure!(
        value.len() <= max_value_length,
        "the value of {name:?} is {} bytes long, the limit (max_label_value_length) is {max_value_length}",
        value.len()
    );
    Ok(())
}

/// Refuses operator labels that the plugin declares for one of its metrics:
/// they would clash on every scrape. (Metrics declared by a pattern have
/// undeclared labels; those clashes are found when they happen.)
pub fn check_against_manifest(labels: &[(String, String)], manifest: &Manifest) -> Result<()> {
    for (name, _) in labels {
        if let Some(m) = manifest.metrics.iter().find(|m| m.labels.contains(name)) {
            bail!(
                "the operator label {name:?} clashes with the label {name:?} that plugin {} declares for {}; choose another name",
                manifest.name,
                m.name
            );
        }
        if let Some(m) = manifest
            .metrics
            .iter()
            .find(|m| m.kind.as_str() == "stateset" && m.name == *name)
        {
            bail!(
                "the operator label {name:?} clashes with the state label of the stateset {} of plugin {}; choose another name",
                m.name,
                manifest.name
            );
        }
    }
    Ok(())
}

/// Adds `labels` to every series of `families`, after the guest's own
/// labels. A family that already has one of the names fails the module's
/// scrape.
pub fn apply(families: &mut [Family], labels: &[(String, String)]) -> Result<(), Failure> {
    if labels.is_empty() {
        return Ok(());
    }
    for family in families.iter() {
        if let Some((name, _)) = labels
            .iter()
            .find(|(n, _)| family.label_names.iter().any(|l| l == n))
        {
            return Err(Failure::new(
                Reason::InvalidOutput,
                format!(
                    "the operator label {name:?} (config `labels:`) clashes with the label {name:?} the module emits in {:?}; rename one of them",
                    family.name
                ),
            ));
        }
    }
    for family in families {
        family
            .label_names
            .extend(labels.iter().map(|(n, _)| Text::from(n.clone())));
        for series in &mut family.series {
            series
                .label_values
                .extend(labels.iter().map(|(_, v)| v.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Series, Value};

    #[test]
    fn checks_names_and_values() {
        assert!(check("instance_name", "a", 10).is_ok());
        for (name, value, expected) in [
            ("le", "x", "reserved"),
            ("quantile", "x", "reserved"),
            ("__name__", "x", "not a valid label name"),
            ("a-b", "x", "not a valid label name"),
            ("ok", "0123456789a", "limit (max_label_value_length) is 10"),
        ] {
            let e = format!("{:#}", check(name, value, 10).unwrap_err());
            assert!(e.contains(expected), "{name}: {e}");
        }
    }

    #[test]
    fn adds_labels_and_refuses_clashes() {
        let family = |labels: &[&str]| Family {
            name: "x".into(),
            help: Default::default(),
            unit: Default::default(),
            kind: Kind::Gauge,
            label_names: labels.iter().map(|s| s.to_string().into()).collect(),
            series: vec![Series {
                label_values: labels.iter().map(|_| "v".to_string()).collect(),
                value: Value::Number(1.0),
            }],
        };
        let labels = vec![("site".to_string(), "berlin".to_string())];
        let mut families = vec![family(&["dev"])];
        apply(&mut families, &labels).unwrap();
        assert_eq!(families[0].label_names, ["dev", "site"]);
        assert_eq!(families[0].series[0].label_values, ["v", "berlin"]);
        let mut clash = vec![family(&["site"])];
        let e = apply(&mut clash, &labels).unwrap_err();
        assert_eq!(e.reason, Reason::InvalidOutput);
        assert!(e.message.contains("operator label \"site\""), "{e}");
        assert_eq!(clash[0].label_names, ["site"], "left as it was");
    }
}
