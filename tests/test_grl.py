"""GRL (CVPR'23) network, checkpoint converter, restorer model and configs.

Fidelity fixture ``tests/data/grl_official_small.pt`` was produced by running the OFFICIAL code
locally: github.com/ofsoundof/GRL-Image-Restoration @ 3123fcadfee2107d813c5e8fff58227f14c989bc,
``models/networks/grl.py`` (class ``GRL``, which builds ``EfficientMixAttnTransformerBlock`` from
``models/common/mixed_attn_block_efficient.py``), with ``fairscale.nn.checkpoint_wrapper`` and
``omegaconf.OmegaConf.create`` stubbed (unused / attribute access only). Three small models
(one ``torch.manual_seed(0)``, then in turn per model: build, every parameter perturbed by 0.05 * N(0, 1),
the ``cpb_mlp`` parameters drawn afresh from N(0, 0.3) so the position bias varies, input ``torch.rand``;
all weights and inputs rounded to float16 and stored so; regenerate with
``tools/fixtures/make_grl_fixture.py``):

* ``sr2_local``: upscale 2, 'pixelshuffle', embed_dim 36, depths [4], heads 2/2, window 4,
  stripe_size [8, 16], stripe_groups [None, None], stripe_shift, anchor_window_down_factor 2,
  mlp_ratio 2, local_connection (the GRL-B channel-attention conv), img_size 16 (so the buffers are
  recomputed for the input); input 1x3x20x28 (padded to 32x32, reflect).
* ``sr3_groups``: upscale 3, 'pixelshuffledirect', embed_dim 16, depths [4], window 4,
  stripe_size [4, None], stripe_groups [None, 2], down factor 2, img_size 16; input 1x3x16x16.
  Its state_dict keeps all the official buffers (``table_*``, ``index_*``, ``mask_*``).
* ``dn_gray``: upscale 1, upsampler '', 1 channel, embed_dim 16, depths [2, 2], window 8,
  stripe_size [16, 16], down factor 4; input 1x1x19x21 (padded to 32x32).

Each entry is ``dict(state_dict={'model.' + official key: tensor}, input, output)`` (the Lightning
``model.`` prefix and ``state_dict`` wrapper of the released ``.ckpt`` files), saved with
``torch.save(..., _use_new_zipfile_serialization=False)`` to stay under 1 MB.
"""
import copy
import glob
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vitdense.registry import MODELS
from vitdense.restoration import GRL, Restorer, convert_grl_checkpoint, self_ensemble_forward, tiled_forward
from vitdense.testing import assert_features_close

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, 'tests', 'data', 'grl_official_small.pt')

FIXTURE_MODELS = {
    'sr2_local': dict(upscale=2, upsampler='pixelshuffle', arch=dict(
        embed_dim=36, depths=[4], num_heads_window=[2], num_heads_stripe=[2], window_size=4,
        stripe_size=[8, 16], stripe_groups=[None, None], anchor_window_down_factor=2, local_connection=True)),
    'sr3_groups': dict(upscale=3, upsampler='pixelshuffledirect', arch=dict(
        embed_dim=16, depths=[4], num_heads_window=[2], num_heads_stripe=[2], window_size=4,
        stripe_size=[4, None], stripe_groups=[None, 2], anchor_window_down_factor=2)),
    'dn_gray': dict(upscale=1, in_channels=1, arch=dict(
        embed_dim=16, depths=[2, 2], num_heads_window=[2, 2], num_heads_stripe=[2, 2], window_size=8,
        stripe_size=[16, 16], stripe_groups=[None, None], anchor_window_down_factor=4)),
}
SMALL = dict(embed_dim=16, depths=(2, 2), num_heads_window=(2, 2), num_heads_stripe=(2, 2), window_size=4,
             stripe_size=(8, 8), stripe_groups=(None, None), anchor_window_down_factor=2)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


