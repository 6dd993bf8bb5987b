#!/usr/bin/env bash
# Scores each message file given with SpamAssassin's local tests (`spamassassin -t -L`)
# and fails when any scores above 0, or when a score cannot be read. Prints each
# message's score and the rules that fired.
#   .ci/score-mail.sh target/mail-samples/*.eml
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "score-mail: no message files given" >&2
  exit 2
fi
failed=0
for file in "$@"; do
  report=$(spamassassin -t -L < "$file" 2>/dev/null | tr -d '\r')
  # The X-Spam-Status header, unfolded: "No, score=-0.0 required=5.0 tests=A,B ...".
  status=$(printf '%s\n' "$report" | awk '
    /^X-Spam-Status:/ { on = 1; line = $0; next }
    on && /^[ \t]/   { sub(/^[ \t]+/, ""); line = line (line ~ /,$/ ? "" : " ") $0; next }
    on               { exit }
    END              { print line }')
  score=$(printf '%s\n' "$status" | sed -nE 's/.*[ ,]score=(-?[0-9]+(\.[0-9]+)?).*/\1/p')
  tests=$(printf '%s\n' "$status" | sed -nE 's/.*tests=([^ ]*).*/\1/p' | tr -d '\t')
  if [ -z "$score" ]; then
    echo "score-mail: $file: no score in SpamAssassin's answer" >&2
    failed=1
    continue
  fi
  if awk -v s="$score" 'BEGIN { exit !(s + 0 > 0) }'; then
    echo "FAIL $file: score $score > 0 ($tests)"
    failed=1
  else
    echo "ok   $file: score $score ($tests)"
  fi
done
exit "$failed"
