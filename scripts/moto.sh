# Sourced by test.sh and bench-backfill.sh: installs the Python test tools
# from PyPI into .venv/ if they are not there (moto, the AWS emulator;
# schemathesis, which checks the API against swagger.yaml; Playwright, which
# drives the browser of the dashboard's tests), starts moto_server on a free
# loopback port, exports TRACKER_TEST_MOTO_URL, and stops the server by its
# PID when the calling script exits, whatever happened. ensure_chromium
# installs Debian's chromium (the browser itself: Playwright downloads none).

VENV=${TRACKER_VENV:-.venv}
MOTO_VERSION=5.2.5
SCHEMATHESIS_VERSION=4.32.5
PLAYWRIGHT_VERSION=1.65.2
CHROMIUM=/usr/bin/chromium

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