# --------------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------------
# Exact counts of our models. The paper / official README round them: x2 SR 0.89M / 3.34M / 20.05M,
# x4 SR 0.91M / 3.49M / 20.20M, denoising 0.88M / 3.12M / 19.81M (T / S / B).
@pytest.mark.parametrize('arch,upscale,expected', [
    ('T', 2, 885_420),
    ('S', 2, 3_340_003),
    ('B', 2, 20_053_587),
    ('T', 4, 906_192),
    ('S', 4, 3_487_715),
    ('B', 4, 20_201_299),
    ('T', 1, 880_227),
    ('S', 1, 3_120_227),
    ('B', 1, 19_805_263),
])
def test_param_counts_match_official(arch, upscale, expected):
    m = GRL(arch, upscale=upscale)
    assert n_params(m) == expected
    published = {
        (2, 'T'): 0.89,
        (2, 'S'): 3.34,
        (2, 'B'): 20.05,
        (4, 'T'): 0.91,
        (4, 'S'): 3.49,
        (4, 'B'): 20.20,
        (1, 'T'): 0.88,
        (1, 'S'): 3.12,
        (1, 'B'): 19.81
    }[(upscale, arch)]
    assert round(expected / 1e6, 2) == published


def test_variant_hyper_parameters():
    t, s, b = (GRL(a, upscale=2) for a in 'TSB')
    assert (t.arch['embed_dim'], s.arch['embed_dim'], b.arch['embed_dim']) == (64, 128, 180)
    assert tuple(b.arch['depths']) == (4, 4, 8, 8, 8, 4, 4) and len(b.layers) == 7
    assert t.upsampler == 'pixelshuffledirect' and s.upsampler == b.upsampler == 'pixelshuffle'
    assert b.layers[0].blocks[0].local is not None and s.layers[0].blocks[0].local is None
    for m in (t, s, b):
        assert m.arch['window_size'] == 8 and m.arch['anchor_window_down_factor'] == 4
        assert m.arch['mlp_ratio'] == 2
        assert m.layers[0].blocks[0].mlp.fc1.out_features == 2 * m.arch['embed_dim']
    # window shift on even blocks, horizontal / vertical stripes alternate, stripe shift in blocks 2, 3
    blocks = t.layers[0].blocks
    assert [blk.attn.window_attn.shift_size[0] > 0 for blk in blocks] == [True, False, True, False]
    assert [blk.attn.stripe_attn.shift for blk in blocks] == [False, False, True, True]
    assert [blk.attn.stripe_attn.stripe_size for blk in blocks[:2]] == [(8, None), (None, 8)]


@pytest.mark.parametrize('name', sorted(FIXTURE_MODELS))
def test_equal_to_official_outputs(name):
    data = torch.load(FIXTURE, weights_only=True)[name]
    model = GRL(**FIXTURE_MODELS[name]).eval()
    sd = {k: v.float() for k, v in convert_grl_checkpoint(data).items()}
    model.load_state_dict(sd, strict=True)
    with torch.no_grad():
        out = model(data['input'].float())
    assert out.shape == data['output'].shape
    assert_features_close(out, data['output'])


