"""Bad input fails early with a message that names the fix."""
import copy
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from vitdense.utils.model_check import check_model_channels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cfg(name):
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'swin', name))
    cfg.model.backbone.init_cfg = None
    return cfg


def test_neck_in_channels_mismatch_names_both_lists():
    cfg = _cfg('mask_rcnn_swin_t.py')
    cfg.model.neck.in_channels = [96, 192, 384, 512]
    with pytest.raises(ValueError) as e:
        check_model_channels(cfg.model)
    msg = str(e.value)
    assert '[96, 192, 384, 512]' in msg and '[96, 192, 384, 768]' in msg and 'neck.in_channels' in msg


def test_neck_mismatch_from_out_indices():
    cfg = _cfg('mask_rcnn_swin_t.py')
    cfg.model.backbone.out_indices = (1, 2, 3)
    with pytest.raises(ValueError, match=r'\[192, 384, 768\]'):
        check_model_channels(cfg.model)


def test_seg_head_mismatch_names_in_index():
    cfg = _cfg('upernet_swin_t_512x512_160k_ade20k.py')
    bad = copy.deepcopy(cfg.model)
    bad.auxiliary_head.in_channels = 192
    with pytest.raises(ValueError, match=r'auxiliary_head.*in_index=2.*\[96, 192, 384, 768\].*384'):
        check_model_channels(bad)
    check_model_channels(cfg.model)  # the real config is consistent


def test_image_smaller_than_total_stride_runs_through_detector():
    import mmdet.models  # noqa: F401
    from mmdet.registry import MODELS
    cfg = _cfg('mask_rcnn_swin_t.py')
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 17, 13))  # total stride 32 (FPN: 64)
    assert [f.shape[1] for f in feats] == [256] * 5
    assert all(torch.isfinite(f).all() for f in feats)


def test_train_tool_fails_at_build_on_neck_mismatch(tmp_path):
    """The same check runs in tools/train.py before the Runner builds anything."""
    import subprocess
    import sys
    from vitdense.datasets.toy import make_toy_coco
    make_toy_coco(os.path.join(ROOT, 'data/toy_coco'))
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools/train.py'), os.path.join(ROOT, 'configs/swin/mask_rcnn_swin_t_toy.py'),
         '--work-dir', str(tmp_path), '--cfg-options', 'model.neck.in_channels=[96,192,384,512]'],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert 'in_channels=[96, 192, 384, 512]' in proc.stderr and '[96, 192, 384, 768]' in proc.stderr, proc.stderr[-2000:]
