"""The toy datasets are real COCO / ADE20K data: they load in pycocotools, mmdet's CocoDataset and
mmseg's ADE20KDataset, are scored by the stock CocoMetric / IoUMetric, and are reproducible."""
import hashlib
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from vitdense.datasets.toy import (MARKER, TOY_ADE20K_CLASSES, TOY_ADE20K_IDS, TOY_ADE20K_PALETTE,
                                   TOY_COCO_CLASSES, make_toy_ade20k, make_toy_coco)

COCO_KW = dict(num_train=3, num_val=8, image_size=(96, 128), seed=3)
ADE_KW = dict(num_train=2, num_val=6, image_size=(64, 96), seed=3)


@pytest.fixture(scope='module')
def toy_coco(tmp_path_factory):
    return make_toy_coco(str(tmp_path_factory.mktemp('toy_coco')), **COCO_KW)


@pytest.fixture(scope='module')
def toy_ade(tmp_path_factory):
    return make_toy_ade20k(str(tmp_path_factory.mktemp('toy_ade20k')), **ADE_KW)


def _tree_digest(root):
    """{relative path: sha256} of every file under root."""
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = osp.join(d, n)
            with open(p, 'rb') as f:
                out[osp.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _mtimes(root):
    return {p: os.stat(osp.join(root, p)).st_mtime_ns for p in _tree_digest(root)}


def _rgb(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    assert img is not None, path
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# --------------------------------------------------------------------------------------------------
# COCO
# --------------------------------------------------------------------------------------------------
def test_coco_json_is_valid_coco(toy_coco):
    from pycocotools.coco import COCO
    h, w = COCO_KW['image_size']
    for split, num in (('train', COCO_KW['num_train']), ('val', COCO_KW['num_val'])):
        coco = COCO(toy_coco[f'{split}_ann_file'])
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(TOY_COCO_CLASSES)
        assert all(c['supercategory'] == 'shape' for c in coco.dataset['categories'])
        img_ids = coco.getImgIds()
        assert len(img_ids) == num
        for img in coco.loadImgs(img_ids):
            assert (img['height'], img['width']) == (h, w)
            assert osp.isfile(osp.join(toy_coco[f'{split}_img_dir'], img['file_name']))
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
            assert 1 <= len(anns) <= 4
            for a in anns:
                assert a['iscrowd'] == 0 and a['category_id'] in (1, 2, 3) and a['area'] > 0
                assert isinstance(a['segmentation'], list) and len(a['segmentation']) == 1
                poly = a['segmentation'][0]
                assert len(poly) % 2 == 0 and len(poly) >= 6
                x, y, bw, bh = a['bbox']
                assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
                # 16 px minimum side/diameter; maximum clamped to 0.45 of the short side (a square
                # rotated by up to 20 degrees has a box up to 1.28 times its side)
                assert 12 <= max(bw, bh) <= 1.3 * 0.45 * min(h, w)
    # annotation and image ids are unique over both splits (a COCO requirement for merging)
    ids = [json.load(open(toy_coco[f'{s}_ann_file']))['images'] for s in ('train', 'val')]
    flat = [i['id'] for part in ids for i in part]
    assert len(flat) == len(set(flat)) and min(flat) >= 1


def test_coco_polygons_match_the_drawn_pixels(toy_coco):
    """Re-render check: each annotation's polygon mask is exactly the set of pixels of that object's
    colour, its `area` is that pixel count, and its bbox encloses it; objects do not overlap."""
    from pycocotools.coco import COCO
    num_checked = 0
    for split in ('train', 'val'):
        coco = COCO(toy_coco[f'{split}_ann_file'])
        for img_info in coco.loadImgs(coco.getImgIds()):
            img = _rgb(osp.join(toy_coco[f'{split}_img_dir'], img_info['file_name'])).astype(np.int32)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img_info['id']))
            occupied = np.zeros(img.shape[:2], np.int32)
            for a in anns:
                mask = coco.annToMask(a).astype(bool)
                colours = np.unique(img[mask], axis=0)
                assert len(colours) == 1, f'object {a["id"]} is not one flat colour: {len(colours)}'
                colour = colours[0]
                assert colour.max() - colour.min() >= 150, 'objects are saturated colours'
                drawn = (img == colour).all(-1)
                assert drawn.sum() == mask.sum() == a['area']
                assert (drawn == mask).all()
                ys, xs = np.nonzero(mask)
                x, y, bw, bh = a['bbox']
                assert x - 1 <= xs.min() and xs.max() <= x + bw + 1
                assert y - 1 <= ys.min() and ys.max() <= y + bh + 1
                # the box is tight: the mask reaches to within 1.5 px of every side
                assert xs.min() <= x + 1.5 and xs.max() + 1 >= x + bw - 1.5
                assert ys.min() <= y + 1.5 and ys.max() + 1 >= y + bh - 1.5
                occupied += mask
                num_checked += 1
            assert occupied.max() <= 1, 'objects overlap'
            background = img[occupied == 0]
            assert (background.max(-1) - background.min(-1)).max() < 100, 'background is muted'
            assert background.std() > 2, 'background is textured'
    assert num_checked >= COCO_KW['num_train'] + COCO_KW['num_val']