def test_converter_drops_buffers_and_renames():
    data = torch.load(FIXTURE, weights_only=True)['sr3_groups']
    official = data['state_dict']
    assert any('.mask_' in k or k.startswith('model.table_') for k in official)  # buffers are in the fixture
    sd = convert_grl_checkpoint(official)  # a bare state_dict (no 'state_dict' wrapper) works too
    assert not any(k.startswith(('model.', 'table_', 'index_', 'mask_')) for k in sd)
    assert 'layers.0.blocks.0.attn.qkv.weight' in sd and 'layers.0.blocks.0.attn.anchor_proj.weight' in sd
    with pytest.raises(ValueError, match='separable_conv'):
        convert_grl_checkpoint({'model.layers.0.blocks.0.attn.qkv.body.0.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='no GRL weights'):
        convert_grl_checkpoint({'state_dict': {'loss.weight': torch.zeros(1)}})


@pytest.mark.parametrize('upscale,hw', [(2, (13, 21)), (3, (17, 9)), (4, (5, 31)), (1, (23, 19)),
                                        (4, (1, 1))])
def test_any_input_size(upscale, hw):
    m = GRL(dict(SMALL), upscale=upscale).eval()
    x = torch.rand(2, 3, *hw)
    with torch.no_grad():
        y = m(x)
    assert y.shape == (2, 3, hw[0] * upscale, hw[1] * upscale)
    assert torch.isfinite(y).all()


def test_default_arch_with_stripe_groups_odd_size():
    # GRL-T as configured officially: 8 px horizontal stripes spanning W / 4 (groups);
    # 37x45 is padded to 48x48
    m = GRL('T', upscale=2, depths=(2, ), num_heads_window=(2, ), num_heads_stripe=(2, )).eval()
    with torch.no_grad():
        y = m(torch.rand(1, 3, 37, 45))
    assert y.shape == (1, 3, 74, 90)


def test_padding_is_cropped_not_leaked():
    # x1 model: the output for the top-left region must not depend on what the padding adds at the
    # bottom-right beyond what attention sees; check instead that changing the input changes the output
    m = GRL(dict(SMALL), upscale=1).eval()
    x = torch.rand(1, 3, 10, 10)
    with torch.no_grad():
        y1, y2 = m(x), m(x + 0.1)
    assert y1.shape == x.shape and not torch.allclose(y1, y2)


def test_with_cp_same_gradients():
    torch.manual_seed(0)
    m1 = GRL(dict(SMALL), upscale=2, drop_path_rate=0.0)
    m2 = GRL(dict(SMALL), upscale=2, drop_path_rate=0.0, with_cp=True)
    m2.load_state_dict(m1.state_dict())
    x = torch.rand(2, 3, 12, 12)
    m1(x).square().mean().backward()
    m2(x).square().mean().backward()
    for (n, p1), p2 in zip(m1.named_parameters(), m2.parameters()):
        assert_features_close(p1.grad, p2.grad, rel=1e-5, msg=n)  # recomputed forward, same kernels


def test_official_checkpoint_loads_through_init_cfg(tmp_path):
    """The backbones' route: init_cfg -> read (weights_only) -> convert_grl_checkpoint -> load."""
    data = torch.load(FIXTURE, weights_only=True)['sr3_groups']
    path = tmp_path / 'grl_official.ckpt'
    torch.save({'state_dict': data['state_dict'], 'epoch': 3}, path)  # Lightning layout, 'model.' keys
    model = MODELS.build(dict(type='vitdense.GRL', **FIXTURE_MODELS['sr3_groups'],
                              init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    model.init_weights()
    expected = GRL(**FIXTURE_MODELS['sr3_groups'])
    expected.load_state_dict(convert_grl_checkpoint(data), strict=True)
    want, got = expected.state_dict(), model.state_dict()
    assert sorted(want) == sorted(got)
    assert all(torch.equal(want[k], got[k]) for k in want)
    # a checkpoint of a dense backbone is refused, as for the backbones
    from vitdense.backbones import SwinTransformer
    torch.save({'state_dict': SwinTransformer('tiny').state_dict()}, tmp_path / 'swin.pth')
    swin = dict(type='Pretrained', checkpoint=str(tmp_path / 'swin.pth'))
    other = GRL(**FIXTURE_MODELS['sr3_groups'], init_cfg=swin)
    with pytest.raises(ValueError, match='no GRL weights'):
        other.init_weights()


def test_registry_and_bad_arguments():
    m = MODELS.build(dict(type='vitdense.GRL', arch='tiny', upscale=3))
    assert isinstance(m, GRL) and m.upscale == 3
    with pytest.raises(ValueError, match='unknown GRL arch'):
        GRL('XL')
    with pytest.raises(ValueError, match='2, 3, 4, 8'):
        GRL('S', upscale=5)
    with pytest.raises(ValueError, match='upsampler'):
        GRL('T', upscale=1, upsampler='pixelshuffle')
    with pytest.raises(ValueError, match='unknown upsampler'):
        GRL('T', upscale=2, upsampler='nearest')
    with pytest.raises(TypeError, match='unknown GRL arguments'):
        GRL('T', window=8)
    with pytest.raises(ValueError, match='exactly one of stripe_size / stripe_groups'):
        GRL('T', stripe_size=(8, 8), stripe_groups=(None, 4))
    with pytest.raises(ValueError, match=r'expects \(B, 3, H, W\)'):
        GRL(dict(SMALL), upscale=2)(torch.rand(1, 1, 8, 8))


# --------------------------------------------------------------------------------------------------
# Restorer: modes, tiling, self-ensemble
# --------------------------------------------------------------------------------------------------
class ConvSR(nn.Module):
    """Two 3x3 convs (receptive field radius 2 LQ pixels) and a pixel shuffle."""

    def __init__(self, scale=2):
        super().__init__()
        self.upscale = scale
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(8, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, x):
        return self.body(x)


def test_tiled_equals_whole_for_local_network():
    net = ConvSR(2).eval()
    x = torch.rand(1, 3, 37, 50)
    with torch.no_grad():
        whole = net(x)
        tiled = tiled_forward(net, x, tile=16, overlap=4, scale=2)  # margin 2 = receptive field
        naive = tiled_forward(net, x, tile=16, overlap=0, scale=2)  # no overlap: tile seams are wrong
    assert_features_close(tiled, whole, rel=1e-5)  # a 2-layer conv on tiles: fp32 reordering only
    assert (naive - whole).abs().max() > 1e-3


def test_tiled_grl_close_to_whole_image():
    torch.manual_seed(0)
    net = GRL(dict(SMALL), upscale=2).eval()
    x = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        whole = net(x)
        tiled = tiled_forward(net, x, tile=24, overlap=8, scale=2)
        same = tiled_forward(net, x, tile=64, overlap=8, scale=2)  # one tile = the whole image
    torch.testing.assert_close(same, whole)
    # attention reaches beyond the overlap, so tiles are not exact, but close to the whole-image result
    # (a random-weight network; measured 40.6 dB)
    mse = (tiled - whole).square().mean()
    assert mse > 0 and 10 * torch.log10(1 / mse) > 35


def test_self_ensemble():
    x = torch.rand(1, 3, 9, 14)
    up = lambda t: F.interpolate(t, scale_factor=2, mode='nearest')  # noqa: E731  (flip/rotation equivariant)
    torch.testing.assert_close(self_ensemble_forward(up, x), up(x))
    # a non-equivariant function: the mean over the 8 rotations / flips (enumerated independently with
    # rot90), each mapped back
    f = lambda t: t * torch.linspace(0, 1, t.shape[-1]) + t.roll(1, -2)  # noqa: E731
    outs = []
    for k in range(4):
        for flip in (False, True):
            t = torch.rot90(x, k, (-2, -1))
            t = t.flip(-1) if flip else t
            y = f(t)
            y = y.flip(-1) if flip else y
            outs.append(torch.rot90(y, -k, (-2, -1)))
    ens = self_ensemble_forward(f, x)
    assert not torch.allclose(ens, f(x))
    torch.testing.assert_close(ens, torch.stack(outs).mean(0))


def _batch(scale=2, n=2, size=8):
    from mmengine.structures import BaseDataElement
    inputs = [torch.rand(3, size, size) * 255 for _ in range(n)]
    samples = [BaseDataElement(gt_img=torch.rand(3, size * scale, size * scale) * 255) for _ in range(n)]
    return dict(inputs=inputs, data_samples=samples)


def test_restorer_modes_and_losses():
    model = Restorer(dict(type='vitdense.GRL', arch=dict(SMALL), upscale=2, drop_path_rate=0.0))
    data = model.data_preprocessor(_batch(), training=True)
    assert data['inputs'].max() <= 1 and data['data_samples'][0].gt_img.max() <= 1
    out = model(data['inputs'], mode='tensor')
    assert out.shape == (2, 3, 16, 16)
    losses = model(**data, mode='loss')
    gt = torch.stack([s.gt_img for s in data['data_samples']])
    torch.testing.assert_close(losses['loss_pix'], F.l1_loss(model.generator(data['inputs']), gt))
    model_c = Restorer(model.generator, pixel_loss='charbonnier', charbonnier_eps=1e-3)
    lc = model_c(**data, mode='loss')['loss_pix']
    torch.testing.assert_close(lc, torch.sqrt((model.generator(data['inputs']) - gt)**2 + 1e-6).mean())
    model.eval()
    preds = model(**data, mode='predict')
    assert preds[0].pred_img.shape == (3, 16,
                                       16) and 0 <= preds[0].pred_img.min() <= preds[0].pred_img.max() <= 1
    # train_step through mmengine's optimizer wrapper
    from mmengine.optim import OptimWrapper
    model.train()
    log = model.train_step(_batch(), OptimWrapper(torch.optim.Adam(model.parameters(), 1e-3)))
    assert 'loss' in log and torch.isfinite(log['loss'])


def test_restorer_tiling_and_ensemble_in_predict():
    net = ConvSR(2).eval()
    plain = Restorer(net)
    tiled = Restorer(net, test_cfg=dict(tile=8, tile_overlap=4, self_ensemble=False))
    ens = Restorer(net, test_cfg=dict(self_ensemble=True))
    x = torch.rand(1, 3, 20, 27)
    with torch.no_grad():
        assert_features_close(tiled.restore(x), plain.restore(x), rel=1e-5)
        torch.testing.assert_close(ens.restore(x), self_ensemble_forward(net, x))


def test_restorer_bad_input():
    with pytest.raises(ValueError, match='scale=4 but the generator upscales x2'):
        Restorer(dict(type='vitdense.GRL', arch=dict(SMALL), upscale=2), scale=4)
    with pytest.raises(ValueError, match="'l1' or 'charbonnier'"):
        Restorer(ConvSR(), pixel_loss='l2')
    with pytest.raises(KeyError, match='unknown test_cfg'):
        Restorer(ConvSR(), test_cfg=dict(tiles=4))
    model = Restorer(ConvSR(2))
    data = model.data_preprocessor(_batch(scale=3))  # GT x3 but network x2
    with pytest.raises(ValueError, match='differ'):
        model(**data, mode='loss')
    with pytest.raises(ValueError, match='ModCrop'):
        model(**data, mode='predict')
    with pytest.raises(ValueError, match='batch_size=1'):
        b = _batch()
        b['inputs'][1] = torch.rand(3, 9, 9)
        model.data_preprocessor(b)


# --------------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------------
CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', 'grl', '*.py')))


def test_config_set_complete():
    names = {os.path.basename(p) for p in CONFIGS}
    for v in 'tsb':
        for s in (2, 4):
            assert f'grl_{v}_x{s}_df2k.py' in names
    for s in (15, 25, 50):
        assert f'grl_b_denoise_color_s{s}.py' in names
    assert 'grl_s_jpeg_color_q10.py' in names and 'grl_t_x4_toy.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=[os.path.basename(p) for p in CONFIGS])
def test_config_builds(path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from vitdense.registry import METRICS, TRANSFORMS
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'vitdense'
    init_default_scope('vitdense')
    model = MODELS.build(copy.deepcopy(cfg.model))
    assert isinstance(model, Restorer) and isinstance(model.generator, GRL)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for t in cfg[loader].dataset.pipeline:
            TRANSFORMS.build(copy.deepcopy(t))
    for m in cfg.val_evaluator:
        METRICS.build(copy.deepcopy(m))
    scale = model.scale
    if scale > 1:  # SR configs score like the published tables: Y channel, border = scale
        assert all(m['crop_border'] == scale and m['convert_to'] == 'y' for m in cfg.val_evaluator)
    gen = cfg.model.generator
    if 'arch' in gen and isinstance(gen['arch'], str):
        assert model.generator.pad_size % gen["window_size"] == 0
