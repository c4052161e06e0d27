#!/usr/bin/env bash
# Installs a release tarball (`npm pack` → sshcheck-<version>.tgz) as docs/install.md describes:
#   /opt/sshcheck/releases/<version>/   the package and its production dependencies
#   /opt/sshcheck/current               → the release just installed (switched atomically)
#   /usr/local/bin/sshcheck             → /opt/sshcheck/current/bin/sshcheck.js
#   /etc/systemd/system/sshcheck-{bot,engine}.service, running the installed binary as the
#   home-less system user `sshcheck` with its state in /var/lib/sshcheck (StateDirectory=).
# Needs Node.js >= 20 (24 LTS recommended) with npm, and g++, make and python3 when
# better-sqlite3 has to be built from source. The npm registry must be reachable (or a mirror
# in npm's config). Root. Idempotent: installing the same version again reinstalls it.
#
#   scripts/install-release.sh sshcheck-0.1.0.tgz
# Every location can be moved (the repository's test installs into a temporary tree):
#   SSHCHECK_PREFIX=/opt/sshcheck BINDIR=/usr/local/bin UNITDIR=/etc/systemd/system ETCDIR=/etc/sshcheck
#   SSHCHECK_USER=sshcheck (created as a system user without a home when missing; set
#   SSHCHECK_CREATE_USER=no to skip)
set -euo pipefail

tarball=${1:?usage: install-release.sh <sshcheck-VERSION.tgz>}
prefix=${SSHCHECK_PREFIX:-/opt/sshcheck}
bindir=${BINDIR:-/usr/local/bin}
unitdir=${UNITDIR:-/etc/systemd/system}
user=${SSHCHECK_USER:-sshcheck}
etcdir=${ETCDIR:-/etc/sshcheck}

die() { echo "install-release: $*" >&2; exit 1; }
[ -f "$tarball" ] || die "no such file: $tarball"
command -v node >/dev/null || die "node is not installed: Node.js >= 20.19 is needed (24 LTS recommended, see docs/install.md)"
command -v npm >/dev/null || die "npm is not installed (Debian's nodejs package comes without it: see docs/install.md)"
# 20.19: the first Node 20 that require()s ES modules (src/engine/probes/on-demand.ts).
node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js $(node --version) is too old: sshcheck needs >= 20.19 (24 LTS recommended, see docs/install.md)"

version=$(tar -xOzf "$tarball" package/package.json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const p=JSON.parse(s);if(p.name!=="sshcheck")process.exit(1);process.stdout.write(p.version)})') \
  || die "$tarball is not an sshcheck release tarball"
release=$prefix/releases/$version
staging=$prefix/releases/.$version.staging.$$
trap 'rm -rf "$staging"' EXIT

echo "install-release: sshcheck $version with Node $(node --version) into $release"
mkdir -p "$prefix/releases"
rm -rf "$staging"
mkdir -p "$staging"
tar -xzf "$tarball" -C "$staging" --strip-components=1 package/
# Production dependencies only. --ignore-scripts skips the package's own `prepare` (a build
# that needs the dev tools; the tarball already holds dist/), then better-sqlite3's native
# module alone is built or downloaded (it needs g++, make and python3 to build).
(cd "$staging" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error)
(cd "$staging" && npm rebuild better-sqlite3 --loglevel=error) \
  || die "better-sqlite3 did not build: install g++ make python3 (apt-get install -y g++ make python3) and try again"
(cd "$staging" && node -e 'new (require("better-sqlite3"))(":memory:").close()') || die "better-sqlite3 does not load with $(node --version)"
chmod -R u=rwX,go=rX "$staging"
rm -rf "$release"
mv "$staging" "$release"
ln -sfn "releases/$version" "$prefix/current.new" && mv -T "$prefix/current.new" "$prefix/current"
mkdir -p "$bindir"
ln -sfn "$prefix/current/bin/sshcheck.js" "$bindir/sshcheck"

if [ "${SSHCHECK_CREATE_USER:-yes}" = yes ] && ! getent passwd "$user" >/dev/null; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$user"
  echo "install-release: created the system user $user (no home, no login)"
fi
mkdir -p "$etcdir"
chgrp "$user" "$etcdir" && chmod 0750 "$etcdir"
mkdir -p "$unitdir"
for unit in sshcheck-bot.service sshcheck-engine.service; do
  sed -e "s|@BINDIR@|$bindir|g" -e "s|^User=sshcheck|User=$user|" -e "s|^Group=sshcheck|Group=$user|" \
    -e "s|/opt/sshcheck/current|$prefix/current|g" -e "s|/etc/sshcheck/|$etcdir/|g" "$release/packaging/systemd/$unit" >"$unitdir/$unit.new"
  mv "$unitdir/$unit.new" "$unitdir/$unit"
done
echo "install-release: $("$bindir/sshcheck" --version) at $bindir/sshcheck; units in $unitdir"
echo "install-release: next: configure /etc/sshcheck (docs/install.md), then systemctl daemon-reload && systemctl enable --now sshcheck-bot (or sshcheck-engine)"
