#!/usr/bin/env bash
# End-to-end run of a real 3-coordinator cluster started from the config
# files in deploy/config, as separate processes on loopback:
#   1. start coordinator-1 (bootstrap), -2 and -3; add -2 and -3 as voters;
#   2. start two workers (worker.yaml and a copy with other ports);
#   3. make a sample dataset and model (`nightshift demo` into the store);
#   4. shard it again as a distributed job into 200 shards (through a follower);
#   5. train a logistic model on both workers from a job file (ring
#      all-reduce between the worker processes), register it as "churn";
#   5b. train again, streaming the 200,000-row dataset under a 4 MiB budget
#      per member (several times smaller than the data), kill one worker's
#      process mid-epoch and start it again: the new process joins the
#      group, and the sample audit must count every training row exactly
#      once per epoch;
#   6. score with churn@production, kill the leader's process mid-job, and
#      follow the job to its end through a surviving coordinator;
#   7. check the committed output holds every row exactly once;
#   8. stop every process and start the cluster again in reverse order
#      (workers first, then coordinators 3, 2, 1: each starts before its
#      gossip seeds answer and joins in the background), and score again
#      through the CLI's coordinator list;
#   8b. on the restarted cluster: the console answers on a follower, and the
#      gossip key is rotated (install, use, remove) while a scoring job runs;
#   9. a nightly schedule (ingest, validate, train, promote, score) over 3
#      dated partitions of a lake: backfill its 3 slots, kill the leader's
#      process while the first run trains, restart it, and check that each
#      slot ran exactly once, succeeded with a model version and committed
#      its scores, and that backfilling the range again starts nothing.
# Usage: scripts/e2e/cluster.sh   (needs nothing but Go and coreutils; ~2 minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=/tmp/nightshift            # the paths deploy/config uses
NS=$PWD/bin/nightshift
make -s build
rm -rf "$ROOT"; mkdir -p "$ROOT/store" "$ROOT/logs"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
source scripts/e2e/lib.sh
# deploy/config with gossip encryption: every node gets the same key.
GKEY=$(head -c 32 /dev/urandom | base64)
for n in 1 2 3; do
  { cat "deploy/config/coordinator-$n.yaml"; echo "gossip_key: \"$GKEY\""; } >"$ROOT/coordinator-$n.yaml"
done
{ cat deploy/config/worker.yaml; echo "gossip_key: \"$GKEY\""; } >"$ROOT/worker-1.yaml"
wait_ready() { # api addr: ready once it answers with a leader
  for _ in $(seq 100); do
    [ -n "$("$NS" operator raft list-peers --coordinator "$1" -o json 2>/dev/null | jsonfield leader_id)" ] && return 0
    sleep 0.1
  done
  echo "not ready: $1" >&2; return 1
}
start() { # name args...
  local name=$1; shift
  "$NS" "$@" >"$ROOT/logs/$name.log" 2>&1 &
  pids+=($!); eval "pid_$name=$!"
}

log "start 3 coordinators from deploy/config"
start c1 coordinator --config "$ROOT/coordinator-1.yaml"
wait_ready 127.0.0.1:7100
start c2 coordinator --config "$ROOT/coordinator-2.yaml"
start c3 coordinator --config "$ROOT/coordinator-3.yaml"
export NIGHTSHIFT_ADDR=127.0.0.1:7100
sleep 1
"$NS" operator raft add-peer --id coordinator-2 --address 127.0.0.1:7111
"$NS" operator raft add-peer --id coordinator-3 --address 127.0.0.1:7121
"$NS" operator raft list-peers

log "start 2 workers"
sed -e 's/worker-1/worker-2/' -e 's/:7200/:7210/' -e 's/:7202/:7212/' -e 's/:7203/:7213/' "$ROOT/worker-1.yaml" >"$ROOT/worker-2.yaml"
start w1 worker --config "$ROOT/worker-1.yaml"
start w2 worker --config "$ROOT/worker-2.yaml"
for _ in $(seq 100); do [ "$("$NS" workers list -o json | grep -c '"WORKER_STATE_ACTIVE"')" = 2 ] && break; sleep 0.1; done
"$NS" workers list

log "sample dataset and model (nightshift demo into the store)"
"$NS" demo --data "$ROOT/store/demo" --rows 25000 -o json >"$ROOT/demo.json"
S=file://$ROOT/store/demo

export NIGHTSHIFT_ADDR=127.0.0.1:7110   # a follower: writes are forwarded
log "distributed shard job: 200 shards"
"$NS" shard --input "$S/sample/raw" --output "$S/datasets/churn-200" --rows-per-shard 1000 --label label --submit --wait

