#!/usr/bin/env bash
# Installs pinned tools into .tools/bin (ignored by git), skipping any that
# is already there at its pinned version. Idempotent; says what it does on
# stderr.
#
#   scripts/tools.sh                  # every tool
#   scripts/tools.sh minio            # just the named ones
#   scripts/tools.sh chromium         # Debian's chromium, for the console's browser tests
#   TOOLS=/elsewhere scripts/tools.sh
set -euo pipefail

# Pinned versions: change them here only.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
STATICCHECK_VERSION=v0.8.2
PROTOC_GEN_GO_VERSION=v1.36.11
PROTOC_GEN_GO_GRPC_VERSION=v1.6.0

# tool name -> "module version package"
declare -A TOOL=(
	[minio]="github.com/minio/minio $MINIO_VERSION github.com/minio/minio"
	[staticcheck]="honnef.co/go/tools $STATICCHECK_VERSION honnef.co/go/tools/cmd/staticcheck"
	[protoc-gen-go]="google.golang.org/protobuf $PROTOC_GEN_GO_VERSION google.golang.org/protobuf/cmd/protoc-gen-go"
	[protoc-gen-go-grpc]="google.golang.org/grpc/cmd/protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION google.golang.org/grpc/cmd/protoc-gen-go-grpc"
)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${TOOLS:-$REPO/.tools/bin}

log() { echo "tools.sh: $*" >&2; }

# built_from BINARY MODULE prints the version of MODULE that BINARY was
# built from; nothing when it is missing or was not built by go install.
built_from() {
	[[ -x $1 ]] || return 0
	go version -m "$1" 2>/dev/null | awk -v m="$2" '($1 == "mod" || $1 == "dep") && $2 == m { print $3; exit }'
}

install() {
	local name=$1 module version pkg have
	read -r module version pkg <<<"${TOOL[$name]}"
	have=$(built_from "$TOOLS/$name" "$module")
	if [[ $have == "$version" ]]; then
		log "$name $version already installed in $TOOLS"
		return
	fi
	[[ -z $have ]] || log "$name in $TOOLS is $have; replacing it with $version"
	log "installing $name $version into $TOOLS"
	mkdir -p "$TOOLS"
	GOBIN=$TOOLS go install "$pkg@$version"
	log "installed $TOOLS/$name"
}

# chromium is Debian's package (apt, as root): Debian replaces it on every
# security update, so it cannot be pinned to a version; the version in use
# is logged. Where it cannot be installed the browser tests skip, saying so.
install_chromium() {
	local bin
	bin=$(type -P chromium || true)
	if [[ -z $bin && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		log "installing Debian's chromium (apt-get) for the browser tests"
		if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >/tmp/nightshift-apt.log 2>&1; then
			log "apt-get could not install chromium (see /tmp/nightshift-apt.log): the browser tests will skip"
		fi
		bin=$(type -P chromium || true)
	fi
	if [[ -n $bin ]]; then
		log "chromium: $("$bin" --version 2>/dev/null || echo "$bin")"
	else
		log "no chromium (not root, or no apt): the browser tests will skip"
	fi
}

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${!TOOL[@]}")
for name in "${names[@]}"; do
	if [[ $name == chromium ]]; then
		install_chromium
		continue
	fi
	if [[ -z ${TOOL[$name]+set} ]]; then
		log "unknown tool '$name' (known: ${!TOOL[*]})"
		exit 2
	fi
	install "$name"
done
