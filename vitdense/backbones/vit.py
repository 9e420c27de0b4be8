"""Plain Vision Transformer (Dosovitskiy et al., ICLR 2021; DeiT, Touvron et al., ICML 2021) as a
dense-prediction backbone, in the form ViT-Adapter builds on.

A 16x16/16 patch embedding, an absolute position embedding learned at the pre-training size and
bicubically resized to the input's token grid, and a stack of pre-norm blocks
``x + gamma1 * attn(norm1(x))``, ``x + gamma2 * mlp(norm2(x))`` (LayerNorm eps 1e-6; the layer
scales ``gamma`` are optional, ViT-Adapter's detection and segmentation models have them, starting
at 1). Any block can use non-overlapping window attention instead of global attention (window 14
in ViT-Adapter's detection configs): the q/k/v maps are zero-padded at the bottom/right to whole
windows, as the official ViT-Adapter code does, so padded keys take part with zero logits.

Inputs of any size: the patch embedding zero-pads the image to a multiple of 16.

Parameter names are timm's / the official DeiT release's (``patch_embed.proj``, ``pos_embed``,
``blocks.{i}.attn.qkv``, ``.mlp.fc1`` ...), except the layer scales, named ``gamma1``/``gamma2`` as
in ViT-Adapter (timm: ``ls1.gamma``); ``convert_vit_checkpoint`` maps the DeiT release, timm
(AugReg included) and mmpretrain checkpoints. ``get_layer_depth`` gives the layer index that the
layer-wise learning-rate decay constructor (``vitdense.LayerDecayOptimWrapperConstructor``) uses.
"""
import re
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import (Attention, DropPath, Mlp, PatchEmbed, attention, maybe_checkpoint, pad_to_multiple,
                      window_partition, window_reverse)
from ..layers.weight_init import init_linear_and_layernorm_
from ..layers.shape import map_to_tokens, tokens_to_map
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class ViTAttention(Attention):
    """Global multi-head self-attention, or attention inside ``window_size`` x ``window_size``
    windows of the token grid when ``window_size`` is set."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, window_size: Optional[int] = None):
        super().__init__(dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)
        self.window_size = window_size

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        if self.window_size is None:
            return super().forward(x)
        B, N, C = x.shape
        H, W = hw
        ws = self.window_size
        # pad q/k/v (not x): padded positions are exact zeros, keys included (official behaviour)
        qkv = pad_to_multiple(self.qkv(x).view(B, H, W, 3 * C), ws)
        Hp, Wp = qkv.shape[1:3]
        qkv = window_partition(qkv, ws)  # (B * nW, ws*ws, 3C)
        q, k, v = qkv.view(qkv.shape[0], ws * ws, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        out = attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale)
        out = out.transpose(1, 2).reshape(-1, ws * ws, C)
        out = window_reverse(out, ws, Hp, Wp)[:, :H, :W].reshape(B, N, C)
        return self.proj_drop(self.proj(out))


class ViTBlock(nn.Module):
    """Pre-norm transformer block with optional layer scale and window attention."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0,
                 window_size: Optional[int] = None, layer_scale: bool = True, with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = ViTAttention(dim, num_heads, qkv_bias, attn_drop, drop, window_size)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        if layer_scale:
            self.gamma1 = nn.Parameter(torch.ones(dim))
            self.gamma2 = nn.Parameter(torch.ones(dim))
        else:
            self.gamma1 = self.gamma2 = None

    def _forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        a = self.attn(self.norm1(x), hw)
        x = x + self.drop_path(a if self.gamma1 is None else self.gamma1 * a)
        m = self.mlp(self.norm2(x))
        return x + self.drop_path(m if self.gamma2 is None else self.gamma2 * m)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        return maybe_checkpoint(self._forward, x, hw, enabled=self.with_cp)


def resize_pos_embed(pos_embed: torch.Tensor, src_hw: Tuple[int, int], dst_hw: Tuple[int, int],
                     num_extra_tokens: int = 0) -> torch.Tensor:
    """Bicubically resize the grid part of ``(1, extra + h*w, C)`` position embeddings from
    ``src_hw`` to ``dst_hw`` (``align_corners=False``), keeping the extra (class) tokens first."""
    extra, grid = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    if tuple(src_hw) != tuple(dst_hw):
        C = grid.shape[-1]
        grid = grid.reshape(1, src_hw[0], src_hw[1], C).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=tuple(dst_hw), mode='bicubic', align_corners=False)
        grid = map_to_tokens(grid)
    return torch.cat([extra, grid], 1) if num_extra_tokens else grid


