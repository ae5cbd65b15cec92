//! The landing page: what is loaded (plugins with their declarations) and
//! how each module's last scrape went.

use std::fmt::Write as _;

use crate::scrape::Exporter;
use crate::{modulepage, version};

/// Renders the page.
pub fn render(exporter: &Exporter, telemetry_path: &str) -> String {
    let mut modules = String::new();
    for (module, status) in exporter.modules().iter().zip(exporter.status()) {
        let name = escape(module.name());
        let page = escape(&modulepage::path(module.name()));
        let (state, class) = match status.up {
            None if !module.guest().scraped() => ("served through /probe only", "unknown"),
            None => ("not scraped yet", "unknown"),
            Some(true) => ("up", "up"),
            Some(false) => ("down", "down"),
        };
        let detail = match (&status.up, &status.last_error) {
            (Some(true), _) => format!("{} series", status.series),
            (Some(false), Some(f)) => format!("reason {}: {}", f.reason, f.message),
            _ => String::new(),
        };
        let _ = write!(modules, "<section><h3>");
        match module.plugin() {
            Some(p) => {
                let m = &p.manifest;
                if p.logo.is_some() {
                    let _ = write!(
                        modules,
                        "<img src=\"/plugins/{name}/logo.png\" alt=\"\" width=\"32\" height=\"32\"> "
                    );
                }
                let _ = write!(
                    modules,
                    "<a href=\"{page}\">{name}</a> <small>plugin {} {}</small></h3><p>{}</p>",
                    escape(&m.name),
                    escape(&m.version),
                    escape(&m.description)
                );
                let _ = write!(
                    modules,
                    "<p class=\"provenance\">{}{}</p>",
                    escape(&p.provenance.to_string()),
                    p.pulled_from
                        .as_deref()
                        .map(|r| format!(" · pulled from <code>{}</code>", escape(r)))
                        .unwrap_or_default()
                );
                if p.readme.is_some() {
                    let _ = write!(
                        modules,
                        "<p><a href=\"/plugins/{name}/README.md\">README</a> · sha256 <code>{}</code></p>",
                        escape(&p.digest)
                    );
                }
                let _ = write!(
                    modules,
                    "<table><tr><th>declared metric</th><th>type</th><th>unit</th><th>labels</th><th>help</th></tr>"
                );
                for d in &m.metrics {
                    let labels = if d.is_pattern() {
                        "any".to_string()
                    } else {
                        d.labels.join(", ")
                    };
                    let _ = write!(
                        modules,
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(&d.name),
                        d.kind.as_str(),
                        escape(&d.unit),
                        escape(&labels),
                        escape(&d.help)
                    );
                }
                modules.push_str("</table>");
            }
            None => {
                let _ = write!(
                    modules,
                    "<a href=\"{page}\">{name}</a> <small>bare component: no declared metrics</small></h3>"
                );
            }
        }
        let _ = write!(
            modules,
            "<p class=\"world\">interface: {}</p><p class=\"grants\">grants: {}</p>",
            module.guest().world(),
            escape(&module.guest().access().summary())
        );
        if !module.labels().is_empty() {
            let labels: Vec<String> = module
                .labels()
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            let _ = write!(
                modules,
                "<p class=\"labels\">labels added to every series: <code>{}</code></p>",
                escape(&labels.join(", "))
            );
        }
        let _ = write!(
            modules,
            "<p class=\"{class}\">last scrape: <b>{state}</b> in {:.3}s {}</p></section>",
            status.duration.as_secs_f64(),
            escape(&detail)
        );
    }
    // The empty icon: there is no favicon, and without it browsers ask for
    // /favicon.ico and log the 404 as an error.
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>WASM Exporter {v}</title>\
<style>body{{font-family:sans-serif;max-width:60em;margin:1em auto}}section{{border-top:1px solid #ccc}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:2px 6px;text-align:left}}\
.up b{{color:#186a18}}.down b{{color:#a01818}}</style></head><body>\
<h1>WASM Exporter {v}</h1>\
<p>Prometheus exporter whose collectors are sandboxed WebAssembly components.</p>\
<p><a href=\"{path}\">Metrics</a></p>\
<h2>Modules</h2>{modules}\
<p><small>{build}</small></p></body></html>\n",
        v = version::VERSION,
        path = escape(telemetry_path),
        build = escape(&version::LONG),
    )
}

/// HTML-escapes text (module names, manifest fields and guest error
/// messages are not trusted).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
