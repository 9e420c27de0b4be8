"""Write the toy super-resolution dataset from scikit-image's bundled photos (no download).

Layout (real image folders, the same as a DIV2K-style benchmark)::

    data/toy_sr/train/gt/<photo>.png          training photos (GT only: LR made on the fly)
    data/toy_sr/val/gt/<photo>.png            held-out photos, cropped to a multiple of 12
    data/toy_sr/val/lq_x{2,3,4}/<photo>x{s}.png  their MATLAB-bicubic LR versions

Training and validation photos are disjoint. Run: ``python -m vitdense.datasets.toy sr [--out DIR]``
(``tools/dataset/make_toy_sr.py`` is the same).
"""
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np

from vitdense.datasets.toy import one_writer
from vitdense.restoration.transforms import imresize

__all__ = ['DEFAULT_TOY_SR_ROOT', 'TRAIN_PHOTOS', 'VAL_PHOTOS', 'SCALES', 'make_toy_sr']

DEFAULT_TOY_SR_ROOT = osp.join('data', 'toy_sr')  # relative to the current directory, as the config's root
# natural-looking photos; the grayscale ones (camera ... brick) are stored as 3 equal channels
TRAIN_PHOTOS = ('astronaut', 'rocket', 'immunohistochemistry', 'camera', 'coins', 'moon', 'brick')
VAL_PHOTOS = ('chelsea', 'coffee')
SCALES = (2, 3, 4)
MAX_SIDE = 512  # larger photos are shrunk (MATLAB bicubic) so that the toy set stays small
MARKER = 'toy_sr.json'
_VERSION = 2


def _photo(name: str) -> np.ndarray:
    import skimage.data
    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    side = max(img.shape[:2])
    if side > MAX_SIDE:
        img = imresize(img,
                       output_shape=(round(img.shape[0] * MAX_SIDE / side),
                                     round(img.shape[1] * MAX_SIDE / side)))
    return img


def _write(path: str, rgb: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path}')


@one_writer(DEFAULT_TOY_SR_ROOT)
def make_toy_sr(root: str = DEFAULT_TOY_SR_ROOT) -> str:
    """Create the toy SR folders under ``root`` (no-op when a complete copy is there)."""
    params = dict(version=_VERSION, train=TRAIN_PHOTOS, val=VAL_PHOTOS, scales=SCALES, max_side=MAX_SIDE)
    marker = osp.join(root, MARKER)
    if osp.isfile(marker):
        with open(marker) as f:
            if json.load(f) == json.loads(json.dumps(params)):
                return root
    for split in ('train', 'val'):  # an older / different toy set: start afresh
        shutil.rmtree(osp.join(root, split), ignore_errors=True)
    for name in TRAIN_PHOTOS:
        _write(osp.join(root, 'train', 'gt', f'{name}.png'), _photo(name))
    mod = int(np.lcm.reduce(SCALES))
    for name in VAL_PHOTOS:
        img = _photo(name)
        img = img[:img.shape[0] - img.shape[0] % mod, :img.shape[1] - img.shape[1] % mod]
        _write(osp.join(root, 'val', 'gt', f'{name}.png'), img)
        for s in SCALES:
            _write(osp.join(root, 'val', f'lq_x{s}', f'{name}x{s}.png'), imresize(img, 1.0 / s))
    with open(marker, 'w') as f:  # written last: marks a complete dataset
        json.dump(params, f)
    return root
