//! The textfile plugin (Python) against node_exporter's textfile collector:
//! one directory served by Debian's `prometheus-node-exporter` (1.5,
//! started here on a free loopback port with only that collector) and by
//! the plugin, compared series by series, help and type lines included;
//! then what the plugin does where the two differ, and two instances of the
//! plugin told apart by operator labels.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{
    Exporter, Scrape, fixture, free_port, heavy, plugin, q, try_request, wait_until,
};

/// node_exporter with only the textfile collector, killed when dropped.
struct NodeExporter {
    child: Child,
    addr: String,
    log: tempfile::NamedTempFile,
}

impl NodeExporter {
    fn start(dir: &Path) -> NodeExporter {
        let log = tempfile::NamedTempFile::new().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new("prometheus-node-exporter")
            .args([
                "--collector.disable-defaults",
                "--collector.textfile",
                &format!("--collector.textfile.directory={}", dir.display()),
                &format!("--web.listen-address={addr}"),
            ])
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("starting prometheus-node-exporter (Debian package prometheus-node-exporter)");
        let node = NodeExporter { child, addr, log };
        wait_until(Duration::from_secs(30), "listening node_exporter", || {
            try_request("GET", &format!("http://{}/metrics", node.addr), &[], None)
                .is_ok_and(|a| a.status == 200)
        });
        node
    }

    fn metrics(&self) -> String {
        let a = try_request("GET", &format!("http://{}/metrics", self.addr), &[], None).unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The exporter with the textfile plugin reading `dir` (as `/textfile`),
/// with `label_dir` set so that file labels are the host's paths.
fn textfile_exporter(modules: &[(&str, &Path, &str)]) -> Exporter {
    let mut config = String::from("modules:\n");
    for (name, dir, extra) in modules {
        config.push_str(&format!(
            "  - name: {name}\n    plugin: {}\n    grants: {{dirs: [{{host: {}, guest: /textfile}}]}}\n    params: {{label_dir: {}}}\n{extra}",
            q(&plugin("textfile")),
            q(dir),
            q(dir),
        ));
    }
    let _heavy = heavy();
    Exporter::start(&config)
}

/// The samples of families whose name starts with one of `prefixes`, keyed
/// `name{labels}` with the labels sorted and empty ones left out (as
/// Prometheus stores them), values parsed; and their HELP and TYPE lines.
fn series_of(text: &str, prefixes: &[&str]) -> (BTreeMap<String, String>, Vec<String>) {
    let keep = |name: &str| prefixes.iter().any(|p| name.starts_with(p));
    let mut series = BTreeMap::new();
    let mut meta = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let name = rest.split(' ').nth(1).unwrap_or_default();
            if keep(name) {
                meta.push(line.to_string());
            }
            continue;
        }
        let (name, labels, value) = split(line);
        if !keep(name) {
            continue;
        }
        let mut labels: Vec<(String, String)> =
            labels.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        labels.sort();
        let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line:?}")),
        };
        let key = format!("{name}{{{}}}", inner.join(","));
        assert!(
            series.insert(key.clone(), format!("{value:?}")).is_none(),
            "{key} twice in:\n{text}"
        );
    }
    meta.sort();
    (series, meta)
}

/// `name{a="x",...} value` -> (name, labels unescaped, value).
fn split(line: &str) -> (&str, Vec<(String, String)>, &str) {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next().expect("labels end");
            match c {
                '}' => {
                    rest = &inner[i + 1..];
                    break;
                }
                ',' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().expect("value ends").1 {
                            '"' => break,
                            '\\' => match chars.next().expect("escape").1 {
                                'n' => value.push('\n'),
                                c => value.push(c),
                            },
                            c => value.push(c),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                c => key.push(c),
            }
        }
    }
    (name, labels, rest.trim())
}

#[test]
fn textfile_plugin_serves_what_node_exporter_serves() {
    let dir = fixture("textfile");
    let node = NodeExporter::start(&dir);
    let exporter = textfile_exporter(&[("textfile", &dir, "")]);
    let ours = exporter.scrape();
    assert_eq!(ours.all_errors("textfile"), 0.0, "{}", ours.text);
    let prefixes = ["tf_", "node_textfile_"];
    let (node_series, node_meta) = series_of(&node.metrics(), &prefixes);
    let (our_series, our_meta) = series_of(&ours.text, &prefixes);
    // 32 samples of 10 families from app.prom, batch.prom and weird.prom, 3
    // mtimes and the error gauge; the other files are broken.
    assert_eq!(our_series.len(), 36, "{}", ours.text);
    for (series, value) in &node_series {
        assert_eq!(
            our_series.get(series),
            Some(value),
            "{series}: node_exporter serves {value}"
        );
    }
    assert_eq!(our_series, node_series, "every series, no more");
    assert_eq!(our_meta, node_meta, "HELP and TYPE lines");
    assert_eq!(ours.value("node_textfile_scrape_error"), Some(1.0));

    // The broken files are reported with node_exporter's own reasons.
    for (file, reason) in [
        ("broken.prom", "line 3: unexpected end of label value \"x\""),
        (
            "trailing.prom",
            "line 2: expected integer as timestamp, got \"\"",
        ),
        (
            "unterminated.prom",
            "line 1: unexpected end of input stream",
        ),
        (
            "stamped.prom",
            "contains unsupported client-side timestamps",
        ),
    ] {
        let theirs = node.log();
        let escaped = reason.replace('"', "\\\"");
        assert!(
            theirs
                .lines()
                .any(|l| l.contains(file) && l.contains(&escaped)),
            "node_exporter: {file} {reason}:\n{theirs}"
        );
        let ours_reason = match reason.strip_prefix("line ") {
            Some(rest) => {
                let (n, why) = rest.split_once(": ").unwrap();
                format!("{}/{file}:{n}: {why}", dir.display())
            }
            None => format!("{}/{file}: {reason}", dir.display()),
        };
        exporter.wait_for_log(
            &["module=textfile", &ours_reason.replace('"', "\\\"")],
            Duration::from_secs(5),
        );
    }
}

