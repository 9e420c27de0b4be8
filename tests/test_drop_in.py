"""Drop-in: a config shipped with mmdet / mmseg works with only ``type='vitdense.X'`` changed.

The shipped configs are read from the installed packages (``mmdet/.mim/configs``, ...). The whole
detector / segmenter builds, and the backbone, given the weights of the library's own backbone
built from the same arguments (saved to disk, loaded through ``init_cfg`` as a user would), returns
that backbone's features.
"""
import copy
import importlib
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import vitdense  # registers the vitdense scope
from vitdense.testing import assert_features_close, randomize_

SHIPPED = [
    ('mmdet', 'swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', 'SwinTransformer'),
    ('mmseg', 'swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
     'SwinTransformer'),
    ('mmdet', 'pvt/retinanet_pvt-t_fpn_1x_coco.py', 'PVT'),
    ('mmdet', 'pvt/retinanet_pvtv2-b0_fpn_1x_coco.py', 'PVTv2'),
    ('mmdet', 'pvt/retinanet_pvtv2-b5_fpn_1x_coco.py', 'PVTv2'),
    ('mmdet', 'convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py', 'ConvNeXt'),
]
# the library's class of each of our names, where they differ
THEIR_NAME = {'PVT': 'PyramidVisionTransformer', 'PVTv2': 'PyramidVisionTransformerV2',
              'ConvNeXt': 'mmpretrain.ConvNeXt'}


def _shipped(scope, rel):
    pkg = importlib.import_module(scope)
    path = os.path.join(os.path.dirname(pkg.__file__), '.mim', 'configs', rel)
    assert os.path.exists(path), f'{scope} no longer ships {rel}'
    return Config.fromfile(path)


@pytest.mark.parametrize('scope, rel, name', SHIPPED,
                         ids=[f'{s}-{os.path.basename(r)}' for s, r, _ in SHIPPED])
def test_shipped_config_runs_with_only_the_type_changed(scope, rel, name, tmp_path):
    assert vitdense.registry.MODELS.get('SwinTransformer') is not None
    registry = importlib.import_module(f'{scope}.registry').MODELS
    importlib.import_module(f'{scope}.models')
    cfg = _shipped(scope, rel)
    theirs_cfg = copy.deepcopy(cfg.model.backbone)
    theirs_cfg.pop('init_cfg', None)  # the release URL: no network here
    theirs_cfg.type = THEIR_NAME.get(name, name)
    with DefaultScope.overwrite_default_scope(scope):
        theirs = randomize_(registry.build(theirs_cfg), seed=3)
    theirs.eval()  # mmdet's Swin returns None from train()
    ckpt = str(tmp_path / 'theirs.pth')
    torch.save(theirs.state_dict(), ckpt)

    cfg.model.backbone.type = f'vitdense.{name}'  # the only edit a user makes (besides the weights)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=ckpt)  # their own weights file
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
    model.backbone.init_weights()
    ours = model.backbone.eval()
    assert type(ours).__module__.startswith('vitdense.')
    x = torch.randn(1, 3, 64, 96)  # PVT reduces keys with the official floor rule at multiples of 32 only
    with torch.no_grad():
        assert_features_close(ours(x), theirs(x), msg=f'{scope} {rel}')


def test_a_wrong_argument_lists_the_accepted_ones():
    from vitdense.backbones.swin import SwinTransformer
    with pytest.raises(TypeError) as e:
        SwinTransformer(embed_dim=96)  # timm's spelling
    msg = str(e.value)
    assert "['embed_dim']" in msg and "'window_size'" in msg and "'embed_dims'" in msg and 'mmdet' in msg


def test_peer_values_we_cannot_build_are_refused():
    from vitdense.backbones.swin import SwinTransformer
    with pytest.raises(ValueError, match='strides'):
        SwinTransformer(strides=(4, 2, 2, 1))
    with pytest.raises(ValueError, match='act_cfg'):
        SwinTransformer(act_cfg=dict(type='ReLU'))
    # the same value twice is fine (mmseg's configs give patch_size and strides), two values are not
    with pytest.raises(TypeError, match='given twice'):
        SwinTransformer(patch_size=4, strides=(2, 2, 2, 2))


def test_pvt_structure_switches_of_the_other_version_are_refused():
    from vitdense.backbones.pvt import PVT, PVTv2
    with pytest.raises(ValueError, match='use_conv_ffn=True is not built here'):
        PVT(num_layers=[2, 2, 2, 2], use_conv_ffn=True)  # that is PVTv2: type='vitdense.PVTv2'
    with pytest.raises(ValueError, match='patch_sizes'):
        PVTv2(patch_sizes=[4, 2, 2, 2])
    v2 = PVTv2(embed_dims=32, num_layers=[2, 2, 2, 2], pretrain_img_size=512)
    assert v2.embed_dims == (32, 64, 160, 256)


def test_convnext_takes_mmpretrain_arch_dicts_and_refuses_v2_switches():
    from vitdense.backbones.convnext import ConvNeXt
    m = ConvNeXt(arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]),
                 norm_cfg=dict(type='LN2d', eps=1e-6))
    assert m.num_features == [8, 16, 32, 64]
    with pytest.raises(ValueError, match='use_grn=True is not built here'):
        ConvNeXt(use_grn=True)


# mmpretrain classifiers whose backbone arguments and defaults we share (ShuffleNet's widen_factor /
# groups, and the classification defaults of Swin / ConvNeXt / MobileViT -- last stage only, pooled
# before the norm -- are not drop-in yet)
CLASSIFIERS = ['repvgg/repvgg-A0_8xb32_in1k.py', 'poolformer/poolformer-s12_32xb128_in1k.py']


@pytest.mark.parametrize('rel', CLASSIFIERS, ids=[os.path.basename(r) for r in CLASSIFIERS])
def test_shipped_mmpretrain_classifier_with_only_the_type_changed(rel, tmp_path):
    importlib.import_module('mmpretrain.models')  # registers mmpretrain's classes
    from mmpretrain.registry import MODELS
    cfg = _shipped('mmpretrain', rel)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        theirs = randomize_(MODELS.build(copy.deepcopy(cfg.model)), seed=1)
    theirs.eval()
    ckpt = str(tmp_path / 'backbone.pth')
    torch.save(theirs.backbone.state_dict(), ckpt)
    cfg.model.backbone.type = f'vitdense.{cfg.model.backbone.type}'
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=ckpt)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ours = MODELS.build(cfg.model)
    ours.backbone.init_weights()
    assert type(ours.backbone).__module__.startswith('vitdense.')
    ours.head.load_state_dict(theirs.head.state_dict())
    ours.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert_features_close(ours(x, mode='tensor'), theirs(x, mode='tensor'), msg=rel)
