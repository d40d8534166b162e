#!/usr/bin/env bash
# gofmt, go vet and staticcheck (pinned, installed into .tools/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt wants to change:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
scripts/tools.sh staticcheck
.tools/bin/staticcheck ./...
