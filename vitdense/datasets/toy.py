"""Small synthetic datasets in the real COCO and ADE20K on-disk formats.

They exist so that a toy detector / segmenter can be trained for a few hundred CPU iterations and
scored by the stock OpenMMLab datasets and metrics (mmdet ``CocoDataset`` + ``CocoMetric``, mmseg
``ADE20KDataset`` + ``IoUMetric``) without downloading anything.

``make_toy_coco``
    ``root/{train,val}/toy_<split>_<id>.png`` and ``root/annotations/instances_{train,val}.json``
    (COCO instance format: polygon ``segmentation``, ``area``, xywh ``bbox``, ``iscrowd=0``).
    Three classes (:data:`TOY_COCO_CLASSES`); 1-4 flat, saturated, non-overlapping shapes of
    16-60 px per image on a muted, mildly textured background. Each object is painted with the
    rasterisation of its own stored polygon (the one pycocotools / mmdet ``poly2mask`` use), so the
    mask of every annotation equals the object's pixels exactly; images are lossless PNG.
    Hue is mostly tied to the class (red squares, green circles, blue triangles, each jittered;
    a quarter of the objects get a random hue), so the task is learnable in a few hundred
    iterations while the shape still matters.

``make_toy_ade20k``
    The ADE20K layout ``root/images/{training,validation}/ADE_<split>_<id>.jpg`` and
    ``root/annotations/{training,validation}/ADE_<split>_<id>.png`` (uint8 label maps holding real
    ADE20K ids: 0 = other / unlabelled, k = the k-th class of mmseg's ``ADE20KDataset.METAINFO``).
    Indoor (ceiling / wall / floor) and outdoor (sky / building / tree / grass / road / water)
    scenes, one texture per class, plus small "other" clutter labelled 0.
    Only :data:`TOY_ADE20K_CLASSES` occur. A config uses them through mmseg's own label remapping:
    ``ADE20KDataset(metainfo=dict(classes=TOY_ADE20K_CLASSES), ...)`` makes ``BaseSegDataset``
    build ``label_map`` = {ADE index (after reduce_zero_label): subset index, every other class:
    255}, which ``LoadAnnotations`` applies after ``reduce_zero_label`` (0 -> 255, k -> k-1).
    So the decode heads use ``num_classes=len(TOY_ADE20K_CLASSES)`` (9), and ``IoUMetric`` scores the
    9 classes. (``num_classes=150`` without ``metainfo`` also works, with 141 never-seen classes.)

Both write a marker ``root/toy_dataset.json`` holding the parameters, last, and do nothing when a
complete dataset with the same parameters is already there. Output depends only on the
parameters (one ``numpy`` generator per image seeded by ``(seed, split, index)``).

Command line (works from an installed package; ``tools/dataset/make_*.py`` call the same code)::

    python -m vitdense.datasets.toy coco --out data/toy_coco
    python -m vitdense.datasets.toy ade20k --out data/toy_ade20k
    python -m vitdense.datasets.toy sr --out data/toy_sr            (vitdense.datasets.toy_sr)
    python -m vitdense.datasets.toy fewshot --out data/toy_fewshot  (vitdense.fewshot.synthetic)
    python -m vitdense.datasets.toy supervoxels DATA_ROOT           (vitdense.fewshot.supervoxels)
"""
import colorsys
import contextlib
import functools
import json
import math
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'TOY_COCO_CLASSES', 'TOY_COCO_PALETTE', 'TOY_ADE20K_CLASSES', 'TOY_ADE20K_IDS', 'TOY_ADE20K_PALETTE',
    'DEFAULT_TOY_COCO_ROOT', 'DEFAULT_TOY_ADE20K_ROOT', 'TOY_SETS', 'make_toy_coco', 'make_toy_ade20k', 'main'
]

# relative to the current directory, as the configs' data_root (data/toy_coco/ ...) are
DEFAULT_TOY_COCO_ROOT = osp.join('data', 'toy_coco')
DEFAULT_TOY_ADE20K_ROOT = osp.join('data', 'toy_ade20k')
# data/<folder> -> the subcommand of `python -m vitdense.datasets.toy` that writes it
TOY_SETS = {'toy_coco': 'coco', 'toy_ade20k': 'ade20k', 'toy_sr': 'sr', 'toy_fewshot': 'fewshot'}

MARKER = 'toy_dataset.json'
_FORMAT_VERSION = 1

