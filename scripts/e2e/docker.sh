#!/usr/bin/env bash
# End-to-end run on Docker: the FROM-scratch image (make image), a
# 3-coordinator, 2-worker cluster from deploy/compose, a distributed shard
# job, then a scoring job during which the leader's container is killed.
# Checks the committed output holds every row exactly once. Skips (exit 0)
# with a message where no Docker engine runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! docker info >/dev/null 2>&1; then
  echo "e2e docker: skipped: no Docker engine reachable on this machine" >&2
  exit 0
fi
COMPOSE=(docker-compose -p nightshift-e2e -f deploy/compose/docker-compose.yml)
export NIGHTSHIFT_DATA=/tmp/nightshift-docker
NS=$PWD/bin/nightshift
source scripts/e2e/lib.sh
cleanup() { "${COMPOSE[@]}" down -t 2 >/dev/null 2>&1 || true; }
trap cleanup EXIT

make -s image >/dev/null
cleanup
rm -rf "$NIGHTSHIFT_DATA"; mkdir -p "$NIGHTSHIFT_DATA/store"

log "sample dataset and model (nightshift demo in a one-off container)"
docker run --rm -v "$NIGHTSHIFT_DATA:/data" nightshift:dev demo --data /data/store/demo --rows 25000 -o json >/dev/null
S=file:///data/store/demo

log "compose up: 3 coordinators, 2 workers"
"${COMPOSE[@]}" up -d
export NIGHTSHIFT_ADDR=127.0.0.1:17100
for _ in $(seq 100); do [ -n "$("$NS" operator raft list-peers -o json 2>/dev/null | jsonfield leader_id)" ] && break; sleep 0.2; done
for i in 2 3; do
  for _ in $(seq 50); do "$NS" operator raft add-peer --id coordinator-$i --address c$i:7101 2>/dev/null && break; sleep 0.2; done
done
"$NS" operator raft list-peers
[ "$("$NS" operator raft list-peers -o json | grep -c '"voter": *true')" = 3 ] || { echo "e2e docker: the cluster has not 3 voters" >&2; exit 1; }
for _ in $(seq 100); do [ "$("$NS" workers list -o json | grep -c '"WORKER_STATE_ACTIVE"')" = 2 ] && break; sleep 0.2; done
"$NS" workers list

export NIGHTSHIFT_ADDR=127.0.0.1:17110   # a follower
log "distributed shard job: 200 shards"
"$NS" shard --input "$S/sample/raw" --output "$S/datasets/churn-200" --rows-per-shard 1000 --label label --submit --wait >/dev/null

log "train on both workers (nightshift train -f), register as churn"
sed -e "s|file:///tmp/nightshift-demo|$S|g" -e 's/members: {min: 1, max: 2}/members: {min: 2, max: 2}/' \
  deploy/examples/train-logistic.yaml >"$NIGHTSHIFT_DATA/train.yaml"
"$NS" train -f "$NIGHTSHIFT_DATA/train.yaml" --skip-preflight --wait >/dev/null
"$NS" models get churn

log "score with churn@production, killing the leader's container mid-job"
job=$("$NS" score --model churn@production --input "$S/datasets/churn-200" --output "$S/scored" \
  --passthrough id --skip-preflight -o json | jsonfield id)
leader=$("$NS" operator raft list-peers -o json | jsonfield leader_id)
sleep 0.3
n=${leader#coordinator-}
docker kill "nightshift-e2e_c${n}_1" >/dev/null
[ "$n" = 2 ] && export NIGHTSHIFT_ADDR=127.0.0.1:17100
log "killed $leader; following job $job through $NIGHTSHIFT_ADDR"
"$NS" jobs watch "$job" >/dev/null
"$NS" jobs get "$job" -o json >"$NIGHTSHIFT_DATA/job.json"

log "check the committed output"
go run ./scripts/e2e/checkout -job "$NIGHTSHIFT_DATA/job.json" -rows 200000 -objects 200 -map file:///data="$NIGHTSHIFT_DATA"
log "docker e2e passed"
