"""End-to-end: the toy Mask R-CNN Swin-T and UperNet Swin-T configs train on the generated real-
format datasets, the loss goes down, and mmdet's CocoMetric / mmseg's IoUMetric return finite
scores. Runs on the CPU in a few minutes."""
import math
import os

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from vitdense.datasets.toy import make_toy_ade20k, make_toy_coco

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _short_schedule(cfg, iters, warmup):
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = warmup
    cfg.param_scheduler[-1].begin = warmup
    cfg.param_scheduler[-1].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 1


def _losses(runner):
    values, _ = runner.message_hub.get_scalar('train/loss').data
    return np.asarray(values, dtype=float)


@pytest.mark.slow
def test_toy_mask_rcnn_swin_t_learns_and_is_evaluated(tmp_path):
    data = make_toy_coco(os.path.join(ROOT, 'data/toy_coco'))
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/swin/mask_rcnn_swin_t_toy.py'))
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.dataset.data_root = data['root'] + '/'
    cfg.val_dataloader.dataset.data_root = data['root'] + '/'
    cfg.val_dataloader.dataset.indices = 8  # the first 8 validation images keep CI short
    cfg.val_evaluator.ann_file = data['val_ann_file']
    _short_schedule(cfg, iters=24, warmup=4)
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = _losses(runner)
    assert len(losses) == 24 and np.isfinite(losses).all()
    assert losses[-6:].mean() < 0.8 * losses[:6].mean(), losses
    metrics = runner.val_loop.run()
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
    assert os.path.isfile(os.path.join(tmp_path, 'iter_24.pth'))


@pytest.mark.slow
def test_toy_upernet_swin_t_learns_and_is_evaluated(tmp_path):
    data = make_toy_ade20k(os.path.join(ROOT, 'data/toy_ade20k'))
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/swin/upernet_swin_t_toy.py'))
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.dataset.data_root = data['root']
    cfg.val_dataloader.dataset.data_root = data['root']
    cfg.val_dataloader.dataset.indices = 8
    # A short run on 8 training images (random crops vary less): the loss must clearly fall.
    cfg.train_dataloader.dataset.indices = 8
    cfg.optim_wrapper.optimizer.lr = 8e-4
    _short_schedule(cfg, iters=24, warmup=3)
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = _losses(runner)
    assert len(losses) == 24 and np.isfinite(losses).all()
    assert losses[-6:].mean() < 0.8 * losses[:6].mean(), losses
    metrics = runner.val_loop.run()
    assert math.isfinite(metrics['mIoU']) and 0.0 <= metrics['mIoU'] <= 100.0, metrics
