#!/usr/bin/env bash
# The test command (README: "Testing"). On a bare machine it installs moto
# into .venv/ if missing, starts moto_server on a free loopback port, runs
# `cargo test` against it (extra arguments are passed on), and stops the
# server by its PID, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh
start_moto
cargo test "$@"
