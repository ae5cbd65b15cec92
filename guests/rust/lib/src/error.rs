//! The one error type of a collection, and file reading that names the file.

use std::fmt;
use std::path::Path;

/// Why a collection failed: one line for the exporter's log. `?` converts
/// `String`, `&str` and [`std::fmt::Error`]; wrap other errors with
/// [`Error::new`] and say what was being done (`reading /proc/stat: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    /// An error with this reason (newlines are folded into spaces).
    pub fn new(reason: impl fmt::Display) -> Error {
        Error(
            reason
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(reason: String) -> Error {
        Error::new(reason)
    }
}

impl From<&str> for Error {
    fn from(reason: &str) -> Error {
        Error::new(reason)
    }
}

/// Ends a collection with an [`Error`] formatted like `format!`:
/// `fail!("{path}: expected 3 fields, got {n}")`.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return ::std::result::Result::Err($crate::Error::new(::std::format!($($arg)*)))
    };
}

/// The whole file at `path` as text, or an error naming the file and the
/// cause (`reading /proc/stat: No such file or directory`).
///
/// Only the directories the operator grants exist in the sandbox; take the
/// directory from a parameter so that a grant at another place still works.
/// The file is read in one go: `/proc` files change between reads.
pub fn read_to_string(path: impl AsRef<Path>) -> Result<String, Error> {
    let path = path.as_ref();
    std::fs::read_to_string(path).map_err(|e| {
        let cause = match e.kind() {
            std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
            std::io::ErrorKind::InvalidData => "not UTF-8".to_string(),
            _ if is_outside_grants(&e) => "no granted directory holds it".to_string(),
            _ => e.to_string(),
        };
        Error::new(format!("reading {}: {cause}", path.display()))
    })
}

/// Whether `e` is WASI's ENOTCAPABLE, which wasi-libc returns for a path
/// under no preopened (granted) directory.
fn is_outside_grants(e: &std::io::Error) -> bool {
    const ENOTCAPABLE: i32 = 76;
    cfg!(target_os = "wasi") && e.raw_os_error() == Some(ENOTCAPABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_line() {
        assert_eq!(Error::new("a\nb  c").reason(), "a b c");
    }

    #[test]
    fn read_errors_name_the_file() {
        let e = read_to_string("/nonexistent/x").unwrap_err();
        assert_eq!(
            e.reason(),
            "reading /nonexistent/x: No such file or directory"
        );
    }

    fn failing(n: usize) -> Result<(), Error> {
        fail!("expected 3 fields, got {n}");
    }

    #[test]
    fn fail_returns_a_formatted_error() {
        assert_eq!(failing(2).unwrap_err().reason(), "expected 3 fields, got 2");
    }
}
