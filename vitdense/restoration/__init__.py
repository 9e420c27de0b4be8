"""Image restoration (super-resolution, denoising, JPEG artifact removal) on mmengine: GRL network,
restorer model, paired/degraded image datasets and transforms, PSNR/SSIM metrics."""
from .datasets import GTImageFolderDataset, PairedImageFolderDataset
from .grl import GRL, GRL_ARCHS, convert_grl_checkpoint
from .metrics import PSNR, SSIM, psnr, ssim
from .restorer import RestorationDataPreprocessor, Restorer, self_ensemble_forward, tiled_forward
from .transforms import (BicubicDegradation, GaussianNoiseDegradation, JPEGDegradation, LoadRestorationImages,
                         ModCrop, PackRestorationInputs, PairedFlipRotate, PairedRandomCrop, imresize, rgb2y)

__all__ = [
    'GRL', 'GRL_ARCHS', 'convert_grl_checkpoint', 'Restorer', 'RestorationDataPreprocessor', 'tiled_forward',
    'self_ensemble_forward', 'PairedImageFolderDataset', 'GTImageFolderDataset', 'LoadRestorationImages',
    'ModCrop', 'BicubicDegradation', 'GaussianNoiseDegradation', 'JPEGDegradation', 'PairedRandomCrop',
    'PairedFlipRotate', 'PackRestorationInputs', 'imresize', 'rgb2y', 'PSNR', 'SSIM', 'psnr', 'ssim'
]
