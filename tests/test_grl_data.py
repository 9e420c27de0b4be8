"""Restoration data and metrics: MATLAB bicubic, degradations, folder datasets, PSNR / SSIM against
scikit-image on real photos, and the toy SR training run (slow)."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import skimage.data
import torch
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vitdense.restoration import (PSNR, SSIM, BicubicDegradation, GaussianNoiseDegradation,
                                  GTImageFolderDataset, JPEGDegradation, LoadRestorationImages,
                                  PackRestorationInputs, PairedFlipRotate, PairedImageFolderDataset,
                                  PairedRandomCrop, imresize, psnr, rgb2y, ssim)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def photo():
    return skimage.data.chelsea()  # 300 x 451 RGB


# --------------------------------------------------------------------------------------------------
# MATLAB bicubic
# --------------------------------------------------------------------------------------------------
def test_imresize_shapes_and_constant():
    img = np.full((37, 50, 3), 77, np.uint8)
    assert imresize(img, 1 / 4).shape == (10, 13, 3)  # MATLAB: ceil(37 / 4), ceil(50 / 4)
    assert (imresize(img, 1 / 4) == 77).all() and (imresize(img, 3) == 77).all()
    assert imresize(img, output_shape=(20, 7)).shape == (20, 7, 3)
    with pytest.raises(ValueError, match='exactly one'):
        imresize(img)


def test_imresize_antialiases_unlike_opencv():
    # a 1-pixel checkerboard shrunk x1/3: MATLAB's bicubic widens the kernel 3x (antialiasing) and
    # returns a flat grey; OpenCV's INTER_CUBIC samples pixel centres and keeps the full-contrast pattern
    board = ((np.indices((66, 66)).sum(0) % 2) * 255).astype(np.float64)
    ours = imresize(board, 1 / 3)
    cv = cv2.resize(board, (22, 22), interpolation=cv2.INTER_CUBIC)
    assert np.abs(ours[3:-3, 3:-3] - 127.5).max() < 1.0
    assert np.abs(cv[3:-3, 3:-3] - 127.5).max() > 100


def test_imresize_cubic_reproduces_linear_ramps():
    # the Keys cubic kernel (a = -0.5) interpolates linear functions exactly away from the borders
    ramp = np.tile(np.arange(32, dtype=np.float64)[None, :], (8, 1))
    up = imresize(ramp, 4)
    u = (np.arange(1, 129) / 4 + 0.5 * (1 - 1 / 4)) - 1  # MATLAB's output-to-input coordinate, 0-based
    np.testing.assert_allclose(up[:, 8:-8], np.tile(u[None, 8:-8], (32, 1)), atol=1e-9)


def test_imresize_uint8_rounding(photo):
    a = imresize(photo, 1 / 3)
    b = imresize(photo.astype(np.float64), 1 / 3)
    assert a.dtype == np.uint8
    np.testing.assert_array_equal(a, np.clip(np.round(b), 0, 255).astype(np.uint8))


# --------------------------------------------------------------------------------------------------
# Metrics against scikit-image on real photos
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def sr_pair():
    gt = skimage.data.astronaut()[:300, :260]
    pred = imresize(imresize(gt, 1 / 4), 4)  # bicubic x4 round trip of a real photo
    return gt, pred


def test_rgb2y_equals_skimage(sr_pair):
    gt, _ = sr_pair
    np.testing.assert_allclose(rgb2y(gt), rgb2ycbcr(gt)[..., 0], atol=1e-10)


def test_psnr_equals_skimage(sr_pair):
    gt, pred = sr_pair
    assert psnr(pred, gt) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=255), abs=1e-10)
    yg, yp = rgb2ycbcr(gt)[..., 0], rgb2ycbcr(pred)[..., 0]
    ref = peak_signal_noise_ratio(yg[4:-4, 4:-4], yp[4:-4, 4:-4], data_range=255)
    assert psnr(pred, gt, crop_border=4, convert_to='y') == pytest.approx(ref, abs=1e-10)
    assert psnr(gt, gt) == float('inf')


def test_ssim_equals_skimage(sr_pair):
    gt, pred = sr_pair
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    ref = structural_similarity(gt, pred, channel_axis=-1, **kw)
    assert ssim(pred, gt) == pytest.approx(ref, abs=1e-6)
    yg, yp = rgb2ycbcr(gt)[..., 0], rgb2ycbcr(pred)[..., 0]
    ref_y = structural_similarity(yg[4:-4, 4:-4], yp[4:-4, 4:-4], **kw)
    assert ssim(pred, gt, crop_border=4, convert_to='y') == pytest.approx(ref_y, abs=1e-6)
    assert ssim(gt, gt) == pytest.approx(1.0)


def test_metric_classes_on_tensors(sr_pair):
    gt, pred = sr_pair
    to_t = lambda a: torch.from_numpy(a.transpose(2, 0, 1).astype(np.float32) / 255)  # noqa: E731
    samples = [dict(pred_img=to_t(pred), gt_img=to_t(gt)), dict(pred_img=to_t(gt), gt_img=to_t(pred))]
    m_psnr, m_ssim = PSNR(crop_border=4, convert_to='y'), SSIM(crop_border=4, convert_to='y')
    for m in (m_psnr, m_ssim):
        m.process({}, samples)
    expected = psnr(pred, gt, 4, 'y')
    assert m_psnr.compute_metrics(m_psnr.results)['PSNR'] == pytest.approx(expected, abs=1e-9)
    assert m_ssim.compute_metrics(m_ssim.results)['SSIM'] == pytest.approx(ssim(pred, gt, 4, 'y'), abs=1e-9)
    with pytest.raises(ValueError, match="'y'"):
        PSNR(convert_to='ycbcr')
    with pytest.raises(ValueError, match='ModCrop'):
        psnr(pred[:-1], gt)


# --------------------------------------------------------------------------------------------------
# Degradations, augmentation, datasets
# --------------------------------------------------------------------------------------------------
def test_bicubic_degradation_and_pair_checks(photo):
    r = BicubicDegradation(4).transform(dict(gt=photo))
    assert r['gt'].shape == (300, 448, 3) and r['img'].shape == (75, 112, 3)
    np.testing.assert_array_equal(r['img'], imresize(photo[:300, :448], 1 / 4))
    crop = PairedRandomCrop(48, scale=4).transform(dict(r))
    assert crop['img'].shape == (12, 12, 3) and crop['gt'].shape == (48, 48, 3)
    # the GT patch is where the LQ patch came from: downsampling it again gives the LQ patch back
    # up to the kernel's border support, so compare the centre
    again = imresize(crop['gt'], 1 / 4).astype(int)
    assert np.abs(again[3:-3, 3:-3] - crop['img'][3:-3, 3:-3].astype(int)).mean() < 3
    with pytest.raises(ValueError, match='does not match GT'):
        PairedRandomCrop(48, scale=2).transform(dict(r))
    with pytest.raises(ValueError, match='integer scale'):
        BicubicDegradation(1.5)


def test_flip_rotate_keeps_pairs_aligned():
    gt = np.random.RandomState(0).randint(0, 255, (16, 12, 3)).astype(np.uint8)
    r = dict(gt=gt, img=gt.copy())
    for _ in range(10):
        r = PairedFlipRotate().transform(r)
        np.testing.assert_array_equal(r['gt'], r['img'])
    assert r['gt'].shape in ((16, 12, 3), (12, 16, 3))


def test_noise_and_jpeg(photo):
    base = dict(gt=photo, gt_path='/x/chelsea.png')
    n1 = GaussianNoiseDegradation(25, seed=0).transform(dict(base))['img']
    n2 = GaussianNoiseDegradation(25, seed=0).transform(dict(base))['img']
    np.testing.assert_array_equal(n1, n2)  # test sets: fixed noise per image
    assert n1.dtype == np.float32 and (n1 - photo).std() == pytest.approx(25, rel=0.02)
    q10 = JPEGDegradation(10).transform(dict(base))['img']
    q90 = JPEGDegradation(90).transform(dict(base))['img']
    assert q10.shape == photo.shape and q10.dtype == np.uint8
    assert psnr(q10, photo) < psnr(q90, photo) < 60
    with pytest.raises(ValueError, match='quality'):
        JPEGDegradation(0)


def _write(folder, name, img):
    os.makedirs(folder, exist_ok=True)
    cv2.imwrite(osp.join(folder, name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def test_folder_datasets(tmp_path, photo):
    gt = photo[:96, :128]
    for name in ('a', 'b'):
        _write(str(tmp_path / 'HR'), f'{name}.png', gt)
        _write(str(tmp_path / 'LR'), f'{name}x4.png', imresize(gt, 1 / 4))
    pipeline = [dict(type='vitdense.LoadRestorationImages'), dict(type='vitdense.PackRestorationInputs')]
    ds = PairedImageFolderDataset(data_root=str(tmp_path),
                                  data_prefix=dict(gt='HR', lq='LR'),
                                  lq_filename_tmpl='{}x4',
                                  pipeline=pipeline)
    assert len(ds) == 2
    item = ds[0]
    assert item['inputs'].shape == (3, 24, 32) and item['data_samples'].gt_img.shape == (3, 96, 128)
    assert item['data_samples'].lq_path.endswith('ax4.png')
    with pytest.raises(FileNotFoundError, match="lq_filename_tmpl"):
        PairedImageFolderDataset(data_root=str(tmp_path), data_prefix=dict(gt='HR', lq='LR'), pipeline=[])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        PairedImageFolderDataset(data_root=str(tmp_path), data_prefix=dict(gt='HR', lq='LR_x3'), pipeline=[])
    gt_only = GTImageFolderDataset(data_root=str(tmp_path),
                                   data_prefix=dict(gt='HR'),
                                   pipeline=[
                                       dict(type='vitdense.LoadRestorationImages'),
                                       dict(type='vitdense.BicubicDegradation', scale=2),
                                       dict(type='vitdense.PackRestorationInputs')
                                   ])
    assert gt_only[1]['inputs'].shape == (3, 48, 64)
    with pytest.raises(KeyError, match='degradation'):
        PackRestorationInputs().transform(LoadRestorationImages().transform(
            dict(gt_path=str(tmp_path / 'HR/a.png'))))
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(FileNotFoundError, match='holds no images'):
        GTImageFolderDataset(data_root=str(tmp_path), data_prefix=dict(gt='empty'))


# --------------------------------------------------------------------------------------------------
# Toy SR training
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_toy_sr_training_beats_bicubic(tmp_path):
    """configs/grl/grl_t_x4_toy.py from scratch on the scikit-image photos (tools/dataset/make_toy_sr.py);
    the held-out photos (chelsea, coffee) must end above MATLAB-bicubic x4 PSNR (Y, border 4)."""
    import sys
    sys.path.insert(0, osp.join(ROOT, 'tools', 'dataset'))
    from make_toy_sr import make_toy_sr
    from mmengine.config import Config
    from mmengine.runner import Runner

    make_toy_sr(osp.join(ROOT, 'data', 'toy_sr'))
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'grl', 'grl_t_x4_toy.py'))
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.dataset.data_root = osp.join(ROOT, cfg.train_dataloader.dataset.data_root)
    cfg.val_dataloader.dataset.data_root = osp.join(ROOT, cfg.val_dataloader.dataset.data_root)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.default_hooks.checkpoint.interval = 10**6  # no checkpoint file needed here
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()

    val_root = osp.join(ROOT, 'data', 'toy_sr', 'val')
    bicubic = []
    for name in sorted(os.listdir(osp.join(val_root, 'gt'))):
        gt = cv2.cvtColor(cv2.imread(osp.join(val_root, 'gt', name)), cv2.COLOR_BGR2RGB)
        stem = osp.splitext(name)[0]
        lq = cv2.cvtColor(cv2.imread(osp.join(val_root, 'lq_x4', f'{stem}x4.png')), cv2.COLOR_BGR2RGB)
        bicubic.append(psnr(imresize(lq, 4), gt, crop_border=4, convert_to='y'))
    print(
        f"toy GRL x4: PSNR {metrics['PSNR']:.3f} dB (bicubic {np.mean(bicubic):.3f} dB), "
        f"SSIM {metrics['SSIM']:.4f}"
    )
    assert metrics['PSNR'] > np.mean(bicubic)


def test_demo_runs_on_a_saved_checkpoint(tmp_path):
    """tools/demo/grl_sr_demo.py end to end with an (untrained) toy-config checkpoint: it writes the
    4-panel PNG and prints bicubic / GRL scores; a missing checkpoint names how to make one."""
    import subprocess
    import sys

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import save_checkpoint

    from vitdense.registry import MODELS
    cfg_path = osp.join(ROOT, 'configs', 'grl', 'grl_t_x4_toy.py')
    init_default_scope('vitdense')
    model = MODELS.build(Config.fromfile(cfg_path).model)
    ckpt = str(tmp_path / 'toy.pth')
    save_checkpoint(model.state_dict(), ckpt)
    out = str(tmp_path / 'demo.png')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    res = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'demo', 'grl_sr_demo.py'), '--checkpoint', ckpt,
                          '--image', 'coffee', '--out', out], capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'bicubic  PSNR' in res.stdout and 'GRL      PSNR' in res.stdout
    panel = cv2.imread(out)
    assert panel.shape == (400, 4 * 600, 3)  # LR (nearest) | bicubic | GRL | GT, coffee is 400 x 600
    res = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'demo', 'grl_sr_demo.py'), '--checkpoint',
                          str(tmp_path / 'missing.pth')], capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode != 0 and 'tools/train.py configs/grl/grl_t_x4_toy.py' in res.stderr
