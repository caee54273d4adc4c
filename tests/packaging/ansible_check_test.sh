#!/usr/bin/env bash
# Usage: ansible_check_test.sh SOURCE_DIR BUILD_DIR mariadb|galera
# deploy/ansible/site.yml in check mode against this machine (-i localhost, -c local --check),
# localhost in the groups of one site's hosts: routers, a load balancer, a node and the
# site's MariaDB server (mariadb), or a Galera node and a node with its HAProxy (galera). The
# packages come from BUILD_DIR/packages (scripts/package). The run must pass, make the checks
# a dry run can make (the rendered configurations, HAProxy's own check of its file), and
# change nothing: every file the roles manage is the same afterwards, and so are the
# installed packages.
# Prints "FAIL: ..." per failed check; exits 77 (skipped) when not run as root.
set -uo pipefail

src="${1:?source dir}" build="${2:?build dir}" db="${3:?mariadb or galera}"
if [[ "$(id -u)" != 0 ]]; then
  echo "ansible check: skipped: the check run reads root's files (/etc/mysql, apt's state)"
  exit 77
fi
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp="$(mktemp -d /tmp/ab-ansible-check.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
export ANSIBLE_CONFIG="$src/deploy/ansible/ansible.cfg" ANSIBLE_HOME="$tmp/home" \
  ANSIBLE_LOCAL_TEMP="$tmp/local" ANSIBLE_REMOTE_TEMP="$tmp/remote" ANSIBLE_NOCOLOR=1 \
  ANSIBLE_STDOUT_CALLBACK=json ANSIBLE_LOAD_CALLBACK_PLUGINS=1

case "$db" in
  mariadb) groups='[routers, loadbalancers, nodes, mariadb, dc1]' ;;
  galera) groups='[galera, nodes, dc1]' ;;
  *) echo "usage: $0 SOURCE_DIR BUILD_DIR mariadb|galera" >&2; exit 2 ;;
esac
cat >"$tmp/vars.yml" <<VARS
autobuild_groups: $groups
autobuild_site: dc1
autobuild_site_id: 1
autobuild_site_db: $db
autobuild_address: 127.0.0.1
autobuild_package_dir: $build/packages
autobuild_heartbeat_secret: 6b1f0c3e9a4d2b7e8f5a6c1d0e9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b
autobuild_db_password: "p@ss/w'rd:1"
autobuild_db_check_password: check-pw
autobuild_db_sst_password: sst-pw
autobuild_bmc_networks: [10.21.0.0/16]
autobuild_bmc_credentials: {r1-01: "admin:secret"}
autobuild_policy:
  accounts:
    maas-dc1:
      token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      roles: [provisioner]
      type: maas
  roles:
    provisioner: [{actions: [discover, build, reimage, read], classes: [maas, user]}]
autobuild_cluster_map:
  clusters: {build: {actions: [reimage]}, others: {actions: ["*"]}}
  nodes: {localhost: build}
  default_cluster: others
# Already root: no sudo (which this machine may not have).
ansible_become: false
ansible_python_interpreter: /usr/bin/python3
VARS

# What the roles write, with owner and mode, and the sha256 of each file.
watched=(/etc/autobuild /etc/haproxy /etc/mysql /var/cache/autobuild /var/lib/autobuild
  /usr/local/lib/autobuild /lib/systemd/system/ab-node.service
  /lib/systemd/system/ab-router.service /etc/systemd/system /var/lib/mysql/grastate.dat)
snapshot() {
  for p in "${watched[@]}"; do
    if [[ -e "$p" ]]; then
      find "$p" -xdev -printf '%p %m %u %g\n'
      find "$p" -xdev -type f -exec sha256sum {} +
    else
      echo "absent $p"
    fi
  done | sort
  dpkg-query -W -f '${Package} ${Version} ${Status}\n' 2>/dev/null | sha256sum
}
snapshot >"$tmp/before"
ansible-playbook -i localhost, -c local --check --diff -e "@$tmp/vars.yml" \
  "$src/deploy/ansible/site.yml" >"$tmp/run.json" 2>"$tmp/run.err"
