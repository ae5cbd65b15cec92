//! File grants: which host files a module may open, read-only.
//!
//! Three kinds of grant, all read-only:
//!
//! - a **file** (`/proc/meminfo`) or a **glob** (`/sys/class/net/*/statistics/*`:
//!   `*`, `?` and `[...]` within one path component): exactly the matching
//!   files, and the directories on the way to them, whose listings show only
//!   what leads to a match;
//! - a **directory** (`{host: /var/lib/textfile, guest: /textfile}`):
//!   everything under it, except what [`super::kernelfs`] never shows under
//!   a directory grant.
//!
//! The guest sees each grant at its guest path (the same path by default).
//! A file or glob grant makes its first path component (`/proc`, `/sys`) a
//! preopened directory of the guest, in which only what is granted exists.
//!
//! [`FilePolicy::judge`] decides on every open, after the kernel resolved
//! `..` and symlinks: the resolved path must be granted. Kernel-made
//! symlinks in procfs and sysfs (`/sys/class/net/eth0` links into
//! `/sys/devices/...`) are also followed as named: a path without `..`
//! whose every symlink lies in procfs or sysfs is judged by the name the
//! guest used as well. Either way the protections of procfs and sysfs are
//! applied to where the path really leads.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use super::kernelfs::{self, FsKind, KernelFs};
use super::mounts;

/// A directory the guest gets as a WASI preopen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// Absolute path inside the guest.
    pub guest: String,
    /// The directory on the host, canonical.
    pub host: PathBuf,
}

/// One grant as the host enforces it.
#[derive(Debug, Clone)]
struct Rule {
    /// The canonical host directory the grant is anchored at.
    root: PathBuf,
    /// `None`: everything under `root` (a directory grant). Otherwise the
    /// components of the granted path below `root`, each a glob.
    pattern: Option<Vec<glob::Pattern>>,
    /// The grant as the operator wrote it, for messages.
    shown: String,
}

/// What was opened (or listed), as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link itself (looked at without following it).
    Symlink,
    /// A device, FIFO or socket: never opened.
    Special(&'static str),
}

/// The facts about one path that the policy judges.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Where the path really leads on the host: `..` and every symlink
    /// resolved by the kernel.
    pub canonical: &'a Path,
    /// The host path as the guest named it (from the directory it opened
    /// through), when that name has no `..` in it.
    pub lexical: Option<&'a Path>,
    /// What it is.
    pub kind: Kind,
    /// Which filesystem it is on.
    pub fs: FsKind,
}

/// The policy's answer for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Granted.
    Allow,
    /// A directory on the way to granted files: it may be opened, and its
    /// listing shows only entries that are granted or on the way.
    Pass,
    /// Refused, with the reason for the operator.
    Deny(String),
}

/// The file grants of one module.
#[derive(Debug, Clone)]
pub struct FilePolicy {
    preopens: Vec<Preopen>,
    rules: Vec<Rule>,
    kernel: KernelFs,
    /// Whether a granted path may lie on a filesystem that can hang.
    may_hang: bool,
    /// Whether every granted directory is on procfs or sysfs.
    kernel_made: bool,
}

/// A directory grant: `host` shown to the guest at `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrantSpec<'a> {
    /// The directory on the host.
    pub host: &'a Path,
    /// Where the guest sees it.
    pub guest: &'a str,
}

/// A file or glob grant: `path` (guest path, may hold globs) is found on
/// the host at `host` (the same path with another beginning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrantSpec<'a> {
    /// The guest path.
    pub path: &'a str,
    /// The host path.
    pub host: &'a Path,
}

impl FilePolicy {
    /// No files at all.
    pub fn none() -> FilePolicy {
        FilePolicy {
            preopens: Vec::new(),
            rules: Vec::new(),
            kernel: KernelFs::discover(),
            may_hang: false,
            kernel_made: true,
        }
    }

