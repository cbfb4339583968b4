#!/usr/bin/env bash
# The test command (README: "Testing"). On a bare machine it:
#   1. installs moto (the AWS emulator) from PyPI into .venv/ if it is not there,
#   2. starts moto_server on a free loopback port,
#   3. runs `cargo test` (extra arguments are passed on) against it,
#   4. stops the server by its PID, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${TRACKER_VENV:-.venv}
MOTO_VERSION=5.2.5

if ! "$VENV/bin/python" -c 'import moto.server' >/dev/null 2>&1; then
    echo "test.sh: installing moto[server]==$MOTO_VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

PORT=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" > .moto.log 2>&1 &
MOTO_PID=$!
stop_moto() {
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
}
trap stop_moto EXIT

for _ in $(seq 1 100); do
    if "$VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
        echo "test.sh: moto_server exited; its log:" >&2
        cat .moto.log >&2
        exit 1
    fi
    sleep 0.1
done

export TRACKER_TEST_MOTO_URL="http://127.0.0.1:$PORT"
echo "test.sh: moto_server (pid $MOTO_PID) on $TRACKER_TEST_MOTO_URL" >&2
cargo test "$@"