def _build_det_dataset(toy_coco, split='val'):
    from mmdet.registry import DATASETS
    return DATASETS.build(dict(
        type='CocoDataset', _scope_='mmdet', data_root=toy_coco['root'],
        ann_file=toy_coco['ann_file'][split], data_prefix=toy_coco['data_prefix'][split],
        metainfo=toy_coco['metainfo'], test_mode=True,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                  dict(type='PackDetInputs')]))


def test_mmdet_coco_dataset_yields_boxes_and_masks(toy_coco):
    from pycocotools.coco import COCO
    ds = _build_det_dataset(toy_coco)
    coco = COCO(toy_coco['val_ann_file'])
    h, w = COCO_KW['image_size']
    assert len(ds) == COCO_KW['num_val']
    assert tuple(ds.metainfo['classes']) == TOY_COCO_CLASSES
    for i in range(len(ds)):
        item = ds[i]
        assert tuple(item['inputs'].shape) == (3, h, w)
        gt = item['data_samples'].gt_instances
        anns = coco.loadAnns(coco.getAnnIds(imgIds=item['data_samples'].img_id))
        assert len(gt) == len(anns) >= 1
        assert tuple(gt.bboxes.tensor.shape) == (len(anns), 4)
        assert gt.masks.masks.shape == (len(anns), h, w)
        assert sorted(gt.labels.tolist()) == sorted(a['category_id'] - 1 for a in anns)
        areas = gt.masks.masks.reshape(len(anns), -1).sum(1).tolist()
        assert sorted(areas) == sorted(a['area'] for a in anns)
        boxes = gt.bboxes.tensor
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


def _coco_eval(toy_coco, ds, label_shift=0):
    from mmdet.registry import METRICS
    from mmengine.structures import InstanceData
    metric = METRICS.build(dict(type='CocoMetric', _scope_='mmdet', ann_file=toy_coco['val_ann_file'],
                                metric=['bbox', 'segm']))
    metric.dataset_meta = ds.metainfo
    samples = []
    for i in range(len(ds)):
        s = ds[i]['data_samples']
        gt = s.gt_instances
        s.pred_instances = InstanceData(
            bboxes=gt.bboxes.tensor.clone(), scores=torch.ones(len(gt)),
            labels=(gt.labels + label_shift) % len(TOY_COCO_CLASSES),
            masks=torch.from_numpy(gt.masks.masks.astype(bool)))
        samples.append(s.to_dict())
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_coco_metric_scores_ground_truth_as_perfect(toy_coco):
    ds = _build_det_dataset(toy_coco)
    res = _coco_eval(toy_coco, ds)
    assert res['coco/bbox_mAP'] == 1.0 and res['coco/segm_mAP'] == 1.0
    # the same boxes with the wrong classes score nothing: the metric is really comparing
    wrong = _coco_eval(toy_coco, ds, label_shift=1)
    assert wrong['coco/bbox_mAP'] < 0.2 and wrong['coco/segm_mAP'] < 0.2


# --------------------------------------------------------------------------------------------------
# ADE20K
# --------------------------------------------------------------------------------------------------
def test_toy_ade20k_ids_are_mmseg_ade20k_ids():
    from mmseg.datasets import ADE20KDataset
    classes = ADE20KDataset.METAINFO['classes']
    for name, ade_id in TOY_ADE20K_IDS.items():
        assert classes[ade_id - 1] == name
    palette = ADE20KDataset.METAINFO['palette']
    assert [list(p) for p in TOY_ADE20K_PALETTE] == [list(palette[i - 1]) for i in TOY_ADE20K_IDS.values()]


