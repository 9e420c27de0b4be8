"""ViT (DeiT / timm / AugReg / mmpretrain forms), multi-scale deformable attention and ViT-Adapter."""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.vit import ViT, convert_vit_checkpoint
from vitdense.backbones.vit_adapter import ViTAdapter, convert_vit_adapter_checkpoint
from vitdense.layers.ms_deform_attn import MSDeformAttn, ms_deform_attn
from vitdense.testing import assert_features_close, params_without_gradient, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BN = dict(type='BN')
SMALL_ADAPTER = dict(embed_dims=48, depth=4, num_heads=3, mlp_ratio=2, deform_num_heads=6, deform_ratio=0.5,
                     interaction_indexes=[[0, 0], [1, 1], [2, 2], [3, 3]])


def _numel(module):
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------- parameter counts

# Official figures: the official ViTAdapter class (czczup/ViT-Adapter @ fd64a5190f9f, detection/
# mmdet_custom/models/backbones/vit_adapter.py) built with the arguments of the official configs
# mask_rcnn_deit_adapter_{tiny,small,base}_fpn_1x_coco.py and mask_rcnn_augreg_adapter_large_fpn_1x_coco.py,
# counted with sum(p.numel()); the README rounds the whole Mask R-CNN to 28M / 48M / 120M.
@pytest.mark.parametrize('arch,img_size,official', [('tiny', 224, 7_966_640), ('small', 224, 27_503_888),
                                                    ('base', 224, 99_495_392), ('large', 384, 326_973_632)])
def test_adapter_param_count_equals_official(arch, img_size, official):
    assert _numel(ViTAdapter(arch, img_size=img_size, norm_cfg=BN)) == official


@pytest.mark.parametrize('config,official_m', [('mask_rcnn_vit_adapter_t_fpn_1x_coco.py', 28.1),
                                               ('mask_rcnn_vit_adapter_s_fpn_1x_coco.py', 47.8),
                                               ('upernet_vit_adapter_t_512x512_160k_ade20k.py', 36.1)])
def test_detector_param_count_matches_official_table(config, official_m):
    """Mask R-CNN ViT-Adapter-T / -S: 28.1M / 47.8M (paper Table 1; README 28M / 48M);
    UperNet ViT-Adapter-T: 36M (official segmentation README)."""
    import importlib

    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/vit_adapter', config))
    cfg.model.backbone.init_cfg = None
    reg = importlib.import_module(f'{cfg.default_scope}.registry')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = reg.MODELS.build(cfg.model)
    total = _numel(model) / 1e6
    assert abs(total - official_m) < 0.05 + (0.5 if 'upernet' in config else 0), total


@pytest.mark.parametrize('name,arch', [('deit_tiny_patch16_224', 'tiny'), ('deit_small_patch16_224', 'small'),
                                       ('deit_base_patch16_224', 'base')])
def test_vit_classifier_param_count_equals_deit(name, arch):
    """DeiT-T/S/B: 5.7M / 22.1M / 86.6M (timm's model of the official release); ours + a 1000-way head."""
    import timm
    ref = timm.create_model(name, pretrained=False)
    ours = ViT(arch, with_cls_token=True, final_norm=True)
    assert _numel(ours) + ours.embed_dims * 1000 + 1000 == _numel(ref)


# ----------------------------------------------------------------------------- ViT peers