    /// Builds the policy from the operator's grants. Host paths must exist
    /// (a directory grant's directory, a file grant's first directory);
    /// every error names the grant.
    pub fn new(dirs: &[DirGrantSpec<'_>], files: &[FileGrantSpec<'_>]) -> Result<FilePolicy> {
        let mount_table = mounts::read();
        let kernel = KernelFs::from_mounts(&mount_table);
        let mut preopens: Vec<Preopen> = Vec::new();
        let mut rules = Vec::new();
        for d in dirs {
            check_guest_path(d.guest, false)
                .with_context(|| format!("dirs: guest path {:?}", d.guest))?;
            let host = canonical_dir(d.host).with_context(|| format!("dirs: {}", d.guest))?;
            ensure!(
                !preopens.iter().any(|p| p.guest == d.guest),
                "dirs: guest path {:?} is granted twice",
                d.guest
            );
            preopens.push(Preopen {
                guest: d.guest.to_string(),
                host: host.clone(),
            });
            rules.push(Rule {
                root: host,
                pattern: None,
                shown: format!("{} (directory {})", d.guest, d.host.display()),
            });
        }
        let dir_guests = preopens.len();
        for f in files {
            let (guest_root, host_root, rest) =
                split_file_grant(f).with_context(|| format!("files: {}", f.path))?;
            let host_root =
                canonical_dir(&host_root).with_context(|| format!("files: {}", f.path))?;
            if let Some(existing) = preopens.iter().position(|p| p.guest == guest_root) {
                let p = &preopens[existing];
                if existing < dir_guests {
                    bail!(
                        "files: {} is inside the directory grant {}, which grants all of it already; remove one of the two",
                        f.path,
                        p.guest
                    );
                }
                ensure!(
                    p.host == host_root,
                    "files: {} puts {} at {}, but another file grant puts {} there",
                    f.path,
                    host_root.display(),
                    guest_root,
                    p.host.display()
                );
            } else {
                preopens.push(Preopen {
                    guest: guest_root.clone(),
                    host: host_root.clone(),
                });
            }
            let pattern = rest
                .iter()
                .map(|c| glob::Pattern::new(c).with_context(|| format!("files: {}: {c:?}", f.path)))
                .collect::<Result<Vec<_>>>()?;
            rules.push(Rule {
                root: host_root,
                pattern: Some(pattern),
                shown: if f.host == Path::new(f.path) {
                    f.path.to_string()
                } else {
                    format!("{} (host {})", f.path, f.host.display())
                },
            });
        }
        let may_hang = preopens
            .iter()
            .any(|p| mounts::tree_may_hang(&mount_table, &p.host));
        let kernel_made = preopens.iter().all(|p| {
            rustix::fs::statfs(&p.host)
                .is_ok_and(|s| FsKind::from_magic(s.f_type as u64).is_kernel_made())
        });
        Ok(FilePolicy {
            preopens,
            rules,
            kernel,
            may_hang,
            kernel_made,
        })
    }

    /// Whether every granted directory is on procfs or sysfs, whose
    /// directories are never replaced: a sandbox whose preopens were
    /// opened ahead of its call reaches the same files as one opened at
    /// the call. A granted directory elsewhere (a textfile directory) may
    /// be renamed and replaced in between.
    pub fn kernel_made(&self) -> bool {
        self.kernel_made
    }

    /// Whether a granted path may lie on a filesystem whose reads can hang
    /// (network, FUSE): then the module's calls need threads of their own.
    pub fn may_hang(&self) -> bool {
        self.may_hang
    }

    /// The directories the guest gets preopened.
    pub fn preopens(&self) -> &[Preopen] {
        &self.preopens
    }

