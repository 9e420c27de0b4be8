"""Few-shot medical image segmentation: CAT-Net, episodic NIfTI datasets, supervoxel
pseudo-labels and 3D Dice evaluation."""
from .catnet import CATNet, CMAT, MIFE, FewShotDataPreprocessor, masked_average_pool, prior_mask
from .datasets import (DATASET_LABELS, EpisodicVolumeDataset, FewShotEvalDataset, find_volumes, fold_indices,
                       load_volume)
from .metrics import VolumeDice, dice_score
from .supervoxels import body_mask, felzenszwalb_superpixels, slic_supervoxels, write_supervoxels
from .synthetic import ORGAN_TEMPLATES, make_synthetic_volume, write_synthetic_dataset

__all__ = [
    'CATNet', 'CMAT', 'MIFE', 'FewShotDataPreprocessor', 'masked_average_pool', 'prior_mask',
    'DATASET_LABELS', 'EpisodicVolumeDataset', 'FewShotEvalDataset', 'find_volumes', 'fold_indices',
    'load_volume', 'VolumeDice', 'dice_score', 'body_mask', 'felzenszwalb_superpixels', 'slic_supervoxels',
    'write_supervoxels',
    'ORGAN_TEMPLATES', 'make_synthetic_volume', 'write_synthetic_dataset'
]
