#!/usr/bin/env bash
# Runs a command against a throwaway MinIO server:
#
#   scripts/with-minio.sh go test -race ./storage/...
#
# Installs the pinned MinIO if missing (scripts/tools.sh), starts it on free
# loopback ports with a temporary data dir and random root credentials,
# waits until it is live, exports
#
#   NIGHTSHIFT_TEST_S3_ENDPOINT, NIGHTSHIFT_TEST_S3_ACCESS_KEY,
#   NIGHTSHIFT_TEST_S3_SECRET_KEY   (for the tests)
#   NIGHTSHIFT_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#   AWS_REGION                      (for the CLI)
#
# runs the command, then stops MinIO and deletes its data whatever happens.
# Exits with the command's status.
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: $0 COMMAND [ARGS...]" >&2
	exit 2
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${TOOLS:-$REPO/.tools/bin}
"$REPO/scripts/tools.sh" minio
MINIO=$TOOLS/minio

log() { echo "with-minio: $*" >&2; }

# tmp_parent picks where MinIO's throwaway data goes: NIGHTSHIFT_MINIO_TMPDIR
# if set, else /dev/shm when it has 2 GiB free (RAM makes the S3 tests
# several times faster), else $TMPDIR or /tmp.
tmp_parent() {
	if [[ -n ${NIGHTSHIFT_MINIO_TMPDIR:-} ]]; then
		echo "$NIGHTSHIFT_MINIO_TMPDIR"
		return
	fi
	if [[ -d /dev/shm && -w /dev/shm ]]; then
		local avail
		avail=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
		if ((${avail:-0} >= 2 * 1024 * 1024)); then
			echo /dev/shm
			return
		fi
	fi
	echo "${TMPDIR:-/tmp}"
}

tmp=$(mktemp -d "$(tmp_parent)/nightshift-minio.XXXXXX")
pid=""

stop_minio() {
	[[ -n $pid ]] || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
}
cleanup() {
	stop_minio
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_free P succeeds when nothing accepts connections on 127.0.0.1:P.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port [EXCEPT] prints a free port from a random start, other than EXCEPT.
free_port() {
	local p=$((20000 + RANDOM % 40000))
	for _ in $(seq 500); do
		p=$((p < 65000 ? p + 1 : 20000))
		if [[ $p != "${1:-}" ]] && port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	log "no free loopback port found"
	return 1
}

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
user="nightshift-$(rand_hex 6)"
password=$(rand_hex 20)

# live P succeeds when MinIO on port P answers its liveness probe with 200.
# Plain bash (/dev/tcp), so a machine without curl works too.
live() {
	(
		exec 4<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET /minio/health/live HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&4
		read -r -t 2 line <&4 || exit 1
		[[ $line == "HTTP/1."?" 200"* ]]
	) 2>/dev/null
}

# start_minio starts the server on fresh ports and waits up to 60 s for it
# to be live. Status 1: it exited (a port was taken meanwhile); 2: timeout.
start_minio() {
	port=$(free_port)
	console=$(free_port "$port")
	mkdir -p "$tmp/data"
	MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$password MINIO_UPDATE=off MINIO_CI_CD=1 \
		"$MINIO" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
		"$tmp/data" >"$tmp/minio.log" 2>&1 &
	pid=$!
	local deadline=$((SECONDS + 60))
	while ((SECONDS < deadline)); do
		if live "$port"; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			pid=""
			return 1
		fi
		sleep 0.2
	done
	return 2
}

started=""
for attempt in 1 2 3; do
	status=0
	start_minio || status=$?
	if [[ $status == 0 ]]; then
		started=1
		break
	fi
	stop_minio
	if [[ $status == 2 ]]; then
		log "MinIO was not live after 60 s"
		break
	fi
	log "MinIO exited during start-up (attempt $attempt); retrying on other ports"
done
if [[ -z $started ]]; then
	log "could not start MinIO; its log:"
	cat "$tmp/minio.log" >&2 || true
	exit 1
fi
log "MinIO live at 127.0.0.1:$port (data in $tmp)"

export NIGHTSHIFT_TEST_S3_ENDPOINT=127.0.0.1:$port
export NIGHTSHIFT_TEST_S3_ACCESS_KEY=$user
export NIGHTSHIFT_TEST_S3_SECRET_KEY=$password
export NIGHTSHIFT_S3_ENDPOINT=127.0.0.1:$port
export AWS_ACCESS_KEY_ID=$user
export AWS_SECRET_ACCESS_KEY=$password
export AWS_REGION=us-east-1

status=0
"$@" || status=$?
exit "$status"
