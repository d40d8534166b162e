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
  fuzz() { go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "./$pkg" >/tmp/nightshift-fuzz.$$ 2>&1; }
  ok=0; fuzz && ok=1
  # Go's fuzz engine fails a run with a bare "context deadline exceeded"
  # when the time runs out while a worker is still on a slow input (no
  # crasher is written): run such a target once more instead of failing.
  if [ $ok = 0 ] && grep -q "context deadline exceeded" /tmp/nightshift-fuzz.$$ && ! grep -q "Failing input" /tmp/nightshift-fuzz.$$; then
    echo "   (fuzz engine deadline without a crasher; running $target again)" >&2
    fuzz && ok=1
  fi
  if [ $ok = 0 ]; then
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
