#!/usr/bin/env bash
# The test command (README: "Testing"). On a bare machine it installs moto and
# schemathesis into .venv/ if missing, starts moto_server on a free loopback
# port, runs `cargo test --workspace` (unit and integration tests; extra
# arguments are passed on) against it, and stops the server by its PID,
# whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh
start_moto
cargo test --workspace "$@"
