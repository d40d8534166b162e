#!/usr/bin/env bash
# End-to-end run of a real 3-coordinator cluster started from the config
# files in deploy/config, as separate processes on loopback:
#   1. start coordinator-1 (bootstrap), -2 and -3; add -2 and -3 as voters;
#   2. start two workers (worker.yaml and a copy with other ports);
#   3. make a sample dataset and model (`nightshift demo` into the store);
#   4. shard it again as a distributed job into 200 shards (through a follower);
#   5. score it, kill the leader's process mid-job, and follow the job to
#      its end through a surviving coordinator;
#   6. check the committed output holds every row exactly once.
# Usage: scripts/e2e/cluster.sh   (needs nothing but Go; ~1 minute)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=/tmp/nightshift            # the paths deploy/config uses
NS=$PWD/bin/nightshift
make -s build
rm -rf "$ROOT"; mkdir -p "$ROOT/store" "$ROOT/logs"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
log() { echo "== $*" >&2; }
wait_ready() { # http addr
  for _ in $(seq 100); do curl -fs "http://$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "not ready: $1" >&2; return 1
}
start() { # name args...
  local name=$1; shift
  "$NS" "$@" >"$ROOT/logs/$name.log" 2>&1 &
  pids+=($!); eval "pid_$name=$!"
}

log "start 3 coordinators from deploy/config"
start c1 coordinator --config deploy/config/coordinator-1.yaml
wait_ready 127.0.0.1:7103
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

log "score, killing the leader mid-job"
job=$("$NS" score --model "$S/models/churn-truth" --input "$S/datasets/churn-200" --output "$S/scored" \
  --passthrough id -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["job"]["id"])')
leader=$("$NS" operator raft list-peers -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader_id"])')
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
python3 - "$ROOT/job.json" <<'PY'
import json, sys, os
job = json.load(open(sys.argv[1]))["job"]
assert job["state"] == "JOB_STATE_SUCCEEDED", job
out = job["output_dir"][len("file://"):]
man = json.load(open(os.path.join(out, "_manifest.json")))
assert os.path.exists(os.path.join(out, "_SUCCESS"))
assert man["rows"] == 200000 and len(man["objects"]) == 200, (man["rows"], len(man["objects"]))
listed = {o["key"] for o in man["objects"]}
files = [os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs]
extra = [k for k in files if k not in listed | {"_manifest.json", "_SUCCESS"}]
assert not extra, extra
print(f"ok: {man['rows']} rows in {len(listed)} objects, nothing else in {out}")
PY
log "e2e passed"
