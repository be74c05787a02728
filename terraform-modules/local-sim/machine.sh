#!/usr/bin/env bash
# One simulated VM of the local-sim module: `start` boots it from its cloud-init user data
# ($USER_DATA), `stop` destroys it. What a VM's cloud-init would do is done here for real,
# on this host: the agent's environment file is taken from the user data's write_files
# entry, the agent binary is downloaded from the Ratchet server and checked against the
# sha256 the user data names, and the agent runs (in its own session, with only that
# environment) until the machine is stopped.
#
# Test knobs, files put next to this script in a copy of the module (stand-ins for a slow
# or failing cloud; each deployment gets its own copy): sim-apply-delay-s (seconds to wait
# before booting), sim-fail-apply (fail the boot), sim-destroy-failures (fail this many
# destroys first).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
knob() { [ -f "$here/sim-$1" ] && cat "$here/sim-$1" || true; }

# The content of the user data's write_files entry for path $1 (base64, one line).
user_file() {
  printf '%s\n' "$USER_DATA" | awk -v path="$1" '
    $0 ~ "path: *\"?" path "\"?$" { found = 1; next }
    found && /^ *- / { exit }
    found && /content:/ { sub(/.*content: */, ""); gsub(/["\047]/, ""); print; exit }
  ' | base64 -d
}

# Stop the machine's agent (it leads its session: everything it started goes with it) and
# its databases (sessions of their own: their postmaster.pid names them); remove its dir.
power_off() {
  if [ -f "$DIR/pid" ]; then
    pid=$(cat "$DIR/pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  for signal in QUIT KILL; do
    for pidfile in "$DIR"/work/postgres/*/data/postmaster.pid; do
      [ -f "$pidfile" ] || continue
      kill -"$signal" "$(head -1 "$pidfile")" 2>/dev/null || true
    done
    sleep 0.5
  done
  rm -rf "$DIR"
}

case "$1" in
start)
  delay=$(knob apply-delay-s)
  [ -n "$delay" ] && sleep "$delay"
  if [ -n "$(knob fail-apply)" ]; then
    echo "machine $MACHINE: the simulated cloud refused to boot it (sim-fail-apply)" >&2
    exit 1
  fi
  # A boot that fails leaves nothing (Terraform runs no destroy-time step for it).
  trap 'status=$?; [ $status -eq 0 ] || power_off; exit $status' EXIT
  mkdir -p "$DIR/work"
  chmod 755 "$DIR" "$DIR/work"
  user_file /etc/ratchet-agent/agent.env > "$DIR/agent.env"
  chmod 600 "$DIR/agent.env"
  sha=$(user_file /etc/ratchet-agent/agent.sha256 | cut -d' ' -f1)
  server=$(sed -n 's/^RATCHET_SERVER_URL=//p' "$DIR/agent.env")
  curl -fsS -o "$DIR/ratchet-agent" "$server/api/v1/agent/binary?arch=$(uname -m)"
  echo "$sha  $DIR/ratchet-agent" | sha256sum -c --quiet -
  chmod 755 "$DIR/ratchet-agent"
  # The agent sees its enrollment environment and nothing of Terraform's or the server's.
  (
    cd "$DIR"
    # A VM shares no file descriptors with whoever made it (Terraform's pipes among them).
    for fd in $(ls /proc/self/fd); do
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    # shellcheck disable=SC2046
    exec env -i PATH="$PATH" HOME="$DIR/work" LANG=C.UTF-8 RATCHET_AGENT_WORK_DIR="$DIR/work" \
      $(grep -v '^RATCHET_AGENT_WORK_DIR=' agent.env) \
      setsid ./ratchet-agent </dev/null >"$DIR/agent.log" 2>&1 &
    echo $! > "$DIR/pid"
  )
  echo "machine $MACHINE booted at $ADDRESS (agent pid $(cat "$DIR/pid"))"
  ;;
stop)
  left=$(knob destroy-failures)
  if [ -n "$left" ] && [ "$left" -gt 0 ]; then
    echo $((left - 1)) > "$here/sim-destroy-failures"
    echo "the simulated cloud failed to destroy the machine ($left failures to go)" >&2
    exit 1
  fi
  power_off
  ;;
*)
  echo "usage: machine.sh start|stop" >&2
  exit 2
  ;;
esac
