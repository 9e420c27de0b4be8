#!/usr/bin/env bash
# Build the project environment in .venv at the repository root.
#
#   bash tools/setup_env.sh          # create or complete .venv (idempotent)
#   FORCE=1 bash tools/setup_env.sh  # re-run every step even if the stamp matches
#
# The stack is pinned in requirements/*.txt. Steps:
#   1. a venv with a setuptools that torch 2.13 (>= 77) and mmengine (pkg_resources) both accept;
#   2. the registry's torch + torchvision pair, then a check that `torchvision.ops` imports;
#   3. mmcv 2.1.0 built from source with its ops (CUDA ops when nvcc and a GPU are present);
#   4. mmengine, mmdet, mmsegmentation, mmpretrain and the test/optional extras;
#   5. vitdense itself (editable), then one import of everything the project needs.
# A stamp file (.venv/.vitdense-stamp) records the hash of the inputs, so a second call
# returns in seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY_BOOT="${VITDENSE_PYTHON:-python3}"
STAMP="$VENV/.vitdense-stamp"

say() { printf '\n[setup_env] %s\n' "$*"; }
die() { printf '\n[setup_env] ERROR: %s\n' "$*" >&2; exit 1; }

inputs_hash() {
  cat "$ROOT"/requirements/*.txt "$ROOT/tools/setup_env.sh" "$ROOT/setup.py" 2>/dev/null \
    | sha256sum | cut -d' ' -f1
}

final_check() {
  "$VENV/bin/python" - <<'PY'
import importlib, sys
mods = ['torch', 'torchvision.ops', 'mmengine', 'mmcv.ops', 'mmdet.models', 'mmseg.models',
        'mmpretrain.models', 'pkg_resources', 'vitdense']
for m in mods:
    importlib.import_module(m)
import torch, torchvision, mmcv, mmdet, mmseg, mmpretrain, mmengine, numpy, setuptools
from mmcv.ops import RoIAlign  # a compiled op: proves mmcv was built with ops
print('torch', torch.__version__, '| torchvision', torchvision.__version__, '| numpy', numpy.__version__,
      '| setuptools', setuptools.__version__)
print('mmengine', mmengine.__version__, '| mmcv', mmcv.__version__, '| mmdet', mmdet.__version__,
      '| mmseg', mmseg.__version__, '| mmpretrain', mmpretrain.__version__)
print('cuda available:', torch.cuda.is_available())
PY
}

HASH="$(inputs_hash)"
if [ "${FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  if final_check >/dev/null 2>&1; then
    say ".venv is up to date ($VENV)"
    exit 0
  fi
  say "stamp matches but the import check failed: rebuilding"
fi

# Some machines carry a local CPU-only torch wheel in pip's find-links with no torchvision built
# against it. Resolve every package from the package index alone so the pair always matches.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL || true
export PIP_DISABLE_PIP_VERSION_CHECK=1
PIP=("$VENV/bin/python" -m pip install --progress-bar off)

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $($PY_BOOT --version 2>&1)"
  "$PY_BOOT" -c 'import sys; assert sys.version_info[:2] >= (3, 9), sys.version' \
    || die "Python >= 3.9 is needed (set VITDENSE_PYTHON=/path/to/python3.11)"
  "$PY_BOOT" -m venv "$VENV"
fi

say "step 1/5: build tools (requirements/build.txt)"
"${PIP[@]}" -U pip
"${PIP[@]}" -r "$ROOT/requirements/build.txt"
"$VENV/bin/python" -c 'import pkg_resources, setuptools; print("setuptools", setuptools.__version__, "with pkg_resources")' \
  || die "setuptools lost pkg_resources (mmengine needs it): pin it below 81 in requirements/build.txt"

say "step 2/5: torch + torchvision (requirements/torch.txt; the CUDA build runs on CPU too, ~5 GB)"
"${PIP[@]}" -r "$ROOT/requirements/torch.txt"
"$VENV/bin/python" -c 'import torch, torchvision.ops; print("torch", torch.__version__, "torchvision", torchvision.__version__)' \
  || die "'import torchvision.ops' failed: torch and torchvision are not a matching pair. Remove .venv and re-run; do not install a CPU-only torch wheel without its torchvision."

say "step 3/5: mmcv from source with ops (about 11 min on 2 cores; pip caches the built wheel)"
"${PIP[@]}" "numpy>=1.24,<2" "opencv-python==4.11.0.86" "mmengine==0.10.7"
if command -v nvcc >/dev/null 2>&1 && "$VENV/bin/python" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  say "nvcc and a GPU found: building mmcv with CUDA ops"
  export FORCE_CUDA=1
fi
MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" --no-build-isolation -r "$ROOT/requirements/mmcv.txt"
"$VENV/bin/python" -c 'from mmcv.ops import RoIAlign, nms' \
  || die "mmcv was installed without its compiled ops; remove the cached wheel (pip cache remove mmcv) and re-run"

say "step 4/5: OpenMMLab libraries, tests and optional peers"
"${PIP[@]}" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" -r "$ROOT/requirements/optional.txt"

say "step 5/5: vitdense (editable) and the import check"
"${PIP[@]}" --no-build-isolation --no-deps -e "$ROOT"
final_check || die "the final import check failed (see above)"
echo "$HASH" > "$STAMP"
say "done: activate with 'source .venv/bin/activate'"
