#!/usr/bin/env bash
# End-to-end run of a real 3-coordinator cluster started from the config
# files in deploy/config, as separate processes on loopback:
#   1. start coordinator-1 (bootstrap), -2 and -3; add -2 and -3 as voters;
#   2. start two workers (worker.yaml and a copy with other ports);
#   3. make a sample dataset and model (`nightshift demo` into the store);
#   4. shard it again as a distributed job into 200 shards (through a follower);
#   5. train a logistic model on both workers from a job file (ring
#      all-reduce between the worker processes), register it as "churn";
#   6. score with churn@production, kill the leader's process mid-job, and
#      follow the job to its end through a surviving coordinator;
#   7. check the committed output holds every row exactly once;
#   8. stop every process and start the cluster again in reverse order
#      (workers first, then coordinators 3, 2, 1: each starts before its
#      gossip seeds answer and joins in the background), and score again
#      through the CLI's coordinator list.
# Usage: scripts/e2e/cluster.sh   (needs nothing but Go and coreutils; ~1 minute)
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
start c1 coordinator --config deploy/config/coordinator-1.yaml
wait_ready 127.0.0.1:7100
start c2 coordinator --config deploy/config/coordinator-2.yaml
start c3 coordinator --config deploy/config/coordinator-3.yaml
export NIGHTSHIFT_ADDR=127.0.0.1:7100
sleep 1
"$NS" operator raft add-peer --id coordinator-2 --address 127.0.0.1:7111
"$NS" operator raft add-peer --id coordinator-3 --address 127.0.0.1:7121
"$NS" operator raft list-peers

log "start 2 workers"
sed -e 's/worker-1/worker-2/' -e 's/:7200/:7210/' -e 's/:7202/:7212/' -e 's/:7203/:7213/' deploy/config/worker.yaml >"$ROOT/worker-2.yaml"
start w1 worker --config deploy/config/worker.yaml
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
go run ./scripts/e2e/checkout -job "$ROOT/job.json" -rows 200000 -objects 200

log "restart the whole cluster in reverse order: workers, then coordinators 3, 2, 1"
cleanup; pids=()
start w1 worker --config deploy/config/worker.yaml
start w2 worker --config "$ROOT/worker-2.yaml"
start c3 coordinator --config deploy/config/coordinator-3.yaml
start c2 coordinator --config deploy/config/coordinator-2.yaml
start c1 coordinator --config deploy/config/coordinator-1.yaml
export NIGHTSHIFT_ADDR=127.0.0.1:7100,127.0.0.1:7110,127.0.0.1:7120
wait_ready "$NIGHTSHIFT_ADDR"
for _ in $(seq 300); do [ "$("$NS" workers list -o json | grep -c '"WORKER_STATE_ACTIVE"')" = 2 ] && break; sleep 0.1; done
"$NS" workers list
job=$("$NS" score --model churn@production --input "$S/datasets/churn-200" --output "$S/scored" \
  --passthrough id --new --wait -o json | jsonfield id)
"$NS" jobs get "$job" -o json >"$ROOT/job2.json"
go run ./scripts/e2e/checkout -job "$ROOT/job2.json" -rows 200000 -objects 200
log "e2e passed"
