#!/usr/bin/env bash
# End-to-end run on Docker: the FROM-scratch image (make image) and the
# 3-coordinator, 2-worker cluster of deploy/compose.
#   1. start the three coordinator containers in a random order, with small
#      random gaps: they form the cluster by themselves (bootstrap_expect: 3,
#      no add-peer); wait for a leader and 3 voters;
#   2. a distributed shard job through a follower, training on both workers,
#      then a scoring job during which the leader's container is killed; the
#      committed output must hold every row exactly once;
#   3. stop all three coordinator containers and start them again in another
#      random order: the cluster must come back (a leader, 3 voters, the
#      earlier job still listed) and a new small scoring job succeed.
# The orders are printed with the seed that drew them; E2E_SEED=N replays a
# run's orders and gaps. Every container's log is kept in
# $NIGHTSHIFT_DATA/compose.log. Skips (exit 0) with a message where no Docker
# engine runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! docker info >/dev/null 2>&1; then
  echo "e2e docker: skipped: no Docker engine reachable on this machine" >&2
  exit 0
fi
COMPOSE=(docker-compose -p nightshift-e2e -f deploy/compose/docker-compose.yml)
export NIGHTSHIFT_DATA=/tmp/nightshift-docker
NS=$PWD/bin/nightshift
ALL=127.0.0.1:17100,127.0.0.1:17110,127.0.0.1:17120   # c1, c2, c3's APIs
source scripts/e2e/lib.sh
saved_logs=0
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "${E2E_SEED:-}" ]; then
    echo "e2e docker: failed; coordinator start orders: ${orders:-none yet} (replay: E2E_SEED=$E2E_SEED scripts/e2e/docker.sh); container logs: $NIGHTSHIFT_DATA/compose.log" >&2
  fi
  if [ "$saved_logs" = 1 ]; then
    "${COMPOSE[@]}" logs --no-color -t >"$NIGHTSHIFT_DATA/compose.log" 2>&1 || true
  fi
  "${COMPOSE[@]}" down -t 2 >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { echo "e2e docker: $*" >&2; exit 1; }
# container SERVICE: the ID of the service's container (whatever the
# docker-compose version names it).
container() {
  docker ps -aq --filter label=com.docker.compose.project=nightshift-e2e --filter "label=com.docker.compose.service=$1"
}

