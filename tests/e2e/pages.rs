//! The web pages: the landing page and each module's debug page
//! (`/modules/NAME`), over HTTP and in a real headless Chromium (rendered
//! text, links, images, no console errors), with a guest whose output and
//! error message are hostile HTML.

use std::path::Path;

use crate::browser::Browser;
use crate::support::{Exporter, fixture, guest, plugin, proc_files, q, request, root};

/// Text a hostile guest prints and returns as its error: each piece would
/// run script or add elements if it reached the page unescaped.
const HOSTILE: &str = "<script>console.error('xss')</script><img src=x onerror=alert(1)> \
                       </pre><b>bold</b> & \"quoted\" 'single'";

/// A config with a plugin that works, a guest that prints hostile text and
/// fails, and a guest that reads outside its grants; the files come from
/// `proc` (a fixture, or the real /proc).
fn config(proc: &Path) -> String {
    format!(
        "modules:\n\
         \x20 - name: sysinfo\n    plugin: {}\n    grants: {}\n\
         \x20 - name: hostile\n    component: {adversary}\n    params:\n      mode: print\n      lines: 2\n      fail: 1\n      text: {hostile}\n      api_token: hunter2\n\
         \x20 - name: snoop\n    component: {adversary}\n    params: {{mode: read_file, path: /proc/partitions}}\n    grants: {}\n",
        q(&plugin("sysinfo")),
        proc_files(proc, &["meminfo", "partitions"]),
        proc_files(proc, &["meminfo"]),
        adversary = q(&guest("adversary")),
        hostile = serde_json::to_string(HOSTILE).unwrap(),
    )
}

/// Where the tests leave their screenshots (README's come from here).
fn screenshot(name: &str) -> std::path::PathBuf {
    root().join("target/screenshots").join(name)
}

/// A screenshot of the page as shown, but for the build line at its
/// foot: it changes with every build (revision, date), and the pictures
/// are for the README.
fn screenshot_without_build_line(browser: &mut Browser, name: &str) {
    browser.evaluate("document.querySelector('body > p:last-child small')?.parentElement.remove()");
    browser.screenshot(&screenshot(name));
}

