"""Image-folder datasets for restoration.

``PairedImageFolderDataset``
    a GT folder and an LQ folder with the same images: ``<gt>/0801.png`` <-> ``<lq>/0801x4.png``
    through ``lq_filename_tmpl`` ('{}x4' for the DIV2K / DF2K bicubic LR folders, '{}' for the same
    name). Each sample gets ``gt_path`` and ``lq_path``.
``GTImageFolderDataset``
    a GT folder only; the pipeline makes the degraded input (bicubic down-sampling, noise, JPEG).
"""
import os
import os.path as osp
from typing import List, Optional

from mmengine.dataset import BaseDataset

from vitdense.registry import DATASETS

__all__ = ['IMG_EXTENSIONS', 'list_images', 'PairedImageFolderDataset', 'GTImageFolderDataset']

IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.ppm', '.webp')


def list_images(folder: str, what: str = 'image') -> List[str]:
    """Sorted image files directly in ``folder`` (clear errors for a missing or empty folder)."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{what} folder {folder!r} does not exist; check data_root / data_prefix '
                                '(see docs/restoration.md for the expected layout)')
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMG_EXTENSIONS))
    if not files:
        raise FileNotFoundError(f'{what} folder {folder!r} holds no images ({", ".join(IMG_EXTENSIONS)})')
    return files


class _FolderDataset(BaseDataset):

    def __init__(self, data_root: str = '', data_prefix: Optional[dict] = None, **kwargs):
        super().__init__(data_root=data_root, data_prefix=dict(data_prefix or {}), **kwargs)

    def _folder(self, key: str) -> str:
        if key not in self.data_prefix:
            raise KeyError(f'{type(self).__name__} needs data_prefix=dict({key}=...)')
        # BaseDataset already joined data_root
        return self.data_prefix[key]


@DATASETS.register_module()
class GTImageFolderDataset(_FolderDataset):
    """Every image of ``data_root/data_prefix['gt']``; degrade it in the pipeline."""

    def load_data_list(self) -> List[dict]:
        gt_dir = self._folder('gt')
        return [dict(gt_path=osp.join(gt_dir, f)) for f in list_images(gt_dir, 'GT')]


@DATASETS.register_module()
class PairedImageFolderDataset(_FolderDataset):
    """GT images paired with LQ images by name.

    Args:
        data_prefix: ``dict(gt='HR', lq='LR_bicubic/X4')`` relative to ``data_root``.
        lq_filename_tmpl: LQ stem from the GT stem, e.g. '{}x4'; the extension may differ.
    """

    def __init__(self, *args, lq_filename_tmpl: str = '{}', **kwargs):
        self.lq_filename_tmpl = lq_filename_tmpl
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        gt_dir, lq_dir = self._folder('gt'), self._folder('lq')
        lq_by_stem = {osp.splitext(f)[0]: f for f in list_images(lq_dir, 'LQ')}
        data_list, missing = [], []
        for f in list_images(gt_dir, 'GT'):
            stem = self.lq_filename_tmpl.format(osp.splitext(f)[0])
            if stem not in lq_by_stem:
                missing.append(stem)
                continue
            data_list.append(dict(gt_path=osp.join(gt_dir, f), lq_path=osp.join(lq_dir, lq_by_stem[stem])))
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} GT images of {gt_dir!r} have no LQ image in {lq_dir!r} '
                f'(e.g. {missing[0]!r}); check lq_filename_tmpl={self.lq_filename_tmpl!r} '
                '(DIV2K LR files are named like "0801x4.png": use \'{}x4\')')
        return data_list
