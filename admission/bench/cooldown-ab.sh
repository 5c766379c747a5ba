#!/usr/bin/env bash
# cooldown-ab.sh BASE-REF [PAIRS]: BenchmarkAcquireRelease (uncontended
# in-process acquire+release, limit 4, 3 other holders) from admission's
# test binary built at BASE-REF and at the work tree, run interleaved
# (ABAB…, one -count=1 run each), so that both see the same machine load.
# Prints each side's median ns/op and the median of the paired differences
# (work tree minus base).
set -euo pipefail
base=${1:?usage: cooldown-ab.sh BASE-REF [PAIRS]}
pairs=${2:-20}
top=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src"
git -C "$top" archive "$base" | tar -x -C "$tmp/src"
(cd "$tmp/src" && go test -c -o "$tmp/base.test" ./admission/)
(cd "$top" && go test -c -o "$tmp/new.test" ./admission/)
one() { # test binary → ns/op
	"$1" -test.run '^$' -test.bench '^BenchmarkAcquireRelease$' -test.benchtime 20000x -test.count 1 |
		awk '/^BenchmarkAcquireRelease/ {print $3}'
}
: >"$tmp/a"
: >"$tmp/b"
for _ in $(seq "$pairs"); do
	one "$tmp/base.test" >>"$tmp/a"
	one "$tmp/new.test" >>"$tmp/b"
done
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo "base $base: $(median <"$tmp/a") ns/op"
echo "work tree:  $(median <"$tmp/b") ns/op"
echo "paired difference (work tree - base): $(paste "$tmp/b" "$tmp/a" | awk '{print $1-$2}' | median) ns/op"
