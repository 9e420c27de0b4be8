"""Super-resolve one of scikit-image's bundled photos with a GRL model and save LR / bicubic / GRL / GT
side by side as a PNG; print PSNR / SSIM (Y channel, border = scale, as the SR tables).

The photo is the ground truth: it is shrunk with MATLAB-compatible bicubic (the benchmark
convention) and the model restores it.

    # 1) a model: train the toy x4 GRL (minutes on a CPU) ...
    python tools/dataset/make_toy_sr.py
    python tools/train.py configs/grl/grl_t_x4_toy.py
    # 2) ... and run it on a photo it never saw
    python tools/demo/grl_sr_demo.py --checkpoint work_dirs/grl_t_x4_toy/iter_800.pth --image chelsea

    # or an official released GRL checkpoint (converted on the fly) with the matching config
    python tools/demo/grl_sr_demo.py --config configs/grl/grl_t_x4_df2k.py \
        --checkpoint sr_grl_tiny_c3x4.ckpt --official --image coffee
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

PHOTOS = ('astronaut', 'chelsea', 'coffee', 'rocket', 'immunohistochemistry', 'camera', 'coins', 'moon')
TOY_TRAIN = ('astronaut', 'rocket', 'immunohistochemistry', 'camera', 'coins', 'moon', 'brick')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=osp.join(REPO_ROOT, 'configs', 'grl', 'grl_t_x4_toy.py'))
    p.add_argument('--checkpoint',
                   required=True,
                   help='mmengine checkpoint of the config, or an official GRL '
                   '.ckpt / state_dict with --official')
    p.add_argument('--official', action='store_true', help='the checkpoint is an official GRL release')
    p.add_argument('--image', default='chelsea', choices=PHOTOS, help='scikit-image photo (ground truth)')
    p.add_argument('--out', default=osp.join(REPO_ROOT, 'work_dirs', 'grl_sr_demo.png'))
    p.add_argument('--tile', type=int, default=None, help='tiled inference with LQ tiles of this size')
    p.add_argument('--self-ensemble', action='store_true', help='x8 flip / rotation self-ensemble')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    return p.parse_args(argv)


def build_model(args):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    import vitdense  # noqa: F401  (registers the classes)
    from vitdense.registry import MODELS
    from vitdense.restoration import convert_grl_checkpoint

    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint {args.checkpoint!r} not found. Train the toy model first: '
            '`python tools/dataset/make_toy_sr.py && python tools/train.py configs/grl/grl_t_x4_toy.py`, '
            'then pass --checkpoint work_dirs/grl_t_x4_toy/iter_800.pth (or an official GRL checkpoint '
            'with --official)'
        )
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'vitdense'))
    model = MODELS.build(cfg.model)
    if args.official:
        try:
            ckpt = torch.load(args.checkpoint, map_location='cpu', weights_only=True)
        except Exception as e:  # Lightning .ckpt files also pickle their hyper-parameters
            raise RuntimeError(
                f'{args.checkpoint} cannot be loaded with weights_only=True ({type(e).__name__}). If you '
                'trust the file, keep only its weights once: python -c "import torch; '
                "c = torch.load('IN', weights_only=False);"
                " torch.save(c['state_dict'], 'OUT')\" and pass OUT") from e
        model.generator.load_state_dict(convert_grl_checkpoint(ckpt), strict=True)
    else:
        load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    if args.tile:
        model.test_cfg['tile'] = args.tile
    model.test_cfg['self_ensemble'] = args.self_ensemble
    return model.to(args.device).eval()


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main(argv=None):
    args = parse_args(argv)
    import skimage.data

    from vitdense.restoration import imresize, psnr, ssim

    model = build_model(args)
    s = model.scale
    if s < 2:
        raise ValueError(f'{args.config} is not a super-resolution config (scale {s})')
    gt = getattr(skimage.data, args.image)()
    gt = np.repeat(gt[..., None], 3, 2) if gt.ndim == 2 else gt[..., :3]
    gt = gt[:gt.shape[0] - gt.shape[0] % s, :gt.shape[1] - gt.shape[1] % s]
    lr = imresize(gt, 1.0 / s)
    bicubic = imresize(lr, s)
    x = torch.from_numpy(lr.transpose(2, 0, 1).astype(np.float32) / 255).unsqueeze(0).to(args.device)
    with torch.no_grad():
        sr = model.restore(x).clamp(0, 1)[0]
    ours = np.round(sr.cpu().numpy().transpose(1, 2, 0) * 255).astype(np.uint8)

    if 'toy' in osp.basename(args.config) and args.image in TOY_TRAIN:
        print(f'note: {args.image} is one of the toy training photos; chelsea / coffee are held out')
    for name, img in (('bicubic', bicubic), ('GRL', ours)):
        print(
            f'{name:8s} PSNR {psnr(img, gt, s, "y"):.2f} dB  SSIM {ssim(img, gt, s, "y"):.4f}  '
            f'(Y, border {s})'
        )
    lr_big = cv2.resize(lr, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_NEAREST)
    panels = [
        label(lr_big, f'LR x1/{s}'),
        label(bicubic, 'bicubic'),
        label(ours, 'GRL'),
        label(gt, 'ground truth')
    ]
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(np.concatenate(panels, axis=1), cv2.COLOR_RGB2BGR))
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
