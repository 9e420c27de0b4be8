"""CAT-Net: module shapes, masking, the refinement steps and their losses, 3D Dice, every config in
configs/catnet, and (slow) a toy training run on synthetic volumes that must beat trivial baselines."""
import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement

import vitdense  # noqa: F401
from vitdense.fewshot import CATNet, CMAT, VolumeDice, dice_score, masked_average_pool, prior_mask
from vitdense.fewshot.catnet import MaskedCrossAttention
from vitdense.registry import DATASETS, MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', 'catnet', '*.py')))


def _small(num_refine=2, **kw):
    return CATNet(backbone=dict(type='mmpretrain.ResNet', depth=18, stem_channels=16, base_channels=16,
                                strides=(1, 2, 1, 1), dilations=(1, 1, 2, 2), out_indices=(3, )),
                  feat_channels=32, num_refine=num_refine, num_heads=4, **kw)


def _episode(B=2, K=1, H=64, W=64):
    masks = torch.zeros(B, K, H, W)
    masks[..., 20:40, 16:44] = 1
    return dict(support_imgs=torch.randn(B, K, 3, H, W), support_masks=masks,
                query_img=torch.randn(B, 3, H, W))


@pytest.mark.parametrize('K', [1, 2])
def test_shapes_through_every_module(K):
    model = _small(num_refine=3).eval()
    x = _episode(B=2, K=K)
    f_s, m_s, f_q, logit, prior = model.mife(x['support_imgs'], x['support_masks'], x['query_img'])
    h, w = f_q.shape[-2:]
    assert (h, w) == (8, 8)  # 64 px at output stride 8
    assert f_s.shape == (2, K, 32, h, w) and m_s.shape == (2, K, 1, h, w) and f_q.shape == (2, 32, h, w)
    assert logit.shape == (2, 1, h, w) and prior.shape == (2, 1, h, w)
    assert prior.min() >= 0 and prior.max() <= 1 + 1e-6
    f_s2, f_q2, logit2 = model.cmats[0](f_s, m_s, f_q, logit)
    assert f_s2.shape == f_s.shape and f_q2.shape == f_q.shape and logit2.shape == logit.shape
    with torch.no_grad():
        outs = model(x, mode='tensor')
    assert len(outs) == 4 and all(o.shape == (2, 1, h, w) and torch.isfinite(o).all() for o in outs)
    samples = [BaseDataElement(metainfo=dict(ori_shape=(80, 96))) for _ in range(2)]
    with torch.no_grad():
        preds = model(x, samples, mode='predict')
    assert [tuple(p.pred_mask.shape) for p in preds] == [(80, 96)] * 2
    assert set(torch.unique(preds[0].pred_mask).tolist()) <= {0, 1}


def test_prototype_and_prior_on_known_features():
    feats = torch.zeros(1, 1, 2, 2, 2)
    feats[0, 0, :, 0, 0] = torch.tensor([1.0, 0.0])  # foreground position
    feats[0, 0, :, 1, 1] = torch.tensor([0.0, 5.0])  # background position
    mask = torch.zeros(1, 1, 1, 2, 2)
    mask[0, 0, 0, 0, 0] = 1
    assert torch.allclose(masked_average_pool(feats, mask), torch.tensor([[1.0, 0.0]]), atol=1e-4)
    query = torch.tensor([[[[2.0, 0.0], [1.0, 0.0]], [[0.0, 3.0], [1.0, 1.0]]]])  # (1, 2, 2, 2)
    prior = prior_mask(query, feats, mask)[0, 0]
    # cosine to the foreground feature (1, 0): 1, 0, cos45, 0 -> min-max scaled
    assert torch.allclose(prior, torch.tensor([[1.0, 0.0], [2 ** -0.5, 0.0]]), atol=1e-4)


def test_cross_attention_ignores_masked_keys():
    torch.manual_seed(0)
    attn = MaskedCrossAttention(16, 4).eval()
    x, ctx = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    keep = torch.zeros(2, 7, dtype=torch.bool)
    keep[:, :3] = True
    out = attn(x, ctx, keep)
    ctx2 = ctx.clone()
    ctx2[:, 3:] = torch.randn(2, 4, 16) * 10  # change only the removed (background) keys
    assert torch.allclose(out, attn(x, ctx2, keep), atol=1e-5)
    ctx3 = ctx.clone()
    ctx3[:, :3] += torch.randn(2, 3, 16)  # change the kept keys: the output must move
    assert not torch.allclose(out, attn(x, ctx3, keep), atol=1e-3)


