#!/bin/sh
# Installs the peer the bench compares keel's compiler with: wasmtime's C API library, as the
# `wasmtime` PyPI package ships it (building the wasmtime crate takes over half an hour on two
# cores). The harness finds it through `python3 -c "import wasmtime"`, or through
# KEEL_BENCH_WASMTIME_LIB=/path/to/_libwasmtime.so. Keep the version in step with
# PINNED_VERSION in bench/src/wasmtime.rs and with docs/performance.md.
set -eu
exec python3 -m pip install --no-deps "wasmtime==50.0.1"
