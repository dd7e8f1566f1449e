#!/usr/bin/env bash
# Builds posterlab with `--features cuda` on a machine without a GPU and
# without a CUDA install, from NVIDIA's CUDA wheels on PyPI.
#
#   scripts/build-cuda.sh            # CUDA 13, sm_90 (H100 / H200)
#   CUDA_COMPUTE_CAP=89 scripts/build-cuda.sh
#
# What it does, and why:
# 1. Downloads nvidia-cuda-nvcc, -nvvm, -crt, -cccl, -runtime, -nvrtc, -cublas
#    for one CUDA major version (13: the first whose nvcc wheel ships the
#    `nvcc` driver itself) and unpacks them into one toolkit tree.
# 2. dfdx's build script asks `nvidia-smi` for the GPU's compute capability
#    (and reads CUDA_COMPUTE_CAP only after that call succeeded): a stand-in
#    `nvidia-smi` answers with $CUDA_COMPUTE_CAP.
# 3. cudarc links libcuda, which comes with the GPU driver, not with any
#    wheel: a stub libcuda.so (soname libcuda.so.1) defining cudarc's driver
#    functions satisfies the linker; the real driver library is used at run
#    time.
# 4. dfdx compiles a few kernels at run time with NVRTC, using include paths
#    fixed at build time (the toolkit's include folder and dfdx's build
#    output). The build uses fixed absolute paths under $POSTERLAB_CUDA_HOME
#    (default /tmp/posterlab-cuda) and packs those headers into
#    dist/cuda/nvrtc-include.tar.gz; scripts/gpu-run.sh unpacks them at the
#    same paths on the GPU machine.
# 5. Prints the shared libraries (sonames) the binary needs at run time.
#
# Needs: python3 with pip (downloads only), a C compiler (cc, g++ for nvcc),
# the Rust toolchain. On a workstation with a normal CUDA toolkit and a GPU,
# `cargo build --release --features cuda` is all it takes (README, "GPU").
set -euo pipefail
cd "$(dirname "$0")/.."

CUDA_MAJOR="${CUDA_MAJOR:-13}"
CAP="${CUDA_COMPUTE_CAP:-90}"
HOME_DIR="${POSTERLAB_CUDA_HOME:-/tmp/posterlab-cuda}"
PYTHON="${PYTHON:-python3}"
WHEELS="$HOME_DIR/wheels"
TREE="$HOME_DIR/tree"
ROOT="$TREE/nvidia/cu$CUDA_MAJOR"
DIST="dist/cuda"

case "$HOME_DIR" in
/*) ;;
*) echo "POSTERLAB_CUDA_HOME must be an absolute path (it is baked into the binary)" >&2; exit 2 ;;
esac

say() { printf '\n== %s\n' "$*"; }

say "CUDA $CUDA_MAJOR wheels -> $WHEELS"
mkdir -p "$WHEELS"
packages=(nvidia-cuda-nvcc nvidia-nvvm nvidia-cuda-crt nvidia-cuda-cccl nvidia-cuda-runtime nvidia-cuda-nvrtc nvidia-cublas)
specs=()
for p in "${packages[@]}"; do specs+=("$p==$CUDA_MAJOR.*"); done
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 --python-version 3.11 -d "$WHEELS" "${specs[@]}"

say "unpacking into $TREE"
rm -rf "$TREE"
mkdir -p "$TREE"
for p in "${packages[@]}"; do
    wheel=$(ls "$WHEELS"/"${p//-/_}"-"$CUDA_MAJOR".*.whl | sort -V | tail -1)
    "$PYTHON" -m zipfile -e "$wheel" "$TREE"
done
[ -x "$ROOT/bin/nvcc" ] || chmod +x "$ROOT"/bin/* "$ROOT"/nvvm/bin/*
for lib in cublas cublasLt nvrtc cudart; do
    so=$(ls "$ROOT"/lib/lib"$lib".so.* | sort -V | head -1)
    ln -sf "$(basename "$so")" "$ROOT/lib/lib$lib.so"
done

say "stand-in nvidia-smi (compute capability $CAP) and stub libcuda"
mkdir -p "$HOME_DIR/bin" "$ROOT/lib64/stubs"
cat > "$HOME_DIR/bin/nvidia-smi" <<EOF
#!/bin/sh
# Build-time stand-in: dfdx's build script only asks for the compute capability.
printf 'compute_cap\n%s.%s\n' "${CAP%?}" "${CAP#"${CAP%?}"}"
EOF
chmod +x "$HOME_DIR/bin/nvidia-smi"
cargo fetch --quiet
cudarc=$(cargo metadata --format-version 1 --features cuda |
    "$PYTHON" -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="cudarc"))')
driver_sys="$(dirname "$cudarc")/src/driver/sys.rs"
grep -o 'pub fn cu[A-Za-z0-9_]*' "$driver_sys" | sort -u | sed 's/pub fn \(.*\)/void \1(void) {}/' > "$HOME_DIR/libcuda-stub.c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$ROOT/lib64/stubs/libcuda.so" "$HOME_DIR/libcuda-stub.c"
echo "$(wc -l < "$HOME_DIR/libcuda-stub.c") driver functions stubbed"

say "cargo build --release --features cuda (sm_$CAP)"
export PATH="$HOME_DIR/bin:$ROOT/bin:$PATH"
export CUDA_ROOT="$ROOT" CUDA_COMPUTE_CAP="$CAP"
export CARGO_TARGET_DIR="$HOME_DIR/target"
export LIBRARY_PATH="$ROOT/lib:$ROOT/lib64/stubs${LIBRARY_PATH:+:$LIBRARY_PATH}"
cargo build --release --locked --features cuda

say "packing $DIST"
rm -rf "$DIST"
mkdir -p "$DIST"
cp "$CARGO_TARGET_DIR/release/posterlab" "$DIST/posterlab"
# Line tables are for profiling here; the GPU machine gets a smaller file.
strip --strip-debug "$DIST/posterlab" 2> /dev/null || true
dfdx_out=$(dirname "$(ls "$CARGO_TARGET_DIR"/release/build/dfdx-*/out/*.cuh | head -1)")
tar -czf "$DIST/nvrtc-include.tar.gz" -C / "${ROOT#/}/include" "${dfdx_out#/}"
printf '%s\n' "$ROOT/include" "$dfdx_out" > "$DIST/nvrtc-include-paths.txt"
cp scripts/gpu-run.sh "$DIST/"

say "shared libraries the binary needs at run time"
readelf -d "$DIST/posterlab" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/  \1/p' | tee "$DIST/needed-libraries.txt"
cat <<EOF

Built $DIST/posterlab ($(du -h "$DIST/posterlab" | cut -f1)) for sm_$CAP, CUDA $CUDA_MAJOR.
On the GPU machine: carry $DIST, then
  $DIST/gpu-run.sh bench --device cuda
libcuda.so.1 comes with the driver; libcublas, libcublasLt and libnvrtc
($(cat "$DIST/needed-libraries.txt" | grep -E 'cublas|nvrtc' | tr -d ' ' | tr '\n' ' '))
from a CUDA $CUDA_MAJOR install or its pip wheels (gpu-run.sh looks in the
usual places and in Python's site-packages/nvidia/cu$CUDA_MAJOR/lib).
EOF