#[test]
fn module_page_shows_everything_escaped() {
    let exporter = Exporter::start(&config(&fixture("proc")));
    let before = exporter.get("/modules/hostile");
    assert_eq!(before.status, 200);
    assert!(before.body.contains("not scraped yet"), "{}", before.body);
    exporter.scrape();

    let page = exporter.get("/modules/hostile");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.headers.get("content-type").map(String::as_str),
        Some("text/html; charset=utf-8")
    );
    let html = &page.body;
    // The guest's words arrive as text, never as markup.
    let escaped = "&lt;script&gt;console.error(&#39;xss&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; &#39;single&#39;";
    assert!(html.contains(escaped), "{html}");
    for raw in ["<script", "<img", "onerror=alert(1)>", "<b>bold"] {
        assert!(
            !html.contains(raw),
            "{raw} reached the page unescaped:\n{html}"
        );
    }
    // Printed on both streams, twice each, and the error message.
    assert_eq!(html.matches(escaped).count(), 2 * 2 + 3, "{html}");
    for needle in [
        "<h1>Module hostile</h1>",
        "<b class=\"down\">down</b>",
        "<code>guest_error</code>",
        "<pre class=\"stdout\">",
        "<pre class=\"stderr\">",
        "A bare component: no manifest",
        "Nothing: the module sees no host file, no environment variable and no network.",
        "<tr><td><code>mode</code></td><td><code>print</code></td></tr>",
        "<tr><td><code>api_token</code></td><td><i>hidden (secret)</i></td></tr>",
        "<th><code>timeout</code></th><td>2s</td>",
        "<th><code>memory</code></th><td>64.0 MiB</td>",
        "failed scrapes</th><td>guest_error 1</td>",
    ] {
        assert!(html.contains(needle), "no {needle:?} in:\n{html}");
    }
    assert!(!html.contains("hunter2"), "a secret parameter is shown");

    // A plugin that works: its declarations beside what it emitted, its
    // grants, its manifest and what it cost.
    let sysinfo = exporter.get("/modules/sysinfo").body;
    for needle in [
        "<b class=\"up\">up</b>",
        "<tr><th>series served</th><td>5</td></tr>",
        "<tr><td><code>sys_mem_usage</code></td><td>gauge</td><td>1 series</td></tr>",
        "<tr><td><code>sys_disk_size</code></td><td>gauge {disk_name}</td><td>4 series</td></tr>",
        "<ul class=\"grants\"><li><code>/proc/meminfo (host ",
        "<td>sysinfo 1.0.0</td>",
        "<li>file <code>/proc/meminfo</code>: MemTotal and MemAvailable, for memory usage</li>",
        "<td><code>proc_dir</code></td><td><code>/proc</code></td><td>string: ",
        "None since the module was loaded.",
        "open files peak</th><td>1 of 64",
    ] {
        assert!(sysinfo.contains(needle), "no {needle:?} in:\n{sysinfo}");
    }
    // How it runs: its grants are on a local filesystem, so its calls run
    // inline; every exporter of the tests shares one compile cache.
    assert!(
        sysinfo.contains("<tr><th>interface</th><td>wasm-exporter:scraper/scraper@0.1.0</td>")
            && sysinfo.contains("<tr><th>calls</th><td>inline with the scrape: ")
            && (sysinfo.contains("<tr><th>component</th><td>found compiled in the cache</td>")
                || sysinfo.contains("<tr><th>component</th><td>compiled into the cache</td>")),
        "{sysinfo}"
    );

    // What the sandbox refused, with the path the guest asked for.
    let snoop = exporter.get("/modules/snoop").body;
    assert!(
        snoop.contains("Refused in the last call (1):")
            && snoop.contains("<li><code>file</code> /proc/partitions: "),
        "{snoop}"
    );
    assert!(
        snoop.contains("accesses refused</th><td>file 1</td>"),
        "{snoop}"
    );

    let missing = exporter.get("/modules/nope");
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("no module \"nope\""),
        "{}",
        missing.body
    );
    let head = request(
        "HEAD",
        &format!("http://{}/modules/sysinfo", exporter.addr),
        &[],
    );
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let post = request(
        "POST",
        &format!("http://{}/modules/sysinfo", exporter.addr),
        &[],
    );
    assert_eq!(post.status, 405);
}

#[test]
fn module_page_keeps_the_last_failure_after_recovery() {
    // The plugin's files come from a directory of ours: take one away for
    // a scrape, then put it back.
    let proc = tempfile::tempdir().unwrap();
    for file in ["meminfo", "partitions"] {
        std::fs::copy(fixture("proc").join(file), proc.path().join(file)).unwrap();
    }
    let exporter = Exporter::start(&format!(
        "modules:\n  - name: sysinfo\n    plugin: {}\n    grants: {}\n",
        q(&plugin("sysinfo")),
        proc_files(proc.path(), &["meminfo", "partitions"])
    ));
    let meminfo = proc.path().join("meminfo");
    let saved = std::fs::read(&meminfo).unwrap();
    std::fs::remove_file(&meminfo).unwrap();
    let failed = exporter.scrape();
    assert_eq!(
        failed.value("wasm_exporter_module_up{module=\"sysinfo\"}"),
        Some(0.0)
    );
    let page = exporter.get("/modules/sysinfo").body;
    assert!(page.contains("<b class=\"down\">down</b>"), "{page}");
    std::fs::write(&meminfo, saved).unwrap();
    exporter.scrape();
    let page = exporter.get("/modules/sysinfo").body;
    let failure = page
        .split("<h2>Last failing call</h2>")
        .nth(1)
        .and_then(|rest| rest.split("<h2>").next())
        .unwrap();
    assert!(page.contains("<b class=\"up\">up</b>"), "{page}");
    assert!(
        failure.contains("<code>guest_error</code>") && failure.contains("meminfo"),
        "the failure is kept after the module recovered: {failure}"
    );
}

