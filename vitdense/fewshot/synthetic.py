"""Synthetic abdominal-like volumes with labelled organ blobs, for the demo and the tests.

Each volume is a noisy "body" ellipse with a smooth bias field, holding organ blobs: deformed
ellipsoids at a class-specific place, size and intensity/texture, jittered per volume, so that a
class looks alike across volumes (what a few-shot model must pick up from one support slice) but
never identical. Written as ``image_<i>.nii.gz`` / ``label_<i>.nii.gz`` (or ``.npy``) in the layout
that :mod:`vitdense.fewshot.datasets` reads; arrays are ``(H, W, D)``, slices along the last axis.
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage

from .volume_io import save_volume

__all__ = ['ORGAN_TEMPLATES', 'make_synthetic_volume', 'write_synthetic_dataset']

# label id -> (name, centre (y, x, z) as fractions of the volume, radii as fractions, mean intensity,
# texture amplitude). Intensities are apart enough to be told from one another and from the body.
ORGAN_TEMPLATES: Dict[int, Tuple[str, Tuple[float, float, float], Tuple[float, float, float], float,
                                 float]] = {
    1: ('liver', (0.42, 0.32, 0.45), (0.20, 0.17, 0.30), 1.00, 0.05),
    2: ('kidney', (0.60, 0.68, 0.55), (0.11, 0.08, 0.22), 0.25, 0.15),
    3: ('spleen', (0.35, 0.72, 0.40), (0.09, 0.10, 0.20), 0.70, 0.00),
    4: ('aorta', (0.62, 0.48, 0.50), (0.05, 0.05, 0.45), 1.30, 0.00),
}


def _deformed_ellipsoid(shape, centre, radii, rng) -> np.ndarray:
    """Boolean mask of an ellipsoid whose surface is bent by low-frequency sine waves."""
    grids = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing='ij')
    d = sum(((g - c) / max(r, 1.0)) ** 2 for g, c, r in zip(grids, centre, radii))
    theta = np.arctan2(grids[0] - centre[0], grids[1] - centre[1])
    wobble = 0.15 * np.sin(rng.integers(2, 5) * theta + rng.uniform(0, 2 * np.pi))
    return d <= (1.0 + wobble) ** 2


def make_synthetic_volume(rng: np.random.Generator, shape: Sequence[int] = (64, 64, 24),
                          labels: Sequence[int] = (1, 2, 3)) -> Tuple[np.ndarray, np.ndarray]:
    """One ``(image float32, label uint8)`` pair of shape ``shape`` = (H, W, D).

    ``labels``: which :data:`ORGAN_TEMPLATES` ids to draw (later ids are painted over earlier ones).
    """
    unknown = [lb for lb in labels if lb not in ORGAN_TEMPLATES]
    if unknown:
        raise ValueError(f'labels {unknown} have no organ template; use ids from {sorted(ORGAN_TEMPLATES)}')
    H, W, D = shape
    yy, xx = np.meshgrid(np.arange(H), np.arange(W), indexing='ij')
    body2d = ((yy - H / 2) / (0.46 * H)) ** 2 + ((xx - W / 2) / (0.47 * W)) ** 2 <= 1.0
    body = np.repeat(body2d[..., None], D, axis=2)
    image = np.where(body, 0.5, 0.0).astype(np.float32)
    label = np.zeros(shape, np.uint8)
    for lb in labels:
        _, centre, radii, intensity, texture = ORGAN_TEMPLATES[lb]
        c = [(f + rng.uniform(-0.04, 0.04)) * n for f, n in zip(centre, shape)]
        r = [f * n * rng.uniform(0.85, 1.15) for f, n in zip(radii, shape)]
        organ = _deformed_ellipsoid(shape, c, r, rng) & body
        pattern = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 1.5)
        pattern /= pattern.std() + 1e-6
        image[organ] = intensity + rng.uniform(-0.05, 0.05) + texture * pattern[organ]
        label[organ] = lb
    # smooth bias field + scanner noise, as MR images have
    bias = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 8)
    bias = 1.0 + 0.3 * bias / (np.abs(bias).max() + 1e-6)
    image = image * bias + 0.06 * rng.standard_normal(shape).astype(np.float32)
    return image.astype(np.float32), label


def write_synthetic_dataset(out_dir: str, num_volumes: int = 10, shape: Sequence[int] = (64, 64, 24),
                            labels: Sequence[int] = (1, 2, 3), seed: int = 0, fmt: str = 'nii.gz',
                            supervoxels: Optional[dict] = None) -> list:
    """Write ``num_volumes`` volumes to ``out_dir`` as ``image_<i>`` / ``label_<i>`` files.

    ``fmt``: ``'nii.gz'``, ``'nii'`` or ``'npy'``. ``supervoxels``: keyword arguments of
    :func:`vitdense.fewshot.supervoxels.write_supervoxels` to also write pseudo-labels (None: not).
    Returns the image paths.
    """
    if fmt not in ('nii.gz', 'nii', 'npy'):
        raise ValueError(f"fmt must be 'nii.gz', 'nii' or 'npy', got {fmt!r}")
    if num_volumes < 3:
        raise ValueError(f'num_volumes={num_volumes}: an episode needs at least 3 volumes (support, query, '
                         'held out); ask for more.')
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(1, num_volumes + 1):
        image, label = make_synthetic_volume(rng, shape, labels)
        img_path = osp.join(out_dir, f'image_{i}.{fmt}')
        save_volume(img_path, image)
        save_volume(osp.join(out_dir, f'label_{i}.{fmt}'), label)
        paths.append(img_path)
    if supervoxels is not None:
        from .supervoxels import write_supervoxels
        write_supervoxels(out_dir, **supervoxels)
    return paths