def test_vit_equals_timm_deit_given_same_weights():
    import timm
    ref = randomize_(timm.create_model('deit_tiny_patch16_224', pretrained=False), seed=1).eval()
    ours = ViT('tiny', with_cls_token=True, final_norm=True).eval()
    ours.load_state_dict(convert_vit_checkpoint(ref.state_dict()), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        want = ref.forward_features(x)[:, 1:]
        got = ours(x)[0].flatten(2).transpose(1, 2)
    assert_features_close(got, want)


def test_vit_equals_timm_layer_scale_model_given_same_weights():
    """timm ViTs with layer scale (``ls1.gamma``) map onto ``gamma1``. Compared at the pre-training
    size: off it, timm resizes position embeddings with antialiased bicubic (PIL's a=-0.5 kernel),
    ViT-Adapter and we with plain bicubic (a=-0.75), as the official detection code does."""
    from timm.models.vision_transformer import VisionTransformer
    ref = VisionTransformer(img_size=64, patch_size=16, embed_dim=48, depth=2, num_heads=3, init_values=0.1,
                            num_classes=0)
    randomize_(ref, seed=2).eval()
    ours = ViT(dict(embed_dims=48, depth=2, num_heads=3), img_size=64, layer_scale=True, with_cls_token=True,
               final_norm=True).eval()
    ours.load_state_dict(convert_vit_checkpoint(ref.state_dict()), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = ref.forward_features(x)[:, 1:]
        got = ours(x)[0].flatten(2).transpose(1, 2)
    assert_features_close(got, want)


def test_vit_equals_mmpretrain_given_same_weights():
    from mmpretrain.models import VisionTransformer
    ref = VisionTransformer(arch='deit-tiny', img_size=224, out_type='featmap', final_norm=True,
                            drop_path_rate=0.0)
    randomize_(ref, seed=3)
    ref.eval()
    ours = ViT('tiny', with_cls_token=True, final_norm=True).eval()
    ours.load_state_dict(convert_vit_checkpoint(ref.state_dict()), strict=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert_features_close(ours(x)[0], ref(x)[0])


def _write_jax_vit_npz(path, dim=48, depth=2, heads=3, grid=4, seed=0):
    """A JAX ViT checkpoint in Google's AugReg .npz layout (random arrays, JAX shapes: HWIO
    kernels, per-head q/k/v), as the official ViT-Adapter-L config downloads."""
    rng = np.random.default_rng(seed)

    def r(*shape):
        return (0.05 * rng.standard_normal(shape)).astype(np.float32)

    arrays = {'embedding/kernel': r(16, 16, 3, dim), 'embedding/bias': r(dim), 'cls': r(1, 1, dim),
              'Transformer/posembed_input/pos_embedding': r(1, 1 + grid * grid, dim),
              'Transformer/encoder_norm/scale': 1 + r(dim), 'Transformer/encoder_norm/bias': r(dim),
              'head/kernel': r(dim, 10), 'head/bias': r(10)}
    for i in range(depth):
        b = f'Transformer/encoderblock_{i}/'
        for ln in ('LayerNorm_0', 'LayerNorm_2'):
            arrays[f'{b}{ln}/scale'], arrays[f'{b}{ln}/bias'] = 1 + r(dim), r(dim)
        for n in ('query', 'key', 'value'):
            arrays[f'{b}MultiHeadDotProductAttention_1/{n}/kernel'] = r(dim, heads, dim // heads)
            arrays[f'{b}MultiHeadDotProductAttention_1/{n}/bias'] = r(heads, dim // heads)
        arrays[f'{b}MultiHeadDotProductAttention_1/out/kernel'] = r(heads, dim // heads, dim)
        arrays[f'{b}MultiHeadDotProductAttention_1/out/bias'] = r(dim)
        arrays[f'{b}MlpBlock_3/Dense_0/kernel'], arrays[f'{b}MlpBlock_3/Dense_0/bias'] = r(dim, 4 * dim), r(4 * dim)
        arrays[f'{b}MlpBlock_3/Dense_1/kernel'], arrays[f'{b}MlpBlock_3/Dense_1/bias'] = r(4 * dim, dim), r(dim)
    np.savez(path, **arrays)


def test_augreg_npz_checkpoint_equals_timm_loading_it(tmp_path):
    """Google's JAX .npz (AugReg) layout through init_cfg: the same features as timm's own .npz
    loader (``timm.models.vision_transformer._load_weights``) gives its ViT."""
    from timm.models.vision_transformer import VisionTransformer, _load_weights
    path = str(tmp_path / 'Ti_16-i21k-300ep--imagenet2012-res_64.npz')
    _write_jax_vit_npz(path)
    ref = VisionTransformer(img_size=64, patch_size=16, embed_dim=48, depth=2, num_heads=3, num_classes=10)
    _load_weights(ref, path)
    ref.eval()
    ours = ViT(dict(embed_dims=48, depth=2, num_heads=3), img_size=64, with_cls_token=True, final_norm=True,
               init_cfg=dict(type='Pretrained', checkpoint=path))
    ours.init_weights()
    ours.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = ref.forward_features(x)[:, 1:]
        got = ours(x)[0].flatten(2).transpose(1, 2)
    assert_features_close(got, want)
    # and into the adapter's ViT (class token and final norm unused there)
    adapter = ViTAdapter(dict(SMALL_ADAPTER, mlp_ratio=4), img_size=64, conv_inplane=16, norm_cfg=BN, layer_scale=False,
                         init_cfg=dict(type='Pretrained', checkpoint=path))
    adapter.init_weights()
    torch.testing.assert_close(adapter.blocks[1].attn.qkv.weight, ref.blocks[1].attn.qkv.weight)


def test_npz_that_is_not_a_vit_is_an_error(tmp_path):
    path = str(tmp_path / 'other.npz')
    np.savez(path, weights=np.zeros(3, np.float32))
    with pytest.raises(RuntimeError, match='embedding/kernel'):
        ViT('tiny', init_cfg=dict(type='Pretrained', checkpoint=path)).init_weights()


def test_deit_distilled_checkpoint_drops_distillation_token():
    import timm
    ref = timm.create_model('deit_tiny_distilled_patch16_224', pretrained=False)
    sd = convert_vit_checkpoint(ref.state_dict())
    assert 'dist_token' not in sd and not any(k.startswith('head') for k in sd)
    assert sd['pos_embed'].shape == (1, 197, 192)
    torch.testing.assert_close(sd['pos_embed'][:, 1:], ref.pos_embed[:, 2:].detach())
    ViT('tiny', with_cls_token=True, final_norm=True).load_state_dict(sd, strict=True)


def test_window_attention_with_one_window_equals_global_attention():
    torch.manual_seed(0)
    glob = ViT(dict(embed_dims=32, depth=2, num_heads=2), img_size=64).eval()
    win = ViT(dict(embed_dims=32, depth=2, num_heads=2), img_size=64, window_attn=True, window_size=4).eval()
    randomize_(glob, seed=4)
    win.load_state_dict(glob.state_dict())
    x = torch.randn(1, 3, 64, 64)  # a 4x4 token grid: one window
    with torch.no_grad():
        torch.testing.assert_close(win(x)[0], glob(x)[0])
        # on a larger grid the windows make a difference
        y = torch.randn(1, 3, 96, 128)
        assert not torch.allclose(win(y)[0], glob(y)[0], atol=1e-4)


# ----------------------------------------------------------------------------- deformable attention

def _bilinear_zero_pad(img, x, y):
    """img (C, H, W); pixel-centre convention of align_corners=False: sample at (x*W - 0.5, y*H - 0.5)."""
    C, H, W = img.shape
    px, py = x * W - 0.5, y * H - 0.5
    x0, y0 = math.floor(px), math.floor(py)
    out = torch.zeros(C, dtype=img.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            w = (1 - abs(px - xi)) * (1 - abs(py - yi))
            if 0 <= xi < W and 0 <= yi < H:
                out += w * img[:, yi, xi]
    return out


def test_ms_deform_attn_cpu_path_equals_direct_computation():
    g = torch.Generator().manual_seed(0)
    shapes = [(5, 7), (3, 4)]
    B, Nq, heads, ch, P = 2, 3, 2, 4, 3
    value = torch.randn(B, sum(h * w for h, w in shapes), heads, ch, generator=g, dtype=torch.float64)
    loc = torch.rand(B, Nq, heads, len(shapes), P, 2, generator=g, dtype=torch.float64) * 1.4 - 0.2  # some outside
    attn = torch.rand(B, Nq, heads, len(shapes), P, generator=g, dtype=torch.float64)
    spatial = torch.tensor(shapes)
    start = torch.tensor([0, shapes[0][0] * shapes[0][1]])
    got = ms_deform_attn(value, spatial, start, loc, attn, use_kernel=False)
    want = torch.zeros(B, Nq, heads, ch, dtype=torch.float64)
    for b in range(B):
        for q in range(Nq):
            for h in range(heads):
                for lvl, (H, W) in enumerate(shapes):
                    s = int(start[lvl])
                    img = value[b, s:s + H * W, h].T.reshape(ch, H, W)
                    for p in range(P):
                        x, y = loc[b, q, h, lvl, p].tolist()
                        want[b, q, h] += attn[b, q, h, lvl, p] * _bilinear_zero_pad(img, x, y)
    torch.testing.assert_close(got, want.reshape(B, Nq, heads * ch), atol=1e-12, rtol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='mmcv\'s CUDA kernel needs a GPU')
def test_ms_deform_attn_kernel_equals_cpu_path():
    m = randomize_(MSDeformAttn(64, num_levels=3, num_heads=4, num_points=4), seed=5)
    shapes = [(16, 20), (8, 10), (4, 5)]
    from vitdense.layers.ms_deform_attn import level_inputs, reference_points
    spatial, start = level_inputs(shapes)
    value = torch.randn(2, sum(h * w for h, w in shapes), 64)
    query = torch.randn(2, 80, 64)
    ref = reference_points([(8, 10)])
    want = m(query, ref, value, spatial, start)
    mc = m.cuda()
    got = mc(query.cuda(), ref.cuda(), value.cuda(), spatial.cuda(), start.cuda()).cpu()
    assert_features_close(got, want)


def test_ms_deform_attn_rejects_wrong_token_count():
    m = MSDeformAttn(32, num_levels=1, num_heads=4, num_points=2)
    with pytest.raises(ValueError, match='spatial_shapes'):
        m(torch.randn(1, 4, 32), torch.rand(1, 4, 1, 2), torch.randn(1, 10, 32), torch.tensor([[3, 4]]),
          torch.tensor([0]))


# ----------------------------------------------------------------------------- ViT-Adapter

def test_adapter_equals_official_model():
    """Fixture ``tests/data/vit_adapter_official_small.pt``: the official ``ViTAdapter`` (czczup/ViT-Adapter
    @ fd64a5190f9f, detection/mmdet_custom/models/backbones/vit_adapter.py + adapter_modules.py +
    base/vit.py; its MSDeformAttn module with the sampling function of mmcv's PyTorch path, i.e.
    the CUDA extension's math) with embed 48, depth 4, heads 3, mlp ratio 2, deform heads 6, deform
    ratio 0.5, 2 points, conv_inplane 16, layer scale, interaction groups [[0,0],[1,1],[2,2],[3,3]],
    window attention (window 4) in blocks 0, 2, 3, pre-training size 64; weights from
    ``randomize_(seed=7, std=0.1)``, eval mode; outputs on 96x160 (6x10 tokens: padded windows,
    resized position embedding) and 64x64 inputs (``torch.manual_seed(3)``, then ``randn`` of each).
    Regenerate with ``tools/fixtures/make_vit_adapter_fixture.py``."""
    data = torch.load(os.path.join(ROOT, 'tests/data/vit_adapter_official_small.pt'), weights_only=True)
    ours = ViTAdapter(SMALL_ADAPTER, img_size=64, conv_inplane=16, n_points=2, window_attn=[True, False, True, True],
                      window_size=[4, None, 4, 4], norm_cfg=BN)
    ours.load_state_dict(convert_vit_adapter_checkpoint(data['state_dict']), strict=True)
    ours.eval()
    for name in ('x_a', 'x_b'):
        with torch.no_grad():
            got = ours(data[name])
        for i, g in enumerate(got):
            assert_features_close(g, data[f'{name}_out{i}'])


@pytest.mark.parametrize('size', [(97, 61), (33, 65), (64, 96), (128, 128)])
def test_adapter_four_levels_at_strides_4_to_32_any_size(size):
    m = ViTAdapter(SMALL_ADAPTER, img_size=64, conv_inplane=16, window_attn=[True, False, True, False],
                   window_size=[3, None, 3, None], norm_cfg=BN).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, *size))
    assert len(outs) == 4
    for o, s in zip(outs, (4, 8, 16, 32)):
        assert o.shape == (1, 48, math.ceil(size[0] / s), math.ceil(size[1] / s))
        assert torch.isfinite(o).all()


def test_adapter_gradients_reach_every_parameter_with_cp():
    # random weights: at the official init, zero offset/weight projections cut the queries' norms off
    m = randomize_(ViTAdapter(SMALL_ADAPTER, img_size=64, conv_inplane=16, with_cp=True, norm_cfg=BN), seed=2)
    m.train()
    assert params_without_gradient(m, torch.randn(2, 3, 64, 64)) == []
    assert torch.all(m.pos_embed.grad[:, 0] == 0)  # the class entry: kept for checkpoints, unused


def test_adapter_init_is_the_official_one():
    m = ViTAdapter(SMALL_ADAPTER, img_size=64, conv_inplane=16, norm_cfg=BN)
    m.init_weights()
    inj = m.interactions[0].injector
    assert torch.all(inj.gamma == 0)  # the adapter starts as the identity on the ViT tokens
    assert torch.all(inj.attn.attention_weights.weight == 0) and torch.all(inj.attn.sampling_offsets.weight == 0)
    assert inj.attn.sampling_offsets.bias.abs().max() == 4  # ring of offsets, k-th of 4 points k cells out
    assert m.level_embed.std() > 0.5  # N(0, 1)


def test_deit_checkpoint_initialises_the_vit_part(tmp_path):
    """A DeiT release file ({'model': timm keys}) through init_cfg: the ViT blocks take the
    checkpoint's weights, the adapter keeps its own initialisation."""
    import timm
    ref = randomize_(timm.create_model('deit_tiny_patch16_224', pretrained=False), seed=6)
    path = tmp_path / 'deit_tiny_patch16_224.pth'
    torch.save({'model': ref.state_dict()}, path)
    m = ViTAdapter('tiny', norm_cfg=BN, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    m.init_weights()
    torch.testing.assert_close(m.blocks[5].attn.qkv.weight, ref.blocks[5].attn.qkv.weight)
    torch.testing.assert_close(m.pos_embed, ref.pos_embed)
    assert torch.all(m.blocks[0].gamma1 == 1)  # DeiT has no layer scale
    assert torch.all(m.interactions[0].injector.gamma == 0)


def test_checkpoint_of_another_pretrain_size_resizes_position_embeddings(tmp_path):
    """A 224-px DeiT checkpoint (14x14 grid + class entry) into a 384-px model (24x24): the grid is
    resized bicubically, the class entry kept."""
    import timm
    ref = randomize_(timm.create_model('deit_tiny_patch16_224', pretrained=False), seed=8)
    path = tmp_path / 'deit_tiny_patch16_224.pth'
    torch.save({'model': ref.state_dict()}, path)
    m = ViT('tiny', img_size=384, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    m.init_weights()
    grid = ref.pos_embed[:, 1:].detach().reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    want = torch.nn.functional.interpolate(grid, size=(24, 24), mode='bicubic', align_corners=False)
    torch.testing.assert_close(m.pos_embed[:, 1:], want.flatten(2).transpose(1, 2))
    torch.testing.assert_close(m.pos_embed[:, :1], ref.pos_embed[:, :1].detach())


def test_released_adapter_checkpoint_loads(tmp_path):
    """An official release: an mmdet 2.x checkpoint whose model is saved under ``state_dict`` with
    ``backbone.`` / ``neck.`` / ``roi_head.`` keys and the conv-FFN as ``ffn.dwconv.dwconv``."""
    data = torch.load(os.path.join(ROOT, 'tests/data/vit_adapter_official_small.pt'), weights_only=True)
    sd = {f'backbone.{k}': v for k, v in data['state_dict'].items()}
    sd['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    path = tmp_path / 'mask_rcnn_deit_adapter_small.pth'
    torch.save({'meta': {'epoch': 36}, 'state_dict': sd}, path)
    m = ViTAdapter(SMALL_ADAPTER, img_size=64, conv_inplane=16, n_points=2, window_attn=[True, False, True, True],
                   window_size=[4, None, 4, 4], norm_cfg=BN, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    result = m.load_pretrained(str(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    m.eval()
    with torch.no_grad():
        assert_features_close(m(data['x_b'])[2], data['x_b_out2'])


def test_frozen_stages():
    m = ViTAdapter(SMALL_ADAPTER, img_size=64, conv_inplane=16, frozen_stages=2, norm_cfg=BN)
    m.train()
    assert not m.patch_embed.proj.weight.requires_grad and not m.pos_embed.requires_grad
    assert not any(p.requires_grad for p in m.blocks[1].parameters())
    assert all(p.requires_grad for p in m.blocks[2].parameters())
    assert all(p.requires_grad for p in m.spm.parameters())
    assert not m.blocks[0].training and m.blocks[2].training


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch='huge'), 'valid names'),
    (dict(arch=dict(SMALL_ADAPTER, interaction_indexes=[[0, 1], [3, 3]])), 'consecutive'),
    (dict(arch=dict(SMALL_ADAPTER, interaction_indexes=[[0, 1], [2, 2]])), 'last index 3'),
    (dict(arch=SMALL_ADAPTER, window_attn=[True, False, True, True], window_size=[4, None, None, 4]), 'window_size'),
    (dict(arch=SMALL_ADAPTER, window_attn=[True, False]), 'blocks'),
    (dict(arch=SMALL_ADAPTER, patch_size=8), 'patch_size must be 16'),
])
def test_bad_arguments_name_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ViTAdapter(img_size=64, norm_cfg=BN, **kwargs)


# ----------------------------------------------------------------------------- layer-wise lr decay

def test_layer_decay_constructor_on_a_detector():
    from mmdet.registry import MODELS as MMDET
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        det = MMDET.build(dict(
            type='RetinaNet', data_preprocessor=dict(type='DetDataPreprocessor'),
            backbone=dict(type='vitdense.ViTAdapter', arch=SMALL_ADAPTER, img_size=64, conv_inplane=16, norm_cfg=BN),
            neck=dict(type='FPN', in_channels=[48] * 4, out_channels=32, num_outs=5),
            bbox_head=dict(type='RetinaHead', num_classes=3, in_channels=32, feat_channels=32,
                           anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3,
                                                 ratios=[1.0], strides=[8, 16, 32, 64, 128]),
                           bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
                           loss_cls=dict(type='FocalLoss', use_sigmoid=True), loss_bbox=dict(type='L1Loss'))))
        ow = build_optim_wrapper(det, dict(
            optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
            constructor='vitdense.LayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.5, flat_decay_mult=0.0, custom_keys={'pos_embed': dict(decay_mult=0.)})))
    groups = {g['param_name']: g for g in ow.optimizer.param_groups}
    assert len(groups) == sum(1 for _ in det.parameters())
    # 4 blocks -> 6 layer ids; lr = 0.5 ** (5 - id)
    assert groups['backbone.pos_embed']['lr'] == 0.5 ** 5 and groups['backbone.pos_embed']['weight_decay'] == 0
    assert groups['backbone.patch_embed.proj.weight']['lr'] == 0.5 ** 5
    assert groups['backbone.blocks.0.attn.qkv.weight']['lr'] == 0.5 ** 4
    assert groups['backbone.blocks.3.mlp.fc1.weight']['lr'] == 0.5 ** 1
    assert groups['backbone.blocks.3.mlp.fc1.weight']['weight_decay'] == 0.05
    assert groups['backbone.blocks.3.mlp.fc1.bias']['weight_decay'] == 0
    for name in ('backbone.spm.fc1.weight', 'backbone.level_embed', 'neck.fpn_convs.0.conv.weight',
                 'bbox_head.retina_cls.weight'):
        assert groups[name]['lr'] == 1.0, name


def test_layer_decay_constructor_needs_a_vit_backbone():
    from mmengine.optim import build_optim_wrapper
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match='get_layer_depth'):
        build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=1.0),
                                        constructor='vitdense.LayerDecayOptimWrapperConstructor',
                                        paramwise_cfg=dict(layer_decay_rate=0.9)))


# ----------------------------------------------------------------------------- toy training

@pytest.mark.slow
def test_toy_mask_rcnn_vit_adapter_t_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/vit_adapter/mask_rcnn_vit_adapter_t_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics


@pytest.mark.slow
def test_toy_upernet_vit_adapter_t_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/vit_adapter/upernet_vit_adapter_t_toy.py'),
                                       str(tmp_path), iters=12, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 12 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    assert math.isfinite(metrics['mIoU']) and 0.0 <= metrics['mIoU'] <= 100.0, metrics
