#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/, docs/fuzzing.md) and runs them.
#
#   scripts/fuzz.sh --smoke [SECONDS]        every target for SECONDS (default 10) from its seeds: CI
#   scripts/fuzz.sh --time SECONDS [TARGET]  a campaign: each TARGET (default all) for SECONDS,
#                                            keeping its corpus in .build-fuzz/corpus/TARGET
#   scripts/fuzz.sh --build                  only builds .build-fuzz/release/grove-fuzz
#
# Seeds (Fuzz/corpus/TARGET) and past findings (Fuzz/regressions/TARGET) are read, never written.
# A crash, a trap, a leak, an oracle failure, an allocation over MALLOC_LIMIT_MB (64) or an input
# that runs longer than 10 s stops the target; the input is kept in .build-fuzz/artifacts/TARGET/
# and replays with `.build-fuzz/release/grove-fuzz TARGET FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:---smoke}"
scratch=.build-fuzz
binary="$scratch/release/grove-fuzz"
malloc_limit="${MALLOC_LIMIT_MB:-64}"

build() {
  # One -sanitize flag with both sanitizers: given two (as `swift build --sanitize=fuzzer
  # --sanitize=address` passes them), swiftc keeps only the last. C targets get coverage and
  # ASan through -Xcc. GROVE_FUZZ=1 is what makes Package.swift declare the fuzz targets.
  # The toolchain's lld links: Debian's gold stops with an internal error in its DWARF reader on
  # these sanitized objects, and a toolset file is how SwiftPM is told to use another linker.
  local lld
  lld=$(command -v ld.lld || true)
  [ -n "$lld" ] || lld="$(dirname "$(command -v swift)")/ld.lld"
  mkdir -p "$scratch"
  printf '{ "schemaVersion": "1.0", "linker": { "path": "%s" } }\n' "$lld" > "$scratch/toolset.json"
  GROVE_FUZZ=1 swift build -c release --scratch-path "$scratch" --product grove-fuzz --toolset "$scratch/toolset.json" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xcc -fsanitize=fuzzer-no-link,address \
    2>&1 | { grep -v "Cannot export local symbol" || true; }
}

# run TARGET SECONDS CORPUS: runs one target; prints one summary line; fails on a finding.
run() {
  local target=$1 seconds=$2 corpus=$3
  local artifacts="$scratch/artifacts/$target" log="$scratch/logs/$target.log"
  mkdir -p "$artifacts" "$corpus" "$(dirname "$log")"
  local inputs=("$corpus")
  [ -d "Fuzz/corpus/$target" ] && inputs+=("Fuzz/corpus/$target")
  [ -d "Fuzz/regressions/$target" ] && inputs+=("Fuzz/regressions/$target")
  local status=0
  # Swift's own crash backtracer reads memory in a way ASan reports as a second error, and takes
  # long to symbolicate; without it a trap is reported by libFuzzer and ASan with the stack.
  # (For a replay with Swift's report: SWIFT_BACKTRACE=enable=yes grove-fuzz TARGET FILE.)
  SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}" "$binary" "$target" -max_total_time="$seconds" -malloc_limit_mb="$malloc_limit" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${inputs[@]}" >"$log" 2>&1 || status=$?
  local runs cov
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target FAILED after ${runs} runs (exit $status); log $log; input in $artifacts/"
    grep -E "ERROR:|fuzz oracle|Fatal error|SUMMARY" "$log" | head -5 | sed 's/^/  /'
    return 1
  fi
  printf 'fuzz: %-20s %9s runs in %ss, coverage %s edges, corpus %s inputs\n' "$target" "$runs" "$seconds" "$cov" "$(ls "$corpus" | wc -l)"
}

case "$mode" in
  --build)
    build ;;
  --smoke)
    seconds="${2:-10}"
    started=$(date +%s)
    build
    failed=0
    for target in $("$binary" list | cut -f1); do
      work=$(mktemp -d)
      run "$target" "$seconds" "$work" || failed=1
      rm -rf "$work"
    done
    echo "fuzz: smoke runs finished in $(( $(date +%s) - started )) s (build included)"
    exit $failed ;;
  --time)
    seconds="${2:?--time needs SECONDS}"
    build
    targets=("${@:3}")
    [ ${#targets[@]} -eq 0 ] && mapfile -t targets < <("$binary" list | cut -f1)
    failed=0
    for target in "${targets[@]}"; do
      run "$target" "$seconds" "$scratch/corpus/$target" || failed=1
    done
    exit $failed ;;
  *)
    sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
