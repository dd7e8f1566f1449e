#!/usr/bin/env bash
# Runs a posterlab built by scripts/build-cuda.sh on a GPU machine that has
# the NVIDIA driver but maybe no CUDA toolkit:
#   gpu-run.sh bench --device cuda --arch cnn
#   gpu-run.sh run --device cuda experiments/quickstart.toml
# It restores the NVRTC include folders at the absolute paths the binary was
# built with (dfdx compiles some kernels at run time), and finds the CUDA
# libraries the binary links (libcublas, libcublasLt, libnvrtc) in a CUDA
# install or in Python's nvidia wheels (PyTorch brings them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# 1. NVRTC's include folders, where the build put them.
missing=0
while read -r dir; do
    [ -d "$dir" ] || missing=1
done < "$here/nvrtc-include-paths.txt"
if [ "$missing" = 1 ]; then
    tar -xzf "$here/nvrtc-include.tar.gz" -C / || {
        echo "cannot unpack $here/nvrtc-include.tar.gz at /: run as a user who may create $(head -1 "$here/nvrtc-include-paths.txt")" >&2
        exit 1
    }
fi

# 2. The CUDA libraries.
needed=$(grep -E 'cublas|nvrtc' "$here/needed-libraries.txt" | tr -d ' ')
dirs=()
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
    [ -d "$d" ] && dirs+=("$d")
done
for py in python3 python; do
    if command -v "$py" > /dev/null; then
        while read -r d; do dirs+=("$d"); done < <("$py" - <<'EOF' 2>/dev/null
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()]
for root in roots:
    for lib in sorted(glob.glob(os.path.join(root, "nvidia", "*", "lib"))):
        print(lib)
EOF
        )
        break
    fi
done
path=""
for so in $needed; do
    found=""
    for d in "${dirs[@]}"; do
        if [ -e "$d/$so" ]; then found="$d"; break; fi
    done
    if [ -z "$found" ]; then
        echo "cannot find $so (looked in: ${dirs[*]})" >&2
        echo "  help: install the CUDA $(echo "$so" | sed 's/.*\.so\.//') libraries (or pip install nvidia-cublas nvidia-cuda-nvrtc) or set LD_LIBRARY_PATH" >&2
        exit 1
    fi
    case ":$path:" in *":$found:"*) ;; *) path="$path:$found" ;; esac
done
export LD_LIBRARY_PATH="${path#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/posterlab" "$@"
