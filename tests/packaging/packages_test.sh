#!/usr/bin/env bash
# Usage: packages_test.sh SOURCE_DIR BUILD_DIR VERSION
# The Debian packages (docs/packaging.md) made from BUILD_DIR's binaries by scripts/package
# --check (lintian clean, systemd-analyze verify clean), then what they hold: their fields and
# dependencies (dpkg-deb -I), their files (dpkg-deb -c), conffiles and maintainer scripts, the
# packaged binaries and sample configurations run, and the maintainer scripts run against a
# scratch root (DPKG_ROOT) with the system commands they call replaced by recorders.
# Prints "FAIL: ..." for each failed check and exits 1 if any failed.
set -uo pipefail

src="${1:?source dir}" build="${2:?build dir}" version="${3:?version}"
deb_version="$version-1"
arch="$(dpkg --print-architecture)"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

tmp="$(mktemp -d /tmp/ab-packages-test.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

"$src/scripts/package" --build-dir "$build" --no-build --check || fail "scripts/package --check"
out="$build/packages"

deb_of() { echo "$out/${1}_${deb_version}_${2}.deb"; }
declare -A arch_of=([autobuild-common]=all [autobuild-monitoring]=all [autobuild-node]="$arch"
  [autobuild-router]="$arch" [autobuild-tools]="$arch")
for pkg in "${!arch_of[@]}"; do
  deb="$(deb_of "$pkg" "${arch_of[$pkg]}")"
  if [[ ! -f "$deb" ]]; then fail "$pkg: no $deb"; continue; fi
  [[ "$(dpkg-deb -f "$deb" Package)" == "$pkg" ]] || fail "$pkg: Package field"
  [[ "$(dpkg-deb -f "$deb" Version)" == "$deb_version" ]] || fail "$pkg: Version is not $deb_version"
  [[ "$(dpkg-deb -f "$deb" Architecture)" == "${arch_of[$pkg]}" ]] || fail "$pkg: Architecture"
  dpkg-deb -c "$deb" >"$tmp/$pkg.list"
  grep -q " ./usr/share/doc/$pkg/copyright$" "$tmp/$pkg.list" || fail "$pkg: no copyright"
  grep -q " ./usr/share/doc/$pkg/changelog.Debian.gz$" "$tmp/$pkg.list" ||
    fail "$pkg: no changelog.Debian.gz"
  dpkg-deb -x "$deb" "$tmp/root"
  mkdir -p "$tmp/control/$pkg" && dpkg-deb -e "$deb" "$tmp/control/$pkg"
done
pass "five packages, with their names, version and architectures"

# Dependencies: the libraries' packages (found by dpkg-shlibdeps), and one another.
depends() { dpkg-deb -f "$(deb_of "$1" "${arch_of[$1]}")" Depends; }
for lib in libcaf-core0.17 libcurl4 libsqlite3-0 libmysqlcppconn7v5 libspdlog1.10-fmt9 \
    libprometheus-cpp-core1.0 libssl3 libstdc++6 libc6; do
  depends autobuild-node | grep -qE "(^|, )${lib//+/\\+}( |,|$)" ||
    fail "autobuild-node: no Depends on $lib"
done
depends autobuild-node | grep -qF "autobuild-common (= $deb_version)" ||
  fail "autobuild-node: no Depends on autobuild-common (= $deb_version)"
depends autobuild-router | grep -qF "autobuild-common (= $deb_version)" ||
  fail "autobuild-router: no Depends on autobuild-common (= $deb_version)"
depends autobuild-router | grep -qE "(^|, )libcaf-core0.17( |,|$)" ||
  fail "autobuild-router: no Depends on libcaf-core0.17"
depends autobuild-tools | grep -qE "(^|, )libcurl4( |,|$)" || fail "autobuild-tools: no Depends on libcurl4"
depends autobuild-common | grep -qE "(^|, )adduser( |,|$)" || fail "autobuild-common: no Depends on adduser"
pass "dependencies"

