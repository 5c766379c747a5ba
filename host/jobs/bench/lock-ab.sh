#!/usr/bin/env bash
# lock-ab.sh BASE-REF [RUNS]: `relay-host review echo` built at BASE-REF
# (before the per-job lock) and at the work tree, run side by side,
# interleaved (ABBA…), each on a fresh job store, in one throwaway
# repository. Prints the median wall time of each and the median of the
# paired differences (work tree minus base).
set -euo pipefail
base=${1:?usage: lock-ab.sh BASE-REF [RUNS]}
runs=${2:-200}
top=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build() { # src-dir out-dir
	(cd "$1" && go build -o "$2/" ./host/cmd/relay-host ./host/cmd/relay-host-core ./sdk/examples/echo)
	mv "$2/echo" "$2/relay-provider-echo"
}
mkdir -p "$tmp/src" "$tmp/base" "$tmp/new"
git -C "$top" archive "$base" | tar -x -C "$tmp/src"
build "$tmp/src" "$tmp/base"
build "$top" "$tmp/new"

export HOME=$tmp/home XDG_STATE_HOME=$tmp/state XDG_CONFIG_HOME=$tmp/home/.config RELAY_LOG=error
mkdir -p "$XDG_CONFIG_HOME/relay" "$tmp/repo"
echo 'provider "echo" {}' >"$XDG_CONFIG_HOME/relay/relay.hcl"
cd "$tmp/repo"
git init -q -b main
echo 'package main' >main.go
git add . && git -c user.name=t -c user.email=t@example.com commit -qm init
echo 'func main() {}' >>main.go

one() { # bin-dir → wall time in µs
	rm -rf "$XDG_STATE_HOME/relay/jobs"
	local t0 t1
	t0=$(date +%s%N)
	"$1/relay-host" review echo >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
for _ in 1 2 3 4 5; do one "$tmp/base" >/dev/null; one "$tmp/new" >/dev/null; done
: >"$tmp/a" ; : >"$tmp/b" ; : >"$tmp/d"
for ((i = 0; i < runs; i++)); do
	if ((i % 2 == 0)); then a=$(one "$tmp/base"); b=$(one "$tmp/new"); else b=$(one "$tmp/new"); a=$(one "$tmp/base"); fi
	echo "$a" >>"$tmp/a"; echo "$b" >>"$tmp/b"; echo $((b - a)) >>"$tmp/d"
done
median() { sort -n "$1" | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; printf "%.2f", m/1000}'; }
echo "runs $runs each, interleaved: median base $(median "$tmp/a") ms, work tree $(median "$tmp/b") ms, median paired difference $(median "$tmp/d") ms"
