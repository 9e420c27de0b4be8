"""ViT-Adapter (Chen et al., ICLR 2023, "Vision Transformer Adapter for Dense Predictions").

A plain ViT (``vit.py``) is left as it is and a light adapter runs beside it:

- spatial prior module (SPM): a ResNet-like conv stem giving maps at 1/4, 1/8, 1/16, 1/32,
  each projected to the ViT width; the 1/8..1/32 maps (plus a learned level embedding) are
  flattened into one multi-scale token set ``c``;
- interactions (``interaction_indexes``, T/S/B: blocks [0-2], [3-5], [6-8], [9-11]): before each
  group of ViT blocks an *injector* adds multi-scale deformable cross-attention from the ViT tokens
  (queries) into ``c`` (scaled by ``gamma``, zero at start); after the group an *extractor* updates
  ``c`` by deformable cross-attention into the ViT tokens plus a conv-FFN; the last interaction
  has two extra extractors;
- outputs: ``c`` split back into the 1/8, 1/16, 1/32 maps, the 1/4 map from a 2x2 transposed
  conv of the 1/8 map plus the SPM's 1/4 map, the ViT output resized to each level added, and a
  BatchNorm per level.

Deformable attention is ``vitdense.layers.MSDeformAttn`` (mmcv's kernel on GPU, mmcv's PyTorch
implementation elsewhere). Inputs of any size: the image is zero-padded at the bottom/right to a
multiple of 32 (the official code assumes it, mmdet's preprocessor pads to 32 anyway), and level
``i`` is cropped back to ``ceil(H / s_i) x ceil(W / s_i)``.

Parameter names are the official ones (``spm.stem.0``, ``interactions.{i}.injector.attn.*``,
``.extractor.ffn.fc1``, ``level_embed``, ``up``, ``norm1..4``, and the ViT's ``blocks.*``), so the
released ViT-Adapter checkpoints load through ``convert_vit_adapter_checkpoint`` (which only
renames the conv-FFN's ``dwconv.dwconv``); DeiT / timm / AugReg checkpoints initialise the ViT.
"""
import math
from typing import Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

from ..layers import ConvMlp, DropPath, maybe_checkpoint
from ..layers.ms_deform_attn import MSDeformAttn, level_inputs, reference_points
from ..layers.weight_init import init_conv_fan_out_
from ..layers.shape import map_to_tokens, tokens_to_map
from ..registry import MODELS
from .base import check_out_indices
from .vit import ViT, convert_vit_checkpoint


def _conv_bn_relu(cin: int, cout: int, stride: int, norm_cfg: dict) -> List[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), build_norm_layer(norm_cfg, cout)[1],
            nn.ReLU(inplace=True)]


class SpatialPriorModule(nn.Module):
    """Conv stem (3 convs + max-pool, 1/4) and three stride-2 convs (1/8, 1/16, 1/32); ``fc1..4``
    project each map to ``embed_dim``. Returns the 1/4 map and the three others as tokens."""

    def __init__(self, inplanes: int = 64, embed_dim: int = 384, norm_cfg: dict = dict(type='SyncBN')):
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn_relu(3, inplanes, 2, norm_cfg),
                                  *_conv_bn_relu(inplanes, inplanes, 1, norm_cfg),
                                  *_conv_bn_relu(inplanes, inplanes, 1, norm_cfg), nn.MaxPool2d(3, 2, 1))
        self.conv2 = nn.Sequential(*_conv_bn_relu(inplanes, 2 * inplanes, 2, norm_cfg))
        self.conv3 = nn.Sequential(*_conv_bn_relu(2 * inplanes, 4 * inplanes, 2, norm_cfg))
        self.conv4 = nn.Sequential(*_conv_bn_relu(4 * inplanes, 4 * inplanes, 2, norm_cfg))
        self.fc1 = nn.Conv2d(inplanes, embed_dim, 1)
        self.fc2 = nn.Conv2d(2 * inplanes, embed_dim, 1)
        self.fc3 = nn.Conv2d(4 * inplanes, embed_dim, 1)
        self.fc4 = nn.Conv2d(4 * inplanes, embed_dim, 1)

    def forward(self, x: torch.Tensor):
        c1 = self.stem(x)
        c2 = self.conv2(c1)
        c3 = self.conv3(c2)
        c4 = self.conv4(c3)
        pairs = ((self.fc2, c2), (self.fc3, c3), (self.fc4, c4))
        tokens = [map_to_tokens(fc(c)) for fc, c in pairs]
        return self.fc1(c1), tokens