# Files: every one the packages promise, in its package.
holds() { grep -qE " \./${2}$" "$tmp/$1.list" || fail "$1: no /$2"; }
holds autobuild-common etc/autobuild/
holds autobuild-node usr/bin/ab-node
holds autobuild-node lib/systemd/system/ab-node.service
holds autobuild-node etc/autobuild/node.json
holds autobuild-node usr/share/doc/autobuild-node/examples/policy.sample.json
holds autobuild-router usr/bin/ab-router
holds autobuild-router lib/systemd/system/ab-router.service
holds autobuild-router etc/autobuild/router.json
for b in abctl ab-bmc ab-bmcsim; do holds autobuild-tools "usr/bin/$b"; done
holds autobuild-monitoring usr/share/autobuild/grafana/autobuild.json
holds autobuild-monitoring usr/share/autobuild/prometheus/alerts.yml
holds autobuild-monitoring usr/share/autobuild/prometheus/prometheus.yml
# The web view is compiled into the binaries: no file of it is shipped, and ab-node holds it.
if find "$tmp/root" -name '*.html' -o -name 'app.js' | grep -q .; then fail "web view files shipped"; fi
grep -qF "$(head -c 200 "$src/web/ui/app.js" | head -1)" "$tmp/root/usr/bin/ab-node" ||
  fail "ab-node does not hold web/ui/app.js"
cmp -s "$tmp/root/usr/share/autobuild/prometheus/alerts.yml" "$src/deploy/prometheus/alerts.yml" ||
  fail "the packaged alerts.yml differs from deploy/prometheus/alerts.yml"
pass "files"

# Control files: /etc files are conffiles, the maintainer scripts executable shell.
for c in node router; do
  grep -qx "/etc/autobuild/$c.json" "$tmp/control/autobuild-$c/conffiles" 2>/dev/null ||
    fail "autobuild-$c: /etc/autobuild/$c.json is no conffile"
  for s in postinst prerm postrm; do
    [[ -x "$tmp/control/autobuild-$c/$s" ]] || fail "autobuild-$c: no executable $s"
  done
done
for s in postinst postrm; do
  [[ -x "$tmp/control/autobuild-common/$s" ]] || fail "autobuild-common: no executable $s"
done
pass "conffiles and maintainer scripts"

# The packaged binaries: stripped, no RUNPATH, bound at start, and they run.
for b in ab-node ab-router abctl ab-bmc ab-bmcsim; do
  f="$tmp/root/usr/bin/$b"
  readelf -S "$f" | grep -q '\.symtab' && fail "$b is not stripped"
  readelf -d "$f" | grep -qE 'RPATH|RUNPATH' && fail "$b carries a RUNPATH"
  readelf -d "$f" | grep -qE 'BIND_NOW|FLAGS.*NOW' || fail "$b is not linked with -z now"
done
"$tmp/root/usr/bin/ab-node" --help 2>&1 | grep -q -- "--cluster-map" || fail "ab-node --help"
"$tmp/root/usr/bin/abctl" --help >/dev/null 2>&1 || fail "abctl --help"
pass "binaries"

