#!/usr/bin/env bash
# Runs every lrp-import fuzz target for SECONDS each (default 180), at the lowest CPU priority.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs `cargo install cargo-fuzz`. On a stable toolchain RUSTC_BOOTSTRAP=1 enables the nightly
# flags cargo-fuzz passes (-Zsanitizer=address, coverage instrumentation). Builds go to
# $FUZZ_TARGET_DIR (default /var/tmp/lstm-lrp-fuzz-target), never to the workspace's target dir,
# so the fuzz build cannot change the workspace's burn build. New corpus entries go to
# $FUZZ_WORK/<target> (default /var/tmp/lstm-lrp-fuzz-corpus), not into the repository; the
# committed seeds in fuzz/corpus/<target> and the larger fixtures in fixtures/ are read as extra seeds.
# --debug-assertions also turns on overflow checks, so arithmetic on sizes read from a file that
# would wrap silently in release is reported as a crash.
# The entry points take paths: the targets write each input to a file in a tmpfs directory
# ($LRP_IMPORT_FUZZ_TMP, made here in /dev/shm when it exists and removed at exit).
# Crashes, timeouts and out-of-memory inputs land in fuzz/artifacts/<target>/.
# After each target a line `== <target>: executions, exec/s, corpus, new artifacts` sums it up.
set -euo pipefail

secs="${1:-180}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
fixtures="$root/fixtures"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(hdf5 pytorch npy zip read_model keras_config)
fi
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/lstm-lrp-fuzz-target}"
export RUSTC_BOOTSTRAP=1
work="${FUZZ_WORK:-/var/tmp/lstm-lrp-fuzz-corpus}"
shm=/tmp
if [ -d /dev/shm ]; then shm=/dev/shm; fi
LRP_IMPORT_FUZZ_TMP="$(mktemp -d "$shm/lrp-import-fuzz.XXXXXX")"
export LRP_IMPORT_FUZZ_TMP
trap 'rm -rf "$LRP_IMPORT_FUZZ_TMP"' EXIT

# Seeds too large to keep in fuzz/corpus (> 200 KB) or shared between targets, by target.
extra_seeds() {
    local t="$1"
    local k2="$fixtures/keras2/keras2_sentiment_bilstm.hdf5"
    local k3="$fixtures/keras3"
    local pt="$fixtures/pytorch"
    case "$t" in
        hdf5) echo "$k2 $k3/a_bilstm_dense.h5 $k3/a_bilstm_dense.weights.h5 $k3/c_embed_bilstmseq_lstm.weights.h5 $k3/d_masking_bilstm_sum_mlp.h5" ;;
        pytorch) echo "$pt/p1_bilstm_linear.state_dict.pt $pt/p2_embed_2layer_bilstm_packed.state_dict.pt" ;;
        zip) echo "$k3/a_bilstm_dense.keras $k3/c_embed_bilstmseq_lstm.keras $k3/d_masking_bilstm_sum_mlp.keras $pt/p1_bilstm_linear.full_module.pt" ;;
        read_model) echo "$k2 $k3/d_masking_bilstm_sum_mlp.keras $k3/a_bilstm_dense.weights.h5 $pt/p1_bilstm_linear.legacy.pt $pt/p1_bilstm_linear.safetensors $pt/p1_bilstm_linear.full_module.pt" ;;
        keras_config) echo "" ;;
        *) echo "" ;;
    esac
}

cd "$root/fuzz"
for t in "${targets[@]}"; do
    mkdir -p "$work/$t" "$work/$t.seeds" "artifacts/$t"
    for f in $(extra_seeds "$t"); do
        if [ -f "$f" ]; then cp -f "$f" "$work/$t.seeds/"; fi
    done
    before=$(find "artifacts/$t" -type f | wc -l)
    echo "=== $t: ${secs}s ==="
    nice -n 19 cargo fuzz run --debug-assertions "$t" "$work/$t" "corpus/$t" "$work/$t.seeds" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" 2>&1 | tee "$work/$t.log" | grep -v '^#[0-9]*.*\(NEW\|REDUCE\|pulse\)' || true
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -1)
    corpus=$(find "$work/$t" -type f | wc -l)
    found=$(( $(find "artifacts/$t" -type f | wc -l) - before ))
    echo "== $t: ${execs:-?} executions, ${rate:-?} exec/s, corpus $corpus files, $found new artifacts"
done
