//! Which kind of filesystem a path lives on, local or shared over a network,
//! so that the store never puts a SQLite database in WAL mode where WAL does
//! not work: SQLite's write-ahead log keeps its index in shared memory
//! (`-shm`, mmap'ed), which needs every process on one host, and its docs say
//! WAL "does not work over a network filesystem" (sqlite.org/wal.html). HPC
//! home and scratch folders are NFS, Lustre, GPFS or BeeGFS.
//!
//! The kernel's own answer is asked: `statfs`'s filesystem type (the magic
//! numbers of linux/magic.h and of the out-of-tree cluster filesystems), and
//! for FUSE, which carries anything from sshfs to a local overlay, the
//! subtype the mount table gives for the file's device (`fuse.sshfs`).

use std::path::Path;

/// A filesystem that processes on several machines share: its name as
/// `mount` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network(pub String);

/// Filesystem magic numbers (`statfs.f_type`) of network and cluster
/// filesystems, with the name users know them by. From linux/magic.h,
/// except Lustre, GPFS, BeeGFS, PanFS and WekaFS, whose modules are out of
/// the kernel tree (their own headers).
const NETWORK_MAGIC: &[(i64, &str)] = &[
    (0x6969, "nfs"),
    (0x517b, "smb"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
    (0x0bd0_0bd0, "lustre"),
    (0x4750_4653, "gpfs"),
    (0x1983_0326, "beegfs"),
    (0x00c3_6400, "ceph"),
    (0x5346_414f, "afs"),
    (0x6b41_4653, "afs"),
    (0x7375_7245, "coda"),
    (0x0102_1997, "9p"),
    (0x7461_636f, "ocfs2"),
    (0x0116_1970, "gfs2"),
    (0xaad7_aaea, "panfs"),
    (0x4552_4653, "wekafs"),
    (0x564c, "ncp"),
];

/// `statfs.f_type` of FUSE mounts: what runs behind it is in the subtype.
const FUSE_MAGIC: i64 = 0x6573_5546;

/// FUSE subtypes that reach another machine (the part after `fuse.` in
/// the mount table).
const NETWORK_FUSE: &[&str] = &[
    "sshfs",
    "s3fs",
    "gcsfuse",
    "rclone",
    "glusterfs",
    "ceph-fuse",
    "juicefs",
    "goofys",
    "davfs",
    "cvmfs",
    "lustre",
    "beegfs",
    "weka",
];

/// The network filesystem `path` is on, or `None` for a local one. A path
/// that does not exist yet is judged by its nearest existing folder (where
/// it would be created). A question the kernel cannot answer is taken as
/// local: WAL is posterlab's default, and the user can still read the note
/// in the README.
pub fn network(path: &Path) -> Option<Network> {
    let existing = path.ancestors().find(|p| {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        p.exists()
    })?;
    let existing = if existing.as_os_str().is_empty() {
        Path::new(".")
    } else {
        existing
    };
    let magic = statfs_type(existing)?;
    if magic == FUSE_MAGIC {
        let subtype = fuse_subtype(existing)?;
        return NETWORK_FUSE
            .contains(&subtype.as_str())
            .then(|| Network(format!("fuse.{subtype}")));
    }
    kind_of_magic(magic).map(|name| Network(name.to_string()))
}

/// The network filesystem a `statfs` type number names.
fn kind_of_magic(magic: i64) -> Option<&'static str> {
    NETWORK_MAGIC
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

fn statfs_type(path: &Path) -> Option<i64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut buf = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated path and `buf` a statfs-sized buffer
    // the call fills; it is read only when the call succeeded.
    let rc = unsafe { libc::statfs(c.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statfs returned 0, so it wrote the struct.
    let fs = unsafe { buf.assume_init() };
    // f_type's width differs between architectures; the magics fit 32 bits.
    #[allow(clippy::unnecessary_cast)]
    Some((fs.f_type as i64) & 0xffff_ffff)
}

/// The FUSE subtype (`sshfs`) of the mount holding `path`: the mount table
/// line whose device number is the file's.
fn fuse_subtype(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).ok()?.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    fuse_subtype_in(&table, major, minor)
}

/// The subtype of the FUSE mount `major:minor` in a mountinfo table.
fn fuse_subtype_in(mountinfo: &str, major: u32, minor: u32) -> Option<String> {
    let device = format!("{major}:{minor}");
    mountinfo.lines().find_map(|line| {
        // id parent major:minor root mount-point options [optional...] - type source super
        let mut fields = line.split(' ');
        if fields.nth(2)? != device {
            return None;
        }
        let (_, after) = line.split_once(" - ")?;
        let fstype = after.split(' ').next()?;
        fstype.strip_prefix("fuse.").map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_filesystems_are_known_by_their_magic() {
        for (magic, name) in [
            (0x6969, Some("nfs")),
            (0x0bd0_0bd0, Some("lustre")),
            (0x4750_4653, Some("gpfs")),
            (0xff53_4d42, Some("cifs")),
            (0xef53, None),      // ext4
            (0x0102_1994, None), // tmpfs
            (0x5846_5342, None), // xfs
            (0x794c_7630, None), // overlayfs
        ] {
            assert_eq!(kind_of_magic(magic), name, "{magic:#x}");
        }
    }

    #[test]
    fn a_fuse_mount_is_named_by_the_line_of_its_device() {
        let table = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
97 22 0:52 / /mnt/remote rw,nosuid,nodev shared:50 - fuse.sshfs me@host:/data rw,user_id=0
98 22 0:53 / /mnt/local rw shared:51 - fuse.encfs encfs rw
";
        assert_eq!(fuse_subtype_in(table, 0, 52).as_deref(), Some("sshfs"));
        assert_eq!(fuse_subtype_in(table, 0, 53).as_deref(), Some("encfs"));
        assert_eq!(fuse_subtype_in(table, 254, 0), None);
        assert_eq!(fuse_subtype_in(table, 0, 99), None);
    }

    #[test]
    fn this_machines_temporary_folder_is_local_and_a_missing_path_is_judged_by_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(network(dir.path()), None);
        assert_eq!(network(&dir.path().join("not/yet/there.sqlite")), None);
        assert_eq!(network(Path::new("relative-and-missing.sqlite")), None);
    }
}
