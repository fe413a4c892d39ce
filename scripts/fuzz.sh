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
# Crashes, timeouts and out-of-memory inputs land in fuzz/artifacts/<target>/.
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

# Seeds too large to keep in fuzz/corpus (> 200 KB) or shared between targets, by target.
extra_seeds() {
    local t="$1"
    case "$t" in
        hdf5) echo "$fixtures/keras2/keras2_sentiment_bilstm.hdf5 $fixtures/keras3/a_bilstm_dense.h5 $fixtures/keras3/c_embed_bilstmseq_lstm.weights.h5 $fixtures/keras3/d_masking_bilstm_sum_mlp.h5" ;;
        pytorch) echo "$fixtures/pytorch/p1_bilstm_linear.state_dict.pt $fixtures/pytorch/p2_embed_2layer_bilstm_packed.state_dict.pt" ;;
        zip) echo "$fixtures/keras3/a_bilstm_dense.keras $fixtures/keras3/c_embed_bilstmseq_lstm.keras $fixtures/pytorch/p1_bilstm_linear.full_module.pt" ;;
        read_model) echo "$fixtures/keras2/keras2_sentiment_bilstm.hdf5 $fixtures/keras3/d_masking_bilstm_sum_mlp.keras $fixtures/keras3/a_bilstm_dense.weights.h5 $fixtures/pytorch/p1_bilstm_linear.legacy.pt $fixtures/pytorch/p1_bilstm_linear.safetensors" ;;
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
    echo "=== $t: ${secs}s ==="
    nice -n 19 cargo fuzz run --debug-assertions "$t" "$work/$t" "corpus/$t" "$work/$t.seeds" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" 2>&1 | tee "$work/$t.log" | grep -v '^#[0-9]*.*\(NEW\|REDUCE\|pulse\)' || true
done
