"""Volume data for few-shot medical segmentation: loading, folds, episodic training and the
standard evaluation protocol (SSL-ALPNet / ADNet / Q-Net / CAT-Net).

Layout under ``data_root`` (what the preprocessing in docs/fewshot_medical.md writes)::

    image_<id>.nii.gz   label_<id>.nii.gz   (or .nii / .npy)
    supervoxels_5000/super_<id>.nii.gz      (only for self-supervised training)

Volumes are ``(H, W, D)`` arrays with slices along ``slice_axis`` (default the last axis, nibabel's
order). Volumes are sorted by the integer ``<id>`` and z-scored per volume, as the protocol does.

* :class:`EpisodicVolumeDataset` samples 1-way K-shot training episodes, from ground-truth labels
  (support and query from different volumes) or from supervoxel pseudo-labels (support and query
  from neighbouring slices of one volume: supervoxel ids only mean something inside their volume).
* :class:`FewShotEvalDataset` yields the protocol's query slices: support volume ``supp_idx`` of
  the test fold, the other fold volumes as queries; the labelled slices of each query volume are cut
  into ``n_part`` chunks and chunk ``i`` is matched with the support slice at relative position
  ``(2i + 1) / (2 n_part)``. :class:`vitdense.fewshot.metrics.VolumeDice` stacks the predictions
  back into 3D.

Folds follow the official split: with ``n`` volumes and ``s = n // 5``, fold ``k`` holds indices
``k*s .. k*s + s`` (mod ``n``), so neighbouring folds share one volume and the last wraps to 0.
Setting 1 trains on every slice; setting 2 removes from training every slice that shows a test class.
"""
import glob
import os.path as osp
import re
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement
from torch.utils.data import Dataset

from vitdense.registry import DATASETS

from .volume_io import load_volume

__all__ = ['load_volume', 'find_volumes', 'fold_indices', 'EpisodicVolumeDataset', 'FewShotEvalDataset',
           'DATASET_LABELS']

_EXT = re.compile(r'\.(nii\.gz|nii|npy)$')

# label ids after the standard preprocessing (SSL-ALPNet; CAT-Net dataloaders/dataset_specifics.py)
DATASET_LABELS = {
    'CHAOST2': {1: 'liver', 2: 'right_kidney', 3: 'left_kidney', 4: 'spleen'},
    'SABS': {1: 'spleen', 2: 'right_kidney', 3: 'left_kidney', 4: 'gallbladder', 5: 'esophagus', 6: 'liver',
             7: 'stomach', 8: 'aorta', 9: 'ivc', 10: 'portal_splenic_vein', 11: 'pancreas',
             12: 'right_adrenal', 13: 'left_adrenal'},
    'CMR': {1: 'lv_myo', 2: 'lv_bp', 3: 'rv'},
    'toy': {1: 'liver', 2: 'kidney', 3: 'spleen'},
}


def _volume_id(path: str, prefix: str) -> str:
    return _EXT.sub('', osp.basename(path))[len(prefix):]


def _id_key(vid: str):
    return (0, int(vid), '') if vid.isdigit() else (1, 0, vid)


