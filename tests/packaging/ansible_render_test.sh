#!/usr/bin/env bash
# Usage: ansible_render_test.sh SOURCE_DIR
# render_sample.yml against deploy/ansible's sample inventory: every host of the two sites
# gets its configuration rendered by the roles' templates and checked, on this machine (no
# host of the inventory is reached). Prints "FAIL: ..." per failed check.
set -uo pipefail

src="${1:?source dir}"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp="$(mktemp -d /tmp/ab-ansible-render.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
export ANSIBLE_CONFIG="$src/deploy/ansible/ansible.cfg" ANSIBLE_HOME="$tmp/home" \
  ANSIBLE_LOCAL_TEMP="$tmp/local" ANSIBLE_REMOTE_TEMP="$tmp/remote" ANSIBLE_NOCOLOR=1 \
  ANSIBLE_STDOUT_CALLBACK=json ANSIBLE_LOAD_CALLBACK_PLUGINS=1
mkdir -p "$tmp/render"
ansible-playbook -i "$src/deploy/ansible/inventories/sample" \
  -e "render_dir=$tmp/render" -e ansible_python_interpreter=/usr/bin/python3 \
  "$src/tests/packaging/render_sample.yml" >"$tmp/run.json" 2>"$tmp/run.err"
rc=$?
if ((rc != 0)); then
  fail "ansible-playbook exited $rc"
  cat "$tmp/run.err"
  jq -r '.plays[].tasks[] | .task.name as $t | .hosts | to_entries[] |
    select(.value.failed == true) | "failed: \(.key): \($t): \(.value.msg // .value)"' \
    "$tmp/run.json"
fi

# Every host of the sample was rendered, and each check ran where it applies.
hosts="$(jq -r '.stats | keys | length' "$tmp/run.json")"
[[ "$hosts" == 12 ]] || fail "$hosts hosts in the run, not the sample's 12"
count() {  # TASK: the hosts where it ran and passed
  jq --arg t "$1" '[.plays[].tasks[] | select(.task.name == $t) | .hosts | to_entries[] |
    select(.value.skipped != true and .value.failed != true)] | length' "$tmp/run.json"
}
[[ "$(count "node.json fits its host and site")" == 5 ]] || fail "node.json: not 5 nodes"
[[ "$(count "router.json fits its host")" == 2 ]] || fail "router.json: not 2 routers"
# The load balancer, and dc1's three nodes (Galera), have a HAProxy.
[[ "$(count "haproxy -c accepts it")" == 4 ]] || fail "haproxy.cfg: not 4 hosts"
[[ "$(count "It names the site's three nodes, itself, and the writer as the last donor")" == 3 ]] ||
  fail "60-galera.cnf: not 3 Galera nodes"
[[ "$(jq '[.stats[] | .failures + .unreachable] | add' "$tmp/run.json")" == 0 ]] ||
  fail "failed or unreachable hosts: $(jq -c .stats "$tmp/run.json")"

if ((failures)); then
  echo "ansible render: $failures checks failed"
  exit 1
fi
echo "ansible render: every check passed"
