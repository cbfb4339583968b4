# Sourced by test.sh and bench-backfill.sh: installs the Python test tools
# from PyPI into .venv/ if they are not there (moto, the AWS emulator, and
# schemathesis, which checks the API against swagger.yaml), starts moto_server on a free
# loopback port, exports TRACKER_TEST_MOTO_URL, and stops the server by its
# PID when the calling script exits, whatever happened.

VENV=${TRACKER_VENV:-.venv}
MOTO_VERSION=5.2.5
SCHEMATHESIS_VERSION=4.32.5

start_moto() {
    if ! "$VENV/bin/python" -c 'import moto.server, schemathesis' >/dev/null 2>&1; then
        echo "moto.sh: installing moto[server]==$MOTO_VERSION and schemathesis==$SCHEMATHESIS_VERSION into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
            "moto[server]==$MOTO_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
    fi
    export TRACKER_SCHEMATHESIS="$PWD/$VENV/bin/schemathesis"
    local port
    port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" > .moto.log 2>&1 &
    MOTO_PID=$!
    trap stop_moto EXIT
    for _ in $(seq 1 100); do
        if "$VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
            break
        fi
        if ! kill -0 "$MOTO_PID" 2>/dev/null; then
            echo "moto.sh: moto_server exited; its log:" >&2
            cat .moto.log >&2
            exit 1
        fi
        sleep 0.1
    done
    export TRACKER_TEST_MOTO_URL="http://127.0.0.1:$port"
    echo "moto.sh: moto_server (pid $MOTO_PID) on $TRACKER_TEST_MOTO_URL" >&2
}

stop_moto() {
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
}