def find_volumes(data_root: str, image_prefix: str = 'image_', label_prefix: str = 'label_',
                 supervoxel_dir: Optional[str] = None, supervoxel_prefix: str = 'super_') -> List[dict]:
    """``[dict(id, image, label[, supervoxel])]`` sorted by id; every image needs its label (and
    supervoxel file when ``supervoxel_dir`` is given)."""
    if not osp.isdir(data_root):
        raise FileNotFoundError(f'data_root {data_root} does not exist; see docs/fewshot_medical.md (or '
                                'write the toy set with `python -m vitdense.datasets.toy fewshot '
                                '--out data/toy_fewshot`).')
    images = [p for p in glob.glob(osp.join(data_root, f'{image_prefix}*')) if _EXT.search(p)]
    if not images:
        raise FileNotFoundError(f'no {image_prefix}<id>.nii.gz / .nii / .npy volumes under {data_root}; run '
                                'the preprocessing in docs/fewshot_medical.md (or set image_prefix).')
    vols = []
    for img in images:
        vid = _volume_id(img, image_prefix)
        ext = _EXT.search(img).group(0)
        entry = dict(id=vid, image=img, label=osp.join(data_root, f'{label_prefix}{vid}{ext}'))
        if not osp.isfile(entry['label']):
            raise FileNotFoundError(f'{img} has no label volume {entry["label"]}: every image_<id> needs a '
                                    f'{label_prefix}<id> with the same extension next to it.')
        if supervoxel_dir is not None:
            sv_dir = supervoxel_dir if osp.isabs(supervoxel_dir) else osp.join(data_root, supervoxel_dir)
            entry['supervoxel'] = osp.join(sv_dir, f'{supervoxel_prefix}{vid}{ext}')
            if not osp.isfile(entry['supervoxel']):
                raise FileNotFoundError(f'{img} has no supervoxel volume {entry["supervoxel"]}; generate '
                                        'them with `python -m vitdense.datasets.toy supervoxels '
                                        f"{data_root}` or train on ground truth (label_source='gt').")
        vols.append(entry)
    return sorted(vols, key=lambda v: _id_key(v['id']))


def fold_indices(num_volumes: int, fold: int, num_folds: int = 5) -> List[int]:
    """Indices of the test volumes of ``fold`` (official CAT-Net / ADNet split, see module doc)."""
    if not 0 <= fold < num_folds:
        raise ValueError(f'fold={fold} is out of range: use 0..{num_folds - 1}')
    step = num_volumes // num_folds
    if step < 1:
        raise ValueError(f'{num_volumes} volumes cannot be split into {num_folds} folds; lower num_folds')
    return sorted({(fold * step + j) % num_volumes for j in range(step + 1)})


def _zscore(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float32)
    return (v - v.mean()) / (v.std() + 1e-8)


def _to_tensor_slice(img2d: np.ndarray, size: Optional[Tuple[int, int]]) -> torch.Tensor:
    """(H, W) intensities -> (3, h, w) float tensor (grey replicated for ImageNet-style encoders)."""
    t = torch.from_numpy(np.ascontiguousarray(img2d, dtype=np.float32))[None, None]
    if size is not None and tuple(t.shape[-2:]) != tuple(size):
        t = F.interpolate(t, size=size, mode='bilinear', align_corners=False)
    return t[0].expand(3, -1, -1).contiguous()


def _to_mask(mask2d: np.ndarray, size: Optional[Tuple[int, int]]) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(mask2d, dtype=np.float32))[None, None]
    if size is not None and tuple(t.shape[-2:]) != tuple(size):
        t = F.interpolate(t, size=size, mode='nearest')
    return t[0, 0]


def _check_setting(setting: int) -> None:
    if setting not in (1, 2):
        raise ValueError(f'unknown setting {setting!r}: use 1 (test classes may appear, unlabelled, in '
                         'training slices) or 2 (training slices showing a test class are removed)')


class _VolumeSet:
    """Loads the volumes of a fold selection into memory, z-scored."""

    def __init__(self, data_root: str, fold: Optional[int], num_folds: int, part: str, slice_axis: int,
                 image_prefix: str, label_prefix: str, supervoxel_dir: Optional[str] = None,
                 supervoxel_prefix: str = 'super_', label_map: Optional[Dict[int, int]] = None):
        vols = find_volumes(data_root, image_prefix, label_prefix, supervoxel_dir, supervoxel_prefix)
        if fold is not None:
            test = set(fold_indices(len(vols), fold, num_folds))
            keep = [i for i in range(len(vols)) if (i in test) == (part == 'test')]
            vols = [vols[i] for i in keep]
        self.volumes = vols
        self.images, self.labels, self.supervoxels = [], [], []
        for v in vols:
            img = load_volume(v['image'], slice_axis)
            lbl = load_volume(v['label'], slice_axis).astype(np.int64)
            if label_map:  # raw ids -> class ids (e.g. MS-CMRSeg 200/500/600 -> 1/2/3); others -> 0
                lut = np.zeros(max(int(lbl.max()), *map(int, label_map)) + 1, np.int64)
                for raw, cls in label_map.items():
                    lut[int(raw)] = int(cls)
                lbl = lut[lbl]
            if img.shape != lbl.shape:
                raise ValueError(f'{v["image"]} {img.shape} and {v["label"]} {lbl.shape} differ in shape')
            self.images.append(_zscore(img))
            self.labels.append(lbl)
            if 'supervoxel' in v:
                sv = load_volume(v['supervoxel'], slice_axis).astype(np.int64)
                if sv.shape != img.shape:
                    raise ValueError(f'{v["supervoxel"]} {sv.shape} does not match {v["image"]} {img.shape}')
                self.supervoxels.append(sv)


