//! Where the main database may live: on a network filesystem — a real one
//! here, sshfs over loopback to an sshd this test starts — posterlab keeps
//! it out of WAL mode (which needs every process on one host) and says so
//! once; on a local disk it stays in WAL mode. Without sshd, sshfs, FUSE or
//! root the test is reported as ignored (CI installs them).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{posterlab, project, spec, stderr, stdout};

/// A folder exported by a private sshd on loopback and mounted with sshfs;
/// unmounted and stopped when dropped.
struct Sshfs {
    dir: tempfile::TempDir,
}

impl Sshfs {
    fn mount() -> Sshfs {
        let dir = tempfile::tempdir().unwrap();
        let d = &dir.path().to_path_buf();
        std::fs::create_dir_all(d.join("export")).unwrap();
        std::fs::create_dir_all(d.join("mnt")).unwrap();
        for key in ["host_key", "user_key"] {
            let o = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
        }
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        // sshd wants its privilege-separation folder.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nStrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let o = Command::new("/usr/sbin/sshd")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .output()
            .unwrap();
        assert!(o.status.success(), "sshd: {}", stderr(&o));
        let mounted = Sshfs { dir };
        let options = format!(
            "IdentityFile={}/user_key,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes",
            d.display()
        );
        let o = Command::new("sshfs")
            .args(["-p", &port.to_string(), "-o", &options])
            .arg(format!("root@127.0.0.1:{}/export", d.display()))
            .arg(d.join("mnt"))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "sshfs: {}{}",
            stderr(&o),
            std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
        );
        mounted
    }

    fn mnt(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }
}

impl Drop for Sshfs {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .arg("-u")
            .arg(self.mnt())
            .status();
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("sshd.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                // SAFETY: signalling the sshd this test started.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
    }
}

/// SQLite's journal mode as the file's header says: bytes 18 and 19 are 2
/// in WAL mode, 1 with a rollback journal.
fn header_journal(db: &Path) -> (u8, u8) {
    let bytes = std::fs::read(db).unwrap();
    (bytes[18], bytes[19])
}

#[test]
#[cfg_attr(
    any(no_sshfs, not_root),
    ignore = "needs sshd, sshfs and FUSE (apt-get install openssh-server sshfs) and root, to mount a network filesystem"
)]
fn a_database_on_a_network_filesystem_is_kept_out_of_wal_mode_and_said_so_once() {
    let sweep = format!(
        "{}\n[sweep.grid]\n\"train.seed\" = [1, 2, 3]\n",
        spec("epochs = 1")
    );
    let p = project(&[("s.toml", &sweep)]);
    let local = p.path().join("local.sqlite");
    let o = posterlab(
        p.path(),
        &[
            "-q",
            "run",
            "--no-report",
            "--db",
            local.to_str().unwrap(),
            "s.toml",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("network filesystem"), "{}", stderr(&o));
    assert_eq!(
        header_journal(&local),
        (2, 2),
        "a local database is in WAL mode"
    );

    let remote = Sshfs::mount();
    let db = remote.mnt().join("posterlab.sqlite");
    let o = posterlab(
        p.path(),
        &[
            "-q",
            "run",
            "--no-report",
            "--jobs",
            "2",
            "--db",
            db.to_str().unwrap(),
            "s.toml",
        ],
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{}{err}", stdout(&o));
    assert!(stdout(&o).contains("3 finished"), "{}", stdout(&o));
    assert_eq!(
        err.matches("is on a network filesystem (fuse.sshfs)")
            .count(),
        1,
        "said once, for two jobs: {err}"
    );
    assert!(
        err.contains("posterlab slurm") && err.contains("posterlab merge"),
        "{err}"
    );
    assert_eq!(header_journal(&db), (1, 1), "rollback journal, not WAL");
    let o = posterlab(p.path(), &["runs", "--db", db.to_str().unwrap()]);
    assert_eq!(stdout(&o).matches("finished").count(), 3, "{}", stdout(&o));
}
