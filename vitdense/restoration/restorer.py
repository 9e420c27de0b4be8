"""Restoration model on mmengine: data preprocessor, pixel losses, tiled and self-ensembled inference.

``Restorer`` wraps any image-to-image network (``generator``, e.g. :class:`~vitdense.GRL`) and speaks
mmengine's three modes:

* ``loss``: the pixel loss (L1 or Charbonnier) between the network output and ``gt_img``;
* ``predict``: the restored image ``pred_img`` (CHW, [0, 1]) added to every data sample, ready for
  :class:`~vitdense.restoration.metrics.PSNR` / ``SSIM``; optionally by overlapping tiles (large images)
  and / or the x8 geometric self-ensemble;
* ``tensor``: the raw network output.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor, BaseModel

from vitdense.registry import MODELS

__all__ = ['RestorationDataPreprocessor', 'Restorer', 'tiled_forward', 'self_ensemble_forward',
           'charbonnier_loss']


@MODELS.register_module()
class RestorationDataPreprocessor(BaseDataPreprocessor):
    """Stack the 0-255 inputs (and ``gt_img``) of a batch, divide by ``pixel_range`` (-> [0, 1]) and
    move them to the model's device."""

    def __init__(self, pixel_range: float = 255.0):
        super().__init__()
        self.pixel_range = pixel_range

    def _stack(self, images: Sequence[torch.Tensor], what: str) -> torch.Tensor:
        shapes = {tuple(t.shape) for t in images}
        if len(shapes) > 1:
            raise ValueError(f'{what} images of one batch differ in size {sorted(shapes)}; use batch_size=1 '
                             'for test sets with images of different sizes, or crop training patches')
        return torch.stack(list(images))

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = self._stack(inputs, 'input')
        inputs = inputs.float() / self.pixel_range
        samples = data.get('data_samples')
        if samples is not None:
            for s in samples:
                if 'gt_img' in s:
                    s.gt_img = s.gt_img.to(inputs.device).float() / self.pixel_range
        return dict(inputs=inputs, data_samples=samples)


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """mean(sqrt((pred - target)^2 + eps^2)): a smooth L1."""
    return torch.sqrt((pred - target) ** 2 + eps ** 2).mean()