def _random_affine(img: torch.Tensor, mask: torch.Tensor, rot: float = 10., scale=(0.9, 1.2),
                   shift: float = 0.05) -> Tuple[torch.Tensor, torch.Tensor]:
    """Same random rotation/scale/shift for an image (C, H, W) and its mask (H, W)."""
    a = np.deg2rad(np.random.uniform(-rot, rot))
    s = np.random.uniform(*scale)
    tx, ty = np.random.uniform(-shift, shift, size=2) * 2
    theta = torch.tensor([[np.cos(a) / s, -np.sin(a) / s, tx], [np.sin(a) / s, np.cos(a) / s, ty]],
                         dtype=torch.float32)[None]
    grid = F.affine_grid(theta, (1, 1, *img.shape[-2:]), align_corners=False)
    img = F.grid_sample(img[None], grid, mode='bilinear', padding_mode='border', align_corners=False)[0]
    mask = F.grid_sample(mask[None, None], grid, mode='nearest', align_corners=False)[0, 0]
    return img, mask


def _random_gamma(img: torch.Tensor, gamma=(0.5, 1.5)) -> torch.Tensor:
    g = np.random.uniform(*gamma)
    lo, rng = img.min(), img.max() - img.min() + 1e-5
    return ((img - lo + 1e-5) / rng).pow(g) * rng + lo


