#!/usr/bin/env bash
# Run a command up to 3 times: a package registry's dropped connection ("IncompleteRead") must
# not fail a fresh machine's set-up or a CI run. Usage: scripts/retry.sh CMD [ARGS...]
set -u
for attempt in 1 2 3; do
  "$@" && exit 0
  status=$?
  [ "$attempt" -lt 3 ] && { echo "retry.sh: attempt $attempt failed (exit $status); retrying in 10 s" >&2; sleep 10; }
done
exit "$status"
