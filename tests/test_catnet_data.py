"""Few-shot volume data: loading NIfTI / .npy, the synthetic generator, supervoxels, the official
folds, the episodic sampler (GT and supervoxel), setting 2 and the evaluation protocol."""
import numpy as np
import pytest
import torch

import vitdense  # noqa: F401
from vitdense.fewshot import (EpisodicVolumeDataset, FewShotEvalDataset, find_volumes, fold_indices,
                              load_volume, slic_supervoxels, write_synthetic_dataset)
from vitdense.fewshot.synthetic import save_volume


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_fewshot')
    write_synthetic_dataset(str(root), num_volumes=10, shape=(48, 48, 16), seed=1,
                            supervoxels=dict(method='slic', n_segments=120))
    return str(root)


def test_synthetic_volumes_are_nifti_with_labels(toy_root):
    import nibabel as nib
    img = nib.load(f'{toy_root}/image_1.nii.gz')
    lbl = np.asanyarray(nib.load(f'{toy_root}/label_1.nii.gz').dataobj)
    assert img.shape == (48, 48, 16) and lbl.shape == (48, 48, 16)
    assert set(np.unique(lbl)) == {0, 1, 2, 3}
    # organs differ in intensity from one another: mean intensities are distinct
    data = np.asanyarray(img.dataobj)
    means = [data[lbl == c].mean() for c in (1, 2, 3)]
    assert min(abs(a - b) for i, a in enumerate(means) for b in means[i + 1:]) > 0.1


def test_npy_and_nifti_load_the_same(tmp_path):
    arr = np.random.default_rng(0).random((6, 5, 4)).astype(np.float32)
    save_volume(str(tmp_path / 'a.nii.gz'), arr)
    save_volume(str(tmp_path / 'a.npy'), arr)
    assert np.allclose(load_volume(str(tmp_path / 'a.nii.gz')), load_volume(str(tmp_path / 'a.npy')))
    assert load_volume(str(tmp_path / 'a.npy'), slice_axis=0).shape == (5, 4, 6)
    with pytest.raises(FileNotFoundError):
        load_volume(str(tmp_path / 'missing.nii.gz'))


def test_official_folds():
    # CHAOS-T2 (20), Synapse (30), MS-CMRSeg (35): the splits of the official dataset_specifics
    assert fold_indices(20, 0) == [0, 1, 2, 3, 4]
    assert fold_indices(20, 4) == [0, 16, 17, 18, 19]
    assert fold_indices(30, 1) == list(range(6, 13))
    assert fold_indices(35, 4) == [0] + list(range(28, 35))
    with pytest.raises(ValueError, match='fold=5 is out of range'):
        fold_indices(20, 5)


def test_missing_label_pair_is_named(tmp_path):
    save_volume(str(tmp_path / 'image_1.nii.gz'), np.zeros((4, 4, 2), np.float32))
    with pytest.raises(FileNotFoundError, match='label_1.nii.gz'):
        find_volumes(str(tmp_path))


def test_supervoxels_cover_the_body_only():
    from vitdense.fewshot.synthetic import make_synthetic_volume
    img, _ = make_synthetic_volume(np.random.default_rng(0), (40, 40, 8))
    sv = slic_supervoxels(img, n_segments=60)
    assert sv.shape == img.shape and sv[0, 0, 0] == 0  # corner is air
    ids = np.unique(sv)
    assert ids[0] == 0 and np.array_equal(ids, np.arange(len(ids))) and len(ids) > 10


@pytest.mark.parametrize('n_shot', [1, 2])
def test_gt_episodes_never_take_support_from_the_query_volume(toy_root, n_shot):
    np.random.seed(0)
    ds = EpisodicVolumeDataset(toy_root, fold=0, label_source='gt', n_shot=n_shot, img_size=(32, 32),
                               min_size=5)
    train_ids = {v['id'] for v in ds.vs.volumes}
    assert not train_ids & {str(i + 1) for i in fold_indices(10, 0)}  # test fold left out
    for i in range(150):
        item = ds[i]
        meta = item['data_samples'].metainfo
        assert meta['query_volume'] not in meta['support_volumes']
        assert len(meta['support_volumes']) == n_shot
        assert item['inputs']['support_imgs'].shape == (n_shot, 3, 32, 32)
        assert item['inputs']['support_masks'].shape == (n_shot, 32, 32)
        assert item['inputs']['query_img'].shape == (3, 32, 32)
    ds.augment = False
    for i in range(30):  # without augmentation both sides show the sampled class
        item = ds[i]
        assert item['inputs']['support_masks'].sum() > 0 and item['data_samples'].gt_mask.sum() > 0


def test_gt_training_skips_test_classes(toy_root):
    np.random.seed(0)
    ds = EpisodicVolumeDataset(toy_root, fold=1, label_source='gt', test_labels=[2], img_size=(32, 32),
                               min_size=5)
    assert ds.classes == [1, 3]
    assert {ds.sample_episode()['label'] for _ in range(100)} == {1, 3}