def test_ade20k_files_have_the_real_layout(toy_ade):
    h, w = ADE_KW['image_size']
    allowed = {0} | set(TOY_ADE20K_IDS.values())
    seen = set()
    for split, num in (('train', ADE_KW['num_train']), ('val', ADE_KW['num_val'])):
        imgs = sorted(os.listdir(toy_ade[f'{split}_img_dir']))
        segs = sorted(os.listdir(toy_ade[f'{split}_seg_dir']))
        assert len(imgs) == len(segs) == num
        assert [osp.splitext(n)[0] for n in imgs] == [osp.splitext(n)[0] for n in segs]
        assert all(n.endswith('.jpg') for n in imgs) and all(n.endswith('.png') for n in segs)
        for n in segs:
            lab = cv2.imread(osp.join(toy_ade[f'{split}_seg_dir'], n), cv2.IMREAD_UNCHANGED)
            assert lab.dtype == np.uint8 and lab.shape == (h, w)
            values = set(np.unique(lab).tolist())
            assert values <= allowed
            assert 0 in values, 'every image has some unlabelled clutter'
            seen |= values
        for n in imgs:
            assert _rgb(osp.join(toy_ade[f'{split}_img_dir'], n)).shape == (h, w, 3)
    assert len(seen - {0}) >= 5, f'too few classes occur: {seen}'


def _build_seg_dataset(toy_ade, split='val', subset=True):
    from mmseg.registry import DATASETS
    cfg = dict(type='ADE20KDataset', _scope_='mmseg', data_root=toy_ade['root'],
               data_prefix=toy_ade['data_prefix'][split], test_mode=True,
               pipeline=[dict(type='LoadImageFromFile'),
                         dict(type='LoadAnnotations', reduce_zero_label=True),
                         dict(type='PackSegInputs')])
    if subset:
        cfg['metainfo'] = toy_ade['metainfo']
    return DATASETS.build(cfg)


