//! Tells the tests which of their outside components this machine has, so
//! that a test whose component is missing is reported as ignored, with the
//! reason, instead of passing without having run: the real posters
//! (`../shared/data/movie-posters`), the `sqlite3` program, root (to mount a
//! small tmpfs, to run a local Slurm, to mount sshfs), Slurm's daemons and
//! clients with munge (`scripts/slurm-local.sh install`), sshd with sshfs
//! and FUSE (a real network filesystem), Chromium (a real browser to open
//! the report's page in), poppler's `pdfinfo`, `pdftotext` and `pdftoppm`
//! (reading the report's PDFs as a viewer would), pdflatex with booktabs,
//! pdflscape and Latin Modern (building the report's LaTeX document). Under
//! CI (`CI` set) every test runs, and a missing component fails it.

use std::path::Path;

fn main() {
    for cfg in [
        "real_posters_absent",
        "no_sqlite3",
        "not_root",
        "no_slurm",
        "no_sshfs",
        "no_chromium",
        "no_poppler",
        "no_pdflatex",
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PATH");
    if std::env::var_os("CI").is_some() {
        return;
    }
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let csv = Path::new(&root).join("../shared/data/movie-posters/train.csv");
    // Cargo reruns the script when this file appears or changes.
    println!("cargo::rerun-if-changed={}", csv.display());
    if !csv.is_file() {
        println!("cargo::rustc-cfg=real_posters_absent");
    }
    let on_path = |program: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
    };
    if !on_path("sqlite3") {
        println!("cargo::rustc-cfg=no_sqlite3");
    }
    // Rerun when poppler-utils is installed.
    println!("cargo::rerun-if-changed=/usr/bin/pdftoppm");
    if !["pdfinfo", "pdftotext", "pdftoppm"]
        .iter()
        .all(|p| on_path(p))
    {
        println!("cargo::rustc-cfg=no_poppler");
    }
    // Rerun when TeX Live is installed. booktabs and pdflscape come with
    // texlive-latex-recommended, Latin Modern (outline fonts rather than
    // bitmaps) with lmodern: pdflatex alone brings neither.
    println!("cargo::rerun-if-changed=/usr/bin/pdflatex");
    let styles = [
        "/usr/share/texlive/texmf-dist/tex/latex/booktabs/booktabs.sty",
        "/usr/share/texlive/texmf-dist/tex/latex/pdflscape/pdflscape.sty",
        "/usr/share/texmf/tex/latex/lm/lmodern.sty",
    ];
    if !on_path("pdflatex") || !styles.iter().all(|f| Path::new(f).is_file()) {
        println!("cargo::rustc-cfg=no_pdflatex");
    }
    // Daemons live in /usr/sbin, which a user's PATH may not hold.
    let installed = |program: &str| {
        on_path(program)
            || ["/usr/sbin", "/usr/bin"]
                .iter()
                .any(|d| Path::new(d).join(program).is_file())
    };
    let slurm = [
        "sbatch",
        "squeue",
        "scontrol",
        "scancel",
        "slurmctld",
        "slurmd",
        "munged",
        "mungekey",
    ];
    // Rerun when Slurm is installed or upgraded.
    println!("cargo::rerun-if-changed=/usr/bin/sbatch");
    println!("cargo::rerun-if-changed=/usr/sbin/slurmctld");
    if !slurm.iter().all(|p| installed(p)) {
        println!("cargo::rustc-cfg=no_slurm");
    }
    // A network filesystem to put a database on: sshfs over loopback.
    println!("cargo::rerun-if-changed=/usr/bin/sshfs");
    let sshfs = ["sshd", "ssh-keygen", "sshfs", "fusermount3"];
    if !sshfs.iter().all(|p| installed(p)) || !Path::new("/dev/fuse").exists() {
        println!("cargo::rustc-cfg=no_sshfs");
    }
    // Debian's package puts the browser in /usr/bin.
    println!("cargo::rerun-if-changed=/usr/bin/chromium");
    if !installed("chromium") {
        println!("cargo::rustc-cfg=no_chromium");
    }
    // The effective uid, from the kernel's own account of this process.
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_string))
        });
    if euid.as_deref() != Some("0") {
        println!("cargo::rustc-cfg=not_root");
    }
}
