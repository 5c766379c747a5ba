#!/usr/bin/env bash
# run-ab.sh OLD-BIN-DIR NEW-BIN-DIR [RUNS]: `relay-host admission run --key k
# --limit 1 -- true` from two builds (make build BIN=…), interleaved (ABBA…),
# no configuration file anywhere (the lean front binary runs it). Prints the
# median wall time of each and the median of the paired differences.
set -euo pipefail
old=${1:?usage: run-ab.sh OLD-BIN-DIR NEW-BIN-DIR [RUNS]} new=${2:?} runs=${3:-500}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home XDG_STATE_HOME=$tmp/state XDG_CONFIG_HOME=$tmp/home/.config RELAY_LOG=error
mkdir -p "$HOME"
cd "$tmp"
one() {
	local t0 t1
	t0=$(date +%s%N)
	"$1/relay-host" admission run --key k --limit 1 -- true
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
for _ in 1 2 3 4 5; do one "$old" >/dev/null; one "$new" >/dev/null; done
: >a; : >b; : >d
for ((i = 0; i < runs; i++)); do
	if ((i % 2 == 0)); then x=$(one "$old"); y=$(one "$new"); else y=$(one "$new"); x=$(one "$old"); fi
	echo "$x" >>a; echo "$y" >>b; echo $((y - x)) >>d
done
median() { sort -n "$1" | awk '{v[NR]=$1} END {printf "%.3f", v[int((NR+1)/2)]/1000}'; }
echo "runs $runs each, interleaved: median old $(median a) ms, new $(median b) ms, median paired difference $(median d) ms"
