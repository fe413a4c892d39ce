#!/usr/bin/env bash
# Installs LibTorch 2.9.0 (what burn-tch 0.22 / tch 0.22 link against) from PyPI's torch wheel into
# a Python venv, and prints the environment variables cargo and the binaries need:
#
#   eval "$(scripts/setup-libtorch.sh)"              # minimal CPU install, /var/tmp/lstm-lrp-venv
#   eval "$(scripts/setup-libtorch.sh --cuda DIR)"   # full CUDA install into DIR (GPU machines)
#   cargo test -p lrp-tch
#
# PyPI has no CPU-only torch 2.9.0 wheel. The minimal install (≈0.9 GB download, 0.66 GB on disk)
# takes the CUDA wheel without its dependencies, adds the two CUDA libraries that libtorch_cpu.so
# itself loads, and deletes the CUDA parts of libtorch: burn-tch then links the CPU library only,
# and the binaries need no GPU libraries at run time. `--cuda` installs torch with all its
# dependencies (3.8 GB download, 6.7 GB on disk) and keeps the CUDA libraries.
#
# An existing complete install is reused (a marker file records which kind it is). Progress goes
# to stderr, the `export` lines to stdout.
set -euo pipefail

kind=cpu
if [ "${1:-}" = "--cuda" ]; then
  kind=cuda
  shift
fi
venv="${1:-${LSTM_LRP_VENV:-/var/tmp/lstm-lrp-venv}}"
[ "$kind" = cuda ] && [ -z "${1:-}" ] && venv="${LSTM_LRP_VENV:-/var/tmp/lstm-lrp-venv-cuda}"
version=2.9.0
marker="$venv/.lstm-lrp-libtorch-$version-$kind"
python="${PYTHON:-python3}"

torch_dir() {
  "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' | sed 's|$|/torch|'
}

if [ -f "$marker" ]; then
  echo "libtorch $version ($kind) already installed in $venv" >&2
else
  echo "installing libtorch $version ($kind) into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  if [ "$kind" = cpu ]; then
    # The versions of the two CUDA libraries libtorch_cpu.so needs are those torch 2.9.0 pins.
    "$venv/bin/pip" install --quiet --no-deps "torch==$version" \
      nvidia-cuda-runtime-cu12==12.8.90 nvidia-cuda-cupti-cu12==12.8.90 >&2
    t=$(torch_dir)
    # Without these, burn-tch links the CPU library only (else 12 NVIDIA libraries at run time).
    rm -f "$t"/lib/{libtorch_cuda.so,libtorch_cuda_linalg.so,libtorch_nvshmem.so,libc10_cuda.so,libcaffe2_nvrtc.so,libtorch_python.so}
  else
    "$venv/bin/pip" install --quiet "torch==$version" >&2
  fi
  test -f "$(torch_dir)/lib/libtorch_cpu.so" || {
    echo "error: $(torch_dir)/lib/libtorch_cpu.so missing after the install" >&2
    exit 1
  }
  touch "$marker"
fi

t=$(torch_dir)
lib="$t/lib"
if [ "$kind" = cuda ]; then
  # The full install's NVIDIA libraries live in site-packages/nvidia/*/lib.
  for d in "$t"/../nvidia/*/lib; do
    [ -d "$d" ] && lib="$lib:$(cd "$d" && pwd)"
  done
fi
echo "export LIBTORCH='$t'"
echo "export LD_LIBRARY_PATH='$lib'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
