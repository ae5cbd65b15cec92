//! durations: the job durations a file records (one `JOB SECONDS` line per
//! run, as a batch job appends them), served as a histogram and a summary
//! per job. The Go guest of the same name serves the same series.
//!
//! Parameters: `file` (default `/data/durations`), `buckets` (upper bounds
//! in seconds, comma-separated; default `0.1,0.5,1,5,10`), `quantiles`
//! (default `0.5,0.9,0.99`).

use std::collections::BTreeMap;

use wasm_exporter_guest::{Collector, Error, Family, Histogram, Params, Summary, read_to_string};

struct Durations;

impl Collector for Durations {
    fn collect(params: &Params) -> Result<Vec<Family>, Error> {
        let path = params.get_or("file", "/data/durations");
        let bounds = numbers(params, "buckets", "0.1,0.5,1,5,10")?;
        let quantiles = numbers(params, "quantiles", "0.5,0.9,0.99")?;
        let runs = parse(path, &read_to_string(path)?)?;

        let mut histogram =
            Family::histogram("job_duration_seconds", "Duration of the recorded job runs.")
                .with_unit("seconds")
                .with_labels(["job"]);
        let mut summary = Family::summary(
            "job_duration_quantiles_seconds",
            "Quantiles of the recorded job run durations (nearest rank).",
        )
        .with_unit("seconds")
        .with_labels(["job"]);
        for (job, seconds) in &runs {
            let observations = seconds.iter().copied();
            histogram.sample(
                [job],
                Histogram::from_observations(bounds.iter().copied(), observations.clone()),
            );
            summary.sample(
                [job],
                Summary::from_observations(quantiles.iter().copied(), observations),
            );
        }
        Ok(vec![histogram, summary])
    }
}

/// The comma-separated numbers of parameter `name`.
fn numbers(params: &Params, name: &str, default: &str) -> Result<Vec<f64>, Error> {
    params
        .get_or(name, default)
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| Error::new(format!("parameter {name}: {v:?} is not a number")))
        })
        .collect()
}

/// The durations of each job, from `JOB SECONDS` lines (blank lines and
/// `#` comments skipped).
fn parse(path: &str, text: &str) -> Result<BTreeMap<String, Vec<f64>>, Error> {
    let mut runs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let seconds = match fields[..] {
            [_, s] => s.parse::<f64>().ok().filter(|s| *s >= 0.0),
            _ => None,
        };
        let Some(seconds) = seconds else {
            return Err(Error::new(format!(
                "{path}:{}: expected JOB SECONDS (seconds a number >= 0), got {line:?}",
                i + 1
            )));
        };
        runs.entry(fields[0].to_string()).or_default().push(seconds);
    }
    Ok(runs)
}

wasm_exporter_guest::export_collector!(Durations);