@DATASETS.register_module()
class EpisodicVolumeDataset(Dataset):
    """1-way K-shot training episodes from 3D volumes.

    Args:
        data_root: folder with ``image_<id>`` / ``label_<id>`` volumes (see module doc).
        fold: test fold whose volumes are left out of training (None: use every volume).
        label_source: ``'gt'`` (ground-truth classes; support slices from other volumes than the query)
            or ``'supervoxel'`` (self-supervised: a supervoxel of one volume is the class; support and
            query are neighbouring slices of that volume, ``max_slice_gap`` apart at most).
        test_labels: classes held out for testing; never sampled as a training class with ``'gt'``.
        setting: 1 or 2 (2 removes every training slice showing one of ``exclude_labels``).
        exclude_labels: classes whose slices setting 2 removes (default ``test_labels``).
        n_shot: support slices per episode.
        num_episodes: length of one "epoch" (an InfiniteSampler just keeps drawing).
        img_size: (h, w) slices are resized to.
        min_size: least foreground pixels of a sampled class on the support and query slices.
        augment: random gamma + affine on the support or the query, as the official pipeline does.
        label_map: raw label value -> class id (unlisted values become background), e.g. MS-CMRSeg.
    """

    def __init__(self, data_root: str, fold: Optional[int] = 0, num_folds: int = 5, label_source: str = 'gt',
                 test_labels: Sequence[int] = (), setting: int = 1,
                 exclude_labels: Optional[Sequence[int]] = None,
                 n_shot: int = 1, num_episodes: int = 1000, img_size: Sequence[int] = (256, 256),
                 min_size: int = 200, max_slice_gap: int = 2, slice_axis: int = -1, augment: bool = True,
                 supervoxel_dir: str = 'supervoxels_5000', supervoxel_prefix: str = 'super_',
                 image_prefix: str = 'image_', label_prefix: str = 'label_',
                 label_names: Optional[Dict[int, str]] = None, rel_jitter: float = 0.1,
                 label_map: Optional[Dict[int, int]] = None):
        if label_source not in ('gt', 'supervoxel'):
            raise ValueError(f"label_source must be 'gt' or 'supervoxel', got {label_source!r}")
        _check_setting(setting)
        if n_shot < 1:
            raise ValueError(f'n_shot={n_shot}: need at least one support slice')
        self.label_source, self.n_shot, self.num_episodes = label_source, n_shot, num_episodes
        self.img_size = tuple(img_size) if img_size is not None else None
        self.min_size, self.max_slice_gap = min_size, max_slice_gap
        self.augment, self.rel_jitter = augment, rel_jitter
        self.test_labels = [int(c) for c in test_labels]
        self.setting = setting
        self.exclude_labels = self.test_labels if exclude_labels is None else [int(c) for c in exclude_labels]
        if setting == 2 and not self.exclude_labels:
            raise ValueError('setting 2 needs test_labels (or exclude_labels): the classes whose slices are '
                             'removed from training')
        self.vs = _VolumeSet(data_root, fold, num_folds, 'train', slice_axis, image_prefix, label_prefix,
                             supervoxel_dir if label_source == 'supervoxel' else None, supervoxel_prefix,
                             label_map)
        if len(self.vs.volumes) < 2 and label_source == 'gt':
            raise ValueError(f'{len(self.vs.volumes)} training volume(s) under {data_root}: episodes from '
                             'ground truth need >= 2 (support and query come from different volumes)')
        # plain types only: the Runner stores metainfo in checkpoints, which load with weights_only
        self.metainfo = dict(classes={int(k): str(v) for k, v in (label_names or {}).items()})
        self._index()

    def _allowed_slices(self, v: int) -> np.ndarray:
        lbl = self.vs.labels[v]
        keep = np.ones(lbl.shape[-1], bool)
        if self.setting == 2:
            shows = np.isin(lbl, self.exclude_labels).any(axis=(0, 1))
            keep &= ~shows
        return keep

    def _index(self) -> None:
        if self.label_source == 'gt':
            # class -> volume -> sorted slice indices with >= min_size pixels of that class
            self.class_slices: Dict[int, Dict[int, np.ndarray]] = {}
            for v, lbl in enumerate(self.vs.labels):
                allowed = self._allowed_slices(v)
                for c in np.unique(lbl):
                    if c == 0 or c in self.test_labels:
                        continue
                    counts = (lbl == c).sum(axis=(0, 1))
                    sl = np.flatnonzero((counts >= self.min_size) & allowed)
                    if len(sl):
                        self.class_slices.setdefault(int(c), {})[v] = sl
            self.classes = sorted(c for c, d in self.class_slices.items() if len(d) >= 2)
            if not self.classes:
                raise ValueError('no training class has >= min_size pixels in slices of two volumes: lower '
                                 f'min_size (now {self.min_size}), check test_labels {self.test_labels} / '
                                 f'setting {self.setting}, or check the label volumes')
        else:
            # per volume, per slice: supervoxel ids with >= min_size pixels
            self.sv_slices = []
            for v, sv in enumerate(self.vs.supervoxels):
                allowed = self._allowed_slices(v)
                per_slice = {}
                for z in np.flatnonzero(allowed):
                    ids, counts = np.unique(sv[..., z], return_counts=True)
                    good = ids[(counts >= self.min_size) & (ids > 0)]
                    if len(good):
                        per_slice[int(z)] = good
                self.sv_slices.append(per_slice)
            if not any(self.sv_slices):
                raise ValueError(f'no supervoxel covers min_size={self.min_size} pixels of a slice; lower '
                                 'min_size or generate larger supervoxels (fewer n_segments)')

    def __len__(self) -> int:
        return self.num_episodes

    # -- sampling ------------------------------------------------------------------------------
    def sample_episode(self) -> dict:
        """Volume/slice/class choice of one episode (no pixels): dict(label, query=(v, z),
        support=[(v, z), ...])."""
        if self.label_source == 'gt':
            c = int(np.random.choice(self.classes))
            vols = sorted(self.class_slices[c])
            qv = int(np.random.choice(vols))
            others = [v for v in vols if v != qv]
            svs = np.random.choice(others, self.n_shot, replace=len(others) < self.n_shot)
            q_sl = self.class_slices[c][qv]
            qz = int(np.random.choice(q_sl))
            # support slice at the same relative position inside the class's extent (as the protocol
            # matches chunks), with some jitter
            rel = (np.searchsorted(q_sl, qz) / max(len(q_sl) - 1, 1))
            support = []
            for sv in svs:
                s_sl = self.class_slices[c][int(sv)]
                r = np.clip(rel + np.random.uniform(-self.rel_jitter, self.rel_jitter), 0, 1)
                support.append((int(sv), int(s_sl[int(round(r * (len(s_sl) - 1)))])))
            return dict(label=c, query=(qv, qz), support=support)
        v = int(np.random.choice([i for i, d in enumerate(self.sv_slices) if d]))
        per_slice = self.sv_slices[v]
        z = int(np.random.choice(list(per_slice)))
        c = int(np.random.choice(per_slice[z]))
        near = [z + d for d in range(-self.max_slice_gap, self.max_slice_gap + 1)
                if d != 0 and z + d in per_slice and c in per_slice[z + d]]
        # support on slice z, query on a neighbour (the same slice, differently augmented, if none)
        qz = int(np.random.choice(near)) if near else z
        extra = [int(np.random.choice(near)) if near else z for _ in range(self.n_shot - 1)]
        return dict(label=c, query=(v, qz), support=[(v, z)] + [(v, p) for p in extra])

    def _slice(self, v: int, z: int, c: int) -> Tuple[torch.Tensor, torch.Tensor]:
        lbl = self.vs.labels[v] if self.label_source == 'gt' else self.vs.supervoxels[v]
        return (_to_tensor_slice(self.vs.images[v][..., z], self.img_size),
                _to_mask(lbl[..., z] == c, self.img_size))

    def __getitem__(self, idx: int) -> dict:
        ep = self.sample_episode()
        c = ep['label']
        q_img, q_mask = self._slice(*ep['query'], c)
        s = [self._slice(v, z, c) for v, z in ep['support']]
        s_imgs, s_masks = torch.stack([a for a, _ in s]), torch.stack([b for _, b in s])
        if self.augment:
            if np.random.rand() < 0.5:  # intensity change on one side only, as the official pipeline
                q_img = _random_gamma(q_img)
            else:
                s_imgs = torch.stack([_random_gamma(im) for im in s_imgs])
            if np.random.rand() < 0.5:
                q_img, q_mask = _random_affine(q_img, q_mask)
            else:
                pairs = [_random_affine(im, m) for im, m in zip(s_imgs, s_masks)]
                s_imgs, s_masks = torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs])
        meta = dict(label=c, query_volume=self.vs.volumes[ep['query'][0]]['id'], query_slice=ep['query'][1],
                    support_volumes=[self.vs.volumes[v]['id'] for v, _ in ep['support']],
                    support_slices=[z for _, z in ep['support']], label_source=self.label_source)
        sample = BaseDataElement(metainfo=meta)
        sample.gt_mask = q_mask.long()
        return dict(inputs=dict(support_imgs=s_imgs, support_masks=s_masks, query_img=q_img),
                    data_samples=sample)