class Injector(nn.Module):
    """ViT tokens attend (deformably) into the multi-scale SPM tokens: ``x + gamma * attn``."""

    def __init__(self, dim: int, num_heads: int, n_points: int, n_levels: int = 3, deform_ratio: float = 1.0,
                 init_values: float = 0.0, with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.query_norm = nn.LayerNorm(dim, eps=1e-6)
        self.feat_norm = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MSDeformAttn(dim, n_levels, num_heads, n_points, deform_ratio)
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def _forward(self, query, feat, ref, shapes, start):
        attn = self.attn(self.query_norm(query), ref, self.feat_norm(feat), shapes, start)
        return query + self.gamma * attn

    def forward(self, query, feat, ref, shapes, start):
        return maybe_checkpoint(self._forward, query, feat, ref, shapes, start, enabled=self.with_cp)


class Extractor(nn.Module):
    """Multi-scale SPM tokens attend (deformably) into the ViT tokens, then a conv-FFN on each level."""

    def __init__(self, dim: int, num_heads: int, n_points: int, n_levels: int = 1, deform_ratio: float = 1.0,
                 with_cffn: bool = True, cffn_ratio: float = 0.25, drop: float = 0.0, drop_path: float = 0.0,
                 with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.query_norm = nn.LayerNorm(dim, eps=1e-6)
        self.feat_norm = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MSDeformAttn(dim, n_levels, num_heads, n_points, deform_ratio)
        if with_cffn:
            self.ffn = ConvMlp(dim, int(dim * cffn_ratio), drop=drop)
            self.ffn_norm = nn.LayerNorm(dim, eps=1e-6)
            self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        else:
            self.ffn = None

    def _forward(self, query, feat, ref, shapes, start, query_shapes):
        query = query + self.attn(self.query_norm(query), ref, self.feat_norm(feat), shapes, start)
        if self.ffn is not None:
            query = query + self.drop_path(self.ffn(self.ffn_norm(query), query_shapes))
        return query

    def forward(self, query, feat, ref, shapes, start, query_shapes):
        return maybe_checkpoint(self._forward, query, feat, ref, shapes, start, query_shapes,
                                enabled=self.with_cp)


class InteractionBlock(nn.Module):
    """injector -> a group of ViT blocks -> extractor (-> two extra extractors in the last one)."""

    def __init__(self, dim: int, num_heads: int, n_points: int, drop: float = 0.0, drop_path: float = 0.0,
                 with_cffn: bool = True, cffn_ratio: float = 0.25, init_values: float = 0.0,
                 deform_ratio: float = 1.0, extra_extractor: bool = False, with_cp: bool = False):
        super().__init__()
        self.injector = Injector(dim, num_heads, n_points, 3, deform_ratio, init_values, with_cp)
        ext = dict(num_heads=num_heads, n_points=n_points, n_levels=1, deform_ratio=deform_ratio,
                   with_cffn=with_cffn, cffn_ratio=cffn_ratio, drop=drop, drop_path=drop_path,
                   with_cp=with_cp)
        self.extractor = Extractor(dim, **ext)
        self.extra_extractors = (nn.Sequential(Extractor(dim, **ext), Extractor(dim, **ext))
                                 if extra_extractor else None)

    def forward(self, x, c, blocks, hw, inj_inputs, ext_inputs, c_shapes):
        x = self.injector(x, c, *inj_inputs)
        for blk in blocks:
            x = blk(x, hw)
        for extractor in [self.extractor] + list(self.extra_extractors or []):
            c = extractor(c, x, *ext_inputs, c_shapes)
        return x, c


@MODELS.register_module()
class ViTAdapter(ViT):
    """ViT-Adapter backbone: four ``embed_dims``-channel maps at strides 4, 8, 16, 32.

    Args:
        arch: 'tiny' | 'small' | 'base' | 'large' (DeiT-T/S/B and ViT-L widths with the official
            adapter settings) or a dict with ``embed_dims``, ``depth``, ``num_heads``,
            ``deform_num_heads``, ``interaction_indexes`` (optional ``deform_ratio``, ``mlp_ratio``).
        img_size: pre-training size of the ViT (224 for DeiT; 384 for AugReg-L).
        layer_scale: ``gamma1``/``gamma2`` in the ViT blocks (True in every official model).
        window_attn, window_size: per-block window attention (official detection models: window
            14 everywhere but blocks 2, 5, 8, 11; segmentation models: none).
        conv_inplane: SPM width (64). n_points: sampling points per head and level (4).
        init_values: initial injector ``gamma`` (0: the adapter starts as the identity on the ViT).
        with_cffn, cffn_ratio: the extractors' conv-FFN and its hidden ratio (0.25).
        add_vit_feature: add the resized ViT output to each level.
        use_extra_extractor: the last interaction's two extra extractors.
        norm_cfg: norm of the SPM convs and the four output norms (official: SyncBN).
        out_indices: levels returned (0..3 = strides 4..32).
        drop_path_rate: stochastic depth of the ViT blocks (linear), and the extractors' FFN rate.
        frozen_stages: as ``ViT`` (embeddings / first blocks); the adapter always trains.
        with_cp: activation checkpointing in the ViT blocks, injectors and extractors.
        init_cfg: ``Pretrained`` with a DeiT / timm / AugReg ViT checkpoint (the adapter keeps its
            initialisation) or a released ViT-Adapter checkpoint.
    """

    model_name_prefix = 'vit_adapter'  # vitdense.get_model('vit_adapter_...')
    converter = 'convert_vit_adapter_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    stage_strides = (4, 8, 16, 32)  # the spatial pyramid, not the ViT's patch grid
    _dense = dict(interaction_indexes=((0, 2), (3, 5), (6, 8), (9, 11)))
    arch_zoo = {
        'tiny': dict(embed_dims=192, depth=12, num_heads=3, deform_num_heads=6, deform_ratio=1.0, **_dense),
        'small': dict(embed_dims=384, depth=12, num_heads=6, deform_num_heads=6, deform_ratio=1.0, **_dense),
        'base': dict(embed_dims=768, depth=12, num_heads=12, deform_num_heads=12, deform_ratio=0.5, **_dense),
        'large': dict(embed_dims=1024, depth=24, num_heads=16, deform_num_heads=16, deform_ratio=0.5,
                      interaction_indexes=((0, 5), (6, 11), (12, 17), (18, 23))),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base'],
                     'l': arch_zoo['large']})
    essential_keys = ('embed_dims', 'depth', 'num_heads', 'deform_num_heads', 'interaction_indexes')

    def __init__(self, arch='tiny', img_size=224, patch_size=16, in_channels=3, qkv_bias=True, drop_rate=0.0,
                 attn_drop_rate=0.0, drop_path_rate=0.0, layer_scale=True, window_attn=False, window_size=14,
                 conv_inplane=64, n_points=4, init_values=0.0, with_cffn=True, cffn_ratio=0.25,
                 add_vit_feature=True, use_extra_extractor=True,
                 norm_cfg=dict(type='SyncBN', requires_grad=True),
                 out_indices=(0, 1, 2, 3), frozen_stages=-1, with_cp=False, init_cfg=None):
        from .base import resolve_arch
        cfg = resolve_arch(arch, self.arch_zoo, self.essential_keys, 'ViTAdapter')
        super().__init__(arch=cfg, img_size=img_size, patch_size=patch_size, in_channels=in_channels,
                         qkv_bias=qkv_bias, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                         drop_path_rate=drop_path_rate, layer_scale=layer_scale, window_attn=window_attn,
                         window_size=window_size, with_cls_token=False, out_indices=-1, final_norm=False,
                         frozen_stages=frozen_stages, with_cp=with_cp, init_cfg=init_cfg)
        if patch_size != 16:
            raise ValueError('ViTAdapter: the spatial prior module pairs 1/16 ViT tokens with its 1/8-1/32 '
                             'maps; '
                             f'patch_size must be 16, got {patch_size}')
        self.interaction_indexes = [tuple(int(i) for i in pair) for pair in cfg['interaction_indexes']]
        prev = -1
        for a, b in self.interaction_indexes:
            if a != prev + 1 or b < a:
                raise ValueError(f'ViTAdapter: interaction_indexes {self.interaction_indexes} must cover the '
                                 f'{self.depth} blocks in consecutive [first, last] groups')
            prev = b
        if prev != self.depth - 1:
            raise ValueError(f'ViTAdapter: interaction_indexes {self.interaction_indexes} end at block '
                             f'{prev}, '
                             f'the ViT has {self.depth} blocks (last index {self.depth - 1})')
        self.out_indices = check_out_indices(out_indices, 4, 'ViTAdapter')
        dim = self.embed_dims
        self.num_features = [dim] * 4
        self.add_vit_feature = add_vit_feature

        self.level_embed = nn.Parameter(torch.zeros(3, dim))
        self.spm = SpatialPriorModule(conv_inplane, dim, norm_cfg)
        n = len(self.interaction_indexes)
        self.interactions = nn.Sequential(*[
            InteractionBlock(dim, cfg['deform_num_heads'], n_points, drop=drop_rate, drop_path=drop_path_rate,
                             with_cffn=with_cffn, cffn_ratio=cffn_ratio, init_values=init_values,
                             deform_ratio=cfg.get('deform_ratio', 1.0),
                             extra_extractor=use_extra_extractor and i == n - 1, with_cp=with_cp)
            for i in range(n)])
        self.up = nn.ConvTranspose2d(dim, dim, 2, 2)
        for i in range(1, 5):
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, dim)[1])
        self._freeze_stages()

    # ------------------------------------------------------------------ initialisation
    def _init_adapter(self):
        """The official initialisation of the adapter parts (SPM, interactions, up, level embeds)."""
        for module in (self.spm, self.interactions, self.up):
            for m in module.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    init_conv_fan_out_(m)
        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m.reset_parameters()
        nn.init.normal_(self.level_embed)

    def init_weights(self):
        if self.init_cfg is None:
            super().init_weights()  # the ViT's random init (touches every Linear/LayerNorm) ...
            self._init_adapter()  # ... then the adapter's own
            return
        self._init_adapter()  # a ViT checkpoint leaves the adapter as initialised here
        super().init_weights()

    def _freeze_stages(self):
        if hasattr(self, 'spm'):
            super()._freeze_stages()

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor):
        B, _, H, W = x.shape
        x = F.pad(x, (0, (-W) % 32, 0, (-H) % 32))
        Hp, Wp = x.shape[-2:]
        h, w = Hp // 16, Wp // 16
        c_shapes = [(h * 2, w * 2), (h, w), (h // 2, w // 2)]
        inj_inputs = [reference_points([(h, w)], x.device)] + level_inputs(c_shapes, x.device)
        ext_inputs = [reference_points(c_shapes, x.device)] + level_inputs([(h, w)], x.device)

        c1, c = self.spm(x)
        c = torch.cat([t + self.level_embed[i] for i, t in enumerate(c)], 1)
        tokens, hw = self.embed(x)
        for layer, (a, b) in zip(self.interactions, self.interaction_indexes):
            tokens, c = layer(tokens, c, self.blocks[a:b + 1], hw, inj_inputs, ext_inputs, c_shapes)

        c2, c3, c4 = (tokens_to_map(t, s)
                      for t, s in zip(c.split([s[0] * s[1] for s in c_shapes], 1), c_shapes))
        c1 = self.up(c2) + c1
        feats = [c1, c2, c3, c4]
        if self.add_vit_feature:
            x3 = tokens_to_map(tokens, (h, w))
            feats = [f + (x3 if s == 1 else
                          F.interpolate(x3, scale_factor=s, mode='bilinear', align_corners=False))
                     for f, s in zip(feats, (4, 2, 1, 0.5))]
        outs = []
        for i in self.out_indices:
            f = getattr(self, f'norm{i + 1}')(feats[i])
            stride = 4 * 2 ** i
            outs.append(f[..., :math.ceil(H / stride), :math.ceil(W / stride)])
        return tuple(outs)


def convert_vit_adapter_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a released ViT-Adapter checkpoint (mmdet 2.x / mmseg 0.x, ``backbone.`` keys already
    stripped) or a plain ViT checkpoint (DeiT, timm/AugReg, mmpretrain) to ours."""
    sd = convert_vit_checkpoint(state_dict)
    return {k.replace('.ffn.dwconv.dwconv.', '.ffn.dwconv.'): v for k, v in sd.items()}
