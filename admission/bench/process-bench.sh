#!/usr/bin/env bash
# Whole-process comparison, side by side in one run: relay-host admission run
# (with no config file, and with one, which makes the front binary exec
# relay-host-core to parse it) vs flock(1) vs GNU parallel's sem, each
# wrapping `true`. Prints medians and ratios. Needs hyperfine and parallel
# (installed with apt-get when missing).
set -euo pipefail
relay=${1:-bin/relay-host}
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v sem >/dev/null || need+=(parallel)
command -v flock >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "process-bench: install ${need[*]} first" >&2; exit 1
  fi
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
relay=$(realpath "$relay")
# Run where no relay.hcl is: a ./relay.hcl (as in this repository) would
# make relay-host read it, which the relay-config case measures.
cd "$tmp"
export XDG_STATE_HOME=$tmp/state HOME=$tmp/home
mkdir -p "$HOME"
# sem wants to be told it has read the citation notice.
mkdir -p "$HOME/.parallel" && touch "$HOME/.parallel/will-cite"
# A typical user file: one route's limit and a global cap.
mkdir -p "$tmp/cfg"
printf 'admission {\n  max_total = 8\n}\nprovider "apireviewer" {\n  route "deepseek" { limit = 2 }\n}\n' > "$tmp/cfg/relay.hcl"
hyperfine -N --warmup 50 --runs 1000 --export-json "$tmp/fast.json" \
  -n relay "$relay admission run --key k --limit 1 -- true" \
  -n relay-config "$relay admission run --config $tmp/cfg/relay.hcl --key k --limit 1 -- true" \
  -n flock "flock $tmp/flock.lock true" \
  -n true "true" >/dev/null
hyperfine -N --warmup 2 --runs 30 --export-json "$tmp/sem.json" \
  -n sem "sem --id k -j 1 --fg true" >/dev/null
python3 - "$tmp/fast.json" "$tmp/sem.json" <<'PY'
import json, statistics, sys
med = {}
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        med[r["command"]] = statistics.median(r["times"]) * 1000
for k, v in med.items():
    print(f"{k:12s} median {v:8.3f} ms")
print(f"relay/flock = {med['relay']/med['flock']:.2f}x   relay-config/flock = {med['relay-config']/med['flock']:.2f}x   sem/relay = {med['sem']/med['relay']:.0f}x")
PY
