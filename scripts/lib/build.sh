# A quiet build (source it): scripts/build with its output in a log, and on the terminal only
# a percentage updated in place; then the compiler's warnings, if any, listed (never hidden).
#
#   quiet_build LOG TARGET...   build TARGETs into build/ (release), one after the other (each
#                               shows its own percentage); exits on a failed build, with the
#                               end of the log

quiet_build() {  # LOG TARGET...
  local log=$1 began=$SECONDS i=0 t
  shift
  : >"$log"
  for t in "$@"; do
    i=$((i + 1))
    local from shown="" at
    from=$(($(wc -l <"$log") + 1))
    scripts/build --release --target "$t" >>"$log" 2>&1 &
    local builder=$!
    while kill -0 "$builder" 2>/dev/null; do
      # Make prints "[ 42%] Building ...", Ninja "[12/345] Building ...".
      at=$(tail -n "+$from" "$log" | grep -oE '^\[ *[0-9]+%\]|^\[[0-9]+/[0-9]+\]' | tail -n 1 |
        tr -d '[] ' || true)
      if [[ "$at" == */* ]]; then at="$((100 * ${at%/*} / ${at#*/}))%"; fi
      if [[ -t 1 && -n "$at" && "$at" != "$shown" ]]; then
        printf '\r  building %s (%d of %d): %4s' "$t" "$i" "$#" "$at"
        shown=$at
      fi
      sleep 0.5
    done
    local status=0
    wait "$builder" || status=$?
    if [[ -t 1 && -n "$shown" ]]; then printf '\r\033[K'; fi
    if ((status != 0)); then
      echo "  the build of $t failed ($log); its end:" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
  done
  local warnings
  warnings=$(grep -E 'warning:' "$log" | sort -u || true)
  echo "  built $* in $((SECONDS - began)) s (log: $log)"
  if [[ -n "$warnings" ]]; then
    echo "  the build has $(wc -l <<<"$warnings") warning(s):"
    sed 's/^/    /' <<<"$warnings"
  fi
}