# Orders and gaps come from $RANDOM, seeded so that a run can be replayed.
# (Only the main shell draws from it: a subshell would not continue the
# sequence.)
E2E_SEED=${E2E_SEED:-$RANDOM}
RANDOM=$E2E_SEED
orders=""
# shuffle NAME...: sets ORDER to the names in a random order.
shuffle() {
  ORDER=("$@")
  local i j t
  for ((i = ${#ORDER[@]} - 1; i > 0; i--)); do
    j=$((RANDOM % (i + 1))); t=${ORDER[i]}; ORDER[i]=${ORDER[j]}; ORDER[j]=$t
  done
}
# start_coordinators: starts the containers in ORDER, 0 to 1.5 s apart.
start_coordinators() {
  local c g desc=""
  t_first=$EPOCHREALTIME
  for c in "${ORDER[@]}"; do
    docker start "${cid[$c]}" >/dev/null || fail "docker start $c failed"
    desc+="$c"
    if [ "$c" != "${ORDER[-1]}" ]; then
      g=$((RANDOM % 16)); desc+=" +$((g / 10)).$((g % 10))s "
      sleep "$((g / 10)).$((g % 10))"
    fi
  done
  orders+="${orders:+; }$desc"
  log "coordinators started: $desc (seed $E2E_SEED)"
}
# wait_cluster SECONDS: waits until each of the 3 coordinators answers
# list-peers itself with the same leader and 3 voters (a follower names the
# leader once it heard from it). Sets LEADER (its number, 1 to 3) and prints
# the peers and how long it took since the first coordinator started.
wait_cluster() {
  local end=$((SECONDS + $1)) i out leader leaders
  while [ "$SECONDS" -lt "$end" ]; do
    leaders=""
    for i in 1 2 3; do
      out=$("$NS" operator raft list-peers --coordinator "$(api $i)" --timeout 2s -o json 2>/dev/null || true)
      leader=$(jsonfield leader_id <<<"$out" || true)
      [ -n "$leader" ] && [ "$(grep -c '"voter": *true' <<<"$out")" = 3 ] || leader=none
      leaders+=" $leader"
    done
    if [ "$leaders" = " $leader $leader $leader" ] && [ "$leader" != none ]; then
      LEADER=${leader#coordinator-}
      log "a leader ($leader) and 3 voters, seen by all 3 coordinators, $(since "$t_first") s after the first start"
      "$NS" operator raft list-peers --coordinator "$ALL"
      return 0
    fi
    sleep 0.25
  done
  for i in 1 2 3; do "$NS" operator raft list-peers --coordinator "$(api $i)" --timeout 2s >&2 || true; done
  fail "no leader with 3 voters seen by all 3 coordinators within $1 s (their leaders:$leaders)"
}
# since T: seconds (one decimal) from T, an $EPOCHREALTIME, to now.
since() { local now=$EPOCHREALTIME t=$1 d; d=$(( ${now//[.,]/} - ${t//[.,]/} )); echo "$((d / 1000000)).$((d / 100000 % 10))"; }
# api N: coordinator N's API address on the host.
api() { echo "127.0.0.1:$((17090 + 10 * $1))"; }

make -s image >/dev/null
cleanup
rm -rf "$NIGHTSHIFT_DATA"; mkdir -p "$NIGHTSHIFT_DATA/store"
log "seed $E2E_SEED"

log "sample dataset and model (nightshift demo in a one-off container)"
docker run --rm -v "$NIGHTSHIFT_DATA:/data" nightshift:dev demo --data /data/store/demo --rows 25000 -o json >/dev/null
S=file:///data/store/demo

log "create the containers; start 3 coordinators in a random order (bootstrap_expect: 3)"
"${COMPOSE[@]}" up --no-start >/dev/null 2>&1 || fail "docker-compose up --no-start failed"
saved_logs=1
declare -A cid
for c in c1 c2 c3; do cid[$c]=$(container $c); [ -n "${cid[$c]}" ] || fail "no container for $c"; done
shuffle c1 c2 c3
first=("${ORDER[@]}")
start_coordinators
wait_cluster 60
log "start 2 workers"
"${COMPOSE[@]}" start w1 w2 >/dev/null 2>&1 || fail "docker-compose start w1 w2 failed"
export NIGHTSHIFT_ADDR=$ALL
for _ in $(seq 100); do [ "$("$NS" workers list -o json | grep -c '"WORKER_STATE_ACTIVE"')" = 2 ] && break; sleep 0.2; done
"$NS" workers list

follower=$((LEADER % 3 + 1))
export NIGHTSHIFT_ADDR=$(api $follower)   # a follower: writes are forwarded
log "distributed shard job: 200 shards, through coordinator-$follower"
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
docker kill "${cid[c$n]}" >/dev/null
survivors=()
for i in 1 2 3; do [ "$i" = "$n" ] || survivors+=("$(api "$i")"); done
export NIGHTSHIFT_ADDR=$(IFS=,; echo "${survivors[*]}")
log "killed $leader; following job $job through $NIGHTSHIFT_ADDR"
"$NS" jobs watch "$job" >/dev/null
"$NS" jobs get "$job" -o json >"$NIGHTSHIFT_DATA/job.json"

log "check the committed output"
go run ./scripts/e2e/checkout -job "$NIGHTSHIFT_DATA/job.json" -rows 200000 -objects 200 -map file:///data="$NIGHTSHIFT_DATA" -killed-committer ||
  fail "the scoring job's output is wrong"

log "stop all 3 coordinators; start them again in another random order"
"${COMPOSE[@]}" stop -t 5 c1 c2 c3 >/dev/null 2>&1 || fail "docker-compose stop failed"
shuffle c1 c2 c3
while [ "${ORDER[*]}" = "${first[*]}" ]; do shuffle c1 c2 c3; done
start_coordinators
wait_cluster 60
export NIGHTSHIFT_ADDR=$ALL
"$NS" jobs list -o json | grep -q "\"$job\"" || fail "job $job is no longer listed after the restart"
[ "$("$NS" jobs get "$job" -o json | jsonfield state)" = JOB_STATE_SUCCEEDED ] || fail "job $job is no longer succeeded after the restart"
for _ in $(seq 100); do [ "$("$NS" workers list -o json | grep -c '"WORKER_STATE_ACTIVE"')" = 2 ] && break; sleep 0.2; done
"$NS" workers list

log "a new small job on the restarted cluster: shard into 8 (one per sample file), score with churn@production"
"$NS" shard --input "$S/sample/raw" --output "$S/datasets/churn-8" --rows-per-shard 25000 --label label --submit --wait >/dev/null ||
  fail "the shard job after the restart failed"
job2=$("$NS" score --model churn@production --input "$S/datasets/churn-8" --output "$S/scored-after-restart" \
  --passthrough id --skip-preflight -o json | jsonfield id)
"$NS" jobs watch "$job2" >/dev/null || true
"$NS" jobs get "$job2" -o json >"$NIGHTSHIFT_DATA/job2.json"
go run ./scripts/e2e/checkout -job "$NIGHTSHIFT_DATA/job2.json" -rows 200000 -objects 8 -map file:///data="$NIGHTSHIFT_DATA" ||
  fail "the scoring job after the restart failed or its output is wrong"
log "docker e2e passed (coordinator start orders: $orders; seed $E2E_SEED)"
