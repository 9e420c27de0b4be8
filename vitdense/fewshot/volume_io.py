"""Reading and writing ``(H, W, D)`` volumes: NIfTI (``.nii`` / ``.nii.gz``, via nibabel) or ``.npy``.

One module that the datasets, the synthetic volumes and the supervoxel writer all import, so none
of those imports another for its file I/O.
"""
import os.path as osp

import numpy as np

__all__ = ['load_volume', 'save_volume']


def load_volume(path: str, slice_axis: int = -1) -> np.ndarray:
    """Read a NIfTI (``.nii`` / ``.nii.gz``, via nibabel) or ``.npy`` volume as ``(H, W, D)``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'volume {path} does not exist')
    if path.endswith('.npy'):
        arr = np.load(path)
    elif path.endswith(('.nii', '.nii.gz')):
        import nibabel as nib
        arr = np.asanyarray(nib.load(path).dataobj)
    else:
        raise ValueError(f'{path}: unknown volume format; use .nii, .nii.gz or .npy')
    if arr.ndim != 3:
        raise ValueError(f'{path}: expected a 3D volume, got shape {arr.shape}')
    return np.moveaxis(arr, slice_axis, -1)


def save_volume(path: str, array: np.ndarray, spacing=(1.5, 1.5, 3.0)) -> None:
    """Save ``array`` as NIfTI (``.nii`` / ``.nii.gz``, with a diagonal ``spacing`` affine) or ``.npy``."""
    if path.endswith('.npy'):
        np.save(path, array)
        return
    import nibabel as nib
    affine = np.diag([*spacing, 1.0])
    nib.save(nib.Nifti1Image(array, affine), path)
