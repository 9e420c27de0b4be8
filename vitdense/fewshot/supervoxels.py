"""Supervoxel pseudo-labels for self-supervised episodic training (SSL-ALPNet / ADNet line of work).

Two generators, both returning an int32 volume (0 = outside the body, 1..n = segments):

* :func:`slic_supervoxels`: 3D SLIC on the whole volume (ADNet, Q-Net, CAT-Net: ~5000 supervoxels
  for abdominal scans, ~1000 for cardiac).
* :func:`felzenszwalb_superpixels`: 2D Felzenszwalb graph segmentation slice by slice (SSL-ALPNet),
  with ids made unique across slices.

Pixels outside a body mask (intensity threshold + largest component + hole filling) are 0, so that
no episode trains on air.
"""
import glob
import os
import os.path as osp
import re
from typing import Optional

import numpy as np
from scipy import ndimage

from .volume_io import load_volume, save_volume

__all__ = ['body_mask', 'slic_supervoxels', 'felzenszwalb_superpixels', 'write_supervoxels']


def body_mask(volume: np.ndarray, threshold: Optional[float] = None) -> np.ndarray:
    """Foreground (body) mask of an ``(H, W, D)`` volume: above ``threshold`` (default: 20% of the way
    from the 5th to the 95th intensity percentile), largest 3D component, holes filled per slice."""
    if threshold is None:
        lo, hi = np.percentile(volume, [5, 95])
        threshold = lo + 0.2 * (hi - lo)
    mask = volume > threshold
    labelled, n = ndimage.label(mask)
    if n > 1:
        sizes = ndimage.sum(mask, labelled, index=np.arange(1, n + 1))
        mask = labelled == (1 + int(np.argmax(sizes)))
    for z in range(mask.shape[-1]):
        mask[..., z] = ndimage.binary_fill_holes(mask[..., z])
    return mask


def _relabel(segments: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.where(mask, segments, 0)
    ids, inv = np.unique(out, return_inverse=True)
    inv = inv.reshape(out.shape)
    # keep 0 for background, 1..n for the segments in id order
    return (inv if ids[0] == 0 else inv + 1).astype(np.int32)


def slic_supervoxels(volume: np.ndarray, n_segments: int = 5000, compactness: float = 0.1,
                     spacing=(1.0, 1.0, 1.0), mask: Optional[np.ndarray] = None) -> np.ndarray:
    """3D SLIC supervoxels of an ``(H, W, D)`` intensity volume (min-max scaled first)."""
    from skimage.segmentation import slic
    if mask is None:
        mask = body_mask(volume)
    v = volume.astype(np.float64)
    v = (v - v.min()) / (v.max() - v.min() + 1e-8)
    seg = slic(v, n_segments=n_segments, compactness=compactness, channel_axis=None, spacing=spacing,
               mask=mask, start_label=1)
    return _relabel(seg, mask)


def felzenszwalb_superpixels(volume: np.ndarray, scale: float = 100.0, sigma: float = 0.8,
                             min_size: int = 400, mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-slice Felzenszwalb superpixels of an ``(H, W, D)`` volume, ids unique over the volume."""
    from skimage.segmentation import felzenszwalb
    if mask is None:
        mask = body_mask(volume)
    v = (volume - volume.min()) / (volume.max() - volume.min() + 1e-8)
    out = np.zeros(volume.shape, np.int64)
    offset = 0
    for z in range(volume.shape[-1]):
        seg = felzenszwalb(v[..., z], scale=scale, sigma=sigma, min_size=min_size) + 1
        out[..., z] = np.where(mask[..., z], seg + offset, 0)
        offset += int(seg.max()) + 1
    return _relabel(out, mask)


def write_supervoxels(data_root: str, method: str = 'slic', out_dir: Optional[str] = None,
                      image_prefix: str = 'image_', out_prefix: str = 'super_', **kwargs) -> list:
    """Write a supervoxel volume ``<out_dir>/<out_prefix><id>.<ext>`` for every ``image_<id>`` volume.

    ``out_dir`` defaults to ``<data_root>/supervoxels_<n_segments>`` for SLIC and
    ``<data_root>/superpixels_fh`` for Felzenszwalb; ``kwargs`` go to the generator.
    """
    if method not in ('slic', 'felzenszwalb'):
        raise ValueError(f"method must be 'slic' or 'felzenszwalb', got {method!r}")
    if out_dir is None:
        out_dir = osp.join(data_root, f"supervoxels_{kwargs.get('n_segments', 5000)}" if method == 'slic'
                           else 'superpixels_fh')
    images = sorted(glob.glob(osp.join(data_root, f'{image_prefix}*')))
    images = [p for p in images if re.search(r'\.(nii|nii\.gz|npy)$', p)]
    if not images:
        raise FileNotFoundError(f'no {image_prefix}*.nii.gz / .nii / .npy volumes under {data_root}; '
                                'run the preprocessing of docs/fewshot_medical.md first.')
    os.makedirs(out_dir, exist_ok=True)
    fn = slic_supervoxels if method == 'slic' else felzenszwalb_superpixels
    written = []
    for path in images:
        name = osp.basename(path)
        ext = re.search(r'\.(nii\.gz|nii|npy)$', name).group(0)
        vid = name[len(image_prefix):-len(ext)]
        seg = fn(load_volume(path), **kwargs)
        out = osp.join(out_dir, f'{out_prefix}{vid}{ext}')
        save_volume(out, seg)
        written.append(out)
    return written
