//! Plugin archives: a `.tar.gz` of the plugin's files, read without
//! extracting anything to disk (so a hostile archive cannot write outside a
//! directory), and written reproducibly (sorted entries, fixed times and
//! owners) so the same plugin always packs to the same bytes.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

use super::{
    Files, LOGO_FILE, MANIFEST_FILE, MAX_COMPONENT_BYTES, MAX_SIDE_FILE_BYTES, README_FILE,
    component_name,
};

/// Largest archive file read.
pub const MAX_ARCHIVE_BYTES: u64 = MAX_COMPONENT_BYTES + 4 * MAX_SIDE_FILE_BYTES;

/// Reads an archive file whole (it is checked against its signature and
/// parsed from the same bytes, so it cannot change in between).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("opening plugin {}", path.display()))?;
    let mut data = Vec::new();
    file.take(MAX_ARCHIVE_BYTES + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("reading plugin {}", path.display()))?;
    ensure!(
        data.len() as u64 <= MAX_ARCHIVE_BYTES,
        "{} is larger than the {MAX_ARCHIVE_BYTES} bytes a plugin archive may have",
        path.display()
    );
    Ok(data)
}

/// Reads the plugin files from an archive's bytes; `path` names it in
/// messages. Entries may sit at the root or under one top-level directory;
/// links, devices and unknown files are refused.
pub(crate) fn read(path: &Path, data: &[u8]) -> Result<Files> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in archive
        .entries()
        .with_context(|| format!("{} is not a .tar.gz archive", path.display()))?
    {
        let entry = entry.with_context(|| format!("reading {}", path.display()))?;
        let kind = entry.header().entry_type();
        let name = entry
            .path()
            .with_context(|| format!("an entry name in {}", path.display()))?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if kind.is_dir() || name.is_empty() {
            continue;
        }
        ensure!(
            kind.is_file(),
            "{}: entry {name:?} is not a regular file (links and devices are not allowed)",
            path.display()
        );
        ensure!(
            !name.starts_with('/') && !name.split('/').any(|p| p == ".."),
            "{}: entry {name:?} escapes the archive",
            path.display()
        );
        let max = if name.ends_with(".wasm") {
            MAX_COMPONENT_BYTES
        } else {
            MAX_SIDE_FILE_BYTES
        };
        let mut data = Vec::new();
        entry
            .take(max + 1)
            .read_to_end(&mut data)
            .with_context(|| format!("reading {name} from {}", path.display()))?;
        ensure!(
            data.len() as u64 <= max,
            "{}: {name} is larger than the {max} bytes allowed",
            path.display()
        );
        entries.push((name, data));
    }

    // Strip one common top-level directory, if every entry has it.
    let prefix = entries
        .first()
        .and_then(|(n, _)| n.split_once('/').map(|(p, _)| format!("{p}/")));
    if let Some(prefix) = prefix
        && entries.iter().all(|(n, _)| n.starts_with(&prefix))
    {
        for (n, _) in &mut entries {
            *n = n[prefix.len()..].to_string();
        }
    }
    let mut take = |wanted: &str| -> Result<Option<Vec<u8>>> {
        let matches: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| n == wanted)
            .map(|(i, _)| i)
            .collect();
        ensure!(
            matches.len() <= 1,
            "{}: {wanted} appears twice",
            path.display()
        );
        Ok(matches.first().map(|&i| entries.remove(i).1))
    };
    let manifest = take(MANIFEST_FILE)?
        .with_context(|| format!("{} has no {MANIFEST_FILE}", path.display()))?;
    let manifest = String::from_utf8(manifest)
        .with_context(|| format!("{MANIFEST_FILE} in {} is not UTF-8", path.display()))?;
    let component = match component_name(&manifest) {
        Some(name) => take(&name)?,
        None => None,
    };
    let logo = take(LOGO_FILE)?;
    let readme = take(README_FILE)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    if let Some((extra, _)) = entries.first() {
        bail!(
            "{}: unexpected file {extra:?} (a plugin archive holds {MANIFEST_FILE}, the component, {LOGO_FILE} and {README_FILE})",
            path.display()
        );
    }
    Ok(Files {
        manifest,
        component,
        logo,
        readme,
    })
}

/// Writes `files` (name, bytes) into a reproducible `.tar.gz` at `out`.
pub fn write(out: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    let mut sorted: Vec<&(&str, &[u8])> = files.iter().collect();
    sorted.sort_by_key(|(n, _)| *n);
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (name, data) in sorted {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, *data)
            .with_context(|| format!("adding {name} to {}", out.display()))?;
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
