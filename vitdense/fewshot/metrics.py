"""3D (per volume) Dice for few-shot segmentation, as the papers report it.

The evaluation dataset yields one query slice per item; this metric puts each volume's predicted
slices back in slice order, computes Dice on the stacked 3D masks, averages over the query volumes
per class and then over classes (``mDice``).
"""
import os
import os.path as osp
from collections import defaultdict
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from vitdense.registry import METRICS

__all__ = ['dice_score', 'VolumeDice']


def dice_score(pred: np.ndarray, gt: np.ndarray) -> float:
    """Dice of two binary masks of any shape; 1.0 when both are empty."""
    pred, gt = np.asarray(pred).astype(bool), np.asarray(gt).astype(bool)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and ground truth {gt.shape} differ in shape')
    denom = pred.sum() + gt.sum()
    return 1.0 if denom == 0 else float(2.0 * np.logical_and(pred, gt).sum() / denom)


@METRICS.register_module()
class VolumeDice(BaseMetric):
    """Per-class and mean 3D Dice (in %, as the papers' tables) over query volumes.

    Args:
        save_dir: when set, each stacked prediction is written there as
            ``pred_<volume>_<class>.nii.gz`` (slices along the last axis).
    """
    default_prefix = 'fewshot'

    def __init__(self, save_dir: Optional[str] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.save_dir = save_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            if 'pred_mask' not in s:
                raise KeyError('VolumeDice needs `pred_mask` in the predictions: run the model in predict '
                               'mode')
            self.results.append(dict(label=s['label'], class_name=s.get('class_name', str(s['label'])),
                                     volume=s['volume'], slice=s['slice'],
                                     pred=np.asarray(s['pred_mask'].cpu() if hasattr(s['pred_mask'], 'cpu')
                                                     else s['pred_mask'], dtype=np.uint8),
                                     gt=np.asarray(s['gt_mask'].cpu() if hasattr(s['gt_mask'], 'cpu')
                                                   else s['gt_mask'], dtype=np.uint8)))

    def compute_metrics(self, results: list) -> dict:
        volumes = defaultdict(list)
        for r in results:
            volumes[(r['label'], r['class_name'], r['volume'])].append(r)
        per_class = defaultdict(list)
        for (label, name, vol), rs in sorted(volumes.items(), key=lambda kv: (kv[0][0], str(kv[0][2]))):
            rs = sorted(rs, key=lambda r: r['slice'])
            pred = np.stack([r['pred'] for r in rs], axis=-1)  # (H, W, D): the volume again
            gt = np.stack([r['gt'] for r in rs], axis=-1)
            per_class[(label, name)].append(dice_score(pred, gt))
            if self.save_dir:
                self._save(pred, vol, name)
        metrics = {f'Dice_{name}': 100.0 * float(np.mean(d)) for (_, name), d in sorted(per_class.items())}
        metrics['mDice'] = float(np.mean(list(metrics.values()))) if metrics else 0.0
        return metrics

    def _save(self, pred: np.ndarray, volume, name: str) -> None:
        import nibabel as nib
        os.makedirs(self.save_dir, exist_ok=True)
        nib.save(nib.Nifti1Image(pred.astype(np.uint8), np.eye(4)),
                 osp.join(self.save_dir, f'pred_{volume}_{name}.nii.gz'))
