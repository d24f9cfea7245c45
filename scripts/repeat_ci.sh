#!/usr/bin/env bash
# Runs CI (.ci/run) N times, each on a fresh clone of a commit, and prints one line per run plus a summary:
# the evidence that the suite does not flake. Record the summary in docs/reliability.md with the date.
# usage: scripts/repeat_ci.sh [N=10] [COMMIT=HEAD]
# The clones reuse one pip cache but never the repository's .venv, so every run installs as CI does.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
commit=$(git rev-parse "${2:-HEAD}")
work=$(mktemp -d /tmp/scribefleet-ci.XXXXXX)
log_dir=${LOG_DIR:-$work/logs}
mkdir -p "$log_dir"
echo "commit $commit, $runs runs, $(nproc) cores, logs in $log_dir"
passed=0
for i in $(seq 1 "$runs"); do
  clone="$work/clone"
  rm -rf "$clone"
  git clone -q --no-hardlinks . "$clone" && git -C "$clone" checkout -q "$commit"
  start=$(date +%s)
  (cd "$clone" && bash .ci/run) >"$log_dir/run-$i.log" 2>&1
  rc=$?
  seconds=$(( $(date +%s) - start ))
  summary=$(grep -E "^(=+ )?[0-9]+ (passed|failed)" "$log_dir/run-$i.log" | tail -1 | tr -d '=' | xargs)
  [ "$rc" = 0 ] && passed=$((passed + 1))
  printf 'run %2d  %s  %4ds  %s\n' "$i" "$([ "$rc" = 0 ] && echo PASS || echo "FAIL(rc=$rc)")" "$seconds" "$summary"
  [ "$rc" = 0 ] || grep -E "^(FAILED|ERROR) " "$log_dir/run-$i.log" | head -5 | sed 's/^/        /'
done
echo "$(date -u '+%Y-%m-%d %H:%M UTC'): $passed/$runs green on $(nproc) cores, commit ${commit:0:7}"
rm -rf "$work/clone"
[ "$passed" = "$runs" ]
