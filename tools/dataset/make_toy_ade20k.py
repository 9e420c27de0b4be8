"""Write the toy ADE20K-layout semantic segmentation dataset (see vitdense/datasets/toy.py).

    python tools/dataset/make_toy_ade20k.py --out data/toy_ade20k --num-train 100 --num-val 20 --size 128 160
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vitdense.datasets.toy import DEFAULT_TOY_ADE20K_ROOT, make_toy_ade20k  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=DEFAULT_TOY_ADE20K_ROOT, help='output root (default: %(default)s)')
    p.add_argument('--num-train', type=int, default=100)
    p.add_argument('--num-val', type=int, default=20)
    p.add_argument('--size', type=int, nargs=2, default=(128, 160), metavar=('H', 'W'))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--force', action='store_true', help='rewrite even if an identical dataset exists')
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    info = make_toy_ade20k(a.out, num_train=a.num_train, num_val=a.num_val, image_size=tuple(a.size),
                           seed=a.seed, force=a.force)
    state = 'wrote' if info['created'] else 'already complete, nothing written:'
    print(f"{state} toy ADE20K dataset at {info['root']}")
    for split in ('train', 'val'):
        print(f"  {split}: {info['num_images'][split]} images in {info[split + '_img_dir']}, "
              f"label maps in {info[split + '_seg_dir']}")
    ids = ', '.join(f'{n}={i}' for n, i in info['ade_ids'].items())
    print(f'  ADE20K classes used (label-map ids): {ids}; 0 = other (ignored)')
    print(f"  config: ADE20KDataset(metainfo=dict(classes={info['metainfo']['classes']}), ...) "
          f"and num_classes={len(info['metainfo']['classes'])}")


if __name__ == '__main__':
    main()
