#!/usr/bin/env bash
# The test command (README: "Testing"). On a bare machine it installs moto,
# schemathesis and Playwright into .venv/ and Debian's chromium if missing,
# starts moto_server on a free loopback port, runs `cargo test --workspace`
# (unit and integration tests; extra arguments are passed on) against it,
# and stops the server by its PID, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh
ensure_chromium
start_moto
cargo test --workspace "$@"
