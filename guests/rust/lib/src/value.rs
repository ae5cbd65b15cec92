//! What a sample holds: a number, a histogram or a summary.

/// The value of a [`Sample`](crate::Sample); which one a family takes
/// depends on its [`Kind`](crate::Kind). A plain `f64` converts into
/// [`Value::Number`], a [`Histogram`] and a [`Summary`] into theirs, so
/// [`Family::sample`](crate::Family::sample) takes any of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Gauge, counter, untyped, info (always 1) and stateset (1 or 0)
    /// samples. NaN and ±Inf are valid where the kind allows them.
    Number(f64),
    /// Histogram and gauge-histogram samples.
    Histogram(Histogram),
    /// Summary samples.
    Summary(Summary),
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Number(v)
    }
}

impl From<Histogram> for Value {
    fn from(h: Histogram) -> Value {
        Value::Histogram(h)
    }
}

impl From<Summary> for Value {
    fn from(s: Summary) -> Value {
        Value::Summary(s)
    }
}

/// Cumulative buckets of observations, as a service or a file reports
/// them: each bucket counts the observations less than or equal to its
/// upper bound (everything the buckets before it count, and more).
///
/// ```
/// use wasm_exporter_guest::Histogram;
///
/// // 10 requests, 4.5 s in all: 2 took at most 0.1 s, 6 at most 0.5 s...
/// let h = Histogram::new([(0.1, 2), (0.5, 6), (1.0, 9)], 10, Some(4.5));
/// assert_eq!(h.buckets().last(), Some(&(f64::INFINITY, 10)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    buckets: Vec<(f64, u64)>,
    count: u64,
    sum: Option<f64>,
}

impl Histogram {
    /// A histogram of `count` observations summing to `sum` (None: the sum
    /// is not known, or a bucket bound is negative, where OpenMetrics wants
    /// no sum), with the buckets `(upper bound, cumulative count)` in any
    /// order (they are sorted by bound). The `+Inf` bucket, which holds
    /// every observation, is added with `count` unless it is given.
    ///
    /// The exporter checks the rest (bounds unique and not NaN, counts
    /// non-decreasing, the `+Inf` bucket equal to `count`) and names the
    /// family when a rule is broken.
    pub fn new<I>(buckets: I, count: u64, sum: Option<f64>) -> Histogram
    where
        I: IntoIterator<Item = (f64, u64)>,
    {
        let mut buckets: Vec<(f64, u64)> = buckets.into_iter().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if buckets
            .last()
            .is_none_or(|&(bound, _)| bound != f64::INFINITY)
        {
            buckets.push((f64::INFINITY, count));
        }
        Histogram {
            buckets,
            count,
            sum,
        }
    }

    /// A histogram of `observations` in buckets with these upper bounds
    /// (in any order; `+Inf` is added): counts every observation into each
    /// bucket whose bound it does not exceed, and sums them. For a guest
    /// that reads single observations (a job log) rather than buckets.
    ///
    /// ```
    /// use wasm_exporter_guest::Histogram;
    ///
    /// let h = Histogram::from_observations([0.1, 1.0], [0.05, 0.3, 0.7, 2.0]);
    /// assert_eq!(h.buckets(), [(0.1, 1), (1.0, 3), (f64::INFINITY, 4)]);
    /// assert_eq!((h.count(), h.sum()), (4, Some(3.05)));
    /// ```
    pub fn from_observations<B, O>(bounds: B, observations: O) -> Histogram
    where
        B: IntoIterator<Item = f64>,
        O: IntoIterator<Item = f64>,
    {
        let observations: Vec<f64> = observations.into_iter().collect();
        let buckets: Vec<(f64, u64)> = bounds
            .into_iter()
            .map(|bound| {
                let within = observations.iter().filter(|&&o| o <= bound).count();
                (bound, within as u64)
            })
            .collect();
        let negative = buckets.iter().any(|&(bound, _)| bound < 0.0);
        let sum = (!negative).then(|| observations.iter().sum());
        Histogram::new(buckets, observations.len() as u64, sum)
    }

    /// The buckets `(upper bound, cumulative count)`, the last one `+Inf`.
    pub fn buckets(&self) -> &[(f64, u64)] {
        &self.buckets
    }

    /// All observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sum of all observations, if known.
    pub fn sum(&self) -> Option<f64> {
        self.sum
    }
}

