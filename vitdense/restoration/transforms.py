"""Restoration transforms: image loading, synthetic degradations and paired augmentation.

Images are RGB ``(H, W, C)`` numpy arrays in the 0-255 range (uint8, or float32 after a degradation
that must not be quantised such as Gaussian noise). The pipeline works on two keys: ``gt`` (the
clean target) and ``img`` (the degraded input the network sees).

:func:`imresize` reproduces MATLAB's ``imresize(..., 'bicubic')``: the Keys cubic kernel (a = -0.5)
widened by ``1 / scale`` when shrinking (antialiasing) and symmetric border handling. That is the
down-sampler of the standard SR benchmarks (DIV2K, Set5, ...); OpenCV's and PIL's bicubic differ
(no antialiasing in OpenCV, a different kernel width / border in PIL), which shifts PSNR by tenths of
a dB.
"""
import math
import os.path as osp
import zlib
from typing import Optional, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from vitdense.registry import TRANSFORMS

__all__ = [
    'imresize', 'rgb2y', 'LoadRestorationImages', 'ModCrop', 'BicubicDegradation', 'GaussianNoiseDegradation',
    'JPEGDegradation', 'PairedRandomCrop', 'PairedFlipRotate', 'PackRestorationInputs'
]


# --------------------------------------------------------------------------------------------------
# MATLAB-compatible bicubic resize
# --------------------------------------------------------------------------------------------------
def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax ** 2, ax ** 3
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) +
            (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _contributions(in_len: int, out_len: int, scale: float, antialias: bool = True):
    """Per output pixel: the input indices it reads and their weights (MATLAB ``contributions``)."""
    kernel_width = 4.0
    if scale < 1 and antialias:
        kernel_width /= scale
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # output pixel centre in input coordinates (1-based)
    left = np.floor(u - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based
    dist = u[:, None] - idx
    if scale < 1 and antialias:
        w = scale * _cubic(dist * scale)
    else:
        w = _cubic(dist)
    w = w / w.sum(1, keepdims=True)
    # symmetric padding: mirror out-of-range indices back into [0, in_len)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    idx = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(w != 0, axis=0)  # MATLAB drops all-zero taps; harmless but cheaper
    return idx[:, keep], w[:, keep]


def _resize_axis(img: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    idx, w = _contributions(img.shape[axis], out_len, scale)
    moved = np.moveaxis(img, axis, 0)  # (L, ...)
    gathered = moved[idx]  # (out, taps, ...)
    w = w.reshape(w.shape + (1,) * (moved.ndim - 1))
    return np.moveaxis((gathered * w).sum(1), 0, axis)


def imresize(img: np.ndarray, scale: Optional[float] = None, output_shape: Optional[Tuple[int, int]] = None
             ) -> np.ndarray:
    """MATLAB ``imresize(img, scale)`` with the bicubic kernel and antialiasing.

    ``img``: ``(H, W)`` or ``(H, W, C)``, uint8 (result rounded back to uint8, as MATLAB does) or float
    (result float64 -> same float dtype, not clipped). Give ``scale`` (e.g. 1/4) or ``output_shape``.
    """
    if (scale is None) == (output_shape is None):
        raise ValueError('imresize needs exactly one of scale or output_shape')
    H, W = img.shape[:2]
    if scale is not None:
        if scale <= 0:
            raise ValueError(f'scale must be positive, got {scale}')
        out_h, out_w = int(math.ceil(H * scale)), int(math.ceil(W * scale))
        scales = (float(scale), float(scale))
    else:
        out_h, out_w = int(output_shape[0]), int(output_shape[1])
        scales = (out_h / H, out_w / W)
    is_uint8 = img.dtype == np.uint8
    out = img.astype(np.float64)
    # MATLAB resizes the dimension with the smaller scale first (the order changes rounding only)
    order = (0, 1) if scales[0] <= scales[1] else (1, 0)
    for axis in order:
        out = _resize_axis(out, axis, (out_h, out_w)[axis], scales[axis])
    if is_uint8:
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
    return out.astype(img.dtype if img.dtype.kind == 'f' else np.float64)


def rgb2y(img: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an RGB image in 0-255, in the studio range [16, 235] (MATLAB ``rgb2ycbcr``),
    float64: the Y channel on which SR papers report PSNR / SSIM."""
    img = np.asarray(img, dtype=np.float64)
    return img @ np.array([65.481, 128.553, 24.966]) / 255.0 + 16.0


# --------------------------------------------------------------------------------------------------
# Loading and degradations
# --------------------------------------------------------------------------------------------------
def _read_rgb(path: str, channels: int = 3) -> np.ndarray:
    flag = cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR
    img = cv2.imread(path, flag)
    if img is None:
        raise FileNotFoundError(f'cannot read image {path!r} (missing or not an image file)')
    if channels == 1:
        return img[..., None]
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _sample_rng(results: dict, seed: Optional[int]) -> np.random.Generator:
    """Fixed per-image randomness when ``seed`` is set (test sets), fresh randomness otherwise."""
    if seed is None:
        return np.random.default_rng()
    key = osp.basename(results.get('gt_path') or results.get('lq_path') or str(results.get('sample_idx', 0)))
    return np.random.default_rng([int(seed), zlib.crc32(key.encode())])


@TRANSFORMS.register_module()
class LoadRestorationImages(BaseTransform):
    """Read ``gt_path`` into ``gt`` and, when the sample has one, ``lq_path`` into ``img``
    (RGB uint8, or ``channels=1`` for grayscale).

    ``cache=True`` keeps every decoded image in memory (per worker): for small training sets cut into
    many random patches, where decoding the whole PNG for every patch would dominate the step time.
    """

    def __init__(self, channels: int = 3, cache: bool = False):
        if channels not in (1, 3):
            raise ValueError(f'channels must be 1 (grayscale) or 3 (RGB), got {channels}')
        self.channels = channels
        self.cache = {} if cache else None

    def _read(self, path: str) -> np.ndarray:
        if self.cache is None:
            return _read_rgb(path, self.channels)
        if path not in self.cache:
            self.cache[path] = _read_rgb(path, self.channels)
            self.cache[path].setflags(write=False)  # shared between samples: crops must not write into it
        return self.cache[path]

    def transform(self, results: dict) -> dict:
        if results.get('gt_path'):
            results['gt'] = self._read(results['gt_path'])
        if results.get('lq_path'):
            results['img'] = self._read(results['lq_path'])
        return results


@TRANSFORMS.register_module()
class ModCrop(BaseTransform):
    """Crop ``gt`` to a multiple of ``scale`` (bottom / right), so that LQ * scale == GT exactly."""

    def __init__(self, scale: int):
        self.scale = int(scale)

    def transform(self, results: dict) -> dict:
        gt = results['gt']
        H, W = gt.shape[:2]
        results['gt'] = gt[:H - H % self.scale, :W - W % self.scale]
        return results


@TRANSFORMS.register_module()
class BicubicDegradation(BaseTransform):
    """``img`` = MATLAB-bicubic ``1 / scale`` down-sampling of ``gt`` (cropped to a multiple of the
    scale first), quantised to uint8 like the benchmark LR images."""

    def __init__(self, scale: int):
        if int(scale) != scale or scale < 2:
            raise ValueError(f'BicubicDegradation needs an integer scale >= 2, got {scale}')
        self.scale = int(scale)

    def transform(self, results: dict) -> dict:
        results = ModCrop(self.scale).transform(results)
        gt = results['gt']
        if gt.dtype != np.uint8:
            gt = np.clip(np.round(gt), 0, 255).astype(np.uint8)
        results['img'] = imresize(gt, 1.0 / self.scale)
        results['scale'] = self.scale
        return results


@TRANSFORMS.register_module()
class GaussianNoiseDegradation(BaseTransform):
    """``img = gt + N(0, sigma)`` (sigma on the 0-255 scale), float32, neither clipped nor quantised
    (the denoising benchmarks' convention). ``seed`` fixes the noise per image (test sets)."""

    def __init__(self, sigma: float, seed: Optional[int] = None):
        if sigma < 0:
            raise ValueError(f'sigma must be >= 0 (0-255 scale), got {sigma}')
        self.sigma = float(sigma)
        self.seed = seed

    def transform(self, results: dict) -> dict:
        gt = results['gt'].astype(np.float32)
        rng = _sample_rng(results, self.seed)
        results['img'] = gt + rng.standard_normal(gt.shape).astype(np.float32) * self.sigma
        results['scale'] = 1
        return results


@TRANSFORMS.register_module()
class JPEGDegradation(BaseTransform):
    """``img`` = ``gt`` encoded as JPEG at ``quality`` (OpenCV / libjpeg, 4:2:0) and decoded."""

    def __init__(self, quality: int):
        if not 1 <= int(quality) <= 100:
            raise ValueError(f'JPEG quality must be in [1, 100], got {quality}')
        self.quality = int(quality)

    def transform(self, results: dict) -> dict:
        gt = results['gt']
        if gt.dtype != np.uint8:
            gt = np.clip(np.round(gt), 0, 255).astype(np.uint8)
        bgr = gt if gt.shape[2] == 1 else cv2.cvtColor(gt, cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode('.jpg', bgr, [int(cv2.IMWRITE_JPEG_QUALITY), self.quality])
        if not ok:
            raise RuntimeError('JPEG encoding failed')
        flag = cv2.IMREAD_GRAYSCALE if gt.shape[2] == 1 else cv2.IMREAD_COLOR
        dec = cv2.imdecode(buf, flag)
        results['img'] = dec[..., None] if gt.shape[2] == 1 else cv2.cvtColor(dec, cv2.COLOR_BGR2RGB)
        results['scale'] = 1
        return results


def check_pair(results: dict, scale: int) -> None:
    lq, gt = results['img'], results['gt']
    if lq.shape[0] * scale != gt.shape[0] or lq.shape[1] * scale != gt.shape[1]:
        raise ValueError(
            f'LQ {lq.shape[:2]} x scale {scale} does not match GT {gt.shape[:2]} '
            f'({results.get("lq_path") or "degraded"} / {results.get("gt_path")}); check the scale of the '
            'LQ folder, or add ModCrop(scale) before the degradation so GT is a multiple of the scale')


@TRANSFORMS.register_module()
class PairedRandomCrop(BaseTransform):
    """Random ``gt_patch_size`` GT crop and the matching ``gt_patch_size // scale`` LQ crop. Before a
    degradation (no ``img`` yet) only the GT is cropped, so the degradation runs on the patch."""

    def __init__(self, gt_patch_size: int, scale: int = 1):
        if gt_patch_size % scale:
            raise ValueError(f'gt_patch_size {gt_patch_size} must be a multiple of scale {scale}')
        self.gt_patch_size = int(gt_patch_size)
        self.scale = int(scale)

    def transform(self, results: dict) -> dict:
        if 'img' not in results:  # GT-only data: crop the GT now, degrade the patch afterwards
            gt = results['gt']
            h, w = gt.shape[:2]
            p = self.gt_patch_size
            if h < p or w < p:
                raise ValueError(f'GT image {h}x{w} is smaller than gt_patch_size {p} '
                                 f'({results.get("gt_path")})')
            top, left = np.random.randint(0, h - p + 1), np.random.randint(0, w - p + 1)
            results['gt'] = gt[top:top + p, left:left + p]
            return results
        check_pair(results, self.scale)
        lq_patch = self.gt_patch_size // self.scale
        h, w = results['img'].shape[:2]
        if h < lq_patch or w < lq_patch:
            raise ValueError(f'LQ image {h}x{w} is smaller than the LQ patch {lq_patch} '
                             f'({results.get("gt_path")}); lower gt_patch_size')
        top = np.random.randint(0, h - lq_patch + 1)
        left = np.random.randint(0, w - lq_patch + 1)
        s = self.scale
        results['img'] = results['img'][top:top + lq_patch, left:left + lq_patch]
        results['gt'] = results['gt'][top * s:(top + lq_patch) * s, left * s:(left + lq_patch) * s]
        return results


@TRANSFORMS.register_module()
class PairedFlipRotate(BaseTransform):
    """The same random horizontal flip, vertical flip and transpose (rot90) on ``img`` and ``gt``:
    the 8 dihedral augmentations."""

    def __init__(self, hflip: bool = True, vflip: bool = True, rot90: bool = True):
        self.hflip, self.vflip, self.rot90 = hflip, vflip, rot90

    def transform(self, results: dict) -> dict:
        ops = [self.hflip and np.random.rand() < 0.5, self.vflip and np.random.rand() < 0.5,
               self.rot90 and np.random.rand() < 0.5]
        for key in ('img', 'gt'):  # before a degradation there is only the GT
            if key not in results:
                continue
            x = results[key]
            if ops[0]:
                x = x[:, ::-1]
            if ops[1]:
                x = x[::-1]
            if ops[2]:
                x = x.transpose(1, 0, 2)
            results[key] = np.ascontiguousarray(x)
        return results


@TRANSFORMS.register_module()
class PackRestorationInputs(BaseTransform):
    """``img`` -> ``inputs`` (float32 CHW tensor, 0-255); ``gt`` -> ``data_samples.gt_img``
    (same format); paths and shapes into the sample's metainfo."""

    META_KEYS = ('gt_path', 'lq_path', 'scale', 'sample_idx')

    def transform(self, results: dict) -> dict:
        if 'img' not in results:
            raise KeyError('no degraded input "img" in the sample: a GT-only dataset needs a degradation '
                           'transform (BicubicDegradation / GaussianNoiseDegradation / JPEGDegradation)')

        def to_tensor(a):
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.float32))

        sample = BaseDataElement(metainfo={k: results[k] for k in self.META_KEYS if k in results})
        sample.set_metainfo(dict(lq_shape=tuple(results['img'].shape[:2])))
        if 'gt' in results:
            sample.gt_img = to_tensor(results['gt'])
            sample.set_metainfo(dict(gt_shape=tuple(results['gt'].shape[:2])))
        return dict(inputs=to_tensor(results['img']), data_samples=sample)