#[test]
fn textfile_plugin_skips_what_the_exporter_may_not_serve() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "a.prom",
            "# TYPE tf_jobs gauge\ntf_jobs 3\n# HELP tf_help First.\ntf_help 1\n\
             # TYPE tf_hist histogram\ntf_hist_bucket{le=\"1\"} 1\ntf_hist_bucket{le=\"+Inf\"} 2\ntf_hist_sum 2.5\n",
        ),
        (
            "b.prom",
            "# TYPE tf_jobs counter\ntf_jobs{queue=\"b\"} 5\n# HELP tf_help Second.\ntf_help{x=\"y\"} 2\n\
             tf_ok 7\ntf_hist_count 9\ntf_help 8\n",
        ),
        ("c.prom", "# TYPE tf_neg counter\ntf_neg -1\n"),
        (
            "d.prom",
            "# TYPE tf_bad histogram\ntf_bad_bucket{le=\"1\"} 5\ntf_bad_bucket{le=\"2\"} 3\ntf_bad_count 5\n",
        ),
        ("e.prom", "process_cpu_seconds_total 5\n"),
        (
            "f.prom",
            "# TYPE tf_sum summary\ntf_sum{quantile=\"1.5\"} 1\ntf_sum_count 1\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let exporter = textfile_exporter(&[("textfile", dir.path(), "")]);
    let s = exporter.scrape();
    assert_eq!(s.all_errors("textfile"), 0.0, "{}", s.text);
    let (series, _) = series_of(&s.text, &["tf_", "node_textfile_scrape"]);
    let names: Vec<&str> = series.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "node_textfile_scrape_error{}",
            "tf_help{}",
            // The histogram's count comes from its +Inf bucket (a.prom has
            // no _count line).
            "tf_hist_bucket{le=\"+Inf\"}",
            "tf_hist_bucket{le=\"1\"}",
            "tf_hist_count{}",
            "tf_hist_sum{}",
            "tf_jobs{}",
            "tf_ok{}",
        ],
        "{}",
        s.text
    );
    assert_eq!(s.value("tf_hist_count"), Some(2.0));
    assert_eq!(s.value("node_textfile_scrape_error"), Some(1.0));
    let d = dir.path().display();
    for line in [
        format!("{d}/b.prom: tf_jobs is a counter here but a gauge before; dropped"),
        format!("{d}/b.prom: tf_help has another help text than before ('Second.'); dropped"),
        format!(
            "{d}/b.prom: tf_hist_count clashes with tf_hist, whose samples use its name; dropped"
        ),
        format!("{d}/c.prom: counter tf_neg has the value -1.0"),
        format!("{d}/d.prom: histogram tf_bad: buckets are not cumulative"),
        format!("{d}/e.prom: metric name process_cpu_seconds_total is reserved"),
        format!("{d}/f.prom: summary tf_sum: quantile 1.5 is not between 0 and 1"),
    ] {
        exporter.wait_for_log(&["module=textfile", &line], Duration::from_secs(5));
    }
    // Files that were read have an mtime, the skipped ones not.
    let mtimes: Vec<&String> = s
        .samples
        .keys()
        .filter(|k| k.starts_with("node_textfile_mtime_seconds"))
        .collect();
    assert_eq!(mtimes.len(), 2, "a.prom and b.prom: {mtimes:?}");
}

#[test]
fn two_textfile_directories_are_told_apart_by_operator_labels() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    std::fs::write(one.path().join("a.prom"), "tf_backup_ok 1\n").unwrap();
    std::fs::write(two.path().join("a.prom"), "tf_backup_ok 0\n").unwrap();
    // Without labels the second module's series are the first's.
    let exporter = textfile_exporter(&[("one", one.path(), ""), ("two", two.path(), "")]);
    let s: Scrape = exporter.scrape();
    assert_eq!(s.errors("two", "invalid_output"), 1.0, "{}", s.text);
    exporter.wait_for_log(
        &["module=two", "was already emitted by module \\\"one\\\""],
        Duration::from_secs(5),
    );
    drop(exporter);
    let exporter = textfile_exporter(&[
        ("one", one.path(), "    labels: {backup: one}\n"),
        ("two", two.path(), "    labels: {backup: two}\n"),
    ]);
    let s = exporter.scrape();
    for m in ["one", "two"] {
        assert_eq!(s.all_errors(m), 0.0, "{m}: {}", s.text);
    }
    assert_eq!(s.value("tf_backup_ok{backup=\"one\"}"), Some(1.0));
    assert_eq!(s.value("tf_backup_ok{backup=\"two\"}"), Some(0.0));
    assert_eq!(
        s.value("node_textfile_scrape_error{backup=\"two\"}"),
        Some(0.0)
    );
    let file = format!("{}/a.prom", two.path().display());
    assert!(
        s.samples.contains_key(&format!(
            "node_textfile_mtime_seconds{{file={file:?},backup=\"two\"}}"
        )),
        "{}",
        s.text
    );
}