rc=$?
snapshot >"$tmp/after"
if ((rc != 0)); then
  fail "ansible-playbook --check exited $rc"
  cat "$tmp/run.err"
  jq -r '.plays[].tasks[] | select(.hosts.localhost.failed == true) |
    "failed task: \(.task.name): \(.hosts.localhost.msg // .hosts.localhost)"' "$tmp/run.json"
fi
if ! diff "$tmp/before" "$tmp/after" >"$tmp/changes"; then
  fail "the check run changed the machine:"
  cat "$tmp/changes"
fi

# status TASK: ok, changed, skipped or failed (its first run on localhost), or absent. A role's
# task is named "ROLE : TASK" by the json callback.
status() {
  jq -r --arg t "$1" '[.plays[].tasks[] | select(.task.name == $t or (.task.name | endswith(" : " + $t))) |
    .hosts.localhost |
    if .failed then "failed" elif .skipped then "skipped" elif .changed then "changed"
    else "ok" end] | first // "absent"' "$tmp/run.json"
}
expect() {  # TASK STATUS...
  local task="$1" got
  shift
  got="$(status "$task")"
  for want in "$@"; do [[ "$got" == "$want" ]] && return 0; done
  fail "task '$task': $got, expected $*"
}
# fact TASK FIELD: a field of what a set_fact task set.
fact() {
  jq -r --arg t "$1" "[.plays[].tasks[] | select(.task.name == \$t or (.task.name | endswith(\" : \" + \$t))) |
    .hosts.localhost.ansible_facts$2] | first" "$tmp/run.json"
}
[[ "$(jq '.stats.localhost.failures + .stats.localhost.unreachable' "$tmp/run.json")" == 0 ]] ||
  fail "failed or unreachable tasks: $(jq -c .stats "$tmp/run.json")"
expect "The host runs Debian 12" ok
expect "No secret is still a placeholder" ok
expect "Render node.json" ok
expect "node.json names this host's site and reaches its database and routers" ok
expect "HAProxy accepts the rendered configuration" ok
# The packages are not installed here: the check run would copy them and install them.
expect "The .deb files, in /var/cache/autobuild" changed ok
[[ "$(fact "Render node.json" .autobuild_node_json.site)" == dc1 ]] || fail "node.json's site"
[[ "$(fact "Render node.json" .autobuild_node_json.policy)" == /etc/autobuild/policy.json ]] ||
  fail "node.json names no policy"
store="$(fact "Render node.json" .autobuild_node_json.store)"
if [[ "$db" == mariadb ]]; then
  expect "Render router.json" ok
  expect "router.json listens on this host and trusts the load balancers" ok
  expect "/etc/mysql/mariadb.conf.d/60-autobuild.cnf" changed ok
  expect "/etc/mysql/autobuild-grants.sql" changed ok
  # The password percent-encoded, the site's MariaDB server (this host).
  [[ "$store" == "mysql://autobuild:p%40ss/w%27rd%3A1@127.0.0.1:3306/autobuild" ]] ||
    fail "node.json's store is $store"
  [[ "$(fact "Render node.json" '.autobuild_node_json.routers[0]')" == http://127.0.0.1:8090 ]] ||
    fail "node.json's routers"
else
  expect "The site's Galera nodes" ok
  expect "/etc/mysql/mariadb.conf.d/60-galera.cnf" changed ok
  # Through this host's HAProxy, in front of the cluster.
  [[ "$store" == mysql://autobuild:*@127.0.0.1:3306/autobuild ]] || fail "node.json's store is $store"
  # The cluster is bootstrapped by commands, which a check run does not run.
  expect "galera_new_cluster" skipped absent
fi

if ((failures)); then
  echo "ansible check: $failures checks failed"
  exit 1
fi
echo "ansible check: every check passed"
