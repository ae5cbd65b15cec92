//! `wasm_exporter config check FILE`: one line per module, every problem
//! named, the exit code; and the systemd unit that runs it.

use std::path::Path;

use crate::support::{fixture, guest, plugin, proc_files, q, root, run_with_output as run};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A config that loads: two plugins and a bare component.
fn good_config() -> String {
    format!(
        "modules:\n\
         \x20 - name: sysinfo\n    plugin: {}\n    grants: {}\n\
         \x20 - name: netdev\n    plugin: {}\n    grants: {{files: [/proc/net/dev]}}\n\
         \x20 - name: good\n    component: {}\n",
        q(&plugin("sysinfo")),
        proc_files(&fixture("proc"), &["meminfo", "partitions"]),
        q(&plugin("netdev")),
        q(&guest("ok")),
    )
}

#[test]
fn a_good_config_passes_with_one_line_per_module() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "good.yml", &good_config());
    let cache = dir.path().join("cache");
    let cache_flag = format!("--cache.dir={}", cache.display());
    let (code, out, err) = run(&["config", "check", &config, &cache_flag]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[0], format!("config {config}: parsed, 3 modules"));
    assert!(
        lines[1].starts_with(
            "module sysinfo: ok (plugin sysinfo 1.0.0, 2 declared metrics; grants: /proc/meminfo (host "
        ),
        "{out}"
    );
    assert!(
        lines[2].starts_with(
            "module netdev: ok (plugin netdev 1.0.0, 8 declared metrics; grants: /proc/net/dev; compiled into the cache, loaded in "
        ),
        "{out}"
    );
    assert!(
        lines[3].starts_with(&format!(
            "module good: ok (component {}; grants: nothing; compiled into the cache, loaded in ",
            guest("ok").display()
        )),
        "{out}"
    );
    assert_eq!(lines[4], "result: OK");
    assert!(
        lines[1].contains("; compiled into the cache, loaded in "),
        "{out}"
    );
    // The components were compiled into the cache the exporter will use:
    // the next check (or start) finds every one of them there.
    assert!(
        std::fs::read_dir(&cache).is_ok_and(|mut d| d.next().is_some()),
        "nothing cached in {}",
        cache.display()
    );
    let (code, again, err) = run(&["config", "check", &config, &cache_flag]);
    assert_eq!(code, 0, "stdout:\n{again}\nstderr:\n{err}");
    let modules: Vec<&str> = again.lines().filter(|l| l.starts_with("module ")).collect();
    assert_eq!(modules.len(), 3, "{again}");
    for line in modules {
        assert!(
            line.contains("; found compiled in the cache, loaded in "),
            "{again}"
        );
    }
}

#[test]
fn a_bad_config_fails_naming_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "text.wasm", "not wasm at all");
    let config = write(
        dir.path(),
        "bad.yml",
        &format!(
            "modules:\n\
             \x20 - name: ungranted\n    plugin: {sysinfo}\n    grants: {only_meminfo}\n\
             \x20 - name: good\n    component: {ok}\n\
             \x20 - name: missing\n    component: does-not-exist.wasm\n\
             \x20 - name: overgranted\n    plugin: {netdev}\n    grants: {{files: [/proc/net/dev, /proc/stat]}}\n\
             \x20 - name: garbage\n    component: text.wasm\n\
             \x20 - name: badparam\n    plugin: {sysinfo}\n    grants: {both}\n    params: {{nope: 1}}\n",
            sysinfo = q(&plugin("sysinfo")),
            netdev = q(&plugin("netdev")),
            ok = q(&guest("ok")),
            only_meminfo = proc_files(&fixture("proc"), &["meminfo"]),
            both = proc_files(&fixture("proc"), &["meminfo", "partitions"]),
        ),
    );
    let (code, out, err) = run(&["config", "check", &config]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let line = |module: &str| -> &str {
        out.lines()
            .find(|l| l.starts_with(&format!("module {module}: ")))
            .unwrap_or_else(|| panic!("no line for {module}:\n{out}"))
    };
    for (module, expected) in [
        (
            "ungranted",
            "FAILED: plugin sysinfo needs read access to the file /proc/partitions",
        ),
        ("good", "ok (component "),
        ("missing", "FAILED: reading component "),
        (
            "overgranted",
            "FAILED: the config grants the file /proc/stat but plugin netdev does not ask for it",
        ),
        ("garbage", "FAILED: compiling "),
        ("badparam", "FAILED: plugin sysinfo: "),
    ] {
        assert!(
            line(module).contains(expected),
            "{module}: expected {expected:?} in {:?}",
            line(module)
        );
    }
    assert!(line("missing").contains("does-not-exist.wasm"), "{out}");
    assert!(line("badparam").contains("nope"), "{out}");
    assert_eq!(out.lines().last(), Some("result: FAILED (5 problems)"));

    // Two plugins both declaring the same metric names: each loads alone,
    // together they are refused.
    let copy = dir.path().join("sysinfo2");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(plugin("sysinfo")).unwrap() {
        let entry = entry.unwrap();
        let text = entry.path();
        let target = copy.join(entry.file_name());
        if entry.file_name() == "plugin.yaml" {
            let manifest = std::fs::read_to_string(&text)
                .unwrap()
                .replace("name: sysinfo", "name: sysinfo2");
            std::fs::write(target, manifest).unwrap();
        } else {
            std::fs::copy(text, target).unwrap();
        }
    }
    let clash = write(
        dir.path(),
        "clash.yml",
        &format!(
            "modules:\n  - name: a\n    plugin: {}\n    grants: {g}\n  - name: b\n    plugin: {}\n    grants: {g}\n",
            q(&plugin("sysinfo")),
            q(&copy),
            g = proc_files(&fixture("proc"), &["meminfo", "partitions"]),
        ),
    );
    let (code, out, _) = run(&["config", "check", &clash]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("plugins: FAILED: metric \"sys_mem_usage\" is declared by plugin"),
        "{out}"
    );
}

