//! The mount table of the exporter's mount namespace: where procfs and
//! sysfs are, and which granted paths lie on a filesystem that can hang.
//!
//! A read from procfs, sysfs or a local disk returns; a read from a network
//! filesystem (NFS, CIFS, Ceph...) or a FUSE filesystem can wait forever for
//! a server or a process that is gone. Guests that can reach such a
//! filesystem run on threads of their own; all others run inline, without a
//! thread hand-off (see `runtime::calls`).

use std::path::{Path, PathBuf};

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub point: PathBuf,
    /// Its filesystem type, as the kernel names it (`proc`, `ext4`,
    /// `fuse.sshfs`, `nfs4`...).
    pub fstype: String,
}

/// Filesystem types whose reads can wait on something outside the kernel:
/// a server over the network or a user-space process.
const MAY_HANG: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "ceph",
    "glusterfs",
    "afs",
    "lustre",
    "gfs2",
    "ocfs2",
    "pvfs2",
    "ncpfs",
    "coda",
    "virtiofs",
    "fuse",
    "fuseblk",
];

/// Whether reads from a filesystem of type `fstype` can hang.
pub fn may_hang(fstype: &str) -> bool {
    MAY_HANG.contains(&fstype) || fstype.starts_with("fuse.")
}

/// Reads `/proc/self/mountinfo`; empty if it cannot be read.
pub fn read() -> Vec<Mount> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|text| parse(&text))
        .unwrap_or_default()
}

/// Parses mountinfo text.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let fstype = right.split(' ').next()?;
            Some(Mount {
                point: PathBuf::from(unescape(point)),
                fstype: fstype.to_string(),
            })
        })
        .collect()
}

/// Whether anything at or under `root` may be on a filesystem that can
/// hang: the mount holding `root`, or one mounted beneath it. Without a
/// mount table, assume it may.
pub fn tree_may_hang(mounts: &[Mount], root: &Path) -> bool {
    if mounts.is_empty() {
        return true;
    }
    let holding = mounts
        .iter()
        .filter(|m| root.starts_with(&m.point))
        .max_by_key(|m| m.point.as_os_str().len());
    holding.is_none_or(|m| may_hang(&m.fstype))
        || mounts
            .iter()
            .any(|m| m.point.starts_with(root) && may_hang(&m.fstype))
}

/// Mount points in mountinfo escape space, tab, newline and backslash as
/// octal.
fn unescape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..=i + 3]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            out.push(
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0'),
            );
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid - proc proc rw
24 22 0:22 / /sys rw,nosuid - sysfs sysfs rw
30 22 0:40 / /mnt/nfs rw - nfs4 server:/export rw
31 22 0:41 / /srv/with\\040space rw - ext4 /dev/sdb1 rw
32 31 0:42 / /srv/with\\040space/sshfs rw - fuse.sshfs host: rw
";

    #[test]
    fn finds_what_can_hang() {
        let m = parse(TABLE);
        assert_eq!(m[4].point, Path::new("/srv/with space"));
        assert!(!tree_may_hang(&m, Path::new("/proc")));
        assert!(!tree_may_hang(&m, Path::new("/var/lib/textfile")));
        assert!(tree_may_hang(&m, Path::new("/mnt/nfs/x")));
        assert!(tree_may_hang(&m, Path::new("/mnt")), "an NFS mount below");
        assert!(tree_may_hang(&m, Path::new("/srv/with space")));
        assert!(!tree_may_hang(&m, Path::new("/srv/with space/other")));
        assert!(tree_may_hang(&[], Path::new("/proc")));
    }
}
