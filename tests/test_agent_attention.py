"""Agent attention (Agent-Swin, Agent-PVT) fidelity: parameter counts of the official models, equal
stage features to the official dense code (no peer library implements agent attention), the
``attn_type`` rule, the checkpoint layouts and a toy detection run.

``tests/data/agent_attention_official_small.pt`` was written by
``tools/fixtures/make_agent_attention_fixture.py`` from LeapLabTHU/Agent-Attention at commit
207ce3eb357b22ef8a15f8fa21cd1f14697bbaba: ``downstream/detection/mmdet/models/backbones/agent_swin.py``
(``AgentSwinTransformer``) and ``agent_pvt.py`` (``AgentPVT``), imported unchanged except that their
mmdet-relative imports (registry, logger) and ``mmcv.runner`` are stand-ins the forward never uses.
Archs (pre-training size 64 for Agent-Swin, 32 for Agent-PVT):

- ``swin``: embed_dim 4, depths 2-2-2-1, heads 1-2-2-4, ``attn_type='AAMB1'``, agent_num 4-9-9-4,
  pooled agent grids (3, 3), (3, 4), (2, 2), (2, 2); seeded random weights
  (``vitdense.testing.randomize_``, seed 0) rounded to fp16; inputs 64x64 and 45x37.
- ``pvt``: embed_dims 8-16-24-32, depths 1-2-1-1, heads 1-2-3-4, MLP ratios 2, ``attn_type='AAAA'``,
  agent_num 4-9-4-4, pooled grids (3, 3), (4, 4), (2, 3), (2, 2); seed 1; inputs 32x32 and 32x64
  (the official patch embedding floors: sizes are multiples of 32).

Entries: ``{swin,pvt}_state_dict`` (official keys, fp16 floating-point entries; both sides run on
the fp32 cast), ``{swin,pvt}_x_{square,odd}`` (uint8 images, fed as ``(x / 255 - 0.45) / 0.25``,
``torch.manual_seed(2)``) and ``{swin,pvt}_x_{square,odd}_out{i}`` (the four official outputs,
eval mode). The official code itself is not part of this repository.
"""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.agent_attention import (AgentPVT, AgentSwinTransformer, convert_agent_pvt_checkpoint,
                                                convert_agent_swin_checkpoint, stage_block_types)
from vitdense.layers.swin_block import SwinBlock
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'agent_attention_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Parameters of the ImageNet classifiers (1000-way head included), counted by building the official
# agent_transformer/models/agent_swin.py AgentSwinTransformer (cfgs/agent_swin_{t,s,b}.yaml:
# window_size 56, agent_num 9-16-49-49) and agent_pvt.py agent_pvt_{tiny,small,medium,large}
# (attn_type AAAA, agent_sr_ratios 1111) at 224 px, commit 207ce3e. The paper: 29M / 50M / 88M and
# 11.6M / 20.6M / 35.9M / 48.7M.
OFFICIAL_SWIN = {'tiny': 28_902_964, 'small': 49_666_684, 'base': 88_095_096}
OFFICIAL_PVT = {'tiny': 11_570_352, 'small': 20_635_066, 'medium': 35_921_746, 'large': 48_738_180}

SWIN_ARCH = dict(embed_dims=4, depths=(2, 2, 2, 1), num_heads=(1, 2, 2, 4), attn_type='AAMB1',
                 agent_num=(4, 9, 9, 4))
SWIN_SHAPES = [(3, 3), (3, 4), (2, 2), (2, 2)]
PVT_ARCH = dict(embed_dims=(8, 16, 24, 32), depths=(1, 2, 1, 1), num_heads=(1, 2, 3, 4), mlp_ratios=(2, 2, 2, 2),
                agent_num=(4, 9, 4, 4))
PVT_SHAPES = [(3, 3), (4, 4), (2, 3), (2, 2)]


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


def _n(m):
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    for k in ('swin_state_dict', 'pvt_state_dict'):
        d[k] = {n: v.float() for n, v in d[k].items()}
    return d


@pytest.mark.parametrize('arch', sorted(OFFICIAL_SWIN))
def test_agent_swin_param_counts_match_official(arch):
    m = AgentSwinTransformer(arch, out_indices=(3,))  # norm3 = the classifier's final norm
    head = m.num_features[3] * 1000 + 1000
    assert _n(m) + head == OFFICIAL_SWIN[arch]


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PVT))
def test_agent_pvt_param_counts_match_official(arch):
    m = AgentPVT(arch)
    assert _n(m) + 512 * 1000 + 1000 == OFFICIAL_PVT[arch]


