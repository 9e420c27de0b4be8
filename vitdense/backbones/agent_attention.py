"""Agent attention (Han et al., ECCV 2024, "Agent Attention: On the Integration of Softmax and Linear
Attention"): Agent-Swin and Agent-PVT, the dense-prediction form of the official detection /
segmentation code (LeapLabTHU/Agent-Attention, ``downstream/*/backbones/agent_swin.py`` and
``agent_pvt.py``).

An agent-attention block pools a small grid of agent tokens from the queries (adaptive average
pooling), lets the agents attend to all keys (softmax, plus an agent->key position bias) and the
queries to the agents (softmax, plus a query->agent bias), and adds a 3x3 depth-wise conv of V. It
runs on the whole stage map (no windows, no shift). The stages whose ``attn_type`` is ``'B'`` (and
the tail of an ``'M<k>'`` stage) are plain Swin shifted-window blocks (``vitdense.layers.SwinBlock``).
Agent-PVT is PVT v1 (:class:`vitdense.PVT`: patch embeddings, resized position embeddings) with an
agent-attention block (separate ``q`` / ``kv`` projections, no spatial reduction) everywhere.

Position biases: ``an_bias`` / ``na_bias`` are ``(heads, agents, 7, 7)`` tables and ``ah/aw/ha/wa_bias``
are per-row / per-column tables sized for the pre-training map of the stage (56/28/14/7 at 224 px).
At any input size all of them are bilinearly interpolated (no corner alignment) to the actual map,
and along the agent axes from the trained ``sqrt(agent_num)`` grid to the pooled agent grid
(``agent_shapes``, e.g. 9-12-14-7 in the official dense configs), exactly as the official dense code
does. Checkpoints with tables of another pre-training size are resized on load (same rule).
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import DropPath, Mlp, PatchEmbed, PatchMerging, drop_path_rates, to_2tuple
from ..layers.spatial_reduction import init_sra_weights_
from ..layers.attention import attention
from ..layers.pos_bias import resize_relative_position_table
from ..layers.shape import map_to_tokens, tokens_to_map
from ..layers.swin_block import SwinBlock
from ..layers.weight_init import init_linear_and_layernorm_
from ..layers.window_attention import WindowAttention
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch
from .pvt import PVT, convert_pvt_checkpoint
from .swin import SwinStage, convert_swin_checkpoint

_BIAS_NAMES = ('an_bias', 'na_bias', 'ah_bias', 'aw_bias', 'ha_bias', 'wa_bias')


def _bias_to_agents(table: torch.Tensor, hw, pool: int, agent_shape) -> torch.Tensor:
    """``(heads, pool*pool, th, tw)`` table -> ``(heads, H*W, agents)``: bilinear to the map ``hw``,
    then bilinear along the agent axes from the trained ``pool x pool`` grid to ``agent_shape``."""
    heads = table.shape[0]
    n = hw[0] * hw[1]
    t = F.interpolate(table, size=hw, mode='bilinear', align_corners=False)
    t = t.reshape(heads, pool, pool, n).permute(0, 3, 1, 2)
    t = F.interpolate(t, size=agent_shape, mode='bilinear', align_corners=False)
    return t.reshape(heads, n, -1)


class AgentAttention(nn.Module):
    """Agent attention over a whole ``(B, H*W, C)`` map.

    Args:
        dim, num_heads: channels and heads.
        table_size: ``(th, tw)`` of the row/column bias tables (the stage's pre-training map).
        agent_num: agents the biases were trained for (a square number: a ``sqrt x sqrt`` grid).
        agent_shape: grid of agents pooled from the queries (default: the trained grid).
        kernel_size: of the depth-wise conv on V.
        split_qkv: separate ``q`` and ``kv`` projections (Agent-PVT) instead of one ``qkv`` (Agent-Swin).
    """

    def __init__(self, dim, num_heads, table_size, agent_num=49, agent_shape=None, qkv_bias=True,
                 attn_drop=0.0, proj_drop=0.0, kernel_size=3, split_qkv=False):
        super().__init__()
        pool = int(round(agent_num ** 0.5))
        if pool * pool != agent_num:
            raise ValueError(f'agent_num={agent_num} must be a square number')
        if dim % num_heads:
            raise ValueError(f'dim={dim} is not divisible by num_heads={num_heads}')
        self.num_heads, self.pool_size = num_heads, pool
        self.agent_shape = to_2tuple(agent_shape if agent_shape is not None else pool)
        self.scale = (dim // num_heads) ** -0.5
        self.attn_drop = attn_drop
        th, tw = to_2tuple(table_size)
        self.split_qkv = split_qkv
        if split_qkv:
            self.q = nn.Linear(dim, dim, bias=qkv_bias)
            self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        else:
            self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dwc = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.an_bias = nn.Parameter(torch.zeros(num_heads, agent_num, 7, 7))
        self.na_bias = nn.Parameter(torch.zeros(num_heads, agent_num, 7, 7))
        self.ah_bias = nn.Parameter(torch.zeros(1, num_heads, agent_num, th, 1))
        self.aw_bias = nn.Parameter(torch.zeros(1, num_heads, agent_num, 1, tw))
        self.ha_bias = nn.Parameter(torch.zeros(1, num_heads, th, 1, agent_num))
        self.wa_bias = nn.Parameter(torch.zeros(1, num_heads, 1, tw, agent_num))
        self.pool = nn.AdaptiveAvgPool2d(self.agent_shape)

    def biases(self, hw):
        """(agent->token bias ``(heads, agents, H*W)``, token->agent bias ``(heads, H*W, agents)``)."""
        p, s = self.pool_size, self.agent_shape
        agent_key = (_bias_to_agents(self.an_bias, hw, p, s)
                     + _bias_to_agents((self.ah_bias + self.aw_bias)[0], hw, p, s)).transpose(1, 2)
        query_agent = (_bias_to_agents(self.na_bias, hw, p, s)
                       + _bias_to_agents((self.ha_bias + self.wa_bias)[0].permute(0, 3, 1, 2), hw, p, s))
        return agent_key, query_agent

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        B, N, C = x.shape
        heads = self.num_heads
        if self.split_qkv:
            q = self.q(x)
            k, v = self.kv(x).reshape(B, N, 2, C).unbind(2)
        else:
            q, k, v = self.qkv(x).reshape(B, N, 3, C).unbind(2)
        agents = map_to_tokens(self.pool(tokens_to_map(q, hw)))  # (B, A, C)

        def split(t):
            return t.reshape(B, t.shape[1], heads, C // heads).transpose(1, 2)

        q, k, v, agents = split(q), split(k), split(v), split(agents)
        agent_key, query_agent = self.biases(hw)
        p = self.attn_drop if self.training else 0.0
        agent_v = attention(agents, k, v, agent_key.unsqueeze(0), dropout_p=p, scale=self.scale)
        out = attention(q, agents, agent_v, query_agent.unsqueeze(0), dropout_p=p, scale=self.scale)
        out = out.transpose(1, 2).reshape(B, N, C)
        v_map = v.transpose(1, 2).reshape(B, N, C)
        out = out + map_to_tokens(self.dwc(tokens_to_map(v_map, hw)))
        return self.proj_drop(self.proj(out))


class AgentBlock(nn.Module):
    """norm1 -> agent attention on the whole map -> residual; norm2 -> MLP -> residual."""

    def __init__(self, dim, num_heads, table_size, agent_num, agent_shape, mlp_ratio=4.0, qkv_bias=True,
                 drop=0.0, attn_drop=0.0, drop_path=0.0, kernel_size=3, norm_layer=nn.LayerNorm, split_qkv=False):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = AgentAttention(dim, num_heads, table_size, agent_num, agent_shape, qkv_bias, attn_drop,
                                   drop, kernel_size, split_qkv)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def stage_block_types(attn_type: str, num_stages: int, depths: Sequence[int]):
    """The official ``attn_type`` string -> per stage, per block ``'A'`` (agent) or ``'B'`` (window).

    One letter per stage; ``'M'`` mixes: ``'AAMB2'`` = stages 0-1 agent, stage 2 agent for its first
    2 blocks then window, stage 3 window (the suffix after the stage letters is the ``M`` count)."""
    letters, suffix = attn_type[:num_stages], attn_type[num_stages:]
    if len(letters) != num_stages or any(c not in 'ABM' for c in letters):
        raise ValueError(f'attn_type {attn_type!r}: one of A/B/M per stage ({num_stages}) expected')
    types = []
    for c, d in zip(letters, depths):
        if c == 'M':
            if not suffix.isdigit():
                raise ValueError(f'attn_type {attn_type!r}: an M stage needs its agent-block count at the end')
            types.append(['A' if j < int(suffix) else 'B' for j in range(d)])
        else:
            types.append([c] * d)
    return types


class AgentSwinStage(SwinStage):
    """Agent / shifted-window blocks (window blocks shift on odd indices), then an optional merging;
    the forward is Swin's stage's."""

    def __init__(self, dim, depth, num_heads, block_types, window_size, table_size, agent_num, agent_shape,
                 mlp_ratio, qkv_bias, drop, attn_drop, drop_path: Sequence[float], kernel_size, downsample: bool,
                 with_cp: bool):
        nn.Module.__init__(self)
        self.with_cp = with_cp
        self.blocks = nn.ModuleList([
            AgentBlock(dim, num_heads, table_size, agent_num, agent_shape, mlp_ratio, qkv_bias, drop, attn_drop,
                       drop_path[i], kernel_size) if t == 'A' else
            SwinBlock(dim, num_heads, window_size, shift=bool(i % 2), mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                      drop=drop, attn_drop=attn_drop, drop_path=drop_path[i])
            for i, t in enumerate(block_types)
        ])
        self.downsample = PatchMerging(dim, 2 * dim) if downsample else None


@MODELS.register_module()
class AgentSwinTransformer(BaseBackbone):
    """Agent-Swin backbone (agent attention in the stages ``attn_type`` selects, Swin windows elsewhere).

    Args:
        arch: 'tiny' | 'small' | 'base' or a dict with ``embed_dims``, ``depths``, ``num_heads``,
            ``attn_type`` (the official string, e.g. ``'AAAB'``, ``'AAMB2'``) and ``agent_num``
            (agents per stage the biases are trained for).
        pretrain_img_size: image size of the pre-training (224, 288, 384): sizes the row/column bias
            tables (``pretrain_img_size / patch_size / 2**i`` per stage) and the default window.
        in_channels: input image channels.
        patch_size: stride of the patch embedding.
        window_size: window of the Swin blocks; default ``max(7, pretrain_img_size // patch_size // 8)``
            (the official rule: 7 at 224, 9 at 288, 12 at 384).
        agent_shapes: per stage, the agent grid pooled from the queries (int or (h, w)); default the
            trained ``sqrt(agent_num)`` grid (the classification model); the official dense configs
            use ``(9, 12, 14, 7)``.
        kernel_size: of the depth-wise conv on V.
        mlp_ratio, qkv_bias: of the blocks.
        drop_rate, attn_drop_rate, drop_path_rate: dropout, attention dropout, stochastic depth
            (linearly increasing over all blocks).
        patch_norm: LayerNorm after the patch embedding.
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a LayerNorm on each returned stage (the official dense code has them).
        frozen_stages: -1 trains all; 0 freezes the patch embedding; k > 0 also the first k stages
            (with their merging layer and output norm).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; the official
            classification and dense releases are converted on load.
    """

    model_name_prefix = 'agent_swin'  # vitdense.get_model('agent_swin_...')
    converter = 'convert_agent_swin_checkpoint'
    arch_zoo = {
        'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), attn_type='AAAB',
                     agent_num=(9, 16, 49, 49)),
        'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24), attn_type='AABB',
                      agent_num=(9, 16, 49, 49)),
        'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), attn_type='AAMB2',
                     agent_num=(9, 16, 49, 49)),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base']})

    def __init__(self, arch='tiny', pretrain_img_size=224, in_channels=3, patch_size=4,
                 window_size: Optional[int] = None, agent_shapes=None, kernel_size=3, mlp_ratio=4.0,
                 qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1, patch_norm=True,
                 out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads', 'attn_type', 'agent_num'),
                           'AgentSwinTransformer')
        self.embed_dims, depths, num_heads = cfg['embed_dims'], tuple(cfg['depths']), tuple(cfg['num_heads'])
        self.num_stages = len(depths)
        if len(num_heads) != self.num_stages or len(cfg['agent_num']) != self.num_stages:
            raise ValueError('AgentSwinTransformer: depths, num_heads and agent_num need one entry per stage')
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'AgentSwinTransformer')
        self.frozen_stages = frozen_stages
        self.num_features = [self.embed_dims * 2 ** i for i in range(self.num_stages)]
        block_types = stage_block_types(cfg['attn_type'], self.num_stages, depths)
        res = pretrain_img_size // patch_size
        window_size = window_size or max(7, res // 8)
        if agent_shapes is None:
            agent_shapes = [None] * self.num_stages
        if len(agent_shapes) != self.num_stages:
            raise ValueError(f'agent_shapes {agent_shapes}: one entry per stage expected')

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims, patch_size,
                                      norm_layer=nn.LayerNorm if patch_norm else None)
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, depths)
        self.layers = nn.ModuleList([
            AgentSwinStage(self.num_features[i], depths[i], num_heads[i], block_types[i], window_size,
                           (res // 2 ** i, res // 2 ** i), int(cfg['agent_num'][i]), agent_shapes[i], mlp_ratio,
                           qkv_bias, drop_rate, attn_drop_rate, dpr[i], kernel_size,
                           downsample=i < self.num_stages - 1, with_cp=with_cp)
            for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init (training from scratch, tests)
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, WindowAttention):
                    trunc_normal_(m.relative_position_bias_table, std=0.02)
                elif isinstance(m, AgentAttention):
                    for name in _BIAS_NAMES:
                        trunc_normal_(getattr(m, name), std=0.02)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed)
            self.pos_drop.eval()
        for i in range(1, self.frozen_stages + 1):
            freeze(self.layers[i - 1])
            freeze(getattr(self, f'norm{i - 1}', None))

    def forward(self, x: torch.Tensor):
        x, hw = self.patch_embed(x)
        x = self.pos_drop(x)
        outs = []
        for i, stage in enumerate(self.layers):
            out, out_hw, x, hw = stage(x, hw)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                outs.append(out.view(-1, *out_hw, self.num_features[i]).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def _adapt_shapes(self, sd, own):
        for k, v in list(sd.items()):
            if k not in own or own[k].shape == v.shape:
                continue
            if k.endswith('relative_position_bias_table'):
                sd[k] = resize_relative_position_table(v, own[k].shape[0])
            elif k.endswith(('ah_bias', 'aw_bias', 'ha_bias', 'wa_bias')) and v.dim() == 5:
                sd[k] = resize_agent_table(v, own[k].shape, agents_first=k.endswith(('ah_bias', 'aw_bias')))
        return super()._adapt_shapes(sd, own)


def resize_agent_table(table: torch.Tensor, shape, agents_first: bool) -> torch.Tensor:
    """Resize a row/column agent bias of another pre-training size to ``shape``, bilinearly without
    corner alignment (the forward's rule): ``ah/aw`` (``agents_first``) are
    ``(1, heads, agents, th|1, 1|tw)``, ``ha/wa`` are ``(1, heads, th|1, 1|tw, agents)``."""
    shape = tuple(shape)
    if agents_first:
        return F.interpolate(table[0], size=shape[3:], mode='bilinear', align_corners=False)[None]
    t = F.interpolate(table[0].permute(0, 3, 1, 2), size=shape[2:4], mode='bilinear', align_corners=False)
    return t.permute(0, 2, 3, 1)[None]


def convert_agent_swin_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an Agent-Swin checkpoint to this module's names.

    The official classification release (final ``norm`` -> ``norm3``, ``head`` dropped) and the
    official dense release (``backbone.`` prefix stripped by the loader, output norms ``norm0..3``)
    use our names otherwise; derived buffers (relative-position index) are dropped. Our own format
    is returned unchanged. The Swin layout rules are the same as for ``convert_swin_checkpoint``.
    """
    return convert_swin_checkpoint(state_dict)


_PVT_WIDE, _PVT_HEADS, _PVT_MLP = (64, 128, 320, 512), (1, 2, 5, 8), (8, 8, 4, 4)


@MODELS.register_module()
class AgentPVT(PVT):
    """Agent-PVT backbone: PVT v1 (patch embeddings, per-stage position embeddings resized to the
    map) with agent attention on the whole map in every block (the official ``attn_type='AAAA'``,
    no spatial reduction), as in the official dense code (``downstream/*/backbones/agent_pvt.py``).

    Args:
        arch: 'tiny' | 'small' | 'medium' | 'large' (or 't'/'s'/'m'/'l'), or a dict with ``embed_dims``,
            ``depths``, ``num_heads``, ``mlp_ratios``, ``agent_num`` (one per stage).
        pretrain_img_size: image size of the pre-training: sizes the position embeddings and the
            row/column agent bias tables (56, 28, 14, 7 at 224).
        in_channels: input image channels.
        agent_shapes: per stage, the agent grid pooled from the queries (int or (h, w)); default the
            trained ``sqrt(agent_num)`` grid (classification); the official dense configs use
            ``(12, 16, 28, 28)``.
        kernel_size: of the depth-wise conv on V.
        qkv_bias: of the q / kv projections.
        drop_rate, attn_drop_rate, drop_path_rate: dropout (also after the position embeddings),
            attention dropout, stochastic depth (linearly increasing over all blocks).
        out_indices: stages returned (strides 4, 8, 16, 32).
        frozen_stages: -1 trains all; 0 freezes the first patch embedding (and its position
            embedding); k > 0 freezes the first k stages.
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; the official
            classification (``head`` dropped) and dense releases load as they are.
    """

    model_name_prefix = 'agent_pvt'  # vitdense.get_model('agent_pvt_...')
    converter = 'convert_agent_pvt_checkpoint'
    arch_zoo = {
        name: dict(embed_dims=_PVT_WIDE, depths=depths, num_heads=_PVT_HEADS, mlp_ratios=_PVT_MLP,
                   sr_ratios=(1, 1, 1, 1), agent_num=(9, 16, 49, 49))
        for name, depths in (('tiny', (2, 2, 2, 2)), ('small', (3, 4, 6, 3)), ('medium', (3, 4, 18, 3)),
                             ('large', (3, 8, 27, 3)))
    }
    arch_zoo.update({k[0]: v for k, v in list(arch_zoo.items())})

    def __init__(self, arch='tiny', pretrain_img_size=224, in_channels=3, agent_shapes=None, kernel_size=3,
                 qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1, out_indices=(0, 1, 2, 3),
                 frozen_stages=-1, with_cp=False, init_cfg=None):
        BaseBackbone.__init__(self, init_cfg=init_cfg)
        if isinstance(arch, dict) and 'sr_ratios' not in arch:
            arch = dict(arch, sr_ratios=(1,) * len(arch.get('depths', ())))
        cfg, depths = self._setup(arch, out_indices, frozen_stages)
        if 'agent_num' not in cfg or len(cfg['agent_num']) != self.num_stages:
            raise ValueError('AgentPVT: arch needs agent_num, one entry per stage')
        if agent_shapes is None:
            agent_shapes = [None] * self.num_stages
        if len(agent_shapes) != self.num_stages:
            raise ValueError(f'agent_shapes {agent_shapes}: one entry per stage expected')
        self.with_cp = with_cp
        img = to_2tuple(pretrain_img_size)
        dpr = drop_path_rates(drop_path_rate, depths)
        self.pos_grids = []
        prev = in_channels
        for i, dim in enumerate(self.embed_dims):
            grid = (img[0] // 2 ** (i + 2), img[1] // 2 ** (i + 2))
            self.pos_grids.append(grid)
            setattr(self, f'patch_embed{i + 1}', PatchEmbed(prev, dim, 4 if i == 0 else 2, norm_layer=nn.LayerNorm))
            setattr(self, f'pos_embed{i + 1}', nn.Parameter(torch.zeros(1, grid[0] * grid[1], dim)))
            setattr(self, f'pos_drop{i + 1}', nn.Dropout(drop_rate))
            setattr(self, f'block{i + 1}', nn.ModuleList([
                AgentBlock(dim, cfg['num_heads'][i], grid, int(cfg['agent_num'][i]), agent_shapes[i],
                           cfg['mlp_ratios'][i], qkv_bias, drop_rate, attn_drop_rate, p, kernel_size,
                           norm_layer=lambda d: nn.LayerNorm(d, eps=1e-6), split_qkv=True)
                for p in dpr[i]]))
            prev = dim
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init
            init_sra_weights_(self, conv_fan_out=False)
            for i in range(self.num_stages):
                trunc_normal_(getattr(self, f'pos_embed{i + 1}'), std=0.02)
            for m in self.modules():
                if isinstance(m, AgentAttention):
                    for name in _BIAS_NAMES:
                        trunc_normal_(getattr(m, name), std=0.02)
            return
        BaseBackbone.init_weights(self)

    def _adapt_shapes(self, sd, own):
        for k, v in list(sd.items()):
            if (k in own and own[k].shape != v.shape and v.dim() == 5
                    and k.endswith(('ah_bias', 'aw_bias', 'ha_bias', 'wa_bias'))):
                sd[k] = resize_agent_table(v, own[k].shape, agents_first=k.endswith(('ah_bias', 'aw_bias')))
        return super()._adapt_shapes(sd, own)


def convert_agent_pvt_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an Agent-PVT checkpoint to this module's names: the official classification release
    (``head`` dropped) and the official dense release (``backbone.`` prefix stripped by the loader)
    use our names otherwise; our own format is returned unchanged."""
    return convert_pvt_checkpoint(state_dict)
