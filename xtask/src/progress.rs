//! Says what a task is doing and how long each step took. On a fresh
//! machine installing the toolchains and compiling take minutes; a newcomer
//! must see that something is happening, and CI logs show where the time
//! goes.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// Runs one step, saying when it starts and how long it took.
pub fn step<T, E>(what: impl Display, run: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    eprintln!("xtask: {what} ...");
    let start = Instant::now();
    let result = run();
    let took = elapsed(start.elapsed());
    match &result {
        Ok(_) => eprintln!("xtask: {what}: done in {took}"),
        Err(_) => eprintln!("xtask: {what}: failed after {took}"),
    }
    result
}

/// A duration as people read it: `0.4 s`, `12 s`, `3 min 05 s`.
pub fn elapsed(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.1} s")
    } else if secs < 60.0 {
        format!("{secs:.0} s")
    } else {
        let whole = d.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(elapsed(Duration::from_millis(420)), "0.4 s");
        assert_eq!(elapsed(Duration::from_millis(12_400)), "12 s");
        assert_eq!(elapsed(Duration::from_secs(185)), "3 min 05 s");
    }

    #[test]
    fn a_step_returns_what_it_ran() {
        assert_eq!(step("adding", || Ok::<_, ()>(1 + 1)), Ok(2));
        assert_eq!(step("failing", || Err::<(), _>("no")), Err("no"));
    }
}