def test_supervoxel_episodes(toy_root):
    np.random.seed(0)
    ds = EpisodicVolumeDataset(toy_root, fold=0, label_source='supervoxel', supervoxel_dir='supervoxels_120',
                               img_size=(48, 48), min_size=10, augment=False)
    gaps = []
    for _ in range(60):
        ep = ds.sample_episode()
        (qv, qz), [(sv, sz)] = ep['query'], ep['support']
        assert qv == sv  # supervoxel ids only mean something inside their own volume
        vol = ds.vs.supervoxels[qv]
        assert (vol[..., qz] == ep['label']).sum() >= 10 and (vol[..., sz] == ep['label']).sum() >= 10
        gaps.append(abs(qz - sz))
    assert max(gaps) <= ds.max_slice_gap and np.mean(gaps) > 0  # mostly neighbouring, different slices
    item = ds[0]
    assert item['inputs']['support_masks'].sum() > 0


def test_setting2_removes_slices_showing_test_classes(toy_root):
    np.random.seed(0)
    for source, kw in (('gt', {}), ('supervoxel', dict(supervoxel_dir='supervoxels_120'))):
        ds = EpisodicVolumeDataset(toy_root, fold=0, label_source=source, setting=2, test_labels=[2],
                                   img_size=(32, 32), min_size=5, **kw)
        for _ in range(100):
            ep = ds.sample_episode()
            for v, z in [ep['query']] + ep['support']:
                assert not (ds.vs.labels[v][..., z] == 2).any()
    with pytest.raises(ValueError, match='unknown setting 3'):
        EpisodicVolumeDataset(toy_root, setting=3)
    with pytest.raises(ValueError, match='setting 2 needs test_labels'):
        EpisodicVolumeDataset(toy_root, setting=2)


def test_eval_protocol(toy_root):
    ds = FewShotEvalDataset(toy_root, fold=0, supp_idx=1, test_labels=[1, 3], n_part=3, img_size=(32, 32))
    fold_ids = [str(i + 1) for i in fold_indices(10, 0)]
    assert [v['id'] for v in ds.vs.volumes] == fold_ids
    support_id = fold_ids[1]
    for c in (1, 3):
        present = np.flatnonzero((ds.vs.labels[1] == c).any(axis=(0, 1)))
        expected = [present[int(p * len(present))] for p in (1 / 6, 3 / 6, 5 / 6)]
        assert ds.support_slices[c] == [int(e) for e in expected]
    seen = {}
    for i in range(len(ds)):
        c, v, z, part, n = ds.items[i]
        assert v != 1  # the support volume is never a query
        seen.setdefault((c, v), []).append((z, part))
    for (c, v), zs in seen.items():
        labelled = np.flatnonzero((ds.vs.labels[v] == c).any(axis=(0, 1)))
        assert sorted(z for z, _ in zs) == labelled.tolist()  # every labelled slice, once
        parts = [p for _, p in sorted(zs)]
        assert parts == sorted(parts) and set(parts) == {0, 1, 2}  # chunks follow slice order
    item = ds[0]
    meta = item['data_samples'].metainfo
    assert meta['support_volume'] == support_id and meta['ori_shape'] == (48, 48)
    assert item['inputs']['support_imgs'].shape == (1, 3, 32, 32)
    assert item['data_samples'].gt_mask.shape == (48, 48)
    assert torch.equal(item['inputs']['support_masks'][0] > 0,
                       torch.nn.functional.interpolate(
                           torch.from_numpy((ds.vs.labels[1][..., meta['support_slice']] == meta['label'])
                                            .astype(np.float32))[None, None], size=(32, 32))[0, 0] > 0)


def test_eval_bad_input(toy_root):
    with pytest.raises(ValueError, match='label id 7 is absent'):
        FewShotEvalDataset(toy_root, fold=0, test_labels=[7])
    with pytest.raises(ValueError, match='supp_idx=9 is out of range'):
        FewShotEvalDataset(toy_root, fold=0, supp_idx=9, test_labels=[1])
    with pytest.raises(ValueError, match='fold=-1 is out of range'):
        FewShotEvalDataset(toy_root, fold=-1, test_labels=[1])
    with pytest.raises(ValueError, match="eval_slices"):
        FewShotEvalDataset(toy_root, fold=0, test_labels=[1], eval_slices='some')
    with pytest.raises(ValueError, match="label_source"):
        EpisodicVolumeDataset(toy_root, label_source='pseudo')
    with pytest.raises(FileNotFoundError, match='python -m vitdense.datasets.toy supervoxels'):
        EpisodicVolumeDataset(toy_root, label_source='supervoxel', supervoxel_dir='supervoxels_999')


def test_label_map_for_raw_ids(tmp_path):
    lbl = np.zeros((8, 8, 6), np.int64)
    lbl[2:5, 2:5, 1:5] = 500
    lbl[5:7, 5:7, 2:4] = 200
    for i in (1, 2, 3):
        img = np.random.default_rng(i).random((8, 8, 6)).astype(np.float32)
        save_volume(str(tmp_path / f'image_{i}.npy'), img)
        save_volume(str(tmp_path / f'label_{i}.npy'), lbl)
    ds = FewShotEvalDataset(str(tmp_path), fold=None, test_labels=[2], label_map={200: 1, 500: 2},
                            img_size=None, n_part=1)
    assert set(np.unique(ds.vs.labels[0])) == {0, 1, 2}
    assert len(ds) == 2 * 4  # two query volumes x four labelled slices
