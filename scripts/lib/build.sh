# A quiet build (source it): scripts/build with its output in a log, and on the terminal only
# a percentage updated in place; then the compiler's warnings, if any, listed (never hidden).
#
#   quiet_build LOG TARGET...   build TARGETs into build/ (release); exits on a failed build,
#                               with the end of the log

quiet_build() {  # LOG TARGET...
  local log=$1 targets=() t
  shift
  for t in "$@"; do targets+=(--target "$t"); done
  local began=$SECONDS
  scripts/build --release "${targets[@]}" >"$log" 2>&1 &
  local builder=$! shown=""
  while kill -0 "$builder" 2>/dev/null; do
    # Make prints "[ 42%] Building ...", Ninja "[12/345] Building ...".
    local at
    at=$(grep -oE '^\[ *[0-9]+%\]|^\[[0-9]+/[0-9]+\]' "$log" | tail -n 1 | tr -d '[] ')
    if [[ "$at" == */* ]]; then at="$((100 * ${at%/*} / ${at#*/}))%"; fi
    if [[ -t 1 && -n "$at" && "$at" != "$shown" ]]; then
      printf '\r  building %s: %4s' "$*" "$at"
      shown=$at
    fi
    sleep 0.5
  done
  local status=0
  wait "$builder" || status=$?
  [[ -t 1 && -n "$shown" ]] && printf '\r\033[K'
  if ((status != 0)); then
    echo "  the build failed ($log); its end:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  local warnings
  warnings=$(grep -E 'warning:' "$log" | sort -u || true)
  echo "  built $* in $((SECONDS - began)) s (log: $log)"
  if [[ -n "$warnings" ]]; then
    echo "  the build has $(wc -l <<<"$warnings") warning(s):"
    sed 's/^/    /' <<<"$warnings"
  fi
}
