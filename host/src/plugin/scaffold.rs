//! `wasm_exporter plugin new`: a plugin from a template that builds with
//! registry packages only and passes `plugin check` as it is.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cli::Lang;

/// Creates `dir/name` from the template of `lang`.
pub fn create(name: &str, lang: Lang, dir: &Path) -> Result<PathBuf> {
    let _ = (name, lang, dir);
    bail!("plugin templates are not available yet")
}
