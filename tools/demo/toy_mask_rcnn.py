"""The quick-start job: Mask R-CNN with our Swin-T on the embedded toy COCO dataset, on CPU.

Generates the toy dataset (real COCO json + images) if missing, trains with mmengine's Runner,
evaluates with mmdet's CocoMetric, prints box and mask AP, and saves mmdet's visualisation of the
predictions on a few validation images next to the ground truth:

    python tools/demo/toy_mask_rcnn.py [--iters 300] [--work-dir work_dirs/demo_mask_rcnn_swin_t]
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--config', default=os.path.join(ROOT, 'configs/swin/mask_rcnn_swin_t_toy.py'))
    ap.add_argument('--work-dir', default=os.path.join(ROOT, 'work_dirs/demo_mask_rcnn_swin_t'))
    ap.add_argument('--data-root', default=os.path.join(ROOT, 'data/toy_coco'))
    ap.add_argument('--iters', type=int, default=None, help='training iterations (config default: 120)')
    ap.add_argument('--num-vis', type=int, default=4, help='validation images in the saved picture')
    return ap.parse_args(argv)


def save_predictions(runner, cfg, out_png, num):
    import mmcv
    import numpy as np
    import torch
    from mmdet.registry import VISUALIZERS
    from mmengine.dataset import pseudo_collate

    dataset = runner.test_dataloader.dataset
    vis = VISUALIZERS.build(dict(type='DetLocalVisualizer', name='toy_demo_vis'))
    vis.dataset_meta = dataset.metainfo
    model = runner.model.eval()
    panels = []
    for i in range(min(num, len(dataset))):
        data = pseudo_collate([dataset[i]])
        with torch.no_grad():
            pred = model.test_step(data)[0]
        img = mmcv.imread(pred.img_path, channel_order='rgb')
        vis.add_datasample(f'val_{i}', img, pred, draw_gt=True, draw_pred=True, show=False, pred_score_thr=0.3)
        panels.append(vis.get_image())
    h = max(p.shape[0] for p in panels)
    panels = [np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in panels]
    grid = np.concatenate(panels, axis=0) if panels[0].shape[1] > panels[0].shape[0] else np.concatenate(panels, 1)
    mmcv.imwrite(grid[..., ::-1], out_png)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config
    from mmengine.runner import Runner

    from vitdense.datasets.toy import make_toy_coco

    print(f'[demo] toy COCO dataset at {args.data_root}', flush=True)
    make_toy_coco(args.data_root)
    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    data_root = args.data_root.rstrip('/') + '/'
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[split].dataset.data_root = data_root
    cfg.val_evaluator.ann_file = data_root + 'annotations/instances_val.json'
    cfg.test_evaluator.ann_file = data_root + 'annotations/instances_val.json'
    if args.iters:
        cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = args.iters
        cfg.default_hooks.checkpoint.interval = args.iters
        warmup = min(cfg.param_scheduler[0].end, max(1, args.iters // 5))
        cfg.param_scheduler[0].end = cfg.param_scheduler[-1].begin = warmup
        cfg.param_scheduler[-1].end = args.iters
    cfg.launcher = 'none'
    # Evaluate once, after training (the config's val loop would score the same images twice).
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    print(f'[demo] training Mask R-CNN + vitdense.SwinTransformer (tiny) for {cfg.train_cfg.max_iters} iterations '
          'on CPU', flush=True)
    runner.train()
    metrics = runner.test()
    out_png = os.path.join(args.work_dir, 'predictions.png')
    save_predictions(runner, cfg, out_png, args.num_vis)
    print('\n[demo] CocoMetric on the toy validation set:')
    print(f'  box  AP {metrics["coco/bbox_mAP"]:.3f}   AP50 {metrics["coco/bbox_mAP_50"]:.3f}')
    print(f'  mask AP {metrics["coco/segm_mAP"]:.3f}   AP50 {metrics["coco/segm_mAP_50"]:.3f}')
    print(f'[demo] predictions (left/top: ground truth, right/bottom: ours) saved to {out_png}')
    return metrics


if __name__ == '__main__':
    main()
