"""PSNR and SSIM with the conventions of the published SR / denoising / JPEG tables.

* Both images are quantised to uint8 first (the network output is saved as an 8-bit image before
  it is scored), then compared in 0-255 with peak 255.
* ``convert_to='y'``: the BT.601 luma in [16, 235] (MATLAB ``rgb2ycbcr``), as SR papers report.
* ``crop_border``: pixels removed from every side before scoring (SR papers: the scale).
* SSIM: Wang et al.'s 11x11 Gaussian window (sigma 1.5), K1=0.01, K2=0.03, statistics only where the
  window fits ("valid"), computed per channel and averaged. This equals
  ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255)``.
* The dataset score is the mean of the per-image scores.
"""
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from vitdense.registry import METRICS

from .transforms import rgb2y

__all__ = ['to_uint8_image', 'prepare_for_metric', 'psnr', 'ssim', 'PSNR', 'SSIM']


def to_uint8_image(img) -> np.ndarray:
    """A CHW tensor in [0, 1] or an HWC array in 0-255 -> HWC uint8 (rounded, clipped)."""
    if isinstance(img, torch.Tensor):
        img = img.detach().float().cpu().numpy().transpose(1, 2, 0) * 255.0
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    if img.dtype == np.uint8:
        return img
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def prepare_for_metric(img, crop_border: int = 0, convert_to: Optional[str] = None) -> np.ndarray:
    """uint8-quantised, optionally luma-converted and border-cropped float64 ``(H, W, C)`` image."""
    img = to_uint8_image(img)
    if convert_to is not None:
        if convert_to.lower() != 'y':
            raise ValueError(f"convert_to must be None (all channels) or 'y', got {convert_to!r}")
        img = rgb2y(img)[..., None] if img.shape[2] == 3 else img.astype(np.float64)
    img = img.astype(np.float64)
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    return img


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f'prediction {a.shape} and ground truth {b.shape} differ in shape; for SR the GT '
                         'must be cropped to a multiple of the scale (ModCrop)')
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f'nothing left to score after crop_border (image {a.shape})')


def psnr(pred, gt, crop_border: int = 0, convert_to: Optional[str] = None) -> float:
    """PSNR in dB (peak 255) of two images (CHW tensors in [0, 1] or HWC arrays in 0-255)."""
    a = prepare_for_metric(pred, crop_border, convert_to)
    b = prepare_for_metric(gt, crop_border, convert_to)
    _check(a, b)
    mse = np.mean((a - b) ** 2)
    return float('inf') if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    k = cv2.getGaussianKernel(11, 1.5)
    win = k @ k.T

    def filt(x):  # 'valid' filtering: drop the 5-pixel rim where the window does not fit
        return cv2.filter2D(x, -1, win, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a ** 2
    var_b = filt(b * b) - mu_b ** 2
    cov = filt(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)
    ssim_map = num / den
    return float(ssim_map.mean())


def ssim(pred, gt, crop_border: int = 0, convert_to: Optional[str] = None) -> float:
    """SSIM of two images (CHW tensors in [0, 1] or HWC arrays in 0-255), mean over channels."""
    a = prepare_for_metric(pred, crop_border, convert_to)
    b = prepare_for_metric(gt, crop_border, convert_to)
    _check(a, b)
    if min(a.shape[:2]) < 11:
        raise ValueError(f'SSIM needs at least 11x11 pixels after crop_border, got {a.shape[:2]}')
    return float(np.mean([_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[2])]))


class _ImageMetric(BaseMetric):
    """Scores ``pred_img`` against ``gt_img`` of every predicted data sample."""
    fn = None
    name = ''
    default_prefix = ''  # keys stay 'PSNR' / 'SSIM', as in the SR tables (and no mmengine warning)

    def __init__(self, crop_border: int = 0, convert_to: Optional[str] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if crop_border < 0:
            raise ValueError(f'crop_border must be >= 0, got {crop_border}')
        if convert_to is not None and convert_to.lower() != 'y':
            raise ValueError(f"convert_to must be None (all channels) or 'y', got {convert_to!r}")
        self.crop_border = crop_border
        self.convert_to = convert_to

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            get = sample.get if isinstance(sample, dict) else (lambda k: getattr(sample, k, None))
            pred, gt = get('pred_img'), get('gt_img')
            if gt is None:
                raise KeyError(f'{self.name} needs ground truth "gt_img" in the data samples')
            self.results.append(type(self).fn(pred, gt, self.crop_border, self.convert_to))

    def compute_metrics(self, results: list) -> dict:
        return {self.name: float(np.mean(results))}


@METRICS.register_module()
class PSNR(_ImageMetric):
    """Mean PSNR (dB). ``crop_border`` / ``convert_to='y'`` as in the SR tables."""
    fn = staticmethod(psnr)
    name = 'PSNR'


@METRICS.register_module()
class SSIM(_ImageMetric):
    """Mean SSIM. ``crop_border`` / ``convert_to='y'`` as in the SR tables."""
    fn = staticmethod(ssim)
    name = 'SSIM'
