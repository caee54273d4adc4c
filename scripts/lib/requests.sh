# Following AutoBuild requests from a script (source it), through abctl. Set first:
#   abctl   the abctl command line as an array (binary, --config ...)
#   sites   the sites to read (array)
#   since   epoch ms: requests created before it are not read
#   work    a scratch directory
#   story_began  $SECONDS when the story began (timestamps of the lines off a terminal)
#
#   submitted BATCH ACTION CLASS  adds what a submission was to BATCH (what `abctl submit -o json`
#                            printed), for follow's lines
#   ids_of BATCH...          the ids a submission accepted
#   requests_now             every request of the sites since $since that is not queued, as one
#                            JSON array (a queued request's estimate costs its node a count, so
#                            the queued ones are not listed)
#   follow INTERVAL BATCH... poll until every request of the batches ended, drawing one line per
#                            action and class (done/all, running, queued, failed, ETA): in place
#                            on a terminal, every 10 s otherwise. Calls `on_tick` (if defined)
#                            after each round; its `note` lines are printed above the progress
#                            lines.

submitted() {  # BATCH ACTION CLASS
  jq --arg a "$2" --arg c "$3" '. + {action: $a, priority: $c}' "$1" >"$1.new" && mv "$1.new" "$1"
}

ids_of() {  # BATCH...
  jq -c '[.requests[] | select(.status == "accepted") | .id]' "$@" | jq -sc 'add // []'
}

requests_now() {
  local s state
  for s in "${sites[@]}"; do
    for state in running succeeded failed cancelled; do
      # A call that fails now (a node being killed) is made again at the next round.
      "${abctl[@]}" list --site "$s" --state "$state" --since "$since" --all --limit 1000 \
        -o json 2>/dev/null || echo '{"requests": []}'
    done
  done | jq -sc '[.[].requests[]]'
}

# Per action and class of the batches, the id of its last request still queued (the one whose
# estimate is the latest), as "ID" lines.
last_queued() {  # NOW_JSON_FILE BATCH...
  local now=$1
  shift
  jq -s --slurpfile now "$now" -r '
    ($now[0] | map({key: (.id | tostring), value: true}) | from_entries) as $seen
    | group_by([.action, .priority])[]
    | [.[].requests[] | select(.status == "accepted" and ($seen[.id | tostring] | not)) | .id]
    | max // empty' "$@"
}

# One line per action and class of the batches, then "ended N/M".
progress_lines() {  # NOW_JSON_FILE QUEUED_ETAS_JSON_FILE BATCH...
  local now=$1 etas=$2
  shift 2
  jq -s -r --slurpfile now "$now" --slurpfile etas "$etas" --argjson t "$(date +%s%3N)" '
    def terminal: . == "succeeded" or . == "failed" or . == "cancelled";
    def two: tostring | if length < 2 then "0" + . else . end;
    def dur: if . < 60 then "\(.)s" elif . < 3600 then "\(. / 60 | floor)m\(. % 60 | two)s"
      else "\(. / 3600 | floor)h\(. % 3600 / 60 | floor | two)m" end;
    ($now[0] | map({key: (.id | tostring), value: .}) | from_entries) as $seen
    | (group_by([.action, .priority]) | map(
        [.[].requests[] | select(.status == "accepted") | .id] as $ids
        | [$ids[] | $seen[tostring] // {state: "queued", eta: $etas[0][tostring]}] as $r
        | ($r | map(select(.state == "succeeded")) | length) as $ok
        | ($r | map(select(.state == "failed" or .state == "cancelled")) | length) as $bad
        | ($r | map(select(.state == "running")) | length) as $run
        | ($r | map(select(.state == "queued")) | length) as $queued
        | ([$r[] | select(.state | terminal | not) | .eta // empty] | max_by(.at_ms)) as $eta
        | {ended: ($ok + $bad), all: ($ids | length), line:
          ("  \(.[0].action) \(.[0].priority)" + (" " * ([0, 22 - (.[0].action + .[0].priority | length)] | max))
          + "\($ok)/\($ids | length) done" + (if $bad > 0 then ", \($bad) FAILED" else "" end)
          + (if $run > 0 then ", \($run) running" else "" end)
          + (if $queued > 0 then ", \($queued) queued" else "" end)
          + (if $eta then "   ETA in \((($eta.at_ms - $t) / 1000 | floor | if . < 0 then 0 else . end) | dur)"
               + " (\($eta.at_ms / 1000 | floor | strftime("%H:%M:%S")) UTC"
               + (if $eta.basis == "assumed" then ", assumed: nothing finished recently" else "" end) + ")"
             else "" end))})) as $groups
    | ($groups[] | .line), "ended \([$groups[].ended] | add)/\([$groups[].all] | add)"' "$@"
}

# A line for follow to print above its progress lines (from on_tick).
note() {  # TEXT
  printf '%s\n' "$*" >>"$work/notes"
}

follow() {  # INTERVAL BATCH...
  local interval=$1
  shift
  local drawn=0 last_print=-100 lines body ended l id
  : >"$work/notes"
  while :; do
    requests_now >"$work/now.json"
    # The estimate of the last queued request of each line: one GET each.
    {
      echo '{'
      for id in $(last_queued "$work/now.json" "$@"); do
        printf '"%s": %s,\n' "$id" "$("${abctl[@]}" status "$id" -o json 2>/dev/null |
          jq -c '.requests[0].eta // null' 2>/dev/null || echo null)"
      done
      echo '"": null}'
    } >"$work/etas.json"
    lines=$(progress_lines "$work/now.json" "$work/etas.json" "$@")
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
