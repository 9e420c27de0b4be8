"""Write the toy COCO-format instance segmentation dataset (see vitdense/datasets/toy.py).

    python tools/dataset/make_toy_coco.py --out data/toy_coco --num-train 200 --num-val 50 --size 128 160
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vitdense.datasets.toy import DEFAULT_TOY_COCO_ROOT, make_toy_coco  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=DEFAULT_TOY_COCO_ROOT, help='output root (default: %(default)s)')
    p.add_argument('--num-train', type=int, default=200)
    p.add_argument('--num-val', type=int, default=50)
    p.add_argument('--size', type=int, nargs=2, default=(128, 160), metavar=('H', 'W'))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--min-size', type=float, default=16.0, help='smallest object side/diameter (px)')
    p.add_argument('--max-size', type=float, default=60.0, help='largest object side/diameter (px)')
    p.add_argument('--force', action='store_true', help='rewrite even if an identical dataset exists')
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    info = make_toy_coco(a.out, num_train=a.num_train, num_val=a.num_val, image_size=tuple(a.size),
                         seed=a.seed, min_size=a.min_size, max_size=a.max_size, force=a.force)
    state = 'wrote' if info['created'] else 'already complete, nothing written:'
    print(f"{state} toy COCO dataset at {info['root']}")
    for split in ('train', 'val'):
        print(f"  {split}: {info['num_images'][split]} images in {info[split + '_img_dir']}, "
              f"{info['num_annotations'].get(split, '?')} annotations in {info[split + '_ann_file']}")
    print(f"  classes: {info['metainfo']['classes']}")


if __name__ == '__main__':
    main()
