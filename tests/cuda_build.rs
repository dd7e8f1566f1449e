//! The CUDA code path compiles: `cargo check --features cuda` with dfdx's
//! and cudarc's `ci-check` features, which skip nvcc and the CUDA libraries,
//! so no toolkit or GPU is needed. (Building it for real, on a machine
//! without CUDA: scripts/build-cuda.sh; running it needs a GPU.)

use std::path::Path;
use std::process::Command;

#[test]
fn the_cuda_feature_compiles() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Its own target folder: the outer `cargo test` holds the usual one.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cuda-check");
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "check",
            "--locked",
            "--all-targets",
            "--features",
            "cuda",
            "--features",
            "dfdx/ci-check",
            "--message-format",
            "short",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "the cuda feature does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
