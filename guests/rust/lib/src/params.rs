//! The module's parameters.

use std::str::FromStr;
use std::time::Duration;

use crate::Error;

/// The parameters the operator configured for this module (checked against
/// a plugin's manifest by the exporter), as text. The typed getters parse
/// them and name the parameter when they cannot.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parameters from name/value pairs (the last of a repeated name wins).
    pub fn new<I, K, V>(pairs: I) -> Params
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Params {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `default` if it is not set.
    pub fn get_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.get(name).unwrap_or(default)
    }

    /// The value of `name` parsed as `T` (an integer, a float, `true` or
    /// `false`...), or `default` if it is not set.
    pub fn parse_or<T: FromStr>(&self, name: &str, default: T) -> Result<T, Error> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                Error::new(format!(
                    "parameter {name}: {v:?} is not a valid {}",
                    short_type_name::<T>()
                ))
            }),
        }
    }

    /// The value of `name` as a duration (`500ms`, `2s`, `1m`, `1h`, or
    /// a combination such as `1m30s`), or `default` if it is not set.
    pub fn duration_or(&self, name: &str, default: Duration) -> Result<Duration, Error> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => parse_duration(v)
                .ok_or_else(|| Error::new(format!("parameter {name}: {v:?} is not a duration"))),
        }
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// Parses `1h2m3s4ms`-style durations (units h, m, s, ms, us, ns).
fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit..];
        total += Duration::try_from_secs_f64(number * seconds).ok()?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gets_and_parses_naming_the_parameter() {
        let p = Params::new([
            ("proc_dir", "/host/proc"),
            ("max", "12"),
            ("max", "13"),
            ("on", "yes"),
        ]);
        assert_eq!(p.get_or("proc_dir", "/proc"), "/host/proc");
        assert_eq!(p.get_or("other", "/proc"), "/proc");
        assert_eq!(p.parse_or("max", 0u32), Ok(13));
        assert_eq!(p.parse_or("missing", 7u32), Ok(7));
        assert_eq!(
            p.parse_or("on", false).unwrap_err().reason(),
            "parameter on: \"yes\" is not a valid bool"
        );
    }

    #[test]
    fn durations() {
        let p = Params::new([("a", "1m30s"), ("b", "250ms"), ("c", "soon")]);
        assert_eq!(
            p.duration_or("a", Duration::ZERO),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(
            p.duration_or("b", Duration::ZERO),
            Ok(Duration::from_millis(250))
        );
        assert!(
            p.duration_or("c", Duration::ZERO)
                .unwrap_err()
                .reason()
                .contains("parameter c")
        );
    }
}
