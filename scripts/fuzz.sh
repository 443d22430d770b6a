#!/usr/bin/env bash
# Fuzzing campaign for the protocol crate: runs each cargo-fuzz target in protocol/fuzz for a
# bounded time and prints one Markdown table row per target (the format of docs/fuzzing.md).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# Installs cargo-fuzz if it is missing. cargo-fuzz needs nightly compiler flags (-Zsanitizer): the
# script uses the nightly toolchain when rustup has one, and otherwise stable with
# RUSTC_BOOTSTRAP=1, which allows them there (rustup ships the sanitizer runtimes with stable too);
# FUZZ_TOOLCHAIN=<toolchain> overrides the choice. New inputs go to protocol/fuzz/corpus/<target>
# (not committed); the committed seeds in protocol/fuzz/seeds/<target> start each run. A crash
# leaves its input in protocol/fuzz/artifacts/<target>/ and makes the script exit 1 after the
# other targets ran.
set -euo pipefail

seconds="${1:-60}"
shift || true
all_targets=(http_request chunked_body gzip_body ws_frames json_model)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${all_targets[@]}")
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz_dir="$root/protocol/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked >&2
fi

# FUZZ_TOOLCHAIN picks the rustup toolchain; by default nightly when installed, else stable.
toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
    if rustup run nightly rustc --version >/dev/null 2>&1; then
        toolchain=nightly
    else
        toolchain=stable
    fi
fi
compiler="$(rustup run "$toolchain" rustc --version)"
if [[ "$toolchain" != nightly* ]]; then
    export RUSTC_BOOTSTRAP=1
    compiler="$compiler with RUSTC_BOOTSTRAP=1"
fi
echo "compiler: $compiler" >&2
echo "commit: $(git -C "$root" rev-parse --short HEAD), date: $(date -u +%Y-%m-%d)" >&2

cd "$root/protocol"
for target in "${targets[@]}"; do
    cargo "+$toolchain" fuzz build --release --debug-assertions "$target" >&2
done

failed=0
echo "| target | seconds | executions | execs/s | corpus files | crashes |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    seeds="$fuzz_dir/seeds/$target"
    artifacts="$fuzz_dir/artifacts/$target"
    mkdir -p "$corpus" "$seeds" "$artifacts"
    log="$fuzz_dir/artifacts/$target.log"
    before=$(find "$artifacts" -type f | wc -l)
    # -rss_limit_mb / -timeout: an input that needs more than 2 GiB or 10 s counts as a crash
    # (the bounds the server relies on are part of what is tested).
    status=0
    cargo "+$toolchain" fuzz run --release --debug-assertions "$target" "$corpus" "$seeds" -- \
        -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    elapsed=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' | tail -1)
    runs="${runs:-0}"
    elapsed="${elapsed:-$seconds}"
    rate=$(( runs / (elapsed > 0 ? elapsed : 1) ))
    files=$(find "$corpus" -type f | wc -l)
    crashes=$(( $(find "$artifacts" -type f | wc -l) - before ))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes="failed (exit $status, see $log)"
    fi
    if [ "$status" -ne 0 ]; then
        failed=1
    fi
    echo "| $target | $elapsed | $runs | $rate | $files | $crashes |"
done
exit "$failed"