    /// Whether nothing at all is granted.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The grants, one per item, as the operator wrote them.
    pub fn shown(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.shown.as_str())
    }

    /// Which filesystems the exporter itself is on, and where procfs is.
    pub fn kernel(&self) -> &KernelFs {
        &self.kernel
    }

    /// Decides on `target`. `links_kernel_made` is asked only when the path
    /// is granted by its name but not where it leads: it must tell whether
    /// every symlink on the way lies in procfs or sysfs.
    pub fn judge(&self, target: &Target<'_>, links_kernel_made: impl FnOnce() -> bool) -> Verdict {
        if let Kind::Special(what) = target.kind {
            return Verdict::Deny(format!("{what}s are never opened by guests"));
        }
        let canonical = self.kernel.alias(target.canonical, target.fs);
        let protection = self.kernel.protection(&canonical, target.fs);
        if let Some(p) = &protection
            && p.always()
        {
            return Verdict::Deny(p.reason());
        }
        let by_name = || {
            let lexical = target.lexical.filter(|l| *l != canonical.as_ref())?;
            let m = self.lookup(lexical);
            (m.verdict.is_some() && links_kernel_made()).then_some(m)
        };
        let found = Some(self.lookup(&canonical))
            .filter(|m| m.verdict.is_some())
            .or_else(by_name);
        let Some(m) = found else {
            return Verdict::Deny("not granted".into());
        };
        if let Some(p) = protection
            && !m.explicit
        {
            return Verdict::Deny(p.reason());
        }
        match (m.verdict, target.kind) {
            (Some(Verdict::Pass), Kind::File) => Verdict::Deny("not granted".into()),
            (Some(v), _) => v,
            (None, _) => Verdict::Deny("not granted".into()),
        }
    }

    /// Load-time warnings: grants that reach other processes' entries or
    /// known-dangerous files by naming them.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for rule in &self.rules {
            let Some(pattern) = &rule.pattern else {
                continue;
            };
            if !self.kernel.is_proc_path(&rule.root.join("x")) {
                continue;
            }
            let Some(first) = pattern.first() else {
                continue;
            };
            let reaches_processes = ["1", "self"].iter().any(|p| first.matches(p));
            let dangerous: Vec<&str> = kernelfs::DANGEROUS_PROC
                .iter()
                .copied()
                .filter(|name| pattern.len() == 1 && first.matches(name))
                .collect();
            if reaches_processes {
                let entries: Vec<&str> = kernelfs::DANGEROUS_PROCESS_ENTRIES
                    .iter()
                    .copied()
                    .filter(|e| pattern.get(1).is_none_or(|p| p.matches(e)))
                    .collect();
                out.push(format!(
                    "the grant {} reaches other processes' entries in procfs{}; the exporter's own process stays hidden",
                    rule.shown,
                    if entries.is_empty() {
                        String::new()
                    } else {
                        format!(" (including {})", entries.join(", "))
                    }
                ));
            }
            if !dangerous.is_empty() {
                out.push(format!(
                    "the grant {} reaches {} in procfs",
                    rule.shown,
                    dangerous.join(", ")
                ));
            }
        }
        out
    }

    /// Refuses, at load, grants that could only ever reach the exporter's
    /// own process.
    pub fn check_not_own_process(&self) -> Result<()> {
        for rule in &self.rules {
            let Some(pattern) = &rule.pattern else {
                continue;
            };
            if !self.kernel.is_proc_path(&rule.root.join("x")) {
                continue;
            }
            let Some(first) = pattern.first() else {
                continue;
            };
            let literal = first.as_str();
            let own = self.kernel.own_pid().to_string();
            ensure!(
                !(literal == "self" || literal == "thread-self" || literal == own),
                "files: {} names the exporter's own process, which no guest may see",
                rule.shown
            );
        }
        Ok(())
    }

    /// What matches `path` among the rules: the strongest verdict and
    /// whether a file or glob grant (rather than a directory grant) gave it.
    fn lookup(&self, path: &Path) -> Match {
        let mut best = Match {
            verdict: None,
            explicit: false,
        };
        for rule in &self.rules {
            let Ok(rel) = path.strip_prefix(&rule.root) else {
                continue;
            };
            let verdict = match &rule.pattern {
                None => Verdict::Allow,
                Some(pattern) => match match_components(pattern, rel) {
                    Some(v) => v,
                    None => continue,
                },
            };
            let explicit = rule.pattern.is_some();
            let better = match (&best.verdict, &verdict) {
                (None, _) => true,
                (Some(Verdict::Pass), Verdict::Allow) => true,
                (Some(a), b) if a == b => explicit && !best.explicit,
                _ => false,
            };
            if better {
                best = Match {
                    verdict: Some(verdict),
                    explicit,
                };
            }
        }
        best
    }
}

