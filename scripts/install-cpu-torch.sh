#!/usr/bin/env bash
# Install the CPU build of PyTorch that openkling is tested with.
#
# PyPI's torch wheel for Linux depends on several GB of CUDA libraries (nvidia-cudnn-cu13,
# nvidia-nccl-cu13, ...). The CPU build lives on PyTorch's own index, so this script installs
# torch from there. When that index cannot be reached (a machine that sees only a package
# mirror, whose torch is then the one the mirror holds), it falls back to the plain pin.
#
#   scripts/install-cpu-torch.sh            # torch==2.13.0, the CPU build where reachable
#
# Environment: PYTHON (default: python), TORCH_VERSION (default: 2.13.0),
# TORCH_CPU_INDEX (default: https://download.pytorch.org/whl/cpu).
set -euo pipefail

PYTHON="${PYTHON:-python}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_CPU_INDEX="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"

if "$PYTHON" - "$TORCH_CPU_INDEX" <<'PY'; then
import sys
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=15).close()
except Exception:
    sys.exit(1)
PY
  echo "install-cpu-torch: torch==$TORCH_VERSION, CPU build, from $TORCH_CPU_INDEX" >&2
  exec "$PYTHON" -m pip install -q "torch==$TORCH_VERSION" --index-url "$TORCH_CPU_INDEX"
fi

echo "install-cpu-torch: $TORCH_CPU_INDEX cannot be reached; installing torch==$TORCH_VERSION" \
  "from the configured package index instead" >&2
exec "$PYTHON" -m pip install -q "torch==$TORCH_VERSION"
