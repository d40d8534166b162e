#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for $FUZZTIME each, one at
# a time (the machine has two cores). New crashers land in testdata/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
status=0
while IFS= read -r line; do
  pkg=${line%%:*}
  target=${line##*:}
  echo "== fuzz $pkg $target ($FUZZTIME)" >&2
  if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "./$pkg" >/tmp/nightshift-fuzz.$$ 2>&1; then
    cat /tmp/nightshift-fuzz.$$ >&2
    status=1
  else
    tail -n 2 /tmp/nightshift-fuzz.$$ >&2
  fi
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  dir=$(dirname "$f"); dir=${dir#./}
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed "s|^func |$dir:|"
done)
rm -f /tmp/nightshift-fuzz.$$
exit $status