# The sample configurations as shipped start a node and a router (paths under /var and /etc
# moved to the scratch directory by options, which come after the file).
wait_for() {  # FILE PATTERN: up to 30 s
  for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
mkdir -p -m 700 "$tmp/state/credentials"
"$tmp/root/usr/bin/ab-node" --config "$tmp/root/etc/autobuild/node.json" \
  --store "sqlite:$tmp/state/autobuild.db" --credentials-dir "$tmp/state/credentials" \
  --listen 127.0.0.1:0 --handlers none >"$tmp/node.out" 2>&1 &
pids+=($!)
wait_for "$tmp/node.out" listening || { cat "$tmp/node.out"; fail "ab-node with the packaged node.json"; }
(umask 077 && echo secret >"$tmp/hb.secret")
"$tmp/root/usr/bin/ab-router" --config "$tmp/root/etc/autobuild/router.json" \
  --heartbeat-secret-file "$tmp/hb.secret" --listen 127.0.0.1:0 >"$tmp/router.out" 2>&1 &
pids+=($!)
wait_for "$tmp/router.out" listening ||
  { cat "$tmp/router.out"; fail "ab-router with the packaged router.json"; }
pass "the packaged configurations start ab-node and ab-router"

# Maintainer scripts against a scratch root: the commands that change the system are
# recorders that log their arguments.
stubs="$tmp/stubs" calls="$tmp/calls"
mkdir -p "$stubs" "$tmp/dpkgroot/etc/autobuild"
for c in adduser deluser delgroup chown dpkg-statoverride deb-systemd-helper deb-systemd-invoke \
    systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$c" "$calls" >"$stubs/$c"
done
# getent: the user exists when AB_STUB_USER is set.
printf '#!/bin/sh\necho "getent $*" >>"%s"\n[ -n "$AB_STUB_USER" ]\n' "$calls" >"$stubs/getent"
# dpkg-statoverride --list: no override yet.
printf '#!/bin/sh\necho "dpkg-statoverride $*" >>"%s"\n[ "$1" != --list ]\n' "$calls" \
  >"$stubs/dpkg-statoverride"
chmod 755 "$stubs"/*
run_script() {  # PACKAGE SCRIPT ARGS...
  local pkg="$1" script="$2"; shift 2
  env PATH="$stubs:$PATH" DPKG_ROOT="$tmp/dpkgroot" sh -e "$tmp/control/$pkg/$script" "$@"
}
: >"$calls"
AB_STUB_USER="" run_script autobuild-common postinst configure || fail "common postinst failed"
grep -q "^adduser --system --group --home /var/lib/autobuild .* autobuild$" "$calls" ||
  fail "common postinst did not add the system user"
s="$tmp/dpkgroot/etc/autobuild/heartbeat.secret"
[[ "$(stat -c %a "$s" 2>/dev/null)" == 600 ]] || fail "heartbeat secret is not mode 600"
grep -qxE '[0-9a-f]{64}' "$s" || fail "heartbeat secret is not 64 hex digits"
grep -q "^chown autobuild:autobuild .*heartbeat.secret.new$" "$calls" ||
  fail "heartbeat secret not given to the service user"
first="$(cat "$s")"
: >"$calls"
AB_STUB_USER=1 run_script autobuild-common postinst configure 0.1.0-1 || fail "common postinst (upgrade)"
[[ "$(cat "$s")" == "$first" ]] || fail "an upgrade replaced the heartbeat secret"
grep -q "^adduser" "$calls" && fail "an upgrade added the user again"
: >"$calls"
run_script autobuild-node postinst configure || fail "node postinst failed"
grep -q "^dpkg-statoverride --update --add autobuild autobuild 0600 /etc/autobuild/node.json$" \
  "$calls" || fail "node postinst did not make node.json private to the service user"
grep -q "^deb-systemd-helper update-state ab-node.service$" "$calls" ||
  fail "node postinst did not record ab-node.service"
grep -qE "^deb-systemd-helper (enable|unmask)|^systemctl (enable|start)|^deb-systemd-invoke start" \
  "$calls" && fail "a first installation enabled or started ab-node"
: >"$calls"
run_script autobuild-node postrm purge || fail "node postrm purge failed"
grep -q "^deb-systemd-helper purge ab-node.service$" "$calls" || fail "node purge left its links"
mkdir -p "$tmp/dpkgroot/var/lib/autobuild/credentials"
: >"$calls"
AB_STUB_USER=1 run_script autobuild-common postrm purge || fail "common postrm purge failed"
[[ -e "$s" || -e "$tmp/dpkgroot/var/lib/autobuild" ]] && fail "purge left the secret or the state"
grep -q "^deluser --system --quiet autobuild$" "$calls" || fail "purge did not remove the user"
run_script autobuild-node postinst bogus 2>/dev/null && fail "postinst accepted an unknown action"
pass "maintainer scripts"

if ((failures)); then
  echo "packages test: $failures checks failed"
  exit 1
fi
echo "packages test: every check passed"