#[test]
fn unreadable_configs_and_web_configs_fail() {
    let dir = tempfile::tempdir().unwrap();
    let typo = write(
        dir.path(),
        "typo.yml",
        "modules:\n  - name: a\n    compnent: a.wasm\n",
    );
    let (code, out, _) = run(&["config", "check", &typo]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with(&format!("config {typo}: FAILED: config file {typo}: "))
            && out.contains("unknown field `compnent`"),
        "{out}"
    );
    assert!(out.ends_with("result: FAILED (1 problem)\n"), "{out}");

    let (code, out, _) = run(&["config", "check", "/nonexistent/config.yml"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("reading config file /nonexistent/config.yml"),
        "{out}"
    );

    let config = write(dir.path(), "good.yml", &good_config());
    let web = write(
        dir.path(),
        "web.yml",
        "basic_auth_users:\n  a: not-a-hash\n",
    );
    let (code, out, _) = run(&[
        "config",
        "check",
        &config,
        &format!("--web.config.file={web}"),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("web config {web}: FAILED: ")) && out.contains("not a bcrypt hash"),
        "{out}"
    );
    assert!(out.contains("module sysinfo: ok"), "{out}");

    let empty = write(dir.path(), "empty.yml", "modules: []\n");
    let (code, out, _) = run(&["config", "check", &empty]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("note: no modules"), "{out}");
}

/// The commands of a systemd unit's `KEY=` lines, continuation lines
/// joined, split into words.
fn unit_commands(unit: &str, key: &str) -> Vec<Vec<String>> {
    let joined = unit.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|c| c.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn the_systemd_unit_checks_before_starting_and_reloading() {
    let unit =
        std::fs::read_to_string(root().join("deploy/systemd/wasm_exporter.service")).unwrap();
    let pre = unit_commands(&unit, "ExecStartPre");
    let start = unit_commands(&unit, "ExecStart");
    let reload = unit_commands(&unit, "ExecReload");
    assert_eq!(pre.len(), 1, "{unit}");
    assert_eq!(reload.len(), 2, "the check, then SIGHUP: {unit}");
    assert_eq!(reload[0], pre[0], "the same check before a reload");
    assert_eq!(reload[1], ["/bin/kill", "-HUP", "$MAINPID"]);
    // The check looks at the file and the cache the exporter uses.
    let flag = |cmd: &[String], name: &str| {
        cmd.iter()
            .find_map(|a| a.strip_prefix(&format!("{name}=")).map(str::to_owned))
    };
    let config = flag(&start[0], "--config.file").unwrap();
    assert_eq!(pre[0][1..4], ["config".to_string(), "check".into(), config]);
    assert_eq!(flag(&pre[0], "--cache.dir"), flag(&start[0], "--cache.dir"));
    assert_eq!(pre[0][0], start[0][0]);

    // The check as the unit runs it, on a good and on a bad config.
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.yml", &good_config());
    let bad = write(
        dir.path(),
        "bad.yml",
        "modules:\n  - name: x\n    component: nope.wasm\n",
    );
    for (config, expected) in [(&good, 0), (&bad, 1)] {
        let args: Vec<String> = pre[0][1..]
            .iter()
            .map(|a| {
                if a.starts_with('/') && a.ends_with(".yml") {
                    config.clone()
                } else if a.starts_with("--cache.dir=") {
                    format!("--cache.dir={}", dir.path().join("cache").display())
                } else {
                    a.clone()
                }
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = run(&args);
        assert_eq!(code, expected, "{args:?}\n{out}{err}");
    }
}
