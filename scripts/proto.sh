#!/usr/bin/env bash
# Regenerates Go code from proto/**/*.proto with pinned tools: protoc from
# Debian's protobuf-compiler (version checked below) and the Go plugins
# installed by scripts/tools.sh at the versions pinned there. Generated code
# is committed; CI never needs protoc.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOC_WANT="libprotoc 3.21.12"   # Debian bookworm's protobuf-compiler

mapfile -t protos < <(find proto -name '*.proto' | sort)
if [ ${#protos[@]} -eq 0 ]; then
  echo "proto: no .proto files under proto/ yet; nothing to generate" >&2
  exit 0
fi
if ! command -v protoc >/dev/null; then
  echo "proto: installing Debian's protobuf-compiler" >&2
  apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null
fi
got=$(protoc --version)
if [ "$got" != "$PROTOC_WANT" ]; then
  echo "proto: protoc is '$got', pinned '$PROTOC_WANT'; generated headers will differ" >&2
fi
scripts/tools.sh protoc-gen-go protoc-gen-go-grpc
PATH="$PWD/.tools/bin:$PATH" protoc -I proto \
  --go_out=proto --go_opt=paths=source_relative \
  --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
  "${protos[@]#proto/}"
echo "proto: generated ${#protos[@]} file(s)" >&2