def test_cmat_uses_previous_prediction_as_query_mask():
    torch.manual_seed(0)
    cmat = CMAT(dim=16, num_heads=4).eval()
    f_s, f_q = torch.randn(1, 1, 16, 4, 4), torch.randn(1, 16, 4, 4)
    m_s = torch.zeros(1, 1, 1, 4, 4)
    m_s[..., :2, :2] = 1
    prev_a = torch.full((1, 1, 4, 4), -5.0)
    prev_a[..., 0, 0] = 5.0
    prev_b = torch.full((1, 1, 4, 4), -5.0)
    prev_b[..., 3, 3] = 5.0
    # different predicted query foregrounds -> the support tokens read different query tokens
    s_a, _, _ = cmat(f_s, m_s, f_q, prev_a)
    s_b, _, _ = cmat(f_s, m_s, f_q, prev_b)
    assert not torch.allclose(s_a, s_b, atol=1e-4)


@pytest.mark.parametrize('num_refine', [0, 2, 4])
def test_each_refinement_step_predicts_and_is_in_the_loss(num_refine):
    model = _small(num_refine=num_refine).train()
    x = _episode(B=2)
    gt = torch.zeros(64, 64, dtype=torch.long)
    gt[24:44, 20:40] = 1
    samples = [BaseDataElement(gt_mask=gt) for _ in range(2)]
    logits = model.forward_logits(x['support_imgs'], x['support_masks'], x['query_img'])
    assert len(logits) == num_refine + 1
    losses = model(x, samples, mode='loss')
    assert list(losses) == ['loss_init'] + [f'loss_refine{i}' for i in range(1, num_refine + 1)]
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    for i, cmat in enumerate(model.cmats):  # step i's loss trains step i's head
        model.zero_grad()
        losses[f'loss_refine{i + 1}'].backward(retain_graph=True)
        assert cmat.head.t.grad is not None and cmat.head.t.grad.abs() > 0
    model.zero_grad()
    sum(losses.values()).backward()
    assert model.mife.head.t.grad.abs() > 0
    assert all(c.head.t.grad.abs() > 0 for c in model.cmats)


def test_predict_outputs_the_chosen_step():
    model = _small(num_refine=2).eval()
    x = _episode(B=2)
    with torch.no_grad():
        logits = model(x, mode='tensor')
        for step in (0, 1, -1):
            model.predict_step = step
            preds = model(x, [BaseDataElement(metainfo=dict(ori_shape=(64, 64))) for _ in range(2)], 'predict')
            up = torch.nn.functional.interpolate(logits[step], size=(64, 64), mode='bilinear', align_corners=False)
            assert torch.equal(torch.stack([p.pred_mask for p in preds]), (up[:, 0] > 0).to(torch.uint8))


def test_bad_model_arguments():
    with pytest.raises(ValueError, match='step_weights'):
        _small(num_refine=2, step_weights=[1.0, 1.0])
    model = _small(num_refine=1)
    with pytest.raises(ValueError, match='Invalid mode'):
        model(_episode(), mode='nope')
    with pytest.raises(ValueError, match='predict_step=3 is out of range'):
        _small(num_refine=2, predict_step=3)
    bad = _episode()
    bad['support_masks'] = bad['support_masks'][:, :, :32]
    with pytest.raises(ValueError, match='support_masks'):
        model(bad)


