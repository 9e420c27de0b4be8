"""CAT-Net: few-shot medical image segmentation with a cross masked attention Transformer
(Lin et al., MICCAI 2023), with the iterative refinement framework of the paper.

Pipeline for one episode (support slices + masks, one query slice):

1. MIFE (mask-incorporated feature extraction): a ResNet encoder (mmpretrain's ``ResNet``, last
   stages dilated) + a 1x1 projection; the support mask pools a foreground prototype; a prior mask
   (max cosine similarity of each query pixel to the support foreground pixels, min-max scaled) is
   fused into the query features; a prototype classifier gives the initial query mask.
2. CMAT (cross masked attention Transformer), applied ``num_refine`` times: self-attention on the
   support and on the query tokens, then cross attention both ways with the background removed from
   the keys (support -> query keys masked by the support mask, query -> support keys masked by the
   query mask predicted by the previous step), then a prototype head predicts the query mask again.
3. Loss: BCE + soft Dice on the initial prediction and on every refinement step.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor, BaseModel

from vitdense.layers import Attention, Mlp, attention
from vitdense.registry import MODELS

__all__ = ['FewShotDataPreprocessor', 'MIFE', 'CMAT', 'CATNet', 'masked_average_pool', 'prior_mask']


@MODELS.register_module()
class FewShotDataPreprocessor(BaseDataPreprocessor):
    """Stacks the episode tensors that ``pseudo_collate`` left as lists and moves them to the device."""

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = {k: torch.stack(v) if isinstance(v, (list, tuple)) else v for k, v in data['inputs'].items()}
        return dict(inputs=inputs, data_samples=data.get('data_samples'))


def masked_average_pool(feats: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Prototype of ``feats`` (B, K, C, h, w) under soft ``masks`` (B, K, 1, h, w), averaged over
    the K shots -> (B, C)."""
    protos = (feats * masks).sum(dim=(-2, -1)) / (masks.sum(dim=(-2, -1)) + 1e-5)  # (B, K, C)
    return protos.mean(dim=1)


