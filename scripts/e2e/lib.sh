# Helpers the end-to-end scripts source.

# log prints a step heading on stderr.
log() { echo "== $*" >&2; }
# jsonfield NAME prints the first string value of "NAME" in JSON on stdin.
jsonfield() { grep -o "\"$1\": *\"[^\"]*\"" | head -1 | sed 's/.*: *"\(.*\)"/\1/'; }