@pytest.mark.parametrize('size', ['square', 'odd'])
def test_agent_swin_matches_official_code(official, size):
    m = AgentSwinTransformer(SWIN_ARCH, pretrain_img_size=64, agent_shapes=SWIN_SHAPES, drop_path_rate=0.0)
    missing, unexpected = m.load_state_dict(convert_agent_swin_checkpoint(official['swin_state_dict']),
                                            strict=False)
    assert not unexpected and all(k.endswith('relative_position_index') for k in missing), (missing, unexpected)
    m.eval()
    with torch.no_grad():
        got = m(_img(official[f'swin_x_{size}']))
    ref = [official[f'swin_x_{size}_out{i}'] for i in range(4)]
    assert_features_close(got, ref, msg=f'agent-swin {size}')


@pytest.mark.parametrize('size', ['square', 'odd'])
def test_agent_pvt_matches_official_code(official, size):
    m = AgentPVT(PVT_ARCH, pretrain_img_size=32, agent_shapes=PVT_SHAPES, drop_path_rate=0.0)
    m.load_state_dict(convert_agent_pvt_checkpoint(official['pvt_state_dict']), strict=True)
    m.eval()
    with torch.no_grad():
        got = m(_img(official[f'pvt_x_{size}']))
    ref = [official[f'pvt_x_{size}_out{i}'] for i in range(4)]
    assert_features_close(got, ref, msg=f'agent-pvt {size}')


def test_attn_type_rule():
    assert stage_block_types('AAAB', 4, (2, 2, 6, 2)) == [['A'] * 2, ['A'] * 2, ['A'] * 6, ['B'] * 2]
    assert stage_block_types('AAMB2', 4, (2, 2, 4, 2))[2] == ['A', 'A', 'B', 'B']
    with pytest.raises(ValueError):
        stage_block_types('AAM', 4, (2, 2, 2, 2))
    with pytest.raises(ValueError):
        stage_block_types('AAMB', 4, (2, 2, 2, 2))
    m = AgentSwinTransformer('base')
    kinds = [type(b).__name__ for b in m.layers[2].blocks]
    assert kinds[:2] == ['AgentBlock'] * 2 and set(kinds[2:]) == {'SwinBlock'}
    assert all(isinstance(b, SwinBlock) for b in m.layers[3].blocks)


def test_classification_checkpoint_loads(tmp_path):
    """The official classification layout: final ``norm`` -> ``norm3``, ``head`` dropped (Swin);
    ``head`` dropped (PVT)."""
    src = AgentSwinTransformer(SWIN_ARCH, pretrain_img_size=64, out_indices=(3,))
    randomize_(src, seed=3)
    sd = {k.replace('norm3.', 'norm.'): v for k, v in src.state_dict().items()}
    sd.update({'head.weight': torch.zeros(10, 32), 'head.bias': torch.zeros(10)})
    path = str(tmp_path / 'swin_cls.pth')
    torch.save({'model': sd}, path)
    m = AgentSwinTransformer(SWIN_ARCH, pretrain_img_size=64, out_indices=(3,),
                             init_cfg=dict(type='Pretrained', checkpoint=path))
    m.init_weights()
    assert torch.equal(m.norm3.weight, src.norm3.weight)
    assert torch.equal(m.layers[0].blocks[0].attn.an_bias, src.layers[0].blocks[0].attn.an_bias)

    src = AgentPVT(PVT_ARCH, pretrain_img_size=32)
    randomize_(src, seed=4)
    sd = dict(src.state_dict(), **{'head.weight': torch.zeros(10, 32), 'head.bias': torch.zeros(10)})
    path = str(tmp_path / 'pvt_cls.pth')
    torch.save({'model': sd}, path)
    m = AgentPVT(PVT_ARCH, pretrain_img_size=32, init_cfg=dict(type='Pretrained', checkpoint=path))
    m.init_weights()
    assert torch.equal(m.block2[1].attn.kv.weight, src.block2[1].attn.kv.weight)


def test_bias_tables_resize_on_load(tmp_path):
    """A checkpoint pre-trained at 64 px loads into a 96 px model: row/column tables resized."""
    src = AgentSwinTransformer(SWIN_ARCH, pretrain_img_size=64)
    randomize_(src, seed=5)
    path = str(tmp_path / 'swin64.pth')
    torch.save(src.state_dict(), path)
    m = AgentSwinTransformer(SWIN_ARCH, pretrain_img_size=96, window_size=7,
                             init_cfg=dict(type='Pretrained', checkpoint=path))
    m.init_weights()
    a = m.layers[0].blocks[0].attn
    assert a.ah_bias.shape == (1, 1, 4, 24, 1) and a.wa_bias.shape == (1, 1, 1, 24, 4)
    assert torch.allclose(a.ah_bias.mean(), src.layers[0].blocks[0].attn.ah_bias.mean(), atol=1e-3)


@pytest.mark.slow
def test_toy_mask_rcnn_agent_swin_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/agent_attention/mask_rcnn_agent_swin_t_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