/// Precomputed quantiles of observations, with their count and sum.
///
/// ```
/// use wasm_exporter_guest::Summary;
///
/// // 120 calls, 9.5 s in all; half took at most 0.05 s, 99 % 0.75 s.
/// let s = Summary::new([(0.5, 0.05), (0.99, 0.75)], 120, 9.5);
/// assert_eq!(s.quantiles()[1], (0.99, 0.75));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    quantiles: Vec<(f64, f64)>,
    count: u64,
    sum: f64,
}

impl Summary {
    /// A summary of `count` observations summing to `sum`, with the
    /// quantiles `(quantile in 0..=1, value)` in any order. A value is NaN
    /// when nothing was observed in the period the quantile covers.
    pub fn new<I>(quantiles: I, count: u64, sum: f64) -> Summary
    where
        I: IntoIterator<Item = (f64, f64)>,
    {
        Summary {
            quantiles: quantiles.into_iter().collect(),
            count,
            sum,
        }
    }

    /// The quantiles of `observations` (nearest rank: the smallest
    /// observation that at least that fraction of them does not exceed;
    /// NaN when there are none), their count and sum.
    ///
    /// ```
    /// use wasm_exporter_guest::Summary;
    ///
    /// let s = Summary::from_observations([0.5, 0.9], [4.0, 1.0, 3.0, 2.0]);
    /// assert_eq!(s.quantiles(), [(0.5, 2.0), (0.9, 4.0)]);
    /// assert_eq!((s.count(), s.sum()), (4, 10.0));
    /// ```
    pub fn from_observations<Q, O>(quantiles: Q, observations: O) -> Summary
    where
        Q: IntoIterator<Item = f64>,
        O: IntoIterator<Item = f64>,
    {
        let mut sorted: Vec<f64> = observations.into_iter().collect();
        sorted.sort_by(f64::total_cmp);
        let quantiles = quantiles
            .into_iter()
            .map(|q| (q, nearest_rank(&sorted, q)))
            .collect::<Vec<_>>();
        let sum = sorted.iter().sum();
        Summary::new(quantiles, sorted.len() as u64, sum)
    }

    /// The quantiles `(quantile, value)`, as given.
    pub fn quantiles(&self) -> &[(f64, f64)] {
        &self.quantiles
    }

    /// All observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sum of all observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }
}

/// The `q` quantile of `sorted` by the nearest-rank method, NaN if empty.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inf_bucket_is_added_once() {
        let h = Histogram::new([(1.0, 1)], 3, None);
        assert_eq!(h.buckets(), [(1.0, 1), (f64::INFINITY, 3)]);
        let h = Histogram::new([(f64::INFINITY, 3), (1.0, 1)], 3, Some(2.0));
        assert_eq!(h.buckets(), [(1.0, 1), (f64::INFINITY, 3)]);
        let h = Histogram::new([(1.0, 2), (0.5, 1)], 2, None);
        assert_eq!(h.buckets(), [(0.5, 1), (1.0, 2), (f64::INFINITY, 2)]);
        assert_eq!(
            Histogram::new([], 0, Some(0.0)).buckets(),
            [(f64::INFINITY, 0)]
        );
    }

    #[test]
    fn observations_fill_cumulative_buckets() {
        let h = Histogram::from_observations([0.1, 0.5, 1.0], [0.1, 0.2, 0.6, 0.05, 3.0]);
        assert_eq!(
            h.buckets(),
            [(0.1, 2), (0.5, 3), (1.0, 4), (f64::INFINITY, 5)]
        );
        assert_eq!(h.count(), 5);
        assert!((h.sum().unwrap() - 3.95).abs() < 1e-12);
        // A negative bound: no sum (OpenMetrics).
        let h = Histogram::from_observations([-1.0, 0.0], [-2.0, 1.0]);
        assert_eq!(h.buckets(), [(-1.0, 1), (0.0, 1), (f64::INFINITY, 2)]);
        assert_eq!(h.sum(), None);
    }

    #[test]
    fn nearest_rank_quantiles() {
        let s = Summary::from_observations([0.0, 0.5, 0.9, 1.0], (1..=10).map(f64::from));
        assert_eq!(
            s.quantiles(),
            [(0.0, 1.0), (0.5, 5.0), (0.9, 9.0), (1.0, 10.0)]
        );
        assert_eq!((s.count(), s.sum()), (10, 55.0));
        let empty = Summary::from_observations([0.5], []);
        assert!(empty.quantiles()[0].1.is_nan());
        assert_eq!((empty.count(), empty.sum()), (0, 0.0));
    }
}
