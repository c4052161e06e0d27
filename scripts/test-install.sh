#!/usr/bin/env bash
# Follows docs/install.md from a packed tarball to a running binary, in a temporary tree:
#   npm pack → scripts/install-release.sh (prefix, bin, unit and etc directories moved under a
#   temporary root; a throwaway home-less system user) → `sshcheck --version` → the installed
#   binary started as that user with HOME=/nonexistent (the store in a StateDirectory-like
#   directory; nothing may be written to a home) → `systemd-analyze verify` of every unit.
# PID 1 need not be systemd: units are verified, not started. Root (useradd, setpriv).
# Sends no traffic except to the npm registry (npm install of the production dependencies).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d /tmp/sshcheck-install-XXXXXX)
user=sshcheck-t$$
cleanup() {
  if getent passwd "$user" >/dev/null; then userdel "$user" 2>/dev/null || true; fi
  getent group "$user" >/dev/null && groupdel "$user" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
chmod 0755 "$root"

echo "test-install: npm pack"
tarball=$(cd "$repo" && npm pack --silent --pack-destination "$root" | tail -n 1)
version=$(node -p "require('$repo/package.json').version")
[ "$tarball" = "sshcheck-$version.tgz" ] || fail "npm pack made '$tarball'"
contents=$(tar -tzf "$root/$tarball")
for f in package/LICENSE package/bin/sshcheck.js package/dist/src/cli/main.js package/docs/install.md package/docs/report.md \
  package/docs/schemas/report.schema.json package/packaging/systemd/sshcheck-bot.service package/packaging/systemd/sshcheck-engine.service \
  package/scripts/install-release.sh; do
  grep -qx "$f" <<<"$contents" || fail "the tarball lacks $f"
done
if grep -q '^package/dist/test/' <<<"$contents"; then fail "the tarball ships the tests"; fi

echo "test-install: install-release.sh $tarball"
export SSHCHECK_PREFIX=$root/opt/sshcheck BINDIR=$root/usr/local/bin UNITDIR=$root/etc/systemd/system ETCDIR=$root/etc/sshcheck SSHCHECK_USER=$user
# As the doc says: the install script comes out of the tarball itself.
tar -xzf "$root/$tarball" -C "$root" package/scripts/install-release.sh
"$root/package/scripts/install-release.sh" "$root/$tarball"
[ -L "$BINDIR/sshcheck" ] || fail "no link $BINDIR/sshcheck"
[ "$(readlink -f "$BINDIR/sshcheck")" = "$(readlink -f "$SSHCHECK_PREFIX/releases/$version/bin/sshcheck.js")" ] || fail "the link does not point into the release"
got=$("$BINDIR/sshcheck" --version)
[ "$got" = "sshcheck $version" ] || fail "sshcheck --version printed '$got'"
echo "test-install: $BINDIR/sshcheck --version → $got"
getent passwd "$user" | grep -q ':/nonexistent:/usr/sbin/nologin$' || fail "the user $user is not home-less and login-less: $(getent passwd "$user")"

# As the service user, the way the units start it: no home, state in its own directory.
state=$root/var/lib/sshcheck
home_before=$(ls -ld /nonexistent 2>&1 || true)
mkdir -p "$state" && chown "$user:$user" "$state" && chmod 0750 "$state"
as_user() {
  setpriv --reuid="$user" --regid="$user" --clear-groups --no-new-privs \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent SSHCHECK_DB="$state/sshcheck.db" "$@"
}
got=$(as_user "$BINDIR/sshcheck" --version) || fail "sshcheck --version as $user failed"
[ "$got" = "sshcheck $version" ] || fail "as $user: '$got'"
set +e
out=$(as_user "$BINDIR/sshcheck" bot 2>&1)
status=$?
set -e
[ "$status" = 2 ] || fail "sshcheck bot without credentials exited $status (want 2): $out"
grep -q 'SLACK_BOT_TOKEN' <<<"$out" || fail "sshcheck bot did not list the credentials: $out"
if grep -qi 'EACCES\|nonexistent' <<<"$out"; then fail "sshcheck bot touched the missing home: $out"; fi
# A check the target policy refuses probes nothing but is recorded: the store is written.
printf 'policy:\n  allow: [203.0.113.0/24]\n' >"$root/policy.yml" && chmod 0644 "$root/policy.yml"
set +e
out=$(as_user "$BINDIR/sshcheck" --policy "$root/policy.yml" -q 169.254.169.254 2>&1)
status=$?
set -e
[ "$status" = 2 ] || fail "a refused check as $user exited $status (want 2): $out"
[ -f "$state/sshcheck.db" ] || fail "the store was not created in $state: $out"
as_user "$BINDIR/sshcheck" audit | grep -q '169.254.169.254' || fail "sshcheck audit as $user does not show the refused check"
[ "$home_before" = "$(ls -ld /nonexistent 2>&1 || true)" ] || fail "/nonexistent was created or changed"
echo "test-install: as $user (HOME=/nonexistent): --version, bot (exit 2, lists credentials), a refused check recorded in the state directory's store, audit"

for unit in "$UNITDIR"/*.service; do
  grep -q "^ExecStart=$BINDIR/sshcheck " "$unit" || fail "$unit does not run the installed binary"
  if grep -v '^#' "$unit" | grep -q 'npx'; then fail "$unit uses npx"; fi
done
out=$(systemd-analyze verify --man=no "$UNITDIR"/sshcheck-bot.service "$UNITDIR"/sshcheck-engine.service 2>&1) || fail "systemd-analyze verify: $out"
if [ -n "$out" ]; then echo "$out"; fail "systemd-analyze verify printed warnings"; fi
echo "test-install: systemd-analyze verify: sshcheck-bot.service sshcheck-engine.service clean"
echo "test-install: PASS"
