//! A module's debug page, `/modules/NAME`: everything an operator needs to
//! see why a module fails or what it costs, on one page.
//!
//! What it shows comes from three places: the loaded module (manifest,
//! grants, parameters, limits), its last scrape ([`ModuleStatus`]: outcome,
//! families, cost, the last failing call with what the guest printed) and
//! the self-metrics (counters since it was loaded). Guest output, guest
//! error messages and the paths a guest asked for are hostile input: every
//! piece of text goes through [`escape`]. Parameter values go through
//! [`parameter_value`] alone, which hides secrets.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::landing::escape;
use crate::plugin::manifest::Parameter;
use crate::scrape::{Exporter, LastFailure, Module, ModuleStatus};
use crate::selfmetrics::ModuleTotals;
use crate::version;

/// The page path of a module.
pub fn path(module: &str) -> String {
    format!("/modules/{module}")
}

/// Renders the page of the module called `name`; `None` if there is none.
pub fn render(exporter: &Exporter, name: &str, telemetry_path: &str) -> Option<String> {
    let (module, status) = exporter.module(name)?;
    let totals = exporter.metrics().module_totals(name);
    let mut body = String::new();
    last_scrape(&mut body, module, &status);
    last_failure(&mut body, status.last_failure.as_ref());
    families(&mut body, module, &status);
    cost(&mut body, module, &status, &totals);
    grants(&mut body, module);
    parameters(&mut body, module);
    limits(&mut body, module);
    running(&mut body, module);
    manifest(&mut body, module);
    let name = escape(name);
    // The empty icon: as on the landing page, no request for a favicon.
    Some(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>{name} · WASM Exporter</title>\
<style>body{{font-family:sans-serif;max-width:60em;margin:1em auto}}h2{{border-top:1px solid #ccc;padding-top:.5em}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}}\
pre{{background:#f4f4f4;padding:.5em;white-space:pre-wrap;overflow-wrap:anywhere}}\
.up{{color:#186a18}}.down{{color:#a01818}}</style></head><body>\
<p><a href=\"/\">WASM Exporter</a> · <a href=\"{metrics}\">Metrics</a></p>\
<h1>Module {name}</h1>{body}\
<p><small>{build}</small></p></body></html>\n",
        metrics = escape(telemetry_path),
        build = escape(&version::LONG),
    ))
}

fn last_scrape(out: &mut String, module: &Module, status: &ModuleStatus) {
    out.push_str("<h2>Last scrape</h2><table>");
    let state = match status.up {
        None => "<b>not scraped yet</b>".to_string(),
        Some(true) => "<b class=\"up\">up</b>".to_string(),
        Some(false) => "<b class=\"down\">down</b>".to_string(),
    };
    row(out, "outcome", &state);
    if let Some(at) = status.at {
        row(out, "at", &when(at));
        row(
            out,
            "duration",
            &format!(
                "{} of {} allowed (timeout {})",
                seconds(status.duration),
                seconds(status.allowed),
                seconds(module.guest().limits().timeout)
            ),
        );
    }
    match (&status.up, &status.last_error) {
        (Some(true), _) => row(out, "series served", &status.series.to_string()),
        (Some(false), Some(f)) => {
            row(out, "reason", &format!("<code>{}</code>", f.reason));
            row(out, "cause", &escape(&f.message));
        }
        _ => {}
    }
    out.push_str("</table>");
}

fn last_failure(out: &mut String, failure: Option<&LastFailure>) {
    out.push_str("<h2>Last failing call</h2>");
    let Some(f) = failure else {
        out.push_str("<p>None since the module was loaded.</p>");
        return;
    };
    out.push_str("<table>");
    row(out, "at", &when(f.at));
    row(out, "reason", &format!("<code>{}</code>", f.failure.reason));
    row(out, "cause", &escape(&f.failure.message));
    out.push_str("</table>");
    for (stream, lines) in [("stdout", &f.output.stdout), ("stderr", &f.output.stderr)] {
        if lines.is_empty() {
            let _ = write!(out, "<p>The guest wrote nothing to {stream}.</p>");
        } else {
            let _ = write!(
                out,
                "<p>What the guest wrote to {stream}:</p><pre class=\"{stream}\">{}</pre>",
                escape(&lines.join("\n"))
            );
        }
    }
    if f.output.dropped_bytes > 0 {
        let _ = write!(
            out,
            "<p>{} more bytes of output were dropped (limits.max_log_bytes).</p>",
            f.output.dropped_bytes
        );
    }
}

/// Declared families beside those the last valid output held.
fn families(out: &mut String, module: &Module, status: &ModuleStatus) {
    out.push_str("<h2>Metric families</h2>");
    let declared = module
        .plugin()
        .map(|p| &p.manifest.metrics[..])
        .unwrap_or(&[]);
    let emitted = |name: &str| {
        status
            .families
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, series)| series)
    };
    let mut rows = String::new();
    for d in declared {
        let labels = if d.labels.is_empty() {
            String::new()
        } else {
            format!(" {{{}}}", escape(&d.labels.join(", ")))
        };
        let seen = emitted(&d.name).map_or("no".to_string(), |n| format!("{n} series"));
        let _ = write!(
            rows,
            "<tr><td><code>{}</code></td><td>{}{labels}</td><td>{seen}</td></tr>",
            escape(&d.name),
            d.kind.as_str()
        );
    }
    let undeclared = if module.plugin().is_some() {
        "<b class=\"down\">not declared</b>"
    } else {
        "bare component: nothing declared"
    };
    for (name, series) in &status.families {
        if declared.iter().any(|d| &d.name == name) {
            continue;
        }
        let _ = write!(
            rows,
            "<tr><td><code>{}</code></td><td>{undeclared}</td><td>{series} series</td></tr>",
            escape(name)
        );
    }
    if !rows.is_empty() {
        let _ = write!(
            out,
            "<table><tr><th>family</th><th>declared</th><th>in the last output</th></tr>{rows}</table>"
        );
    }
    if status.families.is_empty() {
        out.push_str(match status.up {
            None => "<p>Not scraped yet.</p>",
            Some(true) => "<p>The last output held no families.</p>",
            Some(false) => "<p>The last call returned no valid exposition.</p>",
        });
    }
}

fn cost(out: &mut String, module: &Module, status: &ModuleStatus, totals: &ModuleTotals) {
    let limits = module.guest().limits();
    let c = &status.cost;
    out.push_str("<h2>Cost</h2><table><tr><th colspan=\"2\">last call</th></tr>");
    row(out, "CPU", &seconds(c.cpu));
    row(
        out,
        "sandbox",
        if status.ahead {
            "instantiated ahead of the call"
        } else {
            "instantiated at the call"
        },
    );
    row(
        out,
        "memory peak",
        &format!(
            "{} of {} ({})",
            bytesize::ByteSize(c.memory_peak as u64),
            limits.memory,
            percent(c.memory_peak as f64, limits.memory.as_u64() as f64)
        ),
    );
    row(
        out,
        "open files peak",
        &format!(
            "{} of {} ({})",
            c.open_files_peak,
            limits.open_files,
            percent(c.open_files_peak as f64, limits.open_files as f64)
        ),
    );
    out.push_str("<tr><th colspan=\"2\">since the module was loaded</th></tr>");
    row(out, "CPU", &format!("{:.3} s", totals.cpu_seconds));
    row(
        out,
        "calls in a sandbox instantiated ahead",
        &totals.ahead_calls.to_string(),
    );
    row(
        out,
        "sandboxes instantiated ahead",
        &escape(&module.guest().ahead_policy()),
    );
    row(out, "failed scrapes", &counts(&totals.errors));
    row(out, "accesses refused", &counts(&totals.denials));
    out.push_str("</table>");
    let (kept, total) = &status.denials;
    if *total > 0 {
        let _ = write!(out, "<p>Refused in the last call ({total}):</p><ul>");
        for d in kept {
            let _ = write!(
                out,
                "<li><code>{}</code> {}: {}</li>",
                d.kind,
                escape(&d.target),
                escape(&d.reason)
            );
        }
        let more = total.saturating_sub(kept.len() as u64);
        if more > 0 {
            let _ = write!(out, "<li>and {more} more</li>");
        }
        out.push_str("</ul>");
    }
}

fn grants(out: &mut String, module: &Module) {
    let access = module.guest().access();
    out.push_str("<h2>Grants</h2>");
    let items: Vec<String> = access
        .files
        .shown()
        .map(|f| format!("<li><code>{}</code></li>", escape(f)))
        .chain(
            access
                .env
                .iter()
                .map(|v| format!("<li>environment variable <code>{}</code></li>", escape(v))),
        )
        .chain(
            access
                .network
                .shown()
                .map(|g| format!("<li>network <code>{}</code></li>", escape(&g))),
        )
        .collect();
    if items.is_empty() {
        out.push_str("<p class=\"grants\">Nothing: the module sees no host file, no environment variable and no network.</p>");
    } else {
        let _ = write!(out, "<ul class=\"grants\">{}</ul>", items.concat());
    }
}

fn parameters(out: &mut String, module: &Module) {
    out.push_str("<h2>Parameters</h2>");
    let declared = module
        .plugin()
        .map(|p| &p.manifest.parameters[..])
        .unwrap_or(&[]);
    let params = module.guest().params();
    if params.is_empty() {
        out.push_str("<p>None.</p>");
        return;
    }
    // A bare component declares nothing: no third column.
    let plugin = module.plugin().is_some();
    out.push_str("<table><tr><th>name</th><th>value</th>");
    if plugin {
        out.push_str("<th>declared</th>");
    }
    out.push_str("</tr>");
    for param in params {
        let decl = declared.iter().find(|p| p.name == param.name);
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td>",
            escape(&param.name),
            parameter_value(&param.name, &param.value, decl)
        );
        if plugin {
            let described = decl.map_or("not declared".to_string(), |p| {
                format!("{}: {}", p.kind.as_str(), escape(&p.description))
            });
            let _ = write!(out, "<td>{described}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

/// A parameter's value as the page shows it. Every value is written
/// through here, so a secret is hidden whatever shows it: a parameter whose
/// name says it is one (as Spring's actuator and Grafana do), or that its
/// plugin declares as one.
pub fn parameter_value(name: &str, value: &str, declared: Option<&Parameter>) -> String {
    if declared.is_some_and(|p| p.secret) || is_secret_name(name) {
        return "<i>hidden (secret)</i>".into();
    }
    format!("<code>{}</code>", escape(value))
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    const WORDS: [&str; 8] = [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "api_key",
        "private",
    ];
    WORDS.iter().any(|w| name.contains(w))
        || name
            .split(['_', '-', '.'])
            .any(|part| part == "key" || part == "auth")
}

fn limits(out: &mut String, module: &Module) {
    out.push_str("<h2>Limits</h2><table>");
    // Through their serialised form: the same keys and units as the config.
    if let Ok(serde_yaml_ng::Value::Mapping(map)) = serde_yaml_ng::to_value(module.guest().limits())
    {
        for (key, value) in map {
            let key = key.as_str().unwrap_or_default();
            let value = match value {
                serde_yaml_ng::Value::String(s) => s,
                other => serde_yaml_ng::to_string(&other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            row(
                out,
                &format!("<code>{}</code>", escape(key)),
                &escape(&value),
            );
        }
    }
    out.push_str("</table>");
}

/// How the exporter runs the module: where its compiled code came from
/// (a start that compiled is slow) and whether its calls need threads of
/// their own.
fn running(out: &mut String, module: &Module) {
    let guest = module.guest();
    out.push_str("<h2>How it runs</h2><table>");
    row(out, "interface", &escape(&guest.world().to_string()));
    row(out, "component", guest.compiled().describe());
    let calls = if !guest.access().network.is_empty() {
        "on a guest thread of its own: it may use the network (a peer that never answers, a \
         slow name lookup), so a stuck call is left behind at its deadline"
    } else if guest.may_block() {
        "on a guest thread of its own: a granted path may lie on a filesystem whose reads can \
         hang (network, FUSE), so a stuck call is left behind at its deadline"
    } else {
        "inline with the scrape: no network, and no granted path lies on a filesystem whose \
         reads can hang"
    };
    row(out, "calls", calls);
    out.push_str("</table>");
}

fn manifest(out: &mut String, module: &Module) {
    out.push_str("<h2>Manifest</h2>");
    let Some(plugin) = module.plugin() else {
        out.push_str(
            "<p>A bare component: no manifest, so nothing is declared and nothing is checked beyond the exposition rules.</p>",
        );
        return;
    };
    let m = &plugin.manifest;
    out.push_str("<table>");
    row(
        out,
        "plugin",
        &format!("{} {}", escape(&m.name), escape(&m.version)),
    );
    row(out, "description", &escape(&m.description));
    row(out, "authors", &escape(&m.authors.join(", ")));
    row(
        out,
        "component",
        &format!(
            "<code>{}</code>, sha256 <code>{}</code>",
            escape(&m.component),
            escape(&plugin.digest)
        ),
    );
    row(out, "world", &format!("<code>{}</code>", escape(&m.world)));
    row(
        out,
        "loaded from",
        &format!(
            "<code>{}</code>",
            escape(&plugin.source.display().to_string())
        ),
    );
    out.push_str("</table><p>Asks for:</p><ul>");
    let caps = &m.capabilities;
    let asked = caps
        .files
        .iter()
        .map(|f| ("file", &f.path, &f.description, f.optional))
        .chain(
            caps.dirs
                .iter()
                .map(|d| ("directory", &d.guest, &d.description, d.optional)),
        )
        .chain(
            caps.env
                .iter()
                .map(|e| ("environment variable", &e.name, &e.description, e.optional)),
        )
        .chain(
            caps.tcp
                .iter()
                .map(|t| ("TCP", &t.address, &t.description, t.optional)),
        )
        .chain(
            caps.http
                .iter()
                .map(|h| ("HTTP", &h.url, &h.description, h.optional)),
        );
    let mut any = false;
    for (what, target, why, optional) in asked {
        any = true;
        let _ = write!(
            out,
            "<li>{what} <code>{}</code>{}: {}</li>",
            escape(target),
            if optional { " (optional)" } else { "" },
            escape(why)
        );
    }
    if !any {
        out.push_str("<li>nothing</li>");
    }
    out.push_str("</ul>");
    if !m.parameters.is_empty() {
        out.push_str(
            "<p>Declares the parameters:</p><table><tr><th>name</th><th>type</th><th>required</th><th>description</th></tr>",
        );
        for p in &m.parameters {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&p.name),
                p.kind.as_str(),
                if p.required { "yes" } else { "no" },
                escape(&p.description)
            );
        }
        out.push_str("</table>");
    }
}

fn row(out: &mut String, key: &str, value: &str) {
    let _ = write!(out, "<tr><th>{key}</th><td>{value}</td></tr>");
}

fn when(at: SystemTime) -> String {
    let ago = SystemTime::now()
        .duration_since(at)
        .unwrap_or_default()
        .as_secs();
    format!("{} ({ago} s ago)", humantime::format_rfc3339_seconds(at))
}

fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn percent(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.0} %", part / whole * 100.0)
    } else {
        "-".into()
    }
}

/// `trap 3, timeout 1` (the non-zero ones), or `none`.
fn counts(counts: &[(String, f64)]) -> String {
    let nonzero: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0.0)
        .map(|(what, n)| format!("{} {n}", escape(what)))
        .collect();
    if nonzero.is_empty() {
        "none".into()
    } else {
        nonzero.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_hidden() {
        for name in [
            "password",
            "db_password",
            "api_key",
            "API-TOKEN",
            "client_secret",
            "key",
            "auth",
            "private_key_file",
        ] {
            assert!(
                parameter_value(name, "hunter2", None).contains("hidden"),
                "{name}"
            );
        }
        // A name that says nothing, declared secret by its plugin.
        let declared: Parameter =
            serde_yaml_ng::from_str("{name: dsn, type: string, secret: true}").unwrap();
        assert!(parameter_value("dsn", "hunter2", Some(&declared)).contains("hidden"));
        for name in ["proc_dir", "keyboard", "monkey", "author", "path"] {
            assert_eq!(
                parameter_value(name, "<x>", None),
                "<code>&lt;x&gt;</code>",
                "{name}"
            );
        }
    }
}