#[test]
fn pages_in_a_real_browser() {
    // The real /proc: these pages are the README's screenshots.
    let exporter = Exporter::start(&config(Path::new("/proc")));
    exporter.scrape();
    // Two scrapes, so the counters on the pages are not all ones.
    exporter.scrape();
    let base = format!("http://{}", exporter.addr);
    let mut browser = Browser::start();

    let landing = browser.open(&format!("{base}/"));
    assert!(
        landing.problems.is_empty(),
        "console: {:?}",
        landing.problems
    );
    for needle in [
        "WASM Exporter",
        "sysinfo plugin sysinfo 1.0.0",
        "Memory usage and block device sizes",
        "hostile bare component: no declared metrics",
        "grants: /proc/meminfo; /proc/partitions",
        "grants: nothing",
        "last scrape: up",
        "last scrape: down",
        "<script>console.error('xss')</script>",
    ] {
        assert!(
            landing.text.contains(needle),
            "no {needle:?} in:\n{}",
            landing.text
        );
    }
    let hrefs: Vec<&str> = landing.links.iter().map(|(_, h)| h.as_str()).collect();
    for path in [
        "/metrics",
        "/modules/sysinfo",
        "/modules/hostile",
        "/modules/snoop",
        "/plugins/sysinfo/README.md",
    ] {
        assert!(
            hrefs.contains(&format!("{base}{path}").as_str()),
            "no link to {path}: {hrefs:?}"
        );
    }
    // Every link leads somewhere, every image shows.
    for (text, href) in &landing.links {
        assert_eq!(
            request("GET", href, &[]).status,
            200,
            "link {text:?} {href}"
        );
    }
    assert_eq!(landing.images.len(), 1, "{:?}", landing.images);
    assert!(
        landing.images.iter().all(|(_, ok)| *ok),
        "{:?}",
        landing.images
    );
    screenshot_without_build_line(&mut browser, "landing.png");

    // From the landing page to a module's page, as a user would.
    let hostile = browser.click("a[href=\"/modules/hostile\"]");
    assert!(
        hostile.problems.is_empty(),
        "console: {:?}",
        hostile.problems
    );
    assert!(hostile.text.contains("Module hostile"), "{}", hostile.text);
    // Hostile text is shown as text, in the error and in both streams.
    assert_eq!(
        hostile.text.matches(HOSTILE).count(),
        2 * 2 + 3,
        "{}",
        hostile.text
    );
    assert!(
        hostile.images.is_empty(),
        "an <img> was injected: {:?}",
        hostile.images
    );
    assert_eq!(
        browser.evaluate(
            "document.scripts.length + document.querySelectorAll('pre b, td b:not([class])').length"
        ),
        serde_json::json!(0),
        "markup was injected"
    );
    for needle in [
        "guest_error",
        "hidden (secret)",
        "What the guest wrote to stdout:",
    ] {
        assert!(
            hostile.text.contains(needle),
            "no {needle:?} in:\n{}",
            hostile.text
        );
    }
    assert!(!hostile.html.contains("hunter2"));

    let sysinfo = browser.open(&format!("{base}/modules/sysinfo"));
    assert!(
        sysinfo.problems.is_empty(),
        "console: {:?}",
        sysinfo.problems
    );
    for needle in [
        "Module sysinfo",
        "Last scrape",
        "outcome\tup",
        "sys_mem_usage\tgauge\t1 series",
        "sys_disk_size\tgauge {disk_name}\t",
        "Grants",
        "Limits",
        "How it runs",
        "Manifest",
    ] {
        assert!(
            sysinfo.text.contains(needle),
            "no {needle:?} in:\n{}",
            sysinfo.text
        );
    }
    for (text, href) in &sysinfo.links {
        assert_eq!(
            request("GET", href, &[]).status,
            200,
            "link {text:?} {href}"
        );
    }
    screenshot_without_build_line(&mut browser, "module-page.png");
    browser.open(&format!("{base}/modules/hostile"));
    screenshot_without_build_line(&mut browser, "module-page-failing.png");
    for name in ["landing.png", "module-page.png", "module-page-failing.png"] {
        let png = std::fs::read(screenshot(name)).unwrap();
        assert!(png.len() > 10_000, "{name} is {} bytes", png.len());
    }
}
