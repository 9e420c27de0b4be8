#!/usr/bin/env bash
# Quick start, step 1: set up .venv if missing, then train + evaluate Mask R-CNN Swin-T on the
# embedded toy COCO dataset (CPU, a few minutes). Extra arguments go to tools/demo/toy_mask_rcnn.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup_env.sh
exec .venv/bin/python tools/demo/toy_mask_rcnn.py "$@"