/// The outcome of matching one path against the rules.
struct Match {
    verdict: Option<Verdict>,
    explicit: bool,
}

/// Whether the components of `rel` match `pattern`: `Allow` when all of
/// them do, `Pass` when `rel` is a proper beginning of a match.
fn match_components(pattern: &[glob::Pattern], rel: &Path) -> Option<Verdict> {
    let parts: Vec<&str> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    if parts.len() > pattern.len() {
        return None;
    }
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    if parts
        .iter()
        .zip(pattern)
        .all(|(part, p)| p.matches_with(part, options))
    {
        Some(if parts.len() == pattern.len() {
            Verdict::Allow
        } else {
            Verdict::Pass
        })
    } else {
        None
    }
}

/// Whether a manifest's request `requested` (a file or glob) covers the
/// operator's grant `granted`: component by component, the same glob, a
/// literal the glob matches, or anything under `*`.
pub fn pattern_covers(requested: &str, granted: &str) -> bool {
    let r: Vec<&str> = requested.split('/').collect();
    let g: Vec<&str> = granted.split('/').collect();
    r.len() == g.len()
        && r.iter().zip(&g).all(|(r, g)| {
            r == g
                || *r == "*"
                || (!has_glob(g) && glob::Pattern::new(r).is_ok_and(|p| p.matches(g)))
        })
}

/// Whether a path component holds glob characters.
pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Checks a guest path: absolute, no `.` or `..`, no empty components,
/// globs only where allowed (never in the first component).
pub fn check_guest_path(path: &str, globs: bool) -> Result<()> {
    ensure!(path.starts_with('/'), "must be absolute");
    ensure!(path.len() > 1, "must not be / itself");
    let parts: Vec<&str> = path[1..].split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        ensure!(
            !part.is_empty(),
            "has an empty component (// or a trailing /)"
        );
        ensure!(
            *part != "." && *part != "..",
            "must not contain '.' or '..'"
        );
        ensure!(!part.contains('\0'), "must not contain NUL");
        if has_glob(part) {
            ensure!(globs, "must not contain glob characters (*, ?, [)");
            ensure!(
                i > 0,
                "its first component must be a plain name (it becomes a directory of the guest)"
            );
            ensure!(
                !part.contains("**"),
                "'**' is not supported: a glob matches within one path component"
            );
            glob::Pattern::new(part).map_err(|e| anyhow::anyhow!("bad glob {part:?}: {e}"))?;
        }
    }
    Ok(())
}

/// Splits a file grant into the guest directory it makes (its first
/// component), the host directory behind it, and the components below.
fn split_file_grant(f: &FileGrantSpec<'_>) -> Result<(String, PathBuf, Vec<String>)> {
    check_guest_path(f.path, true)?;
    let parts: Vec<&str> = f.path[1..].split('/').collect();
    ensure!(
        parts.len() >= 2,
        "a file grant names a file inside a directory (/DIR/FILE); grant a whole directory with `dirs`"
    );
    let rest: Vec<String> = parts[1..].iter().map(|s| s.to_string()).collect();
    let host_parts: Vec<&str> = f
        .host
        .to_str()
        .context("the host path is not UTF-8")?
        .split('/')
        .collect();
    ensure!(
        f.host.is_absolute()
            && host_parts.len() > rest.len()
            && host_parts[host_parts.len() - rest.len()..] == parts[1..],
        "the host path {} must end with the same components as the guest path after its first ({}), so that the guest's /{} can be the host's directory before them",
        f.host.display(),
        rest.join("/"),
        parts[0]
    );
    let host_root: PathBuf = host_parts[..host_parts.len() - rest.len()].join("/").into();
    let host_root = if host_root.as_os_str().is_empty() {
        PathBuf::from("/")
    } else {
        host_root
    };
    Ok((format!("/{}", parts[0]), host_root, rest))
}

