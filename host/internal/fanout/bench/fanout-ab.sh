#!/usr/bin/env bash
# fanout-ab.sh [RUNS]: `relay-host review echo` (one reviewer) beside
# `relay-host review echo,e2,e3` (three instant reviewers: the echo example
# under three names), built from the work tree, interleaved (ABBA…), each on
# a fresh job store, in one throwaway repository. Prints the median wall
# time of each, their ratio, and the median CPU time (user+sys) of each.
set -euo pipefail
runs=${1:-100}
top=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$top" && go build -o "$tmp/bin/" ./host/cmd/relay-host ./host/cmd/relay-host-core ./sdk/examples/echo)
mv "$tmp/bin/echo" "$tmp/bin/relay-provider-echo"

export HOME=$tmp/home XDG_STATE_HOME=$tmp/state XDG_CONFIG_HOME=$tmp/home/.config RELAY_LOG=error
mkdir -p "$XDG_CONFIG_HOME/relay" "$tmp/repo"
cat >"$XDG_CONFIG_HOME/relay/relay.hcl" <<'HCL'
provider "echo" {}
provider "e2" { plugin = "relay-provider-echo" }
provider "e3" { plugin = "relay-provider-echo" }
HCL
cd "$tmp/repo"
git init -q -b main
echo 'package main' >main.go
git add . && git -c user.name=t -c user.email=t@example.com commit -qm init
echo 'func main() {}' >>main.go

one() { # providers → "wall-µs cpu-µs"
	rm -rf "$XDG_STATE_HOME/relay/jobs"
	local t0 t1 c0 c1
	c0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
	t0=$(date +%s%N)
	"$tmp/bin/relay-host" review "$1" >/dev/null 2>&1
	t1=$(date +%s%N)
	c1=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
	echo "$(((t1 - t0) / 1000)) $(((c1 - c0) * 10000))"
}
for _ in 1 2 3; do one echo >/dev/null; one echo,e2,e3 >/dev/null; done
: >"$tmp/a"; : >"$tmp/b"
for ((i = 0; i < runs; i++)); do
	if ((i % 2 == 0)); then one echo >>"$tmp/a"; one echo,e2,e3 >>"$tmp/b"; else one echo,e2,e3 >>"$tmp/b"; one echo >>"$tmp/a"; fi
done
median() { cut -d' ' -f"$2" "$1" | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int((NR+1)/2)]/1000}'; }
a=$(median "$tmp/a" 1) b=$(median "$tmp/b" 1)
echo "runs $runs each, interleaved: one reviewer $a ms, three $b ms: $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", b/a}')x; CPU (user+sys of all processes) $(median "$tmp/a" 2) ms vs $(median "$tmp/b" 2) ms"