log "train on both workers (nightshift train -f), register as churn"
sed -e "s|file:///tmp/nightshift-demo|$S|g" -e 's/members: {min: 1, max: 2}/members: {min: 2, max: 2}/' \
  deploy/examples/train-logistic.yaml >"$ROOT/train.yaml"
"$NS" train -f "$ROOT/train.yaml" --wait
"$NS" models get churn

log "stream a dataset 4 MiB can't hold; kill a worker mid-epoch, a new process joins"
sed -e "s|datasets/churn$|datasets/churn-200|" -e 's/^model_name: churn/model_name: churn-stream/' \
  -e 's/^epochs: 3/epochs: 4/' -e 's/^batch_per_member: 1024/batch_per_member: 32/' -e '/^promotion:/d' \
  "$ROOT/train.yaml" >"$ROOT/train-stream.yaml"
printf 'audit_samples: true\ndata: {memory_budget_mb: 4, path: auto}\n' >>"$ROOT/train-stream.yaml"
stream=$("$NS" train -f "$ROOT/train-stream.yaml" -o json | jsonfield id)
step() { "$NS" jobs get "$stream" -o json | grep -o '"step": *"[0-9]*"' | head -1 | grep -o '[0-9][0-9]*' || echo 0; }
for _ in $(seq 600); do [ "$(step)" -ge 600 ] && break; sleep 0.1; done
log "killing worker-2 at step $(step) of $stream"
kill -9 "$pid_w2"; wait "$pid_w2" 2>/dev/null || true   # its ports are free once it is gone
start w2 worker --config "$ROOT/worker-2.yaml"
"$NS" jobs watch "$stream"
"$NS" jobs get "$stream" -o json >"$ROOT/stream.json"
"$NS" jobs get "$stream"
go run ./scripts/e2e/trainaudit -job "$ROOT/stream.json" -epochs 4 -path stream

log "score with churn@production, killing the leader mid-job"
job=$("$NS" score --model churn@production --input "$S/datasets/churn-200" --output "$S/scored" \
  --passthrough id -o json | jsonfield id)
leader=$("$NS" operator raft list-peers -o json | jsonfield leader_id)
sleep 0.3
case $leader in
  coordinator-1) kill -9 "$pid_c1"; export NIGHTSHIFT_ADDR=127.0.0.1:7110 ;;
  coordinator-2) kill -9 "$pid_c2"; export NIGHTSHIFT_ADDR=127.0.0.1:7100 ;;
  coordinator-3) kill -9 "$pid_c3"; export NIGHTSHIFT_ADDR=127.0.0.1:7100 ;;
esac
log "killed $leader; following job $job through $NIGHTSHIFT_ADDR"
"$NS" jobs watch "$job"
"$NS" jobs get "$job" -o json >"$ROOT/job.json"

log "check the committed output"
go run ./scripts/e2e/checkout -job "$ROOT/job.json" -rows 200000 -objects 200 -killed-committer

log "restart the whole cluster in reverse order: workers, then coordinators 3, 2, 1"
cleanup; pids=()
start w1 worker --config "$ROOT/worker-1.yaml"
start w2 worker --config "$ROOT/worker-2.yaml"
start c3 coordinator --config "$ROOT/coordinator-3.yaml"
start c2 coordinator --config "$ROOT/coordinator-2.yaml"
start c1 coordinator --config "$ROOT/coordinator-1.yaml"
export NIGHTSHIFT_ADDR=127.0.0.1:7100,127.0.0.1:7110,127.0.0.1:7120
wait_ready "$NIGHTSHIFT_ADDR"
for _ in $(seq 300); do [ "$("$NS" workers list -o json | grep -c '"WORKER_STATE_ACTIVE"')" = 2 ] && break; sleep 0.1; done
"$NS" workers list
job=$("$NS" score --model churn@production --input "$S/datasets/churn-200" --output "$S/scored" \
  --passthrough id --new --wait -o json | jsonfield id)
"$NS" jobs get "$job" -o json >"$ROOT/job2.json"
go run ./scripts/e2e/checkout -job "$ROOT/job2.json" -rows 200000 -objects 200

log "the console on a follower (coordinator-2's http_addr)"
if command -v curl >/dev/null; then
  curl -fsS http://127.0.0.1:7113/ui/ | grep -q "<title>nightshift</title>"
  curl -fsS http://127.0.0.1:7113/ui/api/overview | grep -q '"leader": *"coordinator-'
  curl -fsS "http://127.0.0.1:7113/ui/api/jobs/$job" | grep -q '"timeline"'
else
  echo "curl not installed: console check skipped" >&2
fi