# --------------------------------------------------------------------------------------------------
# COCO
# --------------------------------------------------------------------------------------------------
TOY_COCO_CLASSES = ('square', 'circle', 'triangle')
_COCO_HUES = (0.0, 120.0, 225.0)  # degrees: red squares, green circles, blue triangles
TOY_COCO_PALETTE = [(220, 20, 60), (0, 170, 60), (40, 70, 230)]
_SPLIT_CODE = {'train': 0, 'val': 1}


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), _SPLIT_CODE[split], int(index)])


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Value noise in [-1, 1] with features about ``cell`` pixels wide."""
    gh, gw = max(2, int(math.ceil(h / cell)) + 1), max(2, int(math.ceil(w / cell)) + 1)
    grid = rng.uniform(-1.0, 1.0, size=(gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC).clip(-1.0, 1.0)


def _coco_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A muted (low-saturation) mildly textured RGB background, float32."""
    base = rng.uniform(95.0, 165.0)
    tint = rng.uniform(-12.0, 12.0, size=3)
    lum = 16.0 * _smooth_noise(rng, h, w, cell=rng.uniform(24, 48)) \
        + 6.0 * _smooth_noise(rng, h, w, cell=6.0) + rng.normal(0.0, 3.0, size=(h, w))
    img = base + tint[None, None, :] + lum[..., None] + rng.normal(0.0, 1.5, size=(h, w, 3))
    return img.clip(0, 255)


def _shape_polygon(rng: np.random.Generator, cls: int, size: float, cx: float, cy: float) -> np.ndarray:
    """(N, 2) float polygon of class ``cls`` with nominal size ``size`` (square side, circle diameter,
    triangle side) centred at ``(cx, cy)``."""
    if cls == 0:  # square, mildly rotated
        theta = math.radians(rng.uniform(-20.0, 20.0))
        r, n, phase = size / math.sqrt(2.0), 4, theta + math.pi / 4
    elif cls == 1:  # circle as a many-sided polygon (a vertex every ~2.5 px of circumference)
        r = size / 2.0
        n = max(24, int(math.ceil(math.pi * size / 2.5)))
        phase = rng.uniform(0.0, 2 * math.pi / n)
    else:  # equilateral triangle, any rotation
        r, n, phase = size / math.sqrt(3.0), 3, rng.uniform(0.0, 2 * math.pi / 3)
    ang = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], axis=1)


def _circumradius(cls: int, size: float) -> float:
    return (size / math.sqrt(2.0), size / 2.0, size / math.sqrt(3.0))[cls]


def _object_colour(rng: np.random.Generator, cls: int, used: List[np.ndarray]) -> np.ndarray:
    """A saturated RGB colour (uint8), far from the colours already ``used`` in the image."""
    for _ in range(100):
        if rng.random() < 0.75:
            hue = (_COCO_HUES[cls] + rng.uniform(-25.0, 25.0)) % 360.0
        else:
            hue = rng.uniform(0.0, 360.0)
        sat, val = rng.uniform(0.85, 1.0), rng.uniform(0.8, 1.0)
        rgb = np.round(255 * np.array(colorsys.hsv_to_rgb(hue / 360.0, sat, val))).astype(np.uint8)
        if all(np.abs(rgb.astype(int) - u.astype(int)).sum() > 60 for u in used):
            return rgb
    raise RuntimeError('could not pick a distinct colour')  # pragma: no cover


def _polygon_mask(flat_poly: Sequence[float], h: int, w: int) -> np.ndarray:
    """Rasterise one COCO polygon exactly as pycocotools (and mmdet's ``poly2mask``) do."""
    from pycocotools import mask as mask_utils
    rles = mask_utils.frPyObjects([list(flat_poly)], h, w)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def _coco_image(rng: np.random.Generator, h: int, w: int, min_size: float,
                max_size: float) -> Tuple[np.ndarray, List[dict]]:
    img = _coco_background(rng, h, w)
    objs: List[dict] = []
    used_colours: List[np.ndarray] = []
    placed: List[Tuple[float, float, float]] = []
    num = int(rng.integers(1, 5))
    for _ in range(num):
        cls = int(rng.integers(0, len(TOY_COCO_CLASSES)))
        for _try in range(60):
            size = float(math.exp(rng.uniform(math.log(min_size), math.log(max_size))))
            r = _circumradius(cls, size)
            if 2 * r + 4 > min(h, w):
                continue
            cx, cy = rng.uniform(r + 2, w - r - 2), rng.uniform(r + 2, h - r - 2)
            if all(math.hypot(cx - px, cy - py) > r + pr + 3 for px, py, pr in placed):
                break
        else:
            continue  # no room left for this object
        placed.append((cx, cy, r))
        poly = np.round(_shape_polygon(rng, cls, size, cx, cy), 2)
        flat = [float(v) for v in poly.reshape(-1)]
        mask = _polygon_mask(flat, h, w)
        colour = _object_colour(rng, cls, used_colours)
        used_colours.append(colour)
        img[mask] = colour
        x0, y0 = float(poly[:, 0].min()), float(poly[:, 1].min())
        x1, y1 = float(poly[:, 0].max()), float(poly[:, 1].max())
        objs.append(dict(category=cls, segmentation=[flat], area=int(mask.sum()),
                         bbox=[round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]))
    return np.round(img).astype(np.uint8), objs