/// The canonical form of a host directory, which must exist.
fn canonical_dir(path: &Path) -> Result<PathBuf> {
    let canonical = std::fs::canonicalize(path)
        .with_context(|| format!("host directory {}", path.display()))?;
    ensure!(
        canonical.is_dir(),
        "host path {} is not a directory",
        path.display()
    );
    Ok(canonical)
}

impl fmt::Display for FilePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<&str> = self.shown().collect();
        f.write_str(&shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(dirs: &[(&str, &str)], files: &[(&str, &str)]) -> FilePolicy {
        let dirs: Vec<DirGrantSpec<'_>> = dirs
            .iter()
            .map(|(h, g)| DirGrantSpec {
                host: Path::new(h),
                guest: g,
            })
            .collect();
        let files: Vec<FileGrantSpec<'_>> = files
            .iter()
            .map(|(p, h)| FileGrantSpec {
                path: p,
                host: Path::new(h),
            })
            .collect();
        FilePolicy::new(&dirs, &files).unwrap()
    }

    fn judge(
        p: &FilePolicy,
        canonical: &str,
        lexical: Option<&str>,
        kind: Kind,
        fs: FsKind,
        links: bool,
    ) -> Verdict {
        p.judge(
            &Target {
                canonical: Path::new(canonical),
                lexical: lexical.map(Path::new),
                kind,
                fs,
            },
            || links,
        )
    }

    #[test]
    fn file_grants_allow_exactly_the_files_and_the_way_to_them() {
        let p = policy(
            &[],
            &[
                ("/proc/meminfo", "/proc/meminfo"),
                ("/proc/net/dev", "/proc/net/dev"),
            ],
        );
        assert_eq!(
            p.preopens(),
            &[Preopen {
                guest: "/proc".into(),
                host: "/proc".into()
            }]
        );
        let f = |c, k| judge(&p, c, Some(c), k, FsKind::Proc, true);
        assert_eq!(f("/proc/meminfo", Kind::File), Verdict::Allow);
        assert_eq!(f("/proc", Kind::Dir), Verdict::Pass);
        assert_eq!(f("/proc/net", Kind::Dir), Verdict::Pass);
        assert_eq!(f("/proc/net/dev", Kind::File), Verdict::Allow);
        assert!(matches!(f("/proc/stat", Kind::File), Verdict::Deny(_)));
        assert!(matches!(f("/proc/net/tcp", Kind::File), Verdict::Deny(_)));
        // /proc/net links to the exporter's own pid: allowed as the alias.
        let own = format!("/proc/{}/net/dev", std::process::id());
        assert_eq!(
            judge(
                &p,
                &own,
                Some("/proc/net/dev"),
                Kind::File,
                FsKind::Proc,
                true
            ),
            Verdict::Allow
        );
        // But /proc/self/environ is the exporter itself, named or not.
        let environ = format!("/proc/{}/environ", std::process::id());
        assert!(matches!(
            judge(&p, &environ, Some("/proc/self/environ"), Kind::File, FsKind::Proc, true),
            Verdict::Deny(r) if r.contains("own process")
        ));
    }

    #[test]
    fn directory_grants_hide_processes_and_dangerous_files() {
        let p = policy(&[("/proc", "/proc")], &[]);
        let f = |c: &str, k| judge(&p, c, Some(c), k, FsKind::Proc, true);
        assert_eq!(f("/proc/meminfo", Kind::File), Verdict::Allow);
        assert!(matches!(f("/proc/1/environ", Kind::File), Verdict::Deny(_)));
        assert!(matches!(f("/proc/1", Kind::Dir), Verdict::Deny(_)));
        assert!(matches!(f("/proc/kcore", Kind::File), Verdict::Deny(_)));
        assert!(matches!(f("/proc/self", Kind::Symlink), Verdict::Deny(_)));
        assert!(matches!(
            f("/proc/x", Kind::Special("FIFO")),
            Verdict::Deny(_)
        ));
    }

    #[test]
    fn explicit_globs_reach_other_processes_but_never_the_exporter() {
        let p = policy(&[], &[("/proc/*/stat", "/proc/*/stat")]);
        let f = |c: &str, k| judge(&p, c, Some(c), k, FsKind::Proc, true);
        assert_eq!(f("/proc/1/stat", Kind::File), Verdict::Allow);
        assert_eq!(f("/proc/1", Kind::Dir), Verdict::Pass);
        assert!(matches!(f("/proc/1/environ", Kind::File), Verdict::Deny(_)));
        let own = format!("/proc/{}/stat", std::process::id());
        assert!(matches!(f(&own, Kind::File), Verdict::Deny(_)));
        assert!(!p.warnings().is_empty());
        let bad = FilePolicy::new(
            &[],
            &[FileGrantSpec {
                path: "/proc/self/environ",
                host: Path::new("/proc/self/environ"),
            }],
        )
        .unwrap();
        assert!(bad.check_not_own_process().is_err());
    }

    #[test]
    fn kernel_symlinks_are_followed_by_name_other_symlinks_are_not() {
        let p = policy(
            &[],
            &[(
                "/sys/class/net/*/statistics/*",
                "/sys/class/net/*/statistics/*",
            )],
        );
        let canonical = "/sys/devices/virtual/net/lo/statistics/rx_bytes";
        let lexical = Some("/sys/class/net/lo/statistics/rx_bytes");
        assert_eq!(
            judge(&p, canonical, lexical, Kind::File, FsKind::Sys, true),
            Verdict::Allow
        );
        assert!(matches!(
            judge(&p, canonical, lexical, Kind::File, FsKind::Sys, false),
            Verdict::Deny(_)
        ));
        // `..` in the name: judged by where it leads only.
        assert!(matches!(
            judge(&p, canonical, None, Kind::File, FsKind::Sys, true),
            Verdict::Deny(_)
        ));
    }

    #[test]
    fn grants_are_checked() {
        let err = |path: &str, host: &str| {
            format!(
                "{:#}",
                FilePolicy::new(
                    &[],
                    &[FileGrantSpec {
                        path,
                        host: Path::new(host)
                    }]
                )
                .unwrap_err()
            )
        };
        assert!(err("proc/meminfo", "/proc/meminfo").contains("absolute"));
        assert!(err("/proc/../etc/passwd", "/proc/../etc/passwd").contains(".."));
        assert!(err("/*/meminfo", "/*/meminfo").contains("first component"));
        assert!(err("/proc/**/stat", "/proc/**/stat").contains("'**'"));
        assert!(err("/proc", "/proc").contains("/DIR/FILE"));
        assert!(err("/proc/meminfo", "/host/proc/stat").contains("must end with"));
        assert!(err("/nonexistent-dir-x/a", "/nonexistent-dir-x/a").contains("/nonexistent-dir-x"));
        let both = FilePolicy::new(
            &[DirGrantSpec {
                host: Path::new("/proc"),
                guest: "/proc",
            }],
            &[FileGrantSpec {
                path: "/proc/meminfo",
                host: Path::new("/proc/meminfo"),
            }],
        );
        assert!(format!("{:#}", both.unwrap_err()).contains("inside the directory grant"));
    }

    #[test]
    fn requests_cover_grants() {
        assert!(pattern_covers("/proc/meminfo", "/proc/meminfo"));
        assert!(pattern_covers(
            "/sys/class/net/*/statistics/*",
            "/sys/class/net/eth0/statistics/*"
        ));
        assert!(pattern_covers(
            "/sys/class/net/*/statistics/*",
            "/sys/class/net/*/statistics/rx_bytes"
        ));
        assert!(!pattern_covers("/proc/meminfo", "/proc/*"));
        assert!(!pattern_covers("/proc/net/dev", "/proc/net/dev/x"));
        assert!(!pattern_covers(
            "/sys/class/net/eth*/x",
            "/sys/class/net/*/x"
        ));
    }
}
