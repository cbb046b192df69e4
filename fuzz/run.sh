#!/usr/bin/env bash
# The fuzz targets on the stable toolchain: builds them with libFuzzer's
# sanitizer coverage (the flags cargo-fuzz passes, without its nightly-only
# sanitizers) into target/fuzz, then runs each for SECONDS.
#
# usage: fuzz/run.sh SECONDS [TARGET...]      (default: every target)
#
# New inputs go to target/fuzz/corpus/<target> (kept between runs, not
# committed; with FUZZ_SCRATCH=1 to target/fuzz/scratch/<target>, emptied
# first); the seeds in fuzz/corpus/<target> are read, never written. A
# crash leaves its input in target/fuzz/artifacts/<target>/ and fails the run;
# replay it with `target/fuzz/<triple>/debug/<target> <file>`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
seconds="${1:?usage: fuzz/run.sh SECONDS [TARGET...]}"
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(connection_string attributes c_structs c_config deflate live_configuration genkit_spans)
fi

out="${FUZZ_TARGET_DIR:-$root/target/fuzz}"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros,
# which must not be instrumented (the coverage hooks live in libFuzzer).
triple="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="$out"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cdebug-assertions -Coverflow-checks"
(cd "$here" && "${CARGO:-cargo}" build --quiet --locked --target "$triple" \
    $(printf -- '--bin %s ' "${targets[@]}"))

for t in "${targets[@]}"; do
    # FUZZ_SCRATCH=1 (make test): new inputs go to a directory emptied first,
    # so a short run always replays the same seeds and takes the same time.
    corpus="$out/corpus/$t"
    if [ -n "${FUZZ_SCRATCH:-}" ]; then
        corpus="$out/scratch/$t"
        rm -rf "$corpus"
    fi
    mkdir -p "$corpus" "$out/artifacts/$t"
    dict=()
    if [ -f "$here/dict/$t.dict" ]; then
        dict=("-dict=$here/dict/$t.dict")
    fi
    echo "fuzz: $t for ${seconds}s"
    # -rss_limit_mb / -malloc_limit_mb: a run that needs more memory than
    # this is a bug (memory must stay bounded); -timeout: so is one input
    # taking seconds.
    "$out/$triple/debug/$t" \
        -max_total_time="$seconds" \
        -rss_limit_mb=768 -malloc_limit_mb=512 -timeout=10 \
        -max_len=16384 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$t/" \
        "${dict[@]}" \
        "$corpus" "$here/corpus/$t" 2> "$out/$t.log" || {
        tail -n 60 "$out/$t.log"
        echo "fuzz: $t FAILED; input in $out/artifacts/$t/" >&2
        exit 1
    }
    grep -E '^stat::number_of_executed_units|^Done' "$out/$t.log" | tr '\n' ' '
    echo
done