# --------------------------------------------------------------------------------------------------
# helpers shared by both generators
# --------------------------------------------------------------------------------------------------
def _read_marker(root: str) -> Optional[dict]:
    try:
        with open(osp.join(root, MARKER)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _complete(root: str, params: dict) -> bool:
    marker = _read_marker(root)
    if marker is None or marker.get('params') != params:
        return False
    return all(osp.isfile(osp.join(root, p)) for p in marker.get('files', []))


def _write_marker(root: str, params: dict, files: List[str], **extra) -> None:
    tmp = osp.join(root, MARKER + '.tmp')
    with open(tmp, 'w') as f:
        json.dump(dict(params=params, files=sorted(files), **extra), f, indent=1)
    os.replace(tmp, osp.join(root, MARKER))


def _clear_generated(folder: str, prefix: str, suffix: str) -> None:
    """Remove files an earlier run of ours left in ``folder`` (only our own naming pattern), so a
    folder-scanning dataset (ADE20K) never sees stale images from other parameters."""
    if not osp.isdir(folder):
        return
    for name in os.listdir(folder):
        if name.startswith(prefix) and name.endswith(suffix):
            os.remove(osp.join(folder, name))


def _imwrite(path: str, rgb_or_gray: np.ndarray, params: Sequence[int] = ()) -> None:
    arr = rgb_or_gray if rgb_or_gray.ndim == 2 else cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(path, arr, list(params)):
        raise OSError(f'could not write {path}')


def _check_size(image_size: Sequence[int], minimum: int) -> Tuple[int, int]:
    h, w = (int(v) for v in image_size)
    if min(h, w) < minimum:
        raise ValueError(f'image_size {image_size} is too small (min side {minimum})')
    return h, w


@contextlib.contextmanager
def generation_lock(root: str):
    """Hold ``<root>.lock`` exclusively: one writer per dataset folder when several processes
    (distributed ranks, parallel test workers) ask for the same dataset at once; the others wait
    and then find it complete. Without ``fcntl`` (not POSIX) there is no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    root = osp.abspath(root)
    os.makedirs(osp.dirname(root), exist_ok=True)
    with open(root.rstrip(os.sep) + '.lock', 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def one_writer(default_root: str):
    """Decorate a ``make_*(root=None, ...)`` generator so it runs under ``generation_lock(root)``."""
    def wrap(fn):
        @functools.wraps(fn)
        def locked(root=None, *args, **kwargs):
            with generation_lock(root or default_root):
                return fn(root or default_root, *args, **kwargs)
        return locked
    return wrap


@one_writer(DEFAULT_TOY_COCO_ROOT)
def make_toy_coco(root: Optional[str] = None,
                  num_train: int = 200,
                  num_val: int = 50,
                  image_size: Sequence[int] = (128, 160),
                  seed: int = 0,
                  min_size: float = 16.0,
                  max_size: float = 60.0,
                  force: bool = False) -> Dict:
    """Write a toy COCO-format instance segmentation dataset under ``root``.

    Args:
        root: output folder (default ``data/toy_coco`` under the current directory).
        num_train, num_val: number of images per split.
        image_size: ``(H, W)`` of every image.
        seed: everything written is a function of the parameters only.
        min_size, max_size: object size range in pixels (side / diameter), log-uniform.
        force: rewrite even when a complete dataset with these parameters exists.

    Returns:
        dict with ``root``, ``train_img_dir``, ``val_img_dir``, ``train_ann_file``, ``val_ann_file``
        (absolute paths), ``data_prefix`` / ``ann_file`` (relative to root, per split), ``metainfo``
        (``classes`` and ``palette`` to pass to mmdet's ``CocoDataset``), ``num_images``,
        ``num_annotations`` (per split) and ``created`` (False when nothing was written).
    """
    root = osp.abspath(root or DEFAULT_TOY_COCO_ROOT)
    h, w = _check_size(image_size, 48)
    max_size = min(float(max_size), 0.45 * min(h, w))
    if not 0 < min_size <= max_size:
        raise ValueError(f'bad object size range ({min_size}, {max_size}) for image size {(h, w)}')
    params = dict(kind='coco', version=_FORMAT_VERSION, num_train=int(num_train), num_val=int(num_val),
                  image_size=[h, w], seed=int(seed), min_size=float(min_size), max_size=float(max_size))
    out = dict(root=root,
               train_img_dir=osp.join(root, 'train'), val_img_dir=osp.join(root, 'val'),
               train_ann_file=osp.join(root, 'annotations', 'instances_train.json'),
               val_ann_file=osp.join(root, 'annotations', 'instances_val.json'),
               ann_file=dict(train='annotations/instances_train.json', val='annotations/instances_val.json'),
               data_prefix=dict(train=dict(img='train/'), val=dict(img='val/')),
               metainfo=dict(classes=TOY_COCO_CLASSES, palette=list(TOY_COCO_PALETTE)))
    if not force and _complete(root, params):
        out.update(num_images={'train': int(num_train), 'val': int(num_val)},
                   num_annotations=_read_marker(root).get('num_annotations', {}), created=False)
        return out

    if osp.exists(osp.join(root, MARKER)):
        os.remove(osp.join(root, MARKER))
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    categories = [dict(id=i + 1, name=n, supercategory='shape') for i, n in enumerate(TOY_COCO_CLASSES)]
    files: List[str] = []
    num_anns: Dict[str, int] = {}
    image_id, ann_id = 1, 1  # ids unique over both splits, starting at 1 as in COCO
    for split, num in (('train', num_train), ('val', num_val)):
        img_dir = osp.join(root, split)
        os.makedirs(img_dir, exist_ok=True)
        _clear_generated(img_dir, f'toy_{split}_', '.png')
        images, annotations = [], []
        for i in range(int(num)):
            img, objs = _coco_image(_rng(seed, split, i), h, w, float(min_size), max_size)
            name = f'toy_{split}_{i:06d}.png'
            _imwrite(osp.join(img_dir, name), img)
            files.append(f'{split}/{name}')
            images.append(dict(id=image_id, file_name=name, height=h, width=w))
            for o in objs:
                annotations.append(dict(id=ann_id, image_id=image_id, category_id=o['category'] + 1,
                                        segmentation=o['segmentation'], area=o['area'], bbox=o['bbox'],
                                        iscrowd=0))
                ann_id += 1
            image_id += 1
        coco = dict(info=dict(description=f'vitdense toy COCO ({split})', version='1.0', year=2024,
                              contributor='vitdense.datasets.toy', date_created=''),
                    licenses=[], images=images, annotations=annotations, categories=categories)
        ann_rel = f'annotations/instances_{split}.json'
        with open(osp.join(root, ann_rel), 'w') as f:
            json.dump(coco, f)
        files.append(ann_rel)
        num_anns[split] = len(annotations)
    _write_marker(root, params, files, num_annotations=num_anns)
    out.update(num_images={'train': int(num_train), 'val': int(num_val)}, num_annotations=num_anns,
               created=True)
    return out


# --------------------------------------------------------------------------------------------------
# ADE20K
# --------------------------------------------------------------------------------------------------
# 1-based ids in ADE20K's label maps == 1 + index in mmseg's ADE20KDataset.METAINFO['classes']
# (tests/test_toy_data.py checks them against mmseg).
TOY_ADE20K_IDS = {'wall': 1, 'building': 2, 'sky': 3, 'floor': 4, 'tree': 5, 'ceiling': 6, 'road': 7,
                  'grass': 10, 'water': 22}
TOY_ADE20K_CLASSES = tuple(TOY_ADE20K_IDS)
# the rows of mmseg's ADE20K palette for these classes
TOY_ADE20K_PALETTE = [[120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50], [4, 200, 3],
                      [120, 120, 80], [140, 140, 140], [4, 250, 7], [61, 230, 250]]
_ADE = TOY_ADE20K_IDS


def _jitter(rng: np.random.Generator, rgb: Sequence[float], amount: float = 18.0) -> np.ndarray:
    return np.asarray(rgb, np.float32) + rng.uniform(-amount, amount, size=3).astype(np.float32)


def _texture(rng: np.random.Generator, name: str, h: int, w: int) -> np.ndarray:
    """A full-image float32 RGB texture characteristic of ADE20K class ``name``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fine = rng.normal(0.0, 1.0, size=(h, w)).astype(np.float32)
    if name == 'sky':
        top, bottom = _jitter(rng, (80, 140, 225), 15), _jitter(rng, (185, 210, 240), 10)
        t = (yy / max(h - 1, 1))[..., None]
        img = top * (1 - t) + bottom * t + (2.0 * fine)[..., None]
    elif name == 'ceiling':
        img = _jitter(rng, (228, 226, 220), 8) + (4 * _smooth_noise(rng, h, w, 30) + 2 * fine)[..., None]
        img = img - 25.0 * ((xx % 24) < 1.5)[..., None]  # panel seams
    elif name == 'wall':
        img = _jitter(rng, (200, 178, 145), 20) + (10 * _smooth_noise(rng, h, w, 20) + 3 * fine)[..., None]
    elif name == 'building':
        base = (150, 80, 60) if rng.random() < 0.5 else (130, 130, 138)
        img = _jitter(rng, base, 15) + (4 * fine)[..., None]
        px, py = int(rng.integers(9, 14)), int(rng.integers(11, 16))
        ox, oy = int(rng.integers(0, px)), int(rng.integers(0, py))
        windows = (((xx + ox) % px) < px / 2) & (((yy + oy) % py) < py / 2)
        img = img * np.where(windows, 0.45, 1.0)[..., None]
    elif name == 'floor':
        plank = int(rng.integers(6, 10))
        stripes = 14.0 * np.sin(2 * np.pi * yy / plank + 3 * _smooth_noise(rng, h, w, 16))
        img = _jitter(rng, (150, 100, 60), 15) + (stripes - 30.0 * ((yy % plank) < 1) + 3 * fine)[..., None]
    elif name == 'tree':
        img = _jitter(rng, (40, 100, 40), 12) + (30 * _smooth_noise(rng, h, w, 4) + 6 * fine)[..., None]
    elif name == 'road':
        img = _jitter(rng, (82, 82, 88), 10) + (9 * fine + 4 * _smooth_noise(rng, h, w, 12))[..., None]
    elif name == 'grass':
        streak = cv2.resize(rng.uniform(-1, 1, size=(max(2, h // 5), w)).astype(np.float32), (w, h),
                            interpolation=cv2.INTER_LINEAR)
        img = _jitter(rng, (85, 160, 60), 15) + (25 * streak + 4 * fine)[..., None]
    elif name == 'water':
        ripple = np.sin(2 * np.pi * yy / rng.uniform(4, 7) + 1.5 * np.sin(xx / rng.uniform(6, 12)))
        img = _jitter(rng, (40, 95, 165), 15) + (18 * ripple + 3 * fine)[..., None]
    elif name == 'other':  # clutter: any saturated colour with blotches
        hue = rng.uniform(0, 1)
        rgb = 255 * np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.5, 1.0)))
        img = rgb.astype(np.float32) + (20 * _smooth_noise(rng, h, w, 5) + 4 * fine)[..., None]
    else:  # pragma: no cover
        raise KeyError(name)
    return np.asarray(img, np.float32)


def _ade_label_map(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A scene layout: uint8 map of ADE20K ids (0 = other)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lab = np.zeros((h, w), np.uint8)
    if rng.random() < 0.6:  # outdoor
        horizon = h * rng.uniform(0.35, 0.6) + h * rng.uniform(0.0, 0.06) * np.sin(
            2 * np.pi * xx / (w * rng.uniform(0.5, 1.5)) + rng.uniform(0, 2 * np.pi))
        lab[:] = _ADE['sky']
        ground = list(rng.permutation(['grass', 'road', 'water']))[:int(rng.integers(1, 3))]
        below = yy >= horizon
        if len(ground) == 1:
            lab[below] = _ADE[ground[0]]
        else:  # two ground regions split by a slanted line
            x0, slope = w * rng.uniform(0.3, 0.7), rng.uniform(-1.0, 1.0)
            left = xx < x0 + slope * (yy - h / 2)
            lab[below & left] = _ADE[ground[0]]
            lab[below & ~left] = _ADE[ground[1]]
        for _ in range(int(rng.integers(0, 3))):  # buildings standing on the horizon
            bw, bh = w * rng.uniform(0.12, 0.3), h * rng.uniform(0.15, 0.4)
            bx = rng.uniform(0, w - bw)
            top = float(horizon.min()) - bh
            lab[(xx >= bx) & (xx < bx + bw) & (yy >= top) & ~below] = _ADE['building']
        for _ in range(int(rng.integers(0, 4))):  # tree crowns around the horizon
            cx, cy = rng.uniform(0, w), h * rng.uniform(0.2, 0.6)
            ax, ay = w * rng.uniform(0.05, 0.14), h * rng.uniform(0.08, 0.2)
            lab[((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1.0] = _ADE['tree']
    else:  # indoor
        floor_y = h * rng.uniform(0.55, 0.75) + (xx - w / 2) * rng.uniform(-0.15, 0.15)
        lab[:] = _ADE['wall']
        if rng.random() < 0.7:
            lab[yy < h * rng.uniform(0.1, 0.25)] = _ADE['ceiling']
        lab[yy >= floor_y] = _ADE['floor']
    # unlabelled clutter (ADE20K id 0) in every image: 1-2 small rectangles / ellipses
    for _ in range(int(rng.integers(1, 3))):
        sw, sh = rng.uniform(0.08, 0.2) * w, rng.uniform(0.08, 0.2) * h
        cx, cy = rng.uniform(sw, w - sw), rng.uniform(sh, h - sh)
        if rng.random() < 0.5:
            region = (np.abs(xx - cx) <= sw / 2) & (np.abs(yy - cy) <= sh / 2)
        else:
            region = ((xx - cx) / (sw / 2)) ** 2 + ((yy - cy) / (sh / 2)) ** 2 <= 1.0
        lab[region] = 0
    return lab


def _ade_sample(rng: np.random.Generator, h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    lab = _ade_label_map(rng, h, w)
    img = np.zeros((h, w, 3), np.float32)
    for name, ade_id in (('other', 0), ) + tuple(TOY_ADE20K_IDS.items()):
        region = lab == ade_id
        if region.any():
            img[region] = _texture(rng, name, h, w)[region]
    return np.round(img.clip(0, 255)).astype(np.uint8), lab


@one_writer(DEFAULT_TOY_ADE20K_ROOT)
def make_toy_ade20k(root: Optional[str] = None,
                    num_train: int = 100,
                    num_val: int = 20,
                    image_size: Sequence[int] = (128, 160),
                    seed: int = 0,
                    force: bool = False) -> Dict:
    """Write a toy dataset in the ADE20K (ADEChallengeData2016) layout under ``root``.

    Args:
        root: output folder (default ``data/toy_ade20k`` under the current directory).
        num_train, num_val: number of images per split.
        image_size: ``(H, W)`` of every image.
        seed: everything written is a function of the parameters only.
        force: rewrite even when a complete dataset with these parameters exists.

    Returns:
        dict with ``root``, ``train_img_dir``, ``val_img_dir``, ``train_seg_dir``, ``val_seg_dir``
        (absolute paths), ``data_prefix`` per split (relative to root, for mmseg's ``data_prefix``),
        ``metainfo`` (``classes`` = :data:`TOY_ADE20K_CLASSES`, ``palette``), ``ade_ids`` (class ->
        id in the label maps), ``num_images`` and ``created`` (False when nothing was written).
    """
    root = osp.abspath(root or DEFAULT_TOY_ADE20K_ROOT)
    h, w = _check_size(image_size, 32)
    params = dict(kind='ade20k', version=_FORMAT_VERSION, num_train=int(num_train), num_val=int(num_val),
                  image_size=[h, w], seed=int(seed))
    folders = {'train': 'training', 'val': 'validation'}
    out = dict(root=root,
               train_img_dir=osp.join(root, 'images', 'training'),
               val_img_dir=osp.join(root, 'images', 'validation'),
               train_seg_dir=osp.join(root, 'annotations', 'training'),
               val_seg_dir=osp.join(root, 'annotations', 'validation'),
               data_prefix={s: dict(img_path=f'images/{f}', seg_map_path=f'annotations/{f}')
                            for s, f in folders.items()},
               metainfo=dict(classes=TOY_ADE20K_CLASSES, palette=[list(p) for p in TOY_ADE20K_PALETTE]),
               ade_ids=dict(TOY_ADE20K_IDS),
               num_images={'train': int(num_train), 'val': int(num_val)})
    if not force and _complete(root, params):
        out['created'] = False
        return out

    if osp.exists(osp.join(root, MARKER)):
        os.remove(osp.join(root, MARKER))
    files: List[str] = []
    for split, num in (('train', num_train), ('val', num_val)):
        img_dir = osp.join(root, 'images', folders[split])
        seg_dir = osp.join(root, 'annotations', folders[split])
        for d, suffix in ((img_dir, '.jpg'), (seg_dir, '.png')):
            os.makedirs(d, exist_ok=True)
            _clear_generated(d, f'ADE_{split}_', suffix)
        for i in range(int(num)):
            img, lab = _ade_sample(_rng(seed, split, i), h, w)
            stem = f'ADE_{split}_{i + 1:08d}'
            _imwrite(osp.join(img_dir, stem + '.jpg'), img, (cv2.IMWRITE_JPEG_QUALITY, 95))
            _imwrite(osp.join(seg_dir, stem + '.png'), lab)
            files += [f'images/{folders[split]}/{stem}.jpg', f'annotations/{folders[split]}/{stem}.png']
    _write_marker(root, params, files)
    out['created'] = True
    return out


# --------------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------------
def _coco_args(p):
    p.add_argument('--out', default=DEFAULT_TOY_COCO_ROOT, help='output root (default: %(default)s)')
    p.add_argument('--num-train', type=int, default=200)
    p.add_argument('--num-val', type=int, default=50)
    p.add_argument('--size', type=int, nargs=2, default=(128, 160), metavar=('H', 'W'))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--min-size', type=float, default=16.0, help='smallest object side/diameter (px)')
    p.add_argument('--max-size', type=float, default=60.0, help='largest object side/diameter (px)')
    p.add_argument('--force', action='store_true', help='rewrite even if an identical dataset exists')


def _coco_run(a):
    info = make_toy_coco(a.out, num_train=a.num_train, num_val=a.num_val, image_size=tuple(a.size),
                         seed=a.seed, min_size=a.min_size, max_size=a.max_size, force=a.force)
    state = 'wrote' if info['created'] else 'already complete, nothing written:'
    print(f"{state} toy COCO dataset at {info['root']}")
    for split in ('train', 'val'):
        print(f"  {split}: {info['num_images'][split]} images in {info[split + '_img_dir']}, "
              f"{info['num_annotations'].get(split, '?')} annotations in {info[split + '_ann_file']}")
    print(f"  classes: {info['metainfo']['classes']}")


def _ade20k_args(p):
    p.add_argument('--out', default=DEFAULT_TOY_ADE20K_ROOT, help='output root (default: %(default)s)')
    p.add_argument('--num-train', type=int, default=100)
    p.add_argument('--num-val', type=int, default=20)
    p.add_argument('--size', type=int, nargs=2, default=(128, 160), metavar=('H', 'W'))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--force', action='store_true', help='rewrite even if an identical dataset exists')


def _ade20k_run(a):
    info = make_toy_ade20k(a.out, num_train=a.num_train, num_val=a.num_val, image_size=tuple(a.size),
                           seed=a.seed, force=a.force)
    state = 'wrote' if info['created'] else 'already complete, nothing written:'
    print(f"{state} toy ADE20K dataset at {info['root']}")
    for split in ('train', 'val'):
        print(f"  {split}: {info['num_images'][split]} images in {info[split + '_img_dir']}, "
              f"label maps in {info[split + '_seg_dir']}")
    ids = ', '.join(f'{n}={i}' for n, i in info['ade_ids'].items())
    print(f'  ADE20K classes used (label-map ids): {ids}; 0 = other (ignored)')
    print(f"  config: ADE20KDataset(metainfo=dict(classes={info['metainfo']['classes']}), ...) "
          f"and num_classes={len(info['metainfo']['classes'])}")


def _sr_args(p):
    from .toy_sr import DEFAULT_TOY_SR_ROOT
    p.add_argument('--out', '--root', dest='out', default=DEFAULT_TOY_SR_ROOT,
                   help='output folder (default: %(default)s)')


def _sr_run(a):
    from .toy_sr import make_toy_sr
    print(f'toy SR dataset ready in {make_toy_sr(a.out)}')


def _fewshot_args(p):
    from vitdense.fewshot.synthetic import ORGAN_TEMPLATES
    p.add_argument('--out', default=osp.join('data', 'toy_fewshot'),
                   help='output folder (default: %(default)s)')
    p.add_argument('--num-volumes', type=int, default=15)
    p.add_argument('--shape', type=int, nargs=3, default=(64, 64, 24), metavar=('H', 'W', 'D'))
    p.add_argument('--labels', type=int, nargs='+', default=(1, 2, 3),
                   help=f'organ ids to draw, from {sorted(ORGAN_TEMPLATES)}')
    p.add_argument('--format', default='nii.gz', choices=('nii.gz', 'nii', 'npy'))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--supervoxels', choices=('slic', 'felzenszwalb'), default=None,
                   help='also write supervoxel pseudo-labels for self-supervised training')
    p.add_argument('--n-segments', type=int, default=200, help='SLIC supervoxels per volume')


def _fewshot_run(a):
    from vitdense.fewshot.synthetic import ORGAN_TEMPLATES, write_synthetic_dataset
    sv = None
    if a.supervoxels == 'slic':
        sv = dict(method='slic', n_segments=a.n_segments)
    elif a.supervoxels == 'felzenszwalb':
        sv = dict(method='felzenszwalb', min_size=50)
    paths = write_synthetic_dataset(a.out, num_volumes=a.num_volumes, shape=tuple(a.shape), labels=a.labels,
                                    seed=a.seed, fmt=a.format, supervoxels=sv)
    names = ', '.join(f'{i}={ORGAN_TEMPLATES[i][0]}' for i in a.labels)
    print(f'wrote {len(paths)} volumes {tuple(a.shape)} (H, W, D) to {a.out}: image_<i>.{a.format} + '
          f'label_<i>.{a.format}; labels {names}' + (f'; {a.supervoxels} supervoxels' if sv else ''))


def _supervoxels_args(p):
    p.add_argument('data_root', help='folder with image_<id>.nii.gz volumes (toy or real)')
    p.add_argument('--method', choices=('slic', 'felzenszwalb'), default='slic')
    p.add_argument('--out-dir', default=None)
    p.add_argument('--n-segments', type=int, default=5000, help='SLIC: supervoxels per volume')
    p.add_argument('--compactness', type=float, default=0.1, help='SLIC compactness')
    p.add_argument('--scale', type=float, default=100.0, help='Felzenszwalb scale')
    p.add_argument('--sigma', type=float, default=0.8, help='Felzenszwalb smoothing')
    p.add_argument('--min-size', type=int, default=400, help='Felzenszwalb minimum segment size')


def _supervoxels_run(a):
    from vitdense.fewshot.supervoxels import write_supervoxels
    if a.method == 'slic':
        kw = dict(n_segments=a.n_segments, compactness=a.compactness)
    else:
        kw = dict(scale=a.scale, sigma=a.sigma, min_size=a.min_size)
    written = write_supervoxels(a.data_root, method=a.method, out_dir=a.out_dir, **kw)
    print(f'wrote {len(written)} supervoxel volumes to {osp.dirname(written[0])}')


_COMMANDS = {
    'coco': (_coco_args, _coco_run, 'toy COCO-format instance segmentation set'),
    'ade20k': (_ade20k_args, _ade20k_run, 'toy ADE20K-layout semantic segmentation set'),
    'sr': (_sr_args, _sr_run, "toy super-resolution set from scikit-image's photos"),
    'fewshot': (_fewshot_args, _fewshot_run, 'synthetic labelled volumes for CAT-Net'),
    'supervoxels': (_supervoxels_args, _supervoxels_run, 'supervoxel pseudo-labels of a few-shot data root'),
}


def main(argv=None, command: Optional[str] = None) -> None:
    """``python -m vitdense.datasets.toy COMMAND [options]``; with ``command`` given, ``argv`` holds
    only that command's options (what the ``tools/dataset/make_*.py`` wrappers pass)."""
    import argparse
    argv = list(sys.argv[1:] if argv is None else argv)
    if command is not None:
        argv = [command] + argv
    parser = argparse.ArgumentParser(prog='python -m vitdense.datasets.toy',
                                     description='Write a toy data set (or supervoxels) for vitdense.')
    sub = parser.add_subparsers(dest='command', required=True)
    for name, (add_args, _, help_) in _COMMANDS.items():
        add_args(sub.add_parser(name, help=help_, description=help_))
    a = parser.parse_args(argv)
    _COMMANDS[a.command][1](a)


if __name__ == '__main__':
    main()