def test_dice_score_on_known_masks():
    pred = np.zeros((4, 4, 2), bool)
    gt = np.zeros((4, 4, 2), bool)
    pred[0, 0, 0] = pred[1, 1, 0] = pred[2, 2, 1] = True  # 3 voxels
    gt[0, 0, 0] = gt[2, 2, 1] = gt[3, 3, 1] = gt[3, 0, 0] = True  # 4 voxels, 2 shared
    assert dice_score(pred, gt) == pytest.approx(2 * 2 / 7)
    assert dice_score(np.zeros(3), np.zeros(3)) == 1.0
    assert dice_score(np.ones(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match='differ in shape'):
        dice_score(np.zeros(3), np.zeros(4))


def test_volume_dice_stacks_slices_per_volume():
    rng = np.random.default_rng(0)
    vols = {('a', 1): (rng.random((6, 5, 4)) > 0.5, rng.random((6, 5, 4)) > 0.4),
            ('b', 1): (rng.random((6, 5, 3)) > 0.7, rng.random((6, 5, 3)) > 0.5),
            ('a', 2): (rng.random((6, 5, 4)) > 0.2, rng.random((6, 5, 4)) > 0.6)}
    samples = []
    for (vol, lb), (pred, gt) in vols.items():
        for z in range(pred.shape[-1]):
            samples.append(dict(label=lb, class_name=f'c{lb}', volume=vol, slice=z,
                                pred_mask=torch.from_numpy(pred[..., z].astype(np.uint8)),
                                gt_mask=torch.from_numpy(gt[..., z].astype(np.int64))))
    order = rng.permutation(len(samples))  # arrival order must not matter
    metric = VolumeDice()
    metric.process({}, [samples[i] for i in order])
    res = metric.compute_metrics(metric.results)

    def direct(p, g):  # straight from the definition, on the whole 3D arrays
        return 2 * (p & g).sum() / (p.sum() + g.sum())

    c1 = 100 * np.mean([direct(*vols[('a', 1)]), direct(*vols[('b', 1)])])
    c2 = 100 * direct(*vols[('a', 2)])
    assert res['Dice_c1'] == pytest.approx(c1)
    assert res['Dice_c2'] == pytest.approx(c2)
    assert res['mDice'] == pytest.approx((c1 + c2) / 2)


def test_configs_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'catnet_r101_abd_mri_setting1.py', 'catnet_r101_abd_ct_setting1.py', 'catnet_r101_card_mri.py',
            'catnet_r18_toy.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.basename(p))
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'vitdense'
    cfg.model.backbone.init_cfg = None  # no download
    with DefaultScope.overwrite_default_scope('vitdense'):
        model = MODELS.build(cfg.model)
    assert isinstance(model, CATNet)
    assert len(model.cmats) == cfg.model.num_refine == 4
    if 'r101' in osp.basename(path):
        assert model.mife.backbone.depth == 101 and model.mife.proj.out_channels == 256
        assert tuple(cfg.model.backbone.dilations) == (1, 1, 2, 4)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[loader].dataset
        assert DATASETS.get(ds.type) is not None, ds.type
    ev = cfg.val_dataloader.dataset
    tr = cfg.train_dataloader.dataset
    assert set(ev.test_labels) <= set(ev.label_names), 'every test label needs a name'
    if 'setting2' in path:
        assert tr.setting == 2 and list(tr.test_labels) == list(ev.test_labels)
    model.eval()
    with torch.no_grad():
        outs = model(_episode(B=1, H=64, W=64), mode='tensor')
    assert len(outs) == 5 and all(torch.isfinite(o).all() for o in outs)


def test_real_data_config_names_the_fix_when_data_is_missing(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'catnet', 'catnet_r101_abd_mri_setting1.py'))
    ds = dict(cfg.val_dataloader.dataset)
    ds['data_root'] = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='fewshot_medical.md'):
        DATASETS.build(ds)


def _trivial_baselines(dataset):
    """mDice (%) of predicting all background / all foreground on the evaluated slices."""
    per = {}
    for c, v, z, _, _ in dataset.items:
        per.setdefault((c, v), []).append(dataset.vs.labels[v][..., z] == c)
    fg, bg = {}, {}
    for (c, v), slices in per.items():
        gt = np.stack(slices, -1)
        fg.setdefault(c, []).append(dice_score(np.ones_like(gt), gt))
        bg.setdefault(c, []).append(dice_score(np.zeros_like(gt), gt))
    return tuple(100 * np.mean([np.mean(d) for d in per_class.values()]) for per_class in (fg, bg))


@pytest.mark.slow
def test_toy_training_beats_trivial_baselines(tmp_path):
    """tools/train.py on the toy config (synthetic volumes), then tools/test.py on its checkpoint; the
    held-out 3D Dice must clearly beat predicting all foreground or all background."""
    import re
    import subprocess
    import sys

    from vitdense.fewshot import write_synthetic_dataset
    data_root = str(tmp_path / 'toy_fewshot') + '/'
    write_synthetic_dataset(data_root, num_volumes=15, seed=0)
    cfg_path = osp.join(ROOT, 'configs', 'catnet', 'catnet_r18_toy.py')
    work = str(tmp_path / 'work')
    roots = [f'{loader}.dataset.data_root={data_root}'
             for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')  # 2 shared cores: threads would fight

    def run(args):
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        return {k: float(v) for k, v in re.findall(r'fewshot/(\w+): ([\d.]+)', out)}

    val = run(['tools/train.py', cfg_path, '--work-dir', work, '--cfg-options', *roots])
    test = run(['tools/test.py', cfg_path, osp.join(work, 'iter_300.pth'), '--work-dir', work,
                '--cfg-options', *roots])
    assert test == pytest.approx(val, abs=1e-3)  # the checkpoint reloads (weights_only) to the same model

    cfg = Config.fromfile(cfg_path)
    ev = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=data_root))
    tr = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=data_root))
    assert not {v['id'] for v in ev.vs.volumes} & {v['id'] for v in tr.vs.volumes}  # held out
    base_fg, base_bg = _trivial_baselines(ev)
    print(f"toy CAT-Net mDice {test['mDice']:.1f} vs all-foreground {base_fg:.1f}, all-background "
          f'{base_bg:.1f}: {test}')
    assert test['mDice'] > max(base_fg, base_bg) + 25
    for name in ('liver', 'kidney', 'spleen'):
        assert test[f'Dice_{name}'] > base_fg