def prior_mask(query: torch.Tensor, support: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Pixel-wise prior: for each query position the highest cosine similarity to a support
    foreground position (over all shots), min-max scaled per image. query (B, C, h, w), support
    (B, K, C, h, w), masks (B, K, 1, h, w) -> (B, 1, h, w)."""
    B, C, h, w = query.shape
    q = F.normalize(query.flatten(2), dim=1)  # (B, C, hw)
    s = F.normalize((support * masks).transpose(1, 2).flatten(2), dim=1)  # (B, C, K*h*w)
    sim = torch.einsum('bcs,bcq->bsq', s, q).amax(dim=1)  # (B, hw); background support rows are 0
    lo, hi = sim.amin(dim=1, keepdim=True), sim.amax(dim=1, keepdim=True)
    return ((sim - lo) / (hi - lo + 1e-7)).view(B, 1, h, w)


class PrototypeHead(nn.Module):
    """Foreground logit = 0.5 * (scaler * cos(feature, prototype) + t), t learned (ADNet/Q-Net style
    threshold: cosine above -t / scaler is foreground)."""

    def __init__(self, scaler: float = 20.0, init_threshold: float = -10.0):
        super().__init__()
        self.scaler = scaler
        self.t = nn.Parameter(torch.tensor([init_threshold]))

    def forward(self, feats: torch.Tensor, proto: torch.Tensor) -> torch.Tensor:
        cos = F.cosine_similarity(feats, proto[..., None, None], dim=1, eps=1e-6)
        return (0.5 * (self.scaler * cos + self.t)).unsqueeze(1)  # (B, 1, h, w)


class MIFE(nn.Module):
    """Mask-incorporated feature extraction: encoder, prototype, prior mask, initial prediction."""

    def __init__(self, backbone: dict, feat_channels: int = 256, scaler: float = 20.0,
                 init_threshold: float = -10.0):
        super().__init__()
        self.backbone = MODELS.build(backbone)
        in_channels = getattr(self.backbone, 'feat_dim', None)
        if in_channels is None:
            raise ValueError(f'cannot tell the output channels of backbone {backbone.get("type")}: use '
                             "mmpretrain's ResNet (type='mmpretrain.ResNet'), which exposes feat_dim")
        self.proj = nn.Conv2d(in_channels, feat_channels, 1, bias=False)
        self.fuse = nn.Conv2d(feat_channels + 1, feat_channels, 1)
        with torch.no_grad():  # the fusion starts as identity on the features plus a learned prior term
            self.fuse.weight.zero_()
            self.fuse.weight[:, :feat_channels, 0, 0] = torch.eye(feat_channels)
            self.fuse.bias.zero_()
            self.fuse.weight[:, feat_channels].normal_(0, 0.01)
        self.head = PrototypeHead(scaler, init_threshold)

    def extract(self, imgs: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(imgs)
        return self.proj(feats[-1] if isinstance(feats, (list, tuple)) else feats)

    def forward(self, support_imgs: torch.Tensor, support_masks: torch.Tensor,
                query_img: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        B, K = support_imgs.shape[:2]
        feats = self.extract(torch.cat([support_imgs.flatten(0, 1), query_img]))  # one encoder pass
        f_s = feats[:B * K].unflatten(0, (B, K))
        f_q = feats[B * K:]
        h, w = f_q.shape[-2:]
        # area pooling keeps small organs visible at feature resolution (a soft mask)
        m_s = F.adaptive_avg_pool2d(support_masks.flatten(0, 1)[:, None].float(), (h, w)).unflatten(0, (B, K))
        proto = masked_average_pool(f_s, m_s)
        prior = prior_mask(f_q, f_s, m_s)
        f_q = self.fuse(torch.cat([f_q, prior], dim=1))
        return f_s, m_s, f_q, self.head(f_q, proto), prior


def _keep_mask(soft: torch.Tensor) -> torch.Tensor:
    """Boolean foreground (B, N) from soft masks (B, N): >= 0.5, else any overlap, else everything,
    so a key set is never empty (an all-masked softmax row would be NaN)."""
    keep = soft >= 0.5
    weak = ~keep.any(dim=1, keepdim=True)
    keep = torch.where(weak, soft > 0, keep)
    empty = ~keep.any(dim=1, keepdim=True)
    return keep | empty


class MaskedCrossAttention(nn.Module):
    """Pre-norm cross attention + MLP; keys outside ``keep`` (B, N_k) are removed (-inf bias)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 2.0, drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim={dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.norm_q, self.norm_kv, self.norm_mlp = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        heads, hd = self.num_heads, C // self.num_heads
        q = self.q(self.norm_q(x)).view(B, N, heads, hd).transpose(1, 2)
        k, v = self.kv(self.norm_kv(ctx)).view(B, -1, 2, heads, hd).permute(2, 0, 3, 1, 4)
        bias = torch.zeros(keep.shape, dtype=x.dtype, device=x.device).masked_fill(~keep, float('-inf'))
        out = attention(q, k, v, bias[:, None, None, :], finite_bias=False).transpose(1, 2).reshape(B, N, C)
        x = x + self.proj(out)
        return x + self.mlp(self.norm_mlp(x))


class SelfAttentionBlock(nn.Module):
    """Pre-norm Transformer block (vitdense ``Attention`` + MLP)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 2.0, drop: float = 0.0):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, proj_drop=drop)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CMAT(nn.Module):
    """Cross masked attention Transformer module: one refinement step.

    Self-attention (shared by support and query tokens), cross masked attention support -> query
    (query tokens read the support foreground) and query -> support (support tokens read the
    foreground the previous step predicted on the query), then a prototype head.
    """

    def __init__(self, dim: int = 256, num_heads: int = 8, mlp_ratio: float = 2.0, drop: float = 0.0,
                 scaler: float = 20.0, init_threshold: float = -10.0):
        super().__init__()
        self.self_attn = SelfAttentionBlock(dim, num_heads, mlp_ratio, drop)
        self.s2q = MaskedCrossAttention(dim, num_heads, mlp_ratio, drop)
        self.q2s = MaskedCrossAttention(dim, num_heads, mlp_ratio, drop)
        self.head = PrototypeHead(scaler, init_threshold)

    def forward(self, f_s: torch.Tensor, m_s: torch.Tensor, f_q: torch.Tensor,
                prev_logit: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, K, C, h, w = f_s.shape
        s = self.self_attn(f_s.flatten(0, 1).flatten(2).transpose(1, 2))  # (B*K, hw, C)
        q = self.self_attn(f_q.flatten(2).transpose(1, 2))  # (B, hw, C)
        s = s.reshape(B, K * h * w, C)  # all shots form one key set
        s_keep = _keep_mask(m_s.flatten(1))  # support background removed
        # the previous prediction is a mask, not a path for gradients into earlier steps' heads
        q_keep = _keep_mask(torch.sigmoid(prev_logit.detach()).flatten(1))
        q_new = self.s2q(q, s, s_keep)
        s_new = self.q2s(s, q, q_keep)
        f_q = q_new.transpose(1, 2).reshape(B, C, h, w)
        f_s = s_new.view(B, K, h * w, C).transpose(2, 3).reshape(B, K, C, h, w)
        return f_s, f_q, self.head(f_q, masked_average_pool(f_s, m_s))


@MODELS.register_module()
class CATNet(BaseModel):
    """CAT-Net with iterative refinement, as an mmengine model (modes ``loss`` / ``predict`` /
    ``tensor``).

    ``inputs``: dict(support_imgs (B, K, 3, H, W), support_masks (B, K, H, W), query_img (B, 3, H, W)).
    ``data_samples``: ``BaseDataElement`` per episode with ``gt_mask`` (H, W) (training) and, for
    prediction, metainfo ``ori_shape`` to resize the predicted mask to.

    Args:
        backbone: encoder config, e.g. ``dict(type='mmpretrain.ResNet', depth=101, strides=(1, 2, 1, 1),
            dilations=(1, 1, 2, 4), out_indices=(3, ))`` (output stride 8 as the compared methods).
        feat_channels: projected feature channels (256 in the paper's protocol).
        num_refine: CMAT modules applied in sequence (paper default 4).
        num_heads, mlp_ratio, drop: CMAT attention heads, MLP width, dropout.
        scaler, init_threshold: prototype classifier (cosine scale and initial learned threshold).
        loss_dice_weight: weight of the soft Dice term next to BCE at every step.
        step_weights: loss weight per prediction (initial + each refinement); default all 1.
        predict_step: which prediction ``predict`` outputs: -1 the last refinement (default), 0 the
            initial MIFE mask, i the i-th refinement (to measure what refinement adds).
    """

    def __init__(self, backbone: dict, feat_channels: int = 256, num_refine: int = 4, num_heads: int = 8,
                 mlp_ratio: float = 2.0, drop: float = 0.0, scaler: float = 20.0,
                 init_threshold: float = -10.0,
                 loss_dice_weight: float = 1.0, step_weights: Optional[Sequence[float]] = None,
                 predict_step: int = -1, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='vitdense.FewShotDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if num_refine < 0:
            raise ValueError(f'num_refine={num_refine} must be >= 0')
        if step_weights is not None and len(step_weights) != num_refine + 1:
            raise ValueError(f'step_weights has {len(step_weights)} entries; it needs num_refine + 1 = '
                             f'{num_refine + 1} (initial prediction + each refinement step)')
        if not -(num_refine + 1) <= predict_step <= num_refine:
            raise ValueError(f'predict_step={predict_step} is out of range for num_refine={num_refine}: use '
                             f'-1 (last) or 0..{num_refine}')
        self.num_refine, self.predict_step = num_refine, predict_step
        self.mife = MIFE(backbone, feat_channels, scaler, init_threshold)
        self.cmats = nn.ModuleList(CMAT(feat_channels, num_heads, mlp_ratio, drop, scaler, init_threshold)
                                   for _ in range(num_refine))
        self.loss_dice_weight = loss_dice_weight
        self.step_weights = list(step_weights) if step_weights is not None else [1.0] * (num_refine + 1)

    def forward_logits(self, support_imgs: torch.Tensor, support_masks: torch.Tensor,
                       query_img: torch.Tensor) -> List[torch.Tensor]:
        """Foreground logits (B, 1, h, w) at feature resolution: [initial, refinement 1..N]."""
        if support_imgs.dim() == 4:  # (B, 3, H, W): one shot
            support_imgs, support_masks = support_imgs[:, None], support_masks[:, None]
        if (support_masks.shape[:2] != support_imgs.shape[:2]
                or support_masks.shape[-2:] != support_imgs.shape[-2:]):
            raise ValueError(f'support_masks {tuple(support_masks.shape)} must be (B, K, H, W) matching '
                             f'support_imgs {tuple(support_imgs.shape)}')
        f_s, m_s, f_q, logit, _ = self.mife(support_imgs, support_masks, query_img)
        logits = [logit]
        for cmat in self.cmats:
            f_s, f_q, logit = cmat(f_s, m_s, f_q, logit)
            logits.append(logit)
        return logits

    def forward(self, inputs: dict, data_samples=None, mode: str = 'tensor'):
        logits = self.forward_logits(inputs['support_imgs'], inputs['support_masks'], inputs['query_img'])
        size = inputs['query_img'].shape[-2:]
        if mode == 'tensor':
            return tuple(logits)
        if mode == 'loss':
            if data_samples is None:
                raise ValueError("mode='loss' needs data_samples with gt_mask")
            gt = torch.stack([s.gt_mask for s in data_samples]).to(logits[0].device).float()[:, None]
            return self.loss(logits, gt, size)
        if mode == 'predict':
            return self.predict(logits[self.predict_step], data_samples, size)
        raise ValueError(f"Invalid mode {mode!r}: use 'loss', 'predict' or 'tensor'")

    def loss(self, logits: List[torch.Tensor], gt: torch.Tensor, size) -> Dict[str, torch.Tensor]:
        losses = {}
        for i, (logit, wt) in enumerate(zip(logits, self.step_weights)):
            up = F.interpolate(logit, size=size, mode='bilinear', align_corners=False)
            bce = F.binary_cross_entropy_with_logits(up, gt)
            prob = torch.sigmoid(up)
            dice = 1 - (2 * (prob * gt).sum((1, 2, 3)) + 1) / (prob.sum((1, 2, 3)) + gt.sum((1, 2, 3)) + 1)
            name = 'loss_init' if i == 0 else f'loss_refine{i}'
            losses[name] = wt * (bce + self.loss_dice_weight * dice.mean())
        return losses

    def predict(self, logit: torch.Tensor, data_samples, size) -> list:
        up = F.interpolate(logit, size=size, mode='bilinear', align_corners=False)
        if data_samples is None:
            from mmengine.structures import BaseDataElement
            data_samples = [BaseDataElement() for _ in range(len(up))]
        for s, lg in zip(data_samples, up):
            ori = s.metainfo.get('ori_shape', tuple(size))
            if tuple(ori) != tuple(size):
                lg = F.interpolate(lg[None], size=tuple(ori), mode='bilinear', align_corners=False)[0]
            s.pred_mask = (lg[0] > 0).to(torch.uint8).cpu()
        return list(data_samples)
