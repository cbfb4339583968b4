#!/usr/bin/env bash
# The test command (README: "Testing"). On a bare machine it installs moto,
# schemathesis and Playwright into .venv/, dynalite into .node/ and Debian's
# chromium if missing, starts moto_server and dynalite on free loopback
# ports, runs `cargo test --workspace` (unit and integration tests; extra
# arguments are passed on) against them, and stops both by their PIDs,
# whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh
ensure_chromium
start_moto
start_dynalite
cargo test --workspace "$@"