log "rotate the gossip key while a scoring job runs"
job=$("$NS" score --model churn@production --input "$S/datasets/churn-200" --output "$S/scored" \
  --passthrough id --new -o json | jsonfield id)
NEWKEY=$(head -c 32 /dev/urandom | base64)
"$NS" operator gossip keyring install "$NEWKEY"
"$NS" operator gossip keyring use "$NEWKEY" --wait 1m
"$NS" operator gossip keyring remove "$GKEY" --wait 1m
"$NS" operator gossip keyring list
"$NS" jobs get "$job" -o json | grep -q '"JOB_STATE_RUNNING"\|"JOB_STATE_FINALIZING"\|"JOB_STATE_SUCCEEDED"'
"$NS" jobs watch "$job"
"$NS" jobs get "$job" -o json >"$ROOT/job3.json"
go run ./scripts/e2e/checkout -job "$ROOT/job3.json" -rows 200000 -objects 200
for _ in $(seq 100); do [ "$("$NS" workers list -o json | grep -c '"gossip": *"alive"')" = 2 ] && break; sleep 0.1; done
"$NS" workers list
if "$NS" workers list -o json | grep -q '"WORKER_STATE_DOWN"\|down: gossip'; then
  echo "a worker was declared down during the rotation" >&2; exit 1
fi

log "nightly schedule over 3 dated partitions of the lake, 5,000 rows each"
t_nightly=$SECONDS
NIGHTLY=e2e-nightly                     # the schedule; its model is churn-nightly
DAYS=(2026-11-01 2026-11-02 2026-11-03)
raw=("$ROOT"/store/demo/sample/raw/part-*.csv)
for i in "${!DAYS[@]}"; do              # another sample file each night: new content, nothing reused
  mkdir -p "$ROOT/store/demo/lake/${DAYS[$i]}"
  head -n 5001 "${raw[$i]}" >"$ROOT/store/demo/lake/${DAYS[$i]}/part-0000.csv"
done
day='{{ .Slot.Format "2006-01-02" }}'
{
  cat <<YAML
name: $NIGHTLY
cron: "0 2 * * *"
time_zone: UTC
description: e2e nightly retraining over the lake's dated partitions
policy: {catchup: none, overlap: buffer_all}
pipeline:
  step_tries: 3
  step_backoff: 2s
  ingest:
    sources: ['$S/lake/$day/']
    output: '$S/datasets/nightly-$day'
    options: {label: label, rows_per_shard: 1000}
  validate: {min_rows: 1000, required_columns: [id], ignore_columns: [id]}   # new ids every night
  train:                                # train.yaml's columns and model
    model_name: churn-nightly
    output: $S/models
    label: label
    features:
YAML
  sed -n '/^features:/,/^model:/p' "$ROOT/train.yaml" | grep '^  - ' | sed 's/^/    /'
  cat <<YAML
    model: {family: logistic, l2: 0.0001}
    optimizer: {name: adam, lr: 0.05, schedule: constant}
    epochs: 3
    batch_per_member: 256
    members: {min: 2, max: 2}
    seed: 42
    holdout: 0.2
    promotion: {metric: logloss, margin: 0.001}
  score:                                # churn-nightly@production on the night's dataset
    output: '$S/scored-nightly/$day'
    passthrough: [id]
YAML
} >"$ROOT/nightly.yaml"
"$NS" schedules add -f "$ROOT/nightly.yaml"
step_state() { # run step: the step's state, e.g. STEP_STATE_RUNNING ("" if unknown)
  "$NS" runs get "$1" -o json 2>/dev/null | grep -A1 "\"name\": \"$2\"" | grep -o 'STEP_STATE_[A-Z]*' | head -1 || true
}
nightly_fail() { echo "nightly: $*" >&2; exit 1; }

log "backfill 3 slots; kill the leader's process while the first run trains"
t0=$SECONDS
"$NS" schedules backfill "$NIGHTLY" --from 2026-11-01 --to 2026-11-03T03:00:00Z
first=$NIGHTLY@2026-11-01T02:00:00Z
for _ in $(seq 300); do
  train=$(step_state "$first" train)
  case $train in STEP_STATE_PENDING | "") sleep 0.2 ;; *) break ;; esac
