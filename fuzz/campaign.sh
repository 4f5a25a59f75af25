#!/usr/bin/env bash
# A fuzz campaign whose figures go into the README: runs each cargo-fuzz target for RUNS
# executions (libFuzzer -runs) from the seed corpus, then prints one Markdown table row per
# target from libFuzzer's own final statistics, and the command that produced them.
#
#   RUNS=10000000 bash fuzz/campaign.sh                    # every target, 10 M executions each
#   RUNS=100000 SANITIZER=address bash fuzz/campaign.sh h2_reader pool_ops
#   PARALLEL=2 ...                                         # two targets at a time
#   MAX_SECONDS=900 ...                                    # stop a target after 15 min
#   RESUME=1 ...                                           # continue the last campaign
#   WORKERS=2 ...                                          # two fuzzer processes per target
#   TABLE_ONLY=1 bash fuzz/campaign.sh [targets]           # print the table from the ledgers
#
# RESUME=1 keeps each target's corpus from the previous run (adding the seeds) and adds this
# run to the target's ledger (target/fuzz-campaign/<target>.ledger: one line per run,
# `executions seconds date`); the table then shows the ledger's totals and how many runs they
# span, so a campaign longer than one sitting adds up honestly. Without RESUME the ledger
# starts again. A run stopped with SIGINT (`pkill -INT -f release/<target>`: libFuzzer prints
# its final statistics and exits) counts as a run of what it executed, marked `interrupted`
# in the ledger; any other failure (a crash, a timeout) fails the campaign and is not counted.
# WORKERS=N runs N libFuzzer processes on the target's one corpus directory (each picks up
# the others' new inputs, as libFuzzer's -jobs does), each for RUNS/N executions, each adding
# its own ledger line; the ledger's seconds are then process-seconds, so exec/s stays a
# per-process rate. A run that a session's end killed outright leaves no ledger line; its log's
# last status line (`#N ... exec/s: R`) is what it executed, and can be added by hand with the
# mark `killed` (the README says which runs those are).
# TABLE_ONLY=1 runs nothing and prints the table from the ledgers and the last logs.
#
# SANITIZER: `none` (default: the fastest, for execution counts; ASan/LSan run in the CI smoke
# and can be chosen here) or `address`. Each target runs single-threaded; logs and the final
# corpus stay in target/fuzz-campaign/. A crash fails the run and names the artifact.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-10000000}
san=${SANITIZER:-none}
par=${PARALLEL:-1}
max=${MAX_SECONDS:-0}
resume=${RESUME:-0}
workers=${WORKERS:-1}
table_only=${TABLE_ONLY:-0}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(alts_raw alts_sealed h2_decode h2_reader pool_ops)
fi
out=target/fuzz-campaign
mkdir -p "$out"

# One table row for target $1 from its ledger and its last log ($2: corpus size before the
# last run, or "-").
row() {
  local t=$1 seeds=$2 corpus="$out/corpus-$1"
  local cov ft after total tsecs nruns label
  cov=$(grep -E '(DONE|pulse|NEW|REDUCE|INITED)[[:space:]]+cov:' "$out/$t.log" | tail -n 1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
  ft=$(grep -E '(DONE|pulse|NEW|REDUCE|INITED)[[:space:]]+cov:' "$out/$t.log" | tail -n 1 | sed -E 's/.*ft: ([0-9]+).*/\1/')
  after=$(find "$corpus" -type f | wc -l)
  total=$(awk '{s += $1} END {print s}' "$out/$t.ledger")
  tsecs=$(awk '{s += $2} END {print s}' "$out/$t.ledger")
  [ "$tsecs" -gt 0 ] || tsecs=1
  nruns=$(wc -l <"$out/$t.ledger")
  label=$(printf "%'d" "$total")
  [ "$nruns" -eq 1 ] || label="$label ($nruns runs)"
  printf '| `%s` | %s | %s | %s | %s | %s → %s | %s s | none |\n' \
    "$t" "$label" "$(printf "%'d" $(( total / tsecs )))" "$cov" "$ft" "$seeds" "$after" "$tsecs" \
    >"$out/$t.row"
}

table() {
  echo
  echo "fuzz campaign, $(date -u +%Y-%m-%d), $(nproc) cores, sanitizer $san, RUNS=$runs per target:"
  if [ "$table_only" = 1 ]; then
    echo "TABLE_ONLY=1 bash fuzz/campaign.sh ${targets[*]}   (totals of the ledgers' runs)"
  else
    echo "RUNS=$runs MAX_SECONDS=$max SANITIZER=$san PARALLEL=$par WORKERS=$workers RESUME=$resume bash fuzz/campaign.sh ${targets[*]}"
  fi
  echo
  echo '| target | executions | exec/s | edges (cov) | features (ft) | corpus: seeds → after | time | findings |'
  echo '|---|---:|---:|---:|---:|---|---:|---|'
  for t in "${targets[@]}"; do cat "$out/$t.row"; done
}

if [ "$table_only" = 1 ]; then
  for t in "${targets[@]}"; do
    if [ -f "$out/$t.ledger" ]; then
      row "$t" -
    elif [ ! -f "$out/$t.row" ]; then
      # A campaign from before ledgers existed left only its row.
      echo "no ledger or row for $t in $out" >&2
      exit 1
    fi
  done
  table
  exit 0
fi

python3 fuzz/gen_corpus.py >/dev/null
cargo +nightly fuzz build --sanitizer "$san" >/dev/null

one() {
  local t=$1 corpus="$out/corpus-$1"
  if [ "$resume" != 1 ]; then
    rm -rf "$corpus"
    rm -f "$out/$t.ledger"
  fi
  mkdir -p "$corpus"
  cp -r "fuzz/corpus/$t/." "$corpus/" 2>/dev/null || true
  local seeds
  seeds=$(find "$corpus" -type f | wc -l)
  local k pids=() logs=() starts=() rc=0
  for ((k = 1; k <= workers; k++)); do
    local log="$out/$t.log"
    [ "$k" -eq 1 ] || log="$out/$t.$k.log"
    logs+=("$log")
    starts+=("$(date +%s)")
    cargo +nightly fuzz run --sanitizer "$san" "$t" "$corpus" -- \
      -runs=$(( runs / workers )) -max_total_time="$max" -print_final_stats=1 -timeout=25 \
      -rss_limit_mb=4096 -artifact_prefix="$out/crash-$t-" >"$log" 2>&1 &
    pids+=($!)
  done
  for ((k = 0; k < workers; k++)); do
    local how="" log=${logs[$k]}
    if ! wait "${pids[$k]}"; then
      if grep -q 'libFuzzer: run interrupted' "$log" \
          && grep -q '^stat::number_of_executed_units' "$log"; then
        how=" interrupted"
      else
        echo "!!! $t failed: see $log and $out/crash-$t-*" >&2
        tail -n 30 "$log" >&2
        rc=1
        continue
      fi
    fi
    local execs secs
    execs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    secs=$(( $(date +%s) - ${starts[$k]} ))
    [ "$secs" -gt 0 ] || secs=1
    echo "$execs $secs $(date -u +%Y-%m-%dT%H:%M:%SZ)$how" >>"$out/$t.ledger"
  done
  [ "$rc" -eq 0 ] || return 1
  row "$t" "$seeds"
}

pids=()
for t in "${targets[@]}"; do
  one "$t" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$par" ]; then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p"; done

table
