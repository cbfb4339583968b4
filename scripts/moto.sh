# Sourced by test.sh and bench-backfill.sh: installs the Python test tools
# from PyPI into .venv/ if they are not there (moto, the AWS emulator;
# schemathesis, which checks the API against swagger.yaml; Playwright, which
# drives the browser of the dashboard's tests), starts moto_server on a free
# loopback port, exports TRACKER_TEST_MOTO_URL, and stops the server by its
# PID when the calling script exits, whatever happened. start_dynalite does
# the same for dynalite (a DynamoDB emulator from npm, into .node/), which
# the store tests use: moto scans its whole table on every Query.
# ensure_chromium installs Debian's chromium (the browser itself:
# Playwright downloads none).

VENV=${TRACKER_VENV:-.venv}
MOTO_VERSION=5.2.5
SCHEMATHESIS_VERSION=4.32.5
PLAYWRIGHT_VERSION=1.65.2
CHROMIUM=/usr/bin/chromium
NODE_DIR=${TRACKER_NODE_DIR:-.node}
DYNALITE_VERSION=4.0.0

# A free loopback port.
free_port() {
    "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something listens on 127.0.0.1:$1, or fails with the log $3
# of process $2 when it exits first.
wait_for_port() {
    for _ in $(seq 1 100); do
        if "$VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$2" 2>/dev/null; then
            echo "moto.sh: the emulator on port $1 exited; its log:" >&2
            cat "$3" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "moto.sh: nothing listens on port $1 after 10 s; log $3:" >&2
    cat "$3" >&2
    exit 1
}

start_moto() {
    if ! "$VENV/bin/python" -c 'import moto.server, schemathesis, playwright' >/dev/null 2>&1; then
        echo "moto.sh: installing moto[server]==$MOTO_VERSION, schemathesis==$SCHEMATHESIS_VERSION and playwright==$PLAYWRIGHT_VERSION into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
            "moto[server]==$MOTO_VERSION" "schemathesis==$SCHEMATHESIS_VERSION" \
            "playwright==$PLAYWRIGHT_VERSION"
    fi
    export TRACKER_SCHEMATHESIS="$PWD/$VENV/bin/schemathesis"
    local port
    port=$(free_port)
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" > .moto.log 2>&1 &
    MOTO_PID=$!
    trap stop_emulators EXIT
    wait_for_port "$port" "$MOTO_PID" .moto.log
    export TRACKER_TEST_MOTO_URL="http://127.0.0.1:$port"
    echo "moto.sh: moto_server (pid $MOTO_PID) on $TRACKER_TEST_MOTO_URL" >&2
}

start_dynalite() {
    if [ ! -x "$NODE_DIR/node_modules/.bin/dynalite" ]; then
        if ! command -v npm >/dev/null 2>&1; then
            echo "moto.sh: npm is missing; the store tests need dynalite from the npm registry (install Node.js and npm)" >&2
            exit 1
        fi
        echo "moto.sh: installing dynalite@$DYNALITE_VERSION into $NODE_DIR" >&2
        npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent "dynalite@$DYNALITE_VERSION" >&2
    fi
    local port
    port=$(free_port)
    # Tables are ACTIVE at once (as moto's), so a test can use one it just made.
    "$NODE_DIR/node_modules/.bin/dynalite" --port "$port" \
        --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 > .dynalite.log 2>&1 &
    DYNALITE_PID=$!
    trap stop_emulators EXIT
    wait_for_port "$port" "$DYNALITE_PID" .dynalite.log
    export TRACKER_TEST_DYNAMODB_URL="http://127.0.0.1:$port"
    echo "moto.sh: dynalite (pid $DYNALITE_PID) on $TRACKER_TEST_DYNAMODB_URL" >&2
}

stop_moto() {
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
}

stop_emulators() {
    stop_moto
    if [ -n "${DYNALITE_PID:-}" ]; then
        kill "$DYNALITE_PID" 2>/dev/null || true
        wait "$DYNALITE_PID" 2>/dev/null || true
    fi
}

# Debian's chromium for the dashboard's browser tests (tests/dashboard.rs),
# with a fixed font so that screenshots look the same everywhere. Installed
# with apt-get when missing (as root, or through sudo); a failure stops the
# test command with what to do.
ensure_chromium() {
    if [ -x "$CHROMIUM" ]; then
        return
    fi
    echo "moto.sh: installing Debian's chromium (the dashboard's browser tests)" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    if ! { $sudo apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-dejavu-core; } >&2; then
        echo "moto.sh: could not install chromium; install it yourself (apt-get install chromium) and run the tests again" >&2
        exit 1
    fi
    if [ ! -x "$CHROMIUM" ]; then
        echo "moto.sh: the chromium package did not install $CHROMIUM" >&2
        exit 1
    fi
}
