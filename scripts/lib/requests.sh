# Following AutoBuild requests from a script (source it), through abctl. Set first:
#   abctl   the abctl command line as an array (binary, --config ...)
#   sites   the sites to read (array)
#   since   epoch ms: requests created before it are not read
#   work    a scratch directory
#   story_began  $SECONDS when the story began (timestamps of the lines off a terminal)
#
#   ids_of BATCH...          the ids a submission accepted (BATCH: what `abctl submit -o json` printed)
#   requests_now             every request of the sites since $since, as one JSON array
#   follow INTERVAL BATCH... poll until every request of the batches ended, drawing one line per
#                            action and class (done/all, running, queued, failed, ETA): in place
#                            on a terminal, every 10 s otherwise. Calls `on_tick` (if defined)
#                            after each round with the requests in $work/now.json; its `note`
#                            lines are printed above the progress lines.

ids_of() {  # BATCH...
  jq -c '[.requests[] | select(.status == "accepted") | .id]' "$@" | jq -sc 'add // []'
}

requests_now() {
  local s
  for s in "${sites[@]}"; do
    # A call that fails now (a node being killed) is made again at the next round.
    "${abctl[@]}" list --site "$s" --since "$since" --all --limit 1000 -o json 2>/dev/null ||
      echo '{"requests": []}'
  done | jq -sc '[.[].requests[]]'
}

# One line per action and class of the requests in $1 (a JSON array of ids), then "ended N/M".
progress_lines() {  # IDS_JSON NOW_JSON_FILE
  jq -r --argjson ids "$1" --argjson now "$(date +%s%3N)" '
    def terminal: . == "succeeded" or . == "failed" or . == "cancelled";
    def two: tostring | if length < 2 then "0" + . else . end;
    def dur: if . < 60 then "\(.)s" elif . < 3600 then "\(. / 60 | floor)m\(. % 60 | two)s"
      else "\(. / 3600 | floor)h\(. % 3600 / 60 | floor | two)m" end;
    ($ids | map({key: tostring, value: true}) | from_entries) as $want
    | [.[] | select($want[.id | tostring])] as $r
    | ($r | group_by([.action, .priority]) | map(
        (map(select(.state == "succeeded")) | length) as $ok
        | (map(select(.state == "failed" or .state == "cancelled")) | length) as $bad
        | (map(select(.state == "running")) | length) as $run
        | (map(select(.state == "queued")) | length) as $queued
        | ([.[] | select(.state | terminal | not) | .eta // empty] | max_by(.at_ms)) as $eta_of
        | ($eta_of.at_ms // null) as $eta
        | "  \(.[0].action) \(.[0].priority)" + (" " * ([0, 22 - (.[0].action + .[0].priority | length)] | max))
          + "\($ok)/\(length) done" + (if $bad > 0 then ", \($bad) FAILED" else "" end)
          + (if $run > 0 then ", \($run) running" else "" end)
          + (if $queued > 0 then ", \($queued) queued" else "" end)
          + (if $eta then "   ETA in \((($eta - $now) / 1000 | floor | if . < 0 then 0 else . end) | dur) (\($eta / 1000 | floor | strftime("%H:%M:%S")) UTC" + (if $eta_of.basis == "assumed" then ", assumed: nothing finished recently" else "" end) + ")" else "" end)
      ))[],
      "ended \([$r[] | select(.state | terminal)] | length)/\($ids | length)"' "$2"
}

# A line for follow to print above its progress lines (from on_tick).
note() {  # TEXT
  printf '%s\n' "$*" >>"$work/notes"
}

follow() {  # INTERVAL BATCH...
  local interval=$1
  shift
  local ids drawn=0 last_print=-100 lines body ended l
  ids=$(ids_of "$@")
  : >"$work/notes"
  while :; do
    requests_now >"$work/now.json"
    lines=$(progress_lines "$ids" "$work/now.json")
    ended=${lines##*$'\n'}
    body=${lines%$'\n'*}
    if declare -F on_tick >/dev/null; then on_tick; fi
    if [[ -t 1 ]]; then
      # Redraw in place: back to the first progress line, notes first, then the lines.
      ((drawn)) && printf '\033[%dA' "$drawn"
      while IFS= read -r l; do printf '%s\033[K\n' "$l"; done < <(cat "$work/notes"; echo "$body")
      drawn=$(wc -l <<<"$body")
    else
      cat "$work/notes"
      if ((SECONDS - last_print >= 10)); then
        sed "s/^ /[+$((SECONDS - story_began))s]/" <<<"$body"
        last_print=$SECONDS
      fi
    fi
    : >"$work/notes"
    read -r _ l <<<"$ended"
    [[ "${l%/*}" == "${l#*/}" ]] && break
    sleep "$interval"
  done
  [[ -t 1 ]] || sed "s/^ /[+$((SECONDS - story_began))s]/" <<<"$body"
  return 0
}
