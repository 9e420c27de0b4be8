"""End-to-end: the toy Mask R-CNN Swin-T and UperNet Swin-T configs train on the generated real-
format datasets, the loss goes down, and mmdet's CocoMetric / mmseg's IoUMetric return finite
scores. Runs on the CPU in a few minutes."""
import math
import os

import numpy as np
import pytest

from vitdense.testing import toy_training_run


def assert_checkpoint_loads_weights_only(path):
    """A real run's checkpoint (weights, optimizer, schedulers, message hub with metrics) loads
    through mmengine with weights_only=True and the vitdense allowlist."""
    from mmengine.runner.checkpoint import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert {'state_dict', 'optimizer', 'message_hub', 'meta'} <= set(ckpt)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_toy_mask_rcnn_swin_t_learns_and_is_evaluated(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/swin/mask_rcnn_swin_t_toy.py'),
                                       str(tmp_path), iters=24, warmup=4, val_images=8)
    assert len(losses) == 24 and np.isfinite(losses).all()
    assert losses[-6:].mean() < 0.8 * losses[:6].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
    assert os.path.isfile(os.path.join(tmp_path, 'iter_24.pth'))
    assert_checkpoint_loads_weights_only(os.path.join(tmp_path, 'after_val.pth'))


@pytest.mark.slow
def test_toy_upernet_swin_t_learns_and_is_evaluated(tmp_path):
    # 8 fixed training images: random crops of them vary little, so the fall is clear in 24 steps
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/swin/upernet_swin_t_toy.py'),
                                       str(tmp_path), iters=24, warmup=3, train_images=8, val_images=8,
                                       lr=8e-4)
    assert len(losses) == 24 and np.isfinite(losses).all()
    assert losses[-6:].mean() < 0.8 * losses[:6].mean(), losses
    assert math.isfinite(metrics['mIoU']) and 0.0 <= metrics['mIoU'] <= 100.0, metrics
    assert_checkpoint_loads_weights_only(os.path.join(tmp_path, 'after_val.pth'))