def _tile_starts(length: int, tile: int, stride: int) -> List[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


@torch.no_grad()
def tiled_forward(net, x: torch.Tensor, tile: int, overlap: int, scale: int) -> torch.Tensor:
    """Run ``net`` on overlapping ``tile x tile`` crops of ``x`` and stitch the outputs.

    Each tile contributes only its interior, ``overlap // 2`` input pixels away from every edge it
    shares with a neighbour tile (image borders are kept), where the tile's own zero/reflect padding
    does not reach; the interiors tile the image, and where two overlap they are averaged. A network
    whose receptive field is at most ``overlap // 2`` pixels therefore gives exactly its
    whole-image output.
    """
    if overlap < 0 or overlap >= tile:
        raise ValueError(f'tile_overlap must be in [0, tile), got overlap={overlap}, tile={tile}')
    B, C, H, W = x.shape
    stride, margin = tile - overlap, overlap // 2
    out = weight = None
    for top in _tile_starts(H, tile, stride):
        for left in _tile_starts(W, tile, stride):
            patch = x[..., top:top + tile, left:left + tile]
            y = net(patch)
            if out is None:
                out = y.new_zeros(B, y.shape[1], H * scale, W * scale)
                weight = y.new_zeros(1, 1, H * scale, W * scale)
            ph, pw = patch.shape[-2:]
            # interior of this tile in input pixels (keep the side that touches the image border)
            t0 = 0 if top == 0 else margin
            l0 = 0 if left == 0 else margin
            t1 = ph if top + ph >= H else ph - margin
            l1 = pw if left + pw >= W else pw - margin
            s = scale
            out[..., (top + t0) * s:(top + t1) * s, (left + l0) * s:(left + l1) * s] += \
                y[..., t0 * s:t1 * s, l0 * s:l1 * s]
            weight[..., (top + t0) * s:(top + t1) * s, (left + l0) * s:(left + l1) * s] += 1
    return out / weight


def _dihedral(x: torch.Tensor, k: int, inverse: bool = False) -> torch.Tensor:
    """The k-th of the 8 flips/rotations (k & 4: transpose, k & 2: vertical flip, k & 1: horizontal)."""
    if not inverse:
        if k & 4:
            x = x.transpose(-2, -1)
        if k & 2:
            x = x.flip(-2)
        if k & 1:
            x = x.flip(-1)
        return x
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    if k & 4:
        x = x.transpose(-2, -1)
    return x


@torch.no_grad()
def self_ensemble_forward(forward, x: torch.Tensor) -> torch.Tensor:
    """Average of ``forward`` over the 8 dihedral transforms of ``x``, each mapped back (x8 ensemble)."""
    return torch.stack([_dihedral(forward(_dihedral(x, k)), k, inverse=True) for k in range(8)]).mean(0)


@MODELS.register_module()
class Restorer(BaseModel):
    """Image restoration model.

    Args:
        generator: config of the network (``dict(type='vitdense.GRL', ...)``) or a module.
        pixel_loss: 'l1' or 'charbonnier'. loss_weight: its weight. charbonnier_eps: its epsilon.
        scale: output / input size ratio of the generator (1 for denoising / JPEG).
        test_cfg: ``tile`` (LQ tile size, None = whole image), ``tile_overlap`` (LQ pixels),
            ``self_ensemble`` (x8 flips / rotations).
        data_preprocessor: defaults to :class:`RestorationDataPreprocessor`.
    """

    def __init__(self, generator: Union[dict, nn.Module], pixel_loss: str = 'l1', loss_weight: float = 1.0,
                 charbonnier_eps: float = 1e-3, scale: Optional[int] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='vitdense.RestorationDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.generator = MODELS.build(generator) if isinstance(generator, dict) else generator
        if pixel_loss not in ('l1', 'charbonnier'):
            raise ValueError(f"pixel_loss must be 'l1' or 'charbonnier', got {pixel_loss!r}")
        self.pixel_loss, self.loss_weight, self.charbonnier_eps = pixel_loss, loss_weight, charbonnier_eps
        gen_scale = getattr(self.generator, 'upscale', None)
        if scale is None:
            scale = gen_scale or 1
        elif gen_scale is not None and gen_scale != scale:
            raise ValueError(f'Restorer scale={scale} but the generator upscales x{gen_scale}; '
                             'make them equal')
        self.scale = int(scale)
        self.test_cfg = dict(tile=None, tile_overlap=32, self_ensemble=False)
        unknown = set(test_cfg or {}) - set(self.test_cfg)
        if unknown:
            raise KeyError(f'unknown test_cfg keys {sorted(unknown)}; known: {sorted(self.test_cfg)}')
        self.test_cfg.update(test_cfg or {})

    # ----------------------------------------------------------------------------------------------
    def restore(self, inputs: torch.Tensor) -> torch.Tensor:
        """Inference on a ``(B, C, H, W)`` batch in [0, 1], with the configured tiling / ensemble."""
        tile, overlap = self.test_cfg['tile'], self.test_cfg['tile_overlap']

        def run(x):
            if tile is not None and max(x.shape[-2:]) > tile:
                return tiled_forward(self.generator, x, tile, overlap, self.scale)
            return self.generator(x)

        if self.test_cfg['self_ensemble']:
            return self_ensemble_forward(run, inputs)
        return run(inputs)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None, mode: str = 'tensor'):
        if mode == 'tensor':
            return self.generator(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"mode must be 'tensor', 'predict' or 'loss', got {mode!r}")

    def _gt(self, data_samples) -> torch.Tensor:
        if not data_samples or any('gt_img' not in s for s in data_samples):
            raise KeyError('loss mode needs data samples with "gt_img" (PackRestorationInputs packs it)')
        return torch.stack([s.gt_img for s in data_samples])

    def loss(self, inputs: torch.Tensor, data_samples) -> Dict[str, torch.Tensor]:
        pred = self.generator(inputs)
        gt = self._gt(data_samples)
        if pred.shape != gt.shape:
            raise ValueError(f'network output {tuple(pred.shape)} and GT {tuple(gt.shape)} differ: check the '
                             f'LQ/GT scale (x{self.scale}) and the crop sizes')
        if self.pixel_loss == 'l1':
            loss = F.l1_loss(pred, gt)
        else:
            loss = charbonnier_loss(pred, gt, self.charbonnier_eps)
        return {'loss_pix': loss * self.loss_weight}

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples=None) -> list:
        pred = self.restore(inputs).clamp(0, 1)
        if data_samples is None:
            from mmengine.structures import BaseDataElement
            data_samples = [BaseDataElement() for _ in range(pred.shape[0])]
        for sample, p in zip(data_samples, pred):
            if 'gt_img' in sample:
                gh, gw = sample.gt_img.shape[-2:]
                if p.shape[-2:] != (gh, gw):
                    raise ValueError(f'prediction {tuple(p.shape[-2:])} and GT {(gh, gw)} differ in size: '
                                     f'the GT must be the LQ size x{self.scale} (add ModCrop({self.scale}) '
                                     'to the test pipeline, or check the LQ folder scale)')
            sample.pred_img = p
        return data_samples
