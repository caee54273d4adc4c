# Child processes of a script (source it): each started in the background with a log of its
# own, its port read from the "listening on" line it prints, and all of them stopped when the
# script ends. Set `logs` (a directory) before starting anything.
#
#   start NAME COMMAND...    run COMMAND in the background, output in $logs/NAME.log
#   port_of NAME             wait for NAME's "listening on ...:PORT" line; print PORT
#   signal NAME SIG          send SIG to NAME (e.g. KILL), wait for it and forget it; its exit
#                            status goes to stopped[NAME]
#   stop_all [SECONDS]       SIGTERM to every process still running, SIGKILL after SECONDS (40);
#                            sets `stopped` (NAME -> exit status)
#   free_port                a free loopback port, below the kernel's ephemeral range

declare -A pid=()
declare -A stopped=()
started=()

start() {  # NAME COMMAND...
  local name=$1
  shift
  "$@" >"$logs/$name.log" 2>&1 </dev/null &
  pid[$name]=$!
  started+=("$name")
}

port_of() {  # NAME
  local name=$1 port
  for _ in $(seq 600); do
    port=$(sed -n 's/.*listening on https\{0,1\}:\/\/[^:]*:\([0-9]*\).*/\1/p' "$logs/$name.log" | head -n 1)
    if [[ -n "$port" ]]; then echo "$port"; return 0; fi
    if ! kill -0 "${pid[$name]}" 2>/dev/null; then
      echo "$name exited before it listened; the end of its log:" >&2
      tail -n 20 "$logs/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$name did not listen within 60 s" >&2
  return 1
}

signal() {  # NAME SIG
  local name=$1 status=0
  kill -"$2" "${pid[$name]}" 2>/dev/null || true
  wait "${pid[$name]}" 2>/dev/null || status=$?
  stopped[$name]=$status
  unset "pid[$name]"
}

stop_all() {  # [SECONDS]
  local name deadline=$((SECONDS + ${1:-40}))
  for name in "${started[@]}"; do
    if [[ -n "${pid[$name]:-}" ]]; then kill -TERM "${pid[$name]}" 2>/dev/null || true; fi
  done
  for name in "${started[@]}"; do
    [[ -n "${pid[$name]:-}" ]] || continue
    while kill -0 "${pid[$name]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "${pid[$name]}" 2>/dev/null; then
      echo "$name did not stop on SIGTERM: SIGKILL" >&2
      kill -KILL "${pid[$name]}" 2>/dev/null || true
    fi
    local status=0
    wait "${pid[$name]}" 2>/dev/null || status=$?
    stopped[$name]=$status
    unset "pid[$name]"
  done
  return 0
}

port_is_free() {  # PORT
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    if port_is_free "$p"; then echo "$p"; return 0; fi
  done
  echo "no free port found" >&2
  return 1
}
