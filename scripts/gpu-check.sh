#!/usr/bin/env bash
# GPU check for lstm-lrp: the conformance suite on LibTorch CUDA and on wgpu (Vulkan on the
# NVIDIA driver), then the benchmark at T=25, H=300, E=200, C=2 for batch 100, 1000 and 10000,
# written to a small report.
#
#   scripts/gpu-check.sh [REPORT_DIR]             build and run on this machine (cargo, a GPU,
#                                                 and for LibTorch CUDA a CUDA libtorch 2.9.0)
#   scripts/gpu-check.sh prepare BUNDLE_DIR       build here, copy binaries and fixtures to BUNDLE_DIR
#   BUNDLE_DIR/gpu-check.sh run [REPORT_DIR]      run a prepared bundle on a machine without cargo
#
# The prepare/run split is for GPU machines that cannot build (no toolchain, no network): the
# binaries are plain x86-64 executables; wgpu needs only the Vulkan loader and the NVIDIA ICD
# there, LibTorch CUDA needs `LIBTORCH_CUDA_LIB` pointing at a CUDA libtorch 2.9.0 `lib` folder
# (burn-tch is built against 2.9.0; another version is not ABI compatible). A backend that cannot
# start is reported as FAILED in the report, never skipped silently.
#
# Environment: PROFILE (cargo profile, default release), BATCHES (default 100,1000,10000),
# BENCH_SECONDS (default 5), LIBTORCH (for building with CUDA: the full install of
# scripts/setup-libtorch.sh --cuda DIR).
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
mode="${1:-all}"
BATCHES="${BATCHES:-100,1000,10000}"
BENCH_SECONDS="${BENCH_SECONDS:-5}"
PROFILE="${PROFILE:-release}"

# Builds the test and bench binaries with wgpu and tch, and prints "name path" per binary.
build() {
  local root
  root="$(cd "$here/.." && pwd)"
  cd "$root" || exit 1
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/lstm-lrp-target}"
  if [ -z "${LIBTORCH:-}" ]; then
    eval "$(scripts/setup-libtorch.sh)" >&2 || exit 1
  fi
  local json
  json=$(mktemp)
  cargo test --profile "$PROFILE" --no-run --message-format=json \
    -p lrp-wgpu -p lrp-tch --features lrp-tch/cuda-tests \
    --test conformance --test conformance_cuda --test device >"$json" || exit 1
  cargo bench --profile "$PROFILE" --no-run --message-format=json --bench explain \
    --features wgpu,tch >>"$json" || exit 1
  python3 - "$json" <<'EOF'
import json, os, sys
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    t = m["target"]
    crate = os.path.basename(os.path.dirname(m["manifest_path"]))
    pkg = crate.replace("-", "_") if crate.startswith("lrp-") else "lstm_lrp"
    print(f"{pkg}-{t['name']} {m['executable']}")
EOF
  rm -f "$json"
}

# Runs the binaries in BIN_DIR with fixtures in FIXTURES, writing to REPORT_DIR.
run_checks() {
  local bin="$1" report="$2"
  mkdir -p "$report"
  local log="$report/gpu-check.log" summary="$report/gpu-report.md"
  : >"$log"
  export LRP_FIXTURES_DIR="$FIXTURES"
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
  if [ -n "${LIBTORCH_CUDA_LIB:-}" ]; then
    export LD_LIBRARY_PATH="$LIBTORCH_CUDA_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  {
    echo "# lstm-lrp GPU check ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo '```'
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi: not available"
    echo '```'
    echo
    echo "| check | result |"
    echo "|---|---|"
  } >"$summary"
  check() {
    local name="$1"
    shift
    echo "== $name" >>"$log"
    if "$@" >>"$log" 2>&1; then
      echo "| $name | passed |" >>"$summary"
    else
      echo "| $name | **FAILED** (exit $?, see gpu-check.log) |" >>"$summary"
    fi
  }
  check "conformance on wgpu (f32)" "$bin"/lrp_wgpu-conformance --nocapture
  check "wgpu device start-up" "$bin"/lrp_wgpu-device --nocapture
  check "conformance on LibTorch CUDA 0 (f64, f32)" "$bin"/lrp_tch-conformance_cuda --nocapture
  echo >>"$summary"
  echo "## Benchmark: T=25, H=300, E=200, C=2, batches $BATCHES" >>"$summary"
  for precision in f32 f64; do
    local backends="tch-cuda:0,wgpu,flex"
    [ "$precision" = f64 ] && backends="tch-cuda:0,flex"
    echo >>"$summary"
    echo "### $precision" >>"$summary"
    echo >>"$summary"
    if ! "$bin"/lstm_lrp-explain --precision "$precision" --batches "$BATCHES" \
      --seconds "$BENCH_SECONDS" --backends "$backends" >>"$summary" 2>>"$log"; then
      echo "**benchmark FAILED** (see gpu-check.log)" >>"$summary"
    fi
  done
  cat "$summary"
}

case "$mode" in
  prepare)
    bundle="${2:?usage: gpu-check.sh prepare BUNDLE_DIR}"
    mkdir -p "$bundle/bin"
    build | while read -r name path; do
      case "$name" in
        lrp_wgpu-conformance | lrp_wgpu-device | lrp_tch-conformance_cuda | lstm_lrp-explain)
          cp "$path" "$bundle/bin/$name"
          ;;
      esac
    done
    cp -r "$here/../fixtures" "$bundle/fixtures"
    cp "$0" "$bundle/gpu-check.sh"
    ls -la "$bundle/bin"
    ;;
  run)
    FIXTURES="$here/fixtures"
    run_checks "$here/bin" "${2:-gpu-report}"
    ;;
  all | *)
    report="${1:-gpu-report}"
    [ "$report" = all ] && report=gpu-report
    bundle=$(mktemp -d)
    "$0" prepare "$bundle" || exit 1
    FIXTURES="$bundle/fixtures"
    run_checks "$bundle/bin" "$report"
    ;;
esac
