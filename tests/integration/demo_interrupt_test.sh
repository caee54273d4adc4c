#!/usr/bin/env bash
# Usage: demo_interrupt_test.sh SOURCE_DIR BUILD_DIR
# Ctrl-C in the middle of scripts/demo's story stops everything it started: the demo runs in
# a session of its own, gets SIGINT (to its whole process group, as a terminal's Ctrl-C) once
# its story has begun, and must exit 130 within 60 s leaving no process of its session and
# none that names its temporary directory (the MariaDB server runs in a session of its own),
# and the directory must be gone.
set -euo pipefail

src=${1:?source dir} build=${2:?build dir}
out=$(mktemp "${TMPDIR:-/tmp}/ab-demo-interrupt.XXXXXX")
trap 'rm -f "$out"' EXIT

# A background job of a script starts with SIGINT ignored (and bash cannot trap a signal
# ignored at its start): env gives the demo the default action, as a terminal's shell does.
setsid env --default-signal=INT "$src/scripts/demo" --fast --no-setup --exit --build-dir "$build" \
  >"$out" 2>&1 &
demo=$!
sleep 0.2
# Not a process group leader, setsid runs the demo in place: its pid is its session's id.
[[ "$(ps -o sid= -p "$demo" | tr -d ' ')" == "$demo" ]] || { echo "FAIL: setsid forked"; exit 1; }
for _ in $(seq 600); do
  grep -q '^== 1\.' "$out" && break
  kill -0 "$demo" 2>/dev/null || { cat "$out"; echo "FAIL: the demo ended before its story began"; exit 1; }
  sleep 0.1
done
grep -q '^== 1\.' "$out" || { cat "$out"; echo "FAIL: the story did not begin within 60 s"; exit 1; }
tmp=$(sed -n 's/^== Starting the deployment (in \(.*\))$/\1/p' "$out")
[[ -n "$tmp" ]] || { cat "$out"; echo "FAIL: no temporary directory named"; exit 1; }
sleep 2

kill -INT -- "-$demo"
status=0
for _ in $(seq 600); do kill -0 "$demo" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$demo" 2>/dev/null; then
  kill -KILL -- "-$demo"
  cat "$out"
  echo "FAIL: the demo did not exit within 60 s of SIGINT"
  exit 1
fi
wait "$demo" || status=$?

left=$(ps -eo pid=,sid=,args= | awk -v sid="$demo" -v tmp="$tmp" '$2 == sid || index($0, tmp)' |
  grep -v awk || true)
fail=0
if ((status != 130)); then echo "FAIL: the demo exited $status on SIGINT, not 130"; fail=1; fi
if [[ -n "$left" ]]; then echo "FAIL: processes left behind:"; echo "$left"; fail=1; fi
if [[ -e "$tmp" ]]; then echo "FAIL: $tmp is still there"; fail=1; fi
if ((fail)); then
  echo "--- the demo's output"
  cat "$out"
  [[ -n "$left" ]] && kill -KILL $(awk '{print $1}' <<<"$left") 2>/dev/null
  exit 1
fi
echo "ok: SIGINT during the story; exit 130, nothing left behind"
