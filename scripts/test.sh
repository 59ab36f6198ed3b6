#!/usr/bin/env bash
# Runs every test, optimized (tests that train start the release binaries of the same build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The interop tests read Grove's files with the reference Python readers (safetensors,
# TensorBoard's event reader, the Prometheus text parser) and run its ONNX export with onnxruntime
# (checked by onnx's checker); the object storage tests run against moto's S3 server on loopback
# (scripts/s3-test-server.py). They skip, saying why, without them.
if command -v python3 >/dev/null && ! python3 -c "import safetensors, numpy, tensorboard, prometheus_client, onnxruntime, onnx, moto.server" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check safetensors numpy tensorboard prometheus_client onnxruntime onnx 'moto[server]' \
    || echo "warning: could not install the Python readers; their interop tests will skip"
fi
# One optimized build of everything, tests included; tests that train start its binaries.
bash scripts/build.sh --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
