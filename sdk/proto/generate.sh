#!/usr/bin/env bash
# generate.sh regenerates sdk/internal/relayv1 from sdk/proto.
#
# Usage: sdk/proto/generate.sh [OUTPUT_ROOT]
#
# OUTPUT_ROOT defaults to the repository root; the Go files land in
# OUTPUT_ROOT/sdk/internal/relayv1. check-generated.sh passes a temp dir.
#
# There is no protoc on the build machines: buf compiles the .proto, and the
# generators are installed at pinned versions into a temporary GOBIN through
# the Go module proxy. `go install pkg@version` never reads or writes the
# repository's go.mod, and pinning every generator keeps the "// versions:"
# header of the generated files identical on every machine.
set -euo pipefail

BUF_VERSION=v1.75.0
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.1

proto_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$proto_dir/../.." && pwd)"
out_root="${1:-$repo_root}"
mkdir -p "$out_root"
out_root="$(cd "$out_root" && pwd)"

gobin="$(mktemp -d)"
trap 'rm -rf "$gobin"' EXIT

# GOFLAGS from the caller (e.g. -mod=vendor) must not leak into installs of
# tools that live outside this module.
export GOFLAGS=-buildvcs=false
GOBIN="$gobin" go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
GOBIN="$gobin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
GOBIN="$gobin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"

gen_dir="$out_root/sdk/internal/relayv1"
# Remove stale outputs so a deleted message or file cannot survive.
rm -f "$gen_dir"/*.pb.go

cd "$proto_dir"
PATH="$gobin:$PATH" "$gobin/buf" generate --template buf.gen.yaml --output "$out_root" .