@pytest.mark.parametrize('subset', [True, False], ids=['metainfo-subset', 'all-150'])
def test_mmseg_ade20k_dataset_label_values(toy_ade, subset):
    ds = _build_seg_dataset(toy_ade, subset=subset)
    assert len(ds) == ADE_KW['num_val']
    # expected train id of every raw ADE20K id after reduce_zero_label (+ label_map for the subset)
    lut = np.full(256, 255, np.int64)
    if subset:
        assert tuple(ds.metainfo['classes']) == TOY_ADE20K_CLASSES
        for new, name in enumerate(TOY_ADE20K_CLASSES):
            lut[TOY_ADE20K_IDS[name]] = new
        expected_values = set(range(len(TOY_ADE20K_CLASSES))) | {255}
    else:
        assert len(ds.metainfo['classes']) == 150
        lut[1:151] = np.arange(150)
        expected_values = {i - 1 for i in TOY_ADE20K_IDS.values()} | {255}
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        seg = item['data_samples'].gt_sem_seg.data
        assert seg.shape == (1, *ADE_KW['image_size'])
        assert tuple(item['inputs'].shape) == (3, *ADE_KW['image_size'])
        raw = cv2.imread(item['data_samples'].seg_map_path, cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(seg[0].numpy(), lut[raw])
        values = set(torch.unique(seg).tolist())
        assert values <= expected_values
        seen |= values
    assert 255 in seen and len(seen) >= 4


def _seg_eval(ds, shift=0):
    from mmengine.structures import PixelData
    from mmseg.registry import METRICS
    metric = METRICS.build(dict(type='IoUMetric', _scope_='mmseg', iou_metrics=['mIoU']))
    metric.dataset_meta = ds.metainfo
    n = len(ds.metainfo['classes'])
    samples = []
    for i in range(len(ds)):
        s = ds[i]['data_samples']
        gt = s.gt_sem_seg.data
        pred = torch.where(gt == 255, gt, (gt + shift) % n)
        s.pred_sem_seg = PixelData(data=pred)
        samples.append(s.to_dict())
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_iou_metric_scores_ground_truth_as_perfect(toy_ade):
    ds = _build_seg_dataset(toy_ade)
    res = _seg_eval(ds)
    assert res['mIoU'] == 100.0 and res['aAcc'] == 100.0
    assert _seg_eval(ds, shift=1)['mIoU'] < 50.0


# --------------------------------------------------------------------------------------------------
# reproducibility, idempotency, CLIs
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('make', [make_toy_coco, make_toy_ade20k], ids=['coco', 'ade20k'])
def test_generators_are_deterministic(tmp_path, make):
    kw = dict(num_train=2, num_val=2, image_size=(64, 80), seed=7)
    a, b, c = (make(str(tmp_path / n), **dict(kw, seed=s)) for n, s in (('a', 7), ('b', 7), ('c', 8)))
    assert a['created'] and b['created'] and c['created']
    da, db, dc = (_tree_digest(x['root']) for x in (a, b, c))
    assert len(da) == 2 * 2 + (2 if make is make_toy_coco else 2 * 2) + 1  # images (+ maps) + jsons + marker
    assert da == db
    images = [p for p in da if p.endswith(('.png', '.jpg')) and not p.startswith('annotations')]
    assert images and all(da[p] != dc[p] for p in images), 'another seed gives other images'


@pytest.mark.parametrize('make', [make_toy_coco, make_toy_ade20k], ids=['coco', 'ade20k'])
def test_generators_are_idempotent(tmp_path, make):
    root = str(tmp_path / 'ds')
    kw = dict(num_train=2, num_val=3, image_size=(64, 80), seed=1)
    assert make(root, **kw)['created']
    before, stamps = _tree_digest(root), _mtimes(root)
    again = make(root, **kw)
    assert again['created'] is False
    assert _tree_digest(root) == before and _mtimes(root) == stamps
    # an incomplete dataset (a file lost) is rewritten
    victim = sorted(p for p in before if p != MARKER)[0]
    os.remove(osp.join(root, victim))
    assert make(root, **kw)['created'] and _tree_digest(root) == before
    # other parameters rewrite it, leaving no stale files from the earlier run
    smaller = make(root, **dict(kw, num_val=1))
    assert smaller['created']
    assert len(_tree_digest(root)) < len(before)
    assert len(os.listdir(smaller['val_img_dir'])) == 1
    assert len(os.listdir(smaller['train_img_dir'])) == 2


def _make_in_process(name, root, kw, queue):
    import vitdense.datasets.toy as toy
    out = getattr(toy, name)(root, **kw)
    queue.put(out['created'])


@pytest.mark.parametrize('name', ['make_toy_coco', 'make_toy_ade20k'])
def test_concurrent_generators_write_one_complete_dataset(tmp_path, name):
    """Three processes asking for the same dataset at once (distributed ranks, parallel test
    workers): one writes it under the folder's lock, the others wait and find it complete; the
    result equals a dataset written alone."""
    import multiprocessing as mp
    kw = dict(num_train=3, num_val=2, image_size=(64, 80), seed=4)
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    root = str(tmp_path / 'shared')
    procs = [ctx.Process(target=_make_in_process, args=(name, root, kw, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)  # each child imports vitdense (torch, mmcv, mmdet): slow on a loaded machine
        assert p.exitcode == 0
    created = sorted(queue.get(timeout=10) for _ in procs)
    assert created == [False, False, True]
    import vitdense.datasets.toy as toy
    alone = getattr(toy, name)(str(tmp_path / 'alone'), **kw)
    assert alone['created'] and _tree_digest(root) == _tree_digest(alone['root'])


def _load_cli(repo_root, name):
    path = osp.join(repo_root, 'tools', 'dataset', name + '.py')
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize('name', ['make_toy_coco', 'make_toy_ade20k'])
def test_clis(repo_root, tmp_path, capsys, name):
    cli = _load_cli(repo_root, name)
    out = str(tmp_path / 'out')
    cli.main(['--out', out, '--num-train', '2', '--num-val', '1', '--size', '64', '80', '--seed', '5'])
    text = capsys.readouterr().out
    assert text.startswith('wrote') and out in text
    with open(osp.join(out, MARKER)) as f:
        params = json.load(f)['params']
    got = (params['num_train'], params['num_val'], params['image_size'], params['seed'])
    assert got == (2, 1, [64, 80], 5)
    cli.main(['--out', out, '--num-train', '2', '--num-val', '1', '--size', '64', '80', '--seed', '5'])
    assert 'nothing written' in capsys.readouterr().out
