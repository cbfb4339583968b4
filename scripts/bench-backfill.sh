#!/usr/bin/env bash
# Backfill benchmark (README: "Benchmarks"): the shared sample from moto S3
# into moto DynamoDB with the real binary, at --concurrency 1 and the
# default, under /usr/bin/time -v (wall time, objects/s, events/s, peak RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh
start_moto
cargo bench --bench backfill "$@"
