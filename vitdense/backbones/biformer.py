"""BiFormer (Zhu et al., CVPR 2023): vision transformer with bi-level routing attention, in the
dense-prediction form of the official detection / segmentation code (rayleizhu/BiFormer,
``object_detection/models_mm/biformer_mm.py`` over ``models/biformer.py`` and
``ops/bra_legacy.py``).

Each block: ``x + dwconv3x3(x)`` (conv position embedding), then pre-norm attention and MLP.
Stages 1-3 use bi-level routing attention (BRA): the map is split into ``n_win x n_win`` regions,
region-level queries/keys (token means) pick the ``topk`` most related regions for every region
(top-k routing, not differentiated), and each token attends to the tokens of those regions only;
a 5x5 depth-wise conv on V (LePE) is added before the output projection. The last stage uses
global attention with the same LePE on its input. Overlapping 3x3 stride-2 convs (with BatchNorm)
form the stem and the downsampling layers.

Any input size: strided 3x3 convs with padding 1 give ``ceil(H / 2)`` each, so stage ``i`` has
``ceil(H / 2 ** (i + 2))`` rows (nothing is cropped); inside BRA the (normalised) map is
zero-padded at the bottom/right to a multiple of ``n_win`` and the output cropped back, as the
official ``auto_pad=True`` used for detection and segmentation does. ``n_win`` is the number of
regions per side (7 for the 224-px classifiers, 16 in the official detection configs, 8 in the
segmentation ones), not a region size.

Parameter names follow the official release (``downsample_layers.i``, ``stages.i.j.attn.lepe``,
...); ``convert_biformer_checkpoint`` renames the rest (``attn.qkv.qkv``, ``mlp.0/3``,
``extra_norms.i``, the classifier's final ``norm``).
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from ..layers import (Attention, DropPath, LayerNorm2d, Mlp, attention, drop_path_rates, maybe_checkpoint,
                      pad_to_multiple, window_partition, window_reverse)
from ..layers.weight_init import init_linear_and_layernorm_
from ..registry import MODELS
from ._convert import rename_final_norm
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch

FULL_ATTENTION = -2  # ``topks`` entry of the official code for global attention with LePE


class BiLevelRoutingAttention(nn.Module):
    """Bi-level routing attention on a channels-last map ``(B, H, W, C)``.

    Args:
        dim: channels of the tokens (and of V).
        num_heads: heads of the token-level attention.
        n_win: regions per side; the map is zero-padded to a multiple of it.
        qk_dim: channels of Q and K (``dim`` in every released model).
        qk_scale: softmax scale; the official default is ``qk_dim ** -0.5`` (all heads' channels,
            not one head's), used both for routing and for the attention.
        topk: regions each region attends to; at most ``n_win ** 2``.
        side_dwconv: kernel of the LePE depth-wise conv on V.
    """

    def __init__(self, dim: int, num_heads: int, n_win: int, qk_dim: Optional[int] = None,
                 qk_scale: Optional[float] = None, topk: int = 4, side_dwconv: int = 5):
        super().__init__()
        self.dim, self.num_heads, self.n_win, self.topk = dim, num_heads, n_win, topk
        self.qk_dim = qk_dim or dim
        if self.qk_dim % num_heads or dim % num_heads:
            raise ValueError(f'qk_dim={self.qk_dim} and dim={dim} must be divisible by num_heads={num_heads}')
        if not 0 < topk <= n_win * n_win:
            raise ValueError(f'topk={topk} must lie in [1, n_win**2={n_win * n_win}]; '
                             'raise n_win or lower topk')
        self.scale = qk_scale or self.qk_dim ** -0.5
        self.qkv = nn.Linear(dim, 2 * self.qk_dim + dim)
        self.lepe = nn.Conv2d(dim, dim, side_dwconv, padding=side_dwconv // 2, groups=dim)
        self.wo = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        n, qk, m = self.n_win, self.qk_dim, self.num_heads
        x = pad_to_multiple(x, n)
        Hp, Wp = x.shape[1:3]
        wh, ww = Hp // n, Wp // n
        qkv = self.qkv(x)  # padded tokens get the projection biases, as in the official code
        regions = window_partition(qkv, (wh, ww)).view(B, n * n, wh * ww, -1)  # (B, n^2, w^2, 2qk+C)
        q, kv = regions.split([qk, qk + C], dim=-1)

        # region-level routing: the topk regions whose mean key best matches the region's mean query
        with torch.no_grad():
            logits = (q.mean(2) * self.scale) @ kv[..., :qk].mean(2).transpose(-2, -1)  # (B, n^2, n^2)
            idx = logits.topk(self.topk, dim=-1).indices  # (B, n^2, topk)
        kv_sel = kv[torch.arange(B, device=x.device).view(B, 1, 1), idx]  # (B, n^2, topk, w^2, qk+C)
        k_sel, v_sel = kv_sel.flatten(2, 3).split([qk, C], dim=-1)  # (B, n^2, topk*w^2, .)

        # token-level attention inside the gathered regions
        q = q.reshape(B * n * n, wh * ww, m, qk // m).transpose(1, 2)
        k_sel = k_sel.reshape(B * n * n, -1, m, qk // m).transpose(1, 2)
        v_sel = v_sel.reshape(B * n * n, -1, m, C // m).transpose(1, 2)
        out = attention(q, k_sel, v_sel, scale=self.scale).transpose(1, 2).reshape(-1, wh * ww, C)
        out = window_reverse(out, (wh, ww), Hp, Wp)
        lepe = self.lepe(qkv[..., 2 * qk:].permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        out = self.wo(out + lepe)
        return out[:, :H, :W]


class GlobalAttentionLePE(Attention):
    """Global multi-head attention (no qkv bias) plus a depth-wise conv of its input (LePE) added
    before the output projection: the last stage of BiFormer (``topk=-2``, 8 heads)."""

    def __init__(self, dim: int, num_heads: int = 8, side_dwconv: int = 5):
        super().__init__(dim, num_heads, qkv_bias=False)
        self.lepe = nn.Conv2d(dim, dim, side_dwconv, padding=side_dwconv // 2, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        tokens = x.reshape(B, H * W, C)
        q, k, v = self.qkv(tokens).reshape(B, H * W, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        y = attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        y = y.transpose(1, 2).reshape(B, H, W, C) + self.lepe(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.proj_drop(self.proj(y))


class BiFormerBlock(nn.Module):
    """``x + dwconv(x)``; ``x + attn(norm1(x))``; ``x + mlp(norm2(x))`` on ``(B, C, H, W)`` maps."""

    def __init__(self, dim, num_heads, n_win, topk, qk_dim=None, qk_scale=None, mlp_ratio=3.0, drop_path=0.0,
                 side_dwconv=5, before_attn_dwconv=3, full_attn_heads=8):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, before_attn_dwconv, padding=before_attn_dwconv // 2, groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        if topk == FULL_ATTENTION:
            self.attn = GlobalAttentionLePE(dim, full_attn_heads, side_dwconv)
        elif topk > 0:
            self.attn = BiLevelRoutingAttention(dim, num_heads, n_win, qk_dim, qk_scale, topk, side_dwconv)
        else:
            raise ValueError(f'topk={topk}: use a positive region count or {FULL_ATTENTION} '
                             '(global attention)')
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(mlp_ratio * dim))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x + self.pos_embed(x)).permute(0, 2, 3, 1)
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x.permute(0, 3, 1, 2)


@MODELS.register_module()
class BiFormer(BaseBackbone):
    """BiFormer backbone.

    Args:
        arch: 'tiny' | 'small' | 'base' or a dict with ``embed_dims`` and ``depths`` (optional:
            ``qk_dims`` (default ``embed_dims``), ``head_dim`` (32), ``mlp_ratios`` (3),
            ``topks`` ((1, 4, 16, -2); -2 is global attention)).
        in_channels: input image channels.
        n_win: regions per side of the routing attention: 7 for the ImageNet models (224 px),
            16 in the official COCO configs, 8 in the ADE20K ones.
        qk_scale: override of the attention / routing scale ``qk_dim ** -0.5``.
        side_dwconv: LePE kernel; before_attn_dwconv: kernel of the conv position embedding.
        drop_path_rate: stochastic depth, linearly increasing over all blocks.
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: 'ln' (or True): a LayerNorm2d (eps 1e-6) on each returned map, the
            ``extra_norms`` of the official dense code; 'bn': a BatchNorm2d, the classifier's final
            norm (use with ``out_indices=(3,)`` for the ImageNet model); False/None: raw features.
        norm_cfg: norm of the stem and downsampling convs (``dict(type='SyncBN')`` as the
            official segmentation code).
        norm_eval: keep those BatchNorms in eval mode while training (the official detection
            backbone does).
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also the first k stages (with the
            downsampling that follows them and their output norms).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official classification
            and detection/segmentation checkpoints are converted on load.
    """

    converter = 'convert_biformer_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'tiny': dict(embed_dims=(64, 128, 256, 512), depths=(2, 2, 8, 2)),
        'small': dict(embed_dims=(64, 128, 256, 512), depths=(4, 4, 18, 4)),
        'base': dict(embed_dims=(96, 192, 384, 768), depths=(4, 4, 18, 4)),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base']})

    def __init__(self, arch='tiny', in_channels=3, n_win=7, qk_scale=None, side_dwconv=5,
                 before_attn_dwconv=3, drop_path_rate=0.0, out_indices=(0, 1, 2, 3), out_norm='ln',
                 norm_cfg=dict(type='BN'), norm_eval=False, frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths'), 'BiFormer')
        dims, depths = tuple(cfg['embed_dims']), tuple(cfg['depths'])
        self.num_stages = len(depths)
        qk_dims = tuple(cfg.get('qk_dims', dims))
        head_dim = cfg.get('head_dim', 32)
        mlp_ratios = cfg.get('mlp_ratios', 3)
        if isinstance(mlp_ratios, (int, float)):
            mlp_ratios = (mlp_ratios,) * self.num_stages
        mlp_ratios = tuple(mlp_ratios)
        topks = tuple(cfg.get('topks', (1, 4, 16, FULL_ATTENTION)))
        per_stage = dict(embed_dims=dims, qk_dims=qk_dims, mlp_ratios=mlp_ratios, topks=topks)
        for name, v in per_stage.items():
            if len(v) != self.num_stages:
                raise ValueError(f'BiFormer: {name} {v} must have one entry per stage ({self.num_stages})')
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'BiFormer')
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.num_features = list(dims)

        def conv_bn(cin, cout):
            return [nn.Conv2d(cin, cout, 3, stride=2, padding=1), build_norm_layer(norm_cfg, cout)[1]]

        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(*conv_bn(in_channels, dims[0] // 2), nn.GELU(), *conv_bn(dims[0] // 2, dims[0]))] +
            [nn.Sequential(*conv_bn(dims[i], dims[i + 1])) for i in range(self.num_stages - 1)])
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            nn.Sequential(*[
                BiFormerBlock(dims[i], qk_dims[i] // head_dim, n_win, topks[i], qk_dims[i], qk_scale,
                              mlp_ratios[i], dpr[i][j], side_dwconv, before_attn_dwconv)
                for j in range(depths[i])
            ]) for i in range(self.num_stages)
        ])
        self.with_cp = with_cp
        out_norm = 'ln' if out_norm is True else (out_norm or None)
        if out_norm not in ('ln', 'bn', None):
            raise ValueError(f"BiFormer: out_norm must be 'ln' (True), 'bn' or False, got {out_norm!r}")
        make_norm = {'ln': lambda c: LayerNorm2d(c, eps=1e-6), 'bn': nn.BatchNorm2d,
                     None: lambda c: nn.Identity()}
        for i in self.out_indices:
            self.add_module(f'norm{i}', make_norm[out_norm](dims[i]))
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init (Linear: truncated normal; norms: 1, 0)
            init_linear_and_layernorm_(self)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.downsample_layers[0])
        for i in range(min(self.frozen_stages, self.num_stages)):
            freeze(self.stages[i])
            freeze(getattr(self, f'norm{i}', None))
            if i + 1 < self.num_stages:
                freeze(self.downsample_layers[i + 1])

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.downsample_layers.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(self.num_stages):
            x = self.downsample_layers[i](x)
            for blk in self.stages[i]:
                x = maybe_checkpoint(blk, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x).contiguous())
        return tuple(outs)

    def _adapt_shapes(self, sd, own):
        # A classifier's BatchNorm ('norm' -> norm3 by the converter) does not fit a LayerNorm output
        # norm and vice versa: the official dense code drops it (the output norms start fresh).
        for i in range(self.num_stages):
            ours_bn, theirs_bn = f'norm{i}.running_mean' in own, f'norm{i}.running_mean' in sd
            if any(k.startswith(f'norm{i}.') for k in sd) and ours_bn != theirs_bn:
                sd = {k: v for k, v in sd.items() if not k.startswith(f'norm{i}.')}
        return super()._adapt_shapes(sd, own)


# ----------------------------------------------------------------------------- checkpoint conversion

def convert_biformer_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official BiFormer checkpoint to this module's names.

    Understood layouts: the ImageNet release (``{'model': ...}``: ``stages.i.j.attn.qkv.qkv``,
    ``mlp.0`` / ``mlp.3``, final BatchNorm ``norm`` -> ``norm{last}``, ``head`` dropped) and the
    official detection / segmentation checkpoints (``backbone.`` prefix stripped by the loader,
    ``extra_norms.i`` -> ``norm{i}``).
    """
    out = {}
    for k, v in state_dict.items():
        if k.startswith(('head.', 'pre_logits.')):
            continue
        nk = k.replace('.attn.qkv.qkv.', '.attn.qkv.')
        nk = nk.replace('.mlp.0.', '.mlp.fc1.').replace('.mlp.3.', '.mlp.fc2.')
        if nk.startswith('extra_norms.'):
            idx, rest = nk[len('extra_norms.'):].split('.', 1)
            nk = f'norm{idx}.{rest}'
        out[nk] = v
    return rename_final_norm(out, 'stages')  # classifier: the final norm closes the last stage
