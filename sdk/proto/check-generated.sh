#!/usr/bin/env bash
# check-generated.sh fails (exit 1, diff on stdout) when the checked-in code in
# sdk/internal/relayv1 differs from what generate.sh produces from the .proto.
# CI runs it; fix a failure with `make proto` and commit the result.
set -euo pipefail

proto_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$proto_dir/../.." && pwd)"
have="$repo_root/sdk/internal/relayv1"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
want="$tmp/sdk/internal/relayv1"

"$proto_dir/generate.sh" "$tmp" >&2

# Only generated files are compared: doc.go in that directory is hand-written.
status=0
names="$( (cd "$have" && ls -- *.pb.go 2>/dev/null; cd "$want" && ls -- *.pb.go) | sort -u)"
for name in $names; do
	if [ ! -e "$want/$name" ]; then
		echo "check-generated: $name is checked in but no longer generated" >&2
		status=1
	elif [ ! -e "$have/$name" ]; then
		echo "check-generated: $name is generated but not checked in" >&2
		status=1
	elif ! diff -u "$have/$name" "$want/$name"; then
		status=1
	fi
done
if [ "$status" -ne 0 ]; then
	echo "check-generated: sdk/internal/relayv1 is out of date with sdk/proto; run 'make proto'" >&2
	exit 1
fi
echo "check-generated: sdk/internal/relayv1 is up to date" >&2