def _per_block(value, depth: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != depth:
            raise ValueError(f'ViT: {name} has {len(value)} entries but the model has {depth} blocks')
        return list(value)
    return [value] * depth


@MODELS.register_module()
class ViT(BaseBackbone):
    """Plain ViT / DeiT backbone returning stride-16 feature maps.

    Args:
        arch: 'tiny' | 'small' | 'base' | 'large' (DeiT-T/S/B, ViT-L) or a dict with
            ``embed_dims``, ``depth``, ``num_heads`` (``mlp_ratio`` optional, default 4).
        img_size: pre-training image size; the position embedding has ``(img_size / 16) ** 2``
            grid entries plus one for the class token, and is resized to each input.
        patch_size: 16.
        qkv_bias: bias in the q/k/v projection.
        drop_rate, attn_drop_rate, drop_path_rate: dropouts; stochastic depth grows linearly over
            the blocks.
        layer_scale: learnable per-channel scales on both residual branches (``gamma1``/``gamma2``).
        window_attn: bool, or one bool per block: window attention instead of global attention.
        window_size: int, or one per block (``None`` entries where global), e.g. 14.
        with_cls_token: keep a class token (classification / timm-equivalent form); dense
            backbones drop it (its position embedding entry is kept, unused, as in ViT-Adapter).
        out_indices: blocks whose outputs are returned as ``(B, C, H/16, W/16)`` maps.
        final_norm: LayerNorm ``norm`` on the last block's output (timm ``forward_features``).
        frozen_stages: -1 trains all; 0 freezes the patch and position embeddings; k > 0 also
            blocks 0..k-1.
        with_cp: activation checkpointing in every block.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)``: DeiT, timm/AugReg and mmpretrain
            checkpoints are converted on load.
    """

    converter = 'convert_vit_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'tiny': dict(embed_dims=192, depth=12, num_heads=3),
        'small': dict(embed_dims=384, depth=12, num_heads=6),
        'base': dict(embed_dims=768, depth=12, num_heads=12),
        'large': dict(embed_dims=1024, depth=24, num_heads=16),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base'],
                     'l': arch_zoo['large'], 'deit-tiny': arch_zoo['tiny'], 'deit-small': arch_zoo['small'],
                     'deit-base': arch_zoo['base']})
    num_extra_tokens = 1

    @property
    def stage_strides(self):  # every block's map is the patch grid
        return (self.patch_size, ) * self.depth

    def __init__(self, arch='base', img_size=224, patch_size=16, in_channels=3, qkv_bias=True, drop_rate=0.0,
                 attn_drop_rate=0.0, drop_path_rate=0.0, layer_scale=False, window_attn=False, window_size=14,
                 with_cls_token=False, out_indices=-1, final_norm=False, frozen_stages=-1, with_cp=False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depth', 'num_heads'), type(self).__name__)
        dim, depth, heads = int(cfg['embed_dims']), int(cfg['depth']), int(cfg['num_heads'])
        self.embed_dims, self.depth, self.num_heads = dim, depth, heads
        self.patch_size = patch_size
        self.pretrain_grid = (img_size // patch_size, img_size // patch_size)
        self.out_indices = check_out_indices(out_indices, depth, type(self).__name__)
        self.num_features = [dim] * depth
        self.frozen_stages = frozen_stages
        self.drop_path_rate = drop_path_rate

        windows = _per_block(window_attn, depth, 'window_attn')
        sizes = _per_block(window_size, depth, 'window_size')
        for i, (on, ws) in enumerate(zip(windows, sizes)):
            if on and not (isinstance(ws, int) and ws > 0):
                raise ValueError(f'ViT: block {i} uses window attention but its window_size is {ws!r}')
        if with_cls_token and any(windows):
            raise ValueError('ViT: window attention needs the token grid alone; set with_cls_token=False '
                             '(dense backbones) or window_attn=False (classification form)')

        self.patch_embed = PatchEmbed(in_channels, dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if with_cls_token else None
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_extra_tokens + self.pretrain_grid[0] * self.pretrain_grid[1], dim))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList([
            ViTBlock(dim, heads, cfg.get('mlp_ratio', 4.0), qkv_bias, drop_rate, attn_drop_rate, dpr[i],
                     sizes[i] if windows[i] else None, layer_scale, with_cp) for i in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6) if final_norm else None
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:
            init_linear_and_layernorm_(self)
            trunc_normal_(self.pos_embed, std=0.02)
            if self.cls_token is not None:
                trunc_normal_(self.cls_token, std=0.02)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed)
            self.pos_embed.requires_grad = False
            if self.cls_token is not None:
                self.cls_token.requires_grad = False
        for i in range(min(self.frozen_stages, self.depth)):
            freeze(self.blocks[i])
        if self.frozen_stages >= self.depth and self.norm is not None:
            freeze(self.norm)

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """``(layer id, number of layers)`` for layer-wise lr decay: embeddings 0, block i -> i + 1,
        everything else (final norm, adapter modules, heads) the last id, ``depth + 1``."""
        num_layers = self.depth + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name in ('cls_token', 'pos_embed') or name.startswith('patch_embed.'):
            return 0, num_layers
        m = re.match(r'blocks\.(\d+)\.', name)
        if m:
            return int(m.group(1)) + 1, num_layers
        return num_layers - 1, num_layers

    def embed(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Patch tokens plus resized position embeddings (class token first when kept)."""
        x, hw = self.patch_embed(x)
        pos = resize_pos_embed(self.pos_embed, self.pretrain_grid, hw, self.num_extra_tokens)
        x = x + pos[:, self.num_extra_tokens:]
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1) + pos[:, :1], x], 1)
        return self.pos_drop(x), hw

    def forward(self, x: torch.Tensor):
        x, hw = self.embed(x)
        outs = []
        for i in range(self.depth):
            x = self.blocks[i](x, hw)
            if i in self.out_indices:
                y = self.norm(x) if (self.norm is not None and i == self.depth - 1) else x
                y = y[:, self.num_extra_tokens:] if self.cls_token is not None else y
                outs.append(tokens_to_map(y, hw))
        return tuple(outs)

    def _read_checkpoint(self, checkpoint: str, map_location='cpu') -> dict:
        if str(checkpoint).split('?')[0].endswith('.npz'):  # Google's JAX AugReg / ViT release
            return convert_vit_npz(load_npz(checkpoint))
        return super()._read_checkpoint(checkpoint, map_location)

    def _adapt_shapes(self, sd, own):
        if 'pos_embed' in sd and sd['pos_embed'].shape != own['pos_embed'].shape:
            sd = dict(sd)
            sd['pos_embed'] = adapt_pos_embed(sd['pos_embed'], self.pretrain_grid)
        return super()._adapt_shapes(sd, own)


def adapt_pos_embed(pos_embed: torch.Tensor, grid_hw: Tuple[int, int]) -> torch.Tensor:
    """A checkpoint's ``(1, extra + h*w, C)`` position embedding (square grid, 0-2 extra tokens)
    -> one class entry plus the ``grid_hw`` grid."""
    n = pos_embed.shape[1]
    for extra in (1, 0, 2):
        side = int(round((n - extra) ** 0.5))
        if side * side == n - extra:
            break
    else:
        raise RuntimeError(f'position embedding with {n} tokens is not a square grid plus 0-2 class tokens')
    cls = pos_embed[:, :1] if extra else pos_embed.new_zeros(1, 1, pos_embed.shape[-1])
    grid = resize_pos_embed(pos_embed[:, extra:], (side, side), grid_hw)
    return torch.cat([cls, grid], 1)


# ----------------------------------------------------------------------------- checkpoint conversion

_MMPRETRAIN = [(r'^patch_embed\.projection\.', 'patch_embed.proj.'), (r'^layers\.', 'blocks.'),
               (r'\.ln1\.', '.norm1.'), (r'\.ln2\.', '.norm2.'), (r'\.ffn\.layers\.0\.0\.', '.mlp.fc1.'),
               (r'\.ffn\.layers\.1\.', '.mlp.fc2.'), (r'\.ffn\.gamma2\.weight$', '.gamma2'),
               (r'\.gamma1\.weight$', '.gamma1'), (r'^ln1\.', 'norm.'), (r'^pre_norm\.', 'pre_norm.')]


def convert_vit_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a ViT checkpoint's weights to ours.

    Understood layouts: the official DeiT release and timm (AugReg included): ``blocks.i.*``,
    layer scales ``ls1.gamma``/``ls2.gamma``, distilled models' ``dist_token`` (dropped with its
    position entry); mmpretrain (``layers.i.ln1``, ``ffn.layers.0.0``, ``patch_embed.projection``,
    final ``ln1``). Classifier heads (``head``, ``head_dist``, ``fc_norm``) are dropped.
    """
    sd = dict(state_dict)
    if any(k.startswith('layers.') for k in sd):
        out = {}
        for k, v in sd.items():
            for pat, rep in _MMPRETRAIN:
                k = re.sub(pat, rep, k)
            out[k] = v
        sd = out
    out = {}
    for k, v in sd.items():
        if k.startswith(('head.', 'head_dist.', 'fc_norm.', 'pre_logits.')) or k == 'dist_token':
            continue
        k = re.sub(r'\.ls([12])\.gamma$', r'.gamma\1', k)
        out[k] = v
    if 'dist_token' in sd and 'pos_embed' in out:  # DeiT distilled: [cls, dist, grid]
        pe = out['pos_embed']
        out['pos_embed'] = torch.cat([pe[:, :1], pe[:, 2:]], 1)
    return out


def load_npz(path: str) -> Dict[str, Any]:
    """Arrays of a JAX ``.npz`` checkpoint (local path or http(s) URL, downloaded once into torch's
    hub cache); ``allow_pickle=False``, so nothing but arrays is read."""
    import os

    import numpy as np
    if path.startswith(('http://', 'https://')):
        cache = os.path.join(torch.hub.get_dir(), 'checkpoints')
        os.makedirs(cache, exist_ok=True)
        local = os.path.join(cache, os.path.basename(path.split('?')[0]))
        if not os.path.exists(local):
            torch.hub.download_url_to_file(path, local)
        path = local
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def convert_vit_npz(arrays: Dict[str, Any]) -> Dict[str, torch.Tensor]:
    """Google's JAX ViT / AugReg ``.npz`` layout (``embedding/kernel`` HWIO, ``cls``,
    ``Transformer/posembed_input/pos_embedding``, ``Transformer/encoderblock_{i}/...``,
    ``Transformer/encoder_norm``; optional ``opt/target/`` or ``params/`` prefix) -> our names. The
    per-head q/k/v kernels ``(C, heads, head_dim)`` become one ``qkv`` Linear; the head is dropped."""
    prefix = next((p for p in ('', 'opt/target/', 'params/') if f'{p}embedding/kernel' in arrays), None)
    if prefix is None:
        raise RuntimeError('not a JAX ViT checkpoint: no embedding/kernel array (keys: '
                           f'{sorted(arrays)[:5]} ...)')

    def get(name):
        return torch.from_numpy(arrays[prefix + name].astype('float32'))

    out = {'patch_embed.proj.weight': get('embedding/kernel').permute(3, 2, 0, 1),
           'patch_embed.proj.bias': get('embedding/bias'),
           'pos_embed': get('Transformer/posembed_input/pos_embedding')}
    if prefix + 'cls' in arrays:
        out['cls_token'] = get('cls')
    if prefix + 'Transformer/encoder_norm/scale' in arrays:
        out['norm.weight'] = get('Transformer/encoder_norm/scale')
        out['norm.bias'] = get('Transformer/encoder_norm/bias')
    i = 0
    while f'{prefix}Transformer/encoderblock_{i}/LayerNorm_0/scale' in arrays:
        src, dst = f'Transformer/encoderblock_{i}/', f'blocks.{i}.'
        mha = src + 'MultiHeadDotProductAttention_1/'
        for j, ln in ((1, 'LayerNorm_0'), (2, 'LayerNorm_2')):
            out[f'{dst}norm{j}.weight'] = get(f'{src}{ln}/scale')
            out[f'{dst}norm{j}.bias'] = get(f'{src}{ln}/bias')
        out[f'{dst}attn.qkv.weight'] = torch.cat([get(f'{mha}{n}/kernel').flatten(1).T
                                                  for n in ('query', 'key', 'value')])
        out[f'{dst}attn.qkv.bias'] = torch.cat([get(f'{mha}{n}/bias').flatten()
                                                for n in ('query', 'key', 'value')])
        out[f'{dst}attn.proj.weight'] = get(f'{mha}out/kernel').flatten(0, 1).T
        out[f'{dst}attn.proj.bias'] = get(f'{mha}out/bias')
        for j in (0, 1):
            out[f'{dst}mlp.fc{j + 1}.weight'] = get(f'{src}MlpBlock_3/Dense_{j}/kernel').T
            out[f'{dst}mlp.fc{j + 1}.bias'] = get(f'{src}MlpBlock_3/Dense_{j}/bias')
        i += 1
    return out
