#!/usr/bin/env bash
# Measures the README's first command as a newcomer meets it: a fresh clone, HOME an empty
# directory (no ~/.npm), `npm ci`, then `./bin/sshcheck.js <target>` five times (median), then
# once more after a first run interrupted by SIGINT. Root only: the check runs in a network
# namespace of its own with its own resolv.conf, so no query leaves the machine.
#   scripts/measure-first-command.sh [repo] [target]     (defaults: this checkout, localhost)
# Where nodejs.org is out of reach, better-sqlite3's source build needs Node's headers from
# elsewhere: npm_config_nodedir=/usr (the headers of Debian's/NodeSource's nodejs package).
# NPM_CACHE=<dir>: npm ci takes the packages from that cache (a copy of one), not the registry;
# HOME stays empty either way.
set -euo pipefail
repo=${1:-$(cd "$(dirname "$0")/.." && pwd)}
target=${2:-localhost}
work=$(mktemp -d /tmp/sshcheck-first-XXXXXX)
ns=sshcheck-first-$$
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "/etc/netns/$ns" "$work"
}
trap cleanup EXIT

git clone -q "$repo" "$work/clone"
mkdir "$work/home"
export HOME=$work/home
cd "$work/clone"
start=$(date +%s.%N)
npm ci --no-audit --no-fund ${NPM_CACHE:+--cache "$NPM_CACHE" --prefer-offline} >"$work/npm-ci.log" 2>&1 || { tail -30 "$work/npm-ci.log"; exit 1; }
echo "npm ci (empty HOME, includes the build): $(echo "$(date +%s.%N) - $start" | bc) s"

# Loopback only; `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"
echo 'nameserver 127.0.0.1' >"/etc/netns/$ns/resolv.conf"
in_ns() { ip netns exec "$ns" env HOME="$HOME" "$@"; }

one() { # prints the wall time of one run in seconds
  local t0 t1
  t0=$(date +%s%N)
  in_ns ./bin/sshcheck.js "$target" >/dev/null 2>&1 || true
  t1=$(date +%s%N)
  echo "scale=3; ($t1 - $t0) / 1000000000" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (times scale with it)"
runs=()
for _ in 1 2 3 4 5; do runs+=("$(one)"); done
echo "five runs (the first with an empty HOME): ${runs[*]} s; median $(printf '%s\n' "${runs[@]}" | median) s"

# Again from an empty HOME, the very first run interrupted 0.3 s in (Ctrl-C), like a newcomer
# who changed their mind; then five more runs.
rm -rf "${HOME:?}"/* "${HOME:?}"/.[!.]* 2>/dev/null || true
in_ns ./bin/sshcheck.js "$target" >/dev/null 2>&1 &
pid=$!
sleep 0.3
kill -INT "$pid" 2>/dev/null || true
status=0
wait "$pid" || status=$?
echo "interrupted first run exited $status"
runs=()
for _ in 1 2 3 4 5; do runs+=("$(one)"); done
echo "five runs after the interrupted one: ${runs[*]} s; median $(printf '%s\n' "${runs[@]}" | median) s"