done
leader=$("$NS" operator raft list-peers -o json | jsonfield leader_id)
n=${leader#coordinator-}
leader_addr=127.0.0.1:71$((n - 1))0
eval "kill -9 \$pid_c$n"
survivor=127.0.0.1:7100; [ "$n" = 1 ] && survivor=127.0.0.1:7110
log "killed $leader (train step of $first: $train); waiting for a new leader through $survivor"
for _ in $(seq 150); do
  new_leader=$("$NS" operator raft list-peers --coordinator "$survivor" -o json 2>/dev/null | jsonfield leader_id || true)
  [ -n "$new_leader" ] && [ "$new_leader" != "$leader" ] && break
  sleep 0.1
done
[ -n "$new_leader" ] && [ "$new_leader" != "$leader" ] || nightly_fail "no new leader after killing $leader"
log "$new_leader leads; start $leader again"
start "c$n" coordinator --config "$ROOT/coordinator-$n.yaml"
wait_ready "$leader_addr"
"$NS" operator raft list-peers

log "wait for the 3 runs to succeed (at most 180 s)"
runs=""
for _ in $(seq 180); do
  runs=$("$NS" runs list --schedule "$NIGHTLY" -o json 2>/dev/null || true)
  [ "$(grep -c '"RUN_STATE_SUCCEEDED"' <<<"$runs")" = 3 ] && break
  grep -qE '"RUN_STATE_(FAILED|CANCELLED|SKIPPED|MISSED)"' <<<"$runs" && break
  sleep 1
done
"$NS" runs list --schedule "$NIGHTLY"
log "3 nights backfilled in $((SECONDS - t0)) s"

log "check the nightly runs: one per slot, each succeeded with a model version and committed scores"
ids=$(grep -o "\"id\": \"$NIGHTLY@[^\"]*\"" <<<"$runs" | sed 's/.*: "\(.*\)"/\1/' | sort | tr '\n' ' ' || true)
want="$NIGHTLY@2026-11-01T02:00:00Z $NIGHTLY@2026-11-02T02:00:00Z $NIGHTLY@2026-11-03T02:00:00Z "
[ "$ids" = "$want" ] || nightly_fail "runs are [$ids], want [$want]"
[ "$(grep -c '"RUN_STATE_SUCCEEDED"' <<<"$runs")" = 3 ] || nightly_fail "not every run succeeded"
for d in "${DAYS[@]}"; do
  id=$NIGHTLY@${d}T02:00:00Z
  "$NS" runs get "$id" -o json >"$ROOT/run-$d.json"
  grep -q '"RUN_STATE_SUCCEEDED"' "$ROOT/run-$d.json" || nightly_fail "$id did not succeed"
  v=$(grep -o '"model_version": [0-9]*' "$ROOT/run-$d.json" | grep -o '[0-9]*$' || true)
  [ "${v:-0}" -gt 0 ] || nightly_fail "$id has no model version"
  out=$(jsonfield output_uri <"$ROOT/run-$d.json" || true)
  case $out in "$S/scored-nightly/$d/"*) ;; *) nightly_fail "$id scored into '$out', not below $S/scored-nightly/$d" ;; esac
  [ -f "${out#file://}/_SUCCESS" ] || nightly_fail "$id: no _SUCCESS in $out"
  job=$(grep -A2 '"name": "score"' "$ROOT/run-$d.json" | jsonfield job_id)
  "$NS" jobs get "$job" -o json >"$ROOT/score-$d.json"
  go run ./scripts/e2e/checkout -job "$ROOT/score-$d.json" -rows 5000 -objects 5
  echo "$id: churn-nightly v$v, promoted $(grep -o '"promoted": [a-z]*' "$ROOT/run-$d.json" | grep -o '[a-z]*$'), scores in $out"
done
restarted_runs() { "$NS" runs list --schedule "$NIGHTLY" --stale -o json --coordinator "$leader_addr" 2>/dev/null | grep -c '"RUN_STATE_SUCCEEDED"' || true; }
for _ in $(seq 100); do [ "$(restarted_runs)" = 3 ] && break; sleep 0.1; done
[ "$(restarted_runs)" = 3 ] || nightly_fail "the restarted $leader does not hold the 3 runs"

log "backfill the same range again (reprocess none): every slot keeps its run"
"$NS" schedules backfill "$NIGHTLY" --from 2026-11-01 --to 2026-11-03T03:00:00Z --dry-run
"$NS" schedules backfill "$NIGHTLY" --from 2026-11-01 --to 2026-11-03T03:00:00Z -o json >"$ROOT/backfill2.json"
[ "$(grep -c '"action": "keep"' "$ROOT/backfill2.json")" = 3 ] || nightly_fail "the second backfill did not keep every slot: $(cat "$ROOT/backfill2.json")"
[ "$("$NS" runs list --schedule "$NIGHTLY" -o json | grep -c "\"id\": \"$NIGHTLY@")" = 3 ] || nightly_fail "the second backfill added runs"
log "nightly stage passed in $((SECONDS - t_nightly)) s"
log "e2e passed"