@DATASETS.register_module()
class FewShotEvalDataset(Dataset):
    """The standard few-shot evaluation protocol, one item per query slice.

    Args:
        data_root: folder with the volumes.
        fold: the test fold (its volumes are the evaluation set); None: every volume.
        supp_idx: which volume of the fold is the support (the others are queries).
        test_labels: classes evaluated, one after another.
        n_part: chunks a query volume's slices are cut into; chunk ``i`` uses support slice ``i``.
        eval_slices: ``'labelled'`` (the protocol: only the slices where the class is present) or
            ``'all'`` (every slice; chunks then span the whole volume).
        img_size: (h, w) the model sees; predictions are resized back to the slice's own size.
        label_map: raw label value -> class id (unlisted values become background).
    """

    def __init__(self, data_root: str, fold: Optional[int] = 0, num_folds: int = 5, supp_idx: int = 0,
                 test_labels: Sequence[int] = (1, ), n_part: int = 3, eval_slices: str = 'labelled',
                 img_size: Sequence[int] = (256, 256), slice_axis: int = -1, image_prefix: str = 'image_',
                 label_prefix: str = 'label_', label_names: Optional[Dict[int, str]] = None,
                 label_map: Optional[Dict[int, int]] = None):
        if eval_slices not in ('labelled', 'all'):
            raise ValueError(f"eval_slices must be 'labelled' (protocol) or 'all', got {eval_slices!r}")
        if n_part < 1:
            raise ValueError(f'n_part={n_part}: need at least one chunk')
        if not test_labels:
            raise ValueError('test_labels is empty: name the classes to evaluate, e.g. '
                             'test_labels=[1, 2, 3, 4]')
        self.vs = _VolumeSet(data_root, fold, num_folds, 'test', slice_axis, image_prefix, label_prefix,
                             label_map=label_map)
        n = len(self.vs.volumes)
        if n < 2:
            raise ValueError(f'the evaluation set has {n} volume(s); it needs a support and >= 1 query '
                             'volume')
        if not 0 <= supp_idx < n:
            raise ValueError(f'supp_idx={supp_idx} is out of range: the fold has {n} volumes, use 0..{n - 1}')
        self.supp_idx, self.n_part, self.eval_slices = supp_idx, n_part, eval_slices
        self.img_size = tuple(img_size) if img_size is not None else None
        self.test_labels = [int(c) for c in test_labels]
        self.label_names = {int(k): str(v) for k, v in (label_names or {}).items()}
        self.metainfo = dict(classes=self.label_names)
        self._build()

    def _build(self) -> None:
        sup_lbl = self.vs.labels[self.supp_idx]
        sup_id = self.vs.volumes[self.supp_idx]['id']
        self.support_slices: Dict[int, List[int]] = {}
        self.items = []
        for c in self.test_labels:
            present = np.flatnonzero((sup_lbl == c).any(axis=(0, 1)))
            if not len(present):
                found = sorted(set(np.unique(np.concatenate([np.unique(l) for l in self.vs.labels]))) - {0})
                raise ValueError(f'label id {c} is absent from support volume {sup_id}; labels present in '
                                 f'the evaluation volumes: {found}. Fix test_labels or choose another '
                                 'supp_idx.')
            pcts = (2 * np.arange(self.n_part) + 1) / (2 * self.n_part)
            self.support_slices[c] = [int(present[int(p * len(present))]) for p in pcts]
            for v in range(len(self.vs.volumes)):
                if v == self.supp_idx:
                    continue
                lbl = self.vs.labels[v]
                if self.eval_slices == 'labelled':
                    zs = np.flatnonzero((lbl == c).any(axis=(0, 1)))
                    if not len(zs):
                        warnings.warn(f'class {c} is absent from query volume '
                                      f'{self.vs.volumes[v]["id"]}: skipped')
                        continue
                else:
                    zs = np.arange(lbl.shape[-1])
                bounds = np.linspace(0, len(zs), self.n_part + 1).astype(int)
                for part in range(self.n_part):
                    for z in zs[bounds[part]:bounds[part + 1]]:
                        self.items.append((c, v, int(z), part, len(zs)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, idx: int) -> dict:
        c, v, z, part, n_eval = self.items[idx]
        sz = self.support_slices[c][part]
        s_img = _to_tensor_slice(self.vs.images[self.supp_idx][..., sz], self.img_size)[None]
        s_mask = _to_mask(self.vs.labels[self.supp_idx][..., sz] == c, self.img_size)[None]
        q = self.vs.images[v][..., z]
        meta = dict(label=c, class_name=self.label_names.get(c, str(c)), volume=self.vs.volumes[v]['id'],
                    slice=z, num_eval_slices=n_eval, chunk=part, ori_shape=tuple(q.shape),
                    support_volume=self.vs.volumes[self.supp_idx]['id'], support_slice=sz)
        sample = BaseDataElement(metainfo=meta)
        sample.gt_mask = torch.from_numpy((self.vs.labels[v][..., z] == c).astype(np.int64))
        return dict(inputs=dict(support_imgs=s_img, support_masks=s_mask,
                                query_img=_to_tensor_slice(q, self.img_size)),
                    data_samples=sample)
