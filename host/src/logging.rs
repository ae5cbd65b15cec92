//! Structured logging to stderr in the shape Prometheus components use:
//! `ts=… level=… msg=… key=value…` (logfmt) or the same keys as one JSON
//! object per line.

use std::fmt::{self, Write as _};

use anyhow::{Result, anyhow};
use clap::ValueEnum;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` pairs, one event per line.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// `--log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Everything, including per-connection details.
    Debug,
    /// Start-up, reloads and guest output.
    Info,
    /// Failed module scrapes and other problems.
    Warn,
    /// Only errors.
    Error,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Installs the global subscriber. Logs of the engine's dependencies
/// (cranelift, wasmtime internals) are kept at warn so that `debug` shows
/// the exporter's own events.
pub fn init(level: LogLevel, format: LogFormat) -> Result<()> {
    let filter = EnvFilter::try_new(format!("warn,wasm_exporter={}", level.as_str()))
        .map_err(|e| anyhow!("log filter: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(PromFormat(format))
        .try_init()
        .map_err(|e| anyhow!("installing the logger: {e}"))
}

/// Formats one event as logfmt or JSON with `ts`, `level`, `msg` first.
struct PromFormat(LogFormat);

impl<S, N> FormatEvent<S, N> for PromFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let ts = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let level = level_name(*event.metadata().level());
        let mut pairs: Vec<(&str, &str)> = vec![("ts", &ts), ("level", level)];
        if let Some(msg) = &fields.message {
            pairs.push(("msg", msg));
        }
        pairs.extend(fields.rest.iter().map(|(k, v)| (*k, v.as_str())));
        let line = match self.0 {
            LogFormat::Logfmt => logfmt(&pairs),
            LogFormat::Json => json(&pairs),
        };
        writeln!(writer, "{line}")
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "debug",
    }
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    rest: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.rest.push((field.name(), value));
        }
    }
}

/// `key=value`, quoting values that are empty or hold spaces, quotes, `=`
/// or control characters.
fn logfmt(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push('=');
        if v.is_empty()
            || v.chars()
                .any(|c| c == ' ' || c == '"' || c == '=' || c.is_control())
        {
            out.push('"');
            for c in v.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        } else {
            out.push_str(v);
        }
    }
    out
}

fn json(pairs: &[(&str, &str)]) -> String {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        map.insert((*k).to_owned(), serde_json::Value::String((*v).to_owned()));
    }
    serde_json::Value::Object(map).to_string()
}

/// Lets a repeated event through at most once per period, and counts the
/// occurrences held back in between, so that an error repeated thousands
/// of times a second (a full descriptor table, a connection flood) writes
/// a few lines that say how often it happened rather than flood the log.
#[derive(Debug)]
pub struct RateLimited {
    period: std::time::Duration,
    state: std::sync::Mutex<(Option<std::time::Instant>, u64)>,
}

impl RateLimited {
    /// At most one event per `period`.
    pub const fn new(period: std::time::Duration) -> Self {
        Self {
            period,
            state: std::sync::Mutex::new((None, 0)),
        }
    }

    /// Records an occurrence. `Some(held_back)` when this one is to be
    /// logged, with the number of occurrences not logged since the last
    /// one that was; `None` when it is to be held back.
    pub fn allow(&self) -> Option<u64> {
        let now = std::time::Instant::now();
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match state.0 {
            Some(last) if now.duration_since(last) < self.period => {
                state.1 += 1;
                None
            }
            _ => {
                let held_back = state.1;
                *state = (Some(now), 0);
                Some(held_back)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_quotes_and_escapes() {
        assert_eq!(
            logfmt(&[
                ("level", "warn"),
                ("msg", "say \"hi\"\nnow"),
                ("module", "a"),
                ("e", "")
            ]),
            r#"level=warn msg="say \"hi\"\nnow" module=a e="""#
        );
    }

    #[test]
    fn json_keeps_key_order() {
        assert_eq!(
            json(&[("ts", "t"), ("level", "info"), ("msg", "x\"y")]),
            r#"{"ts":"t","level":"info","msg":"x\"y"}"#
        );
    }

    #[test]
    fn rate_limited_lets_one_through_per_period_and_counts_the_rest() {
        let limit = RateLimited::new(std::time::Duration::from_millis(200));
        assert_eq!(limit.allow(), Some(0));
        for _ in 0..5 {
            assert_eq!(limit.allow(), None);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert_eq!(limit.allow(), Some(5));
        assert_eq!(limit.allow(), None);
    }
}
