"""Write the toy COCO-format instance segmentation dataset (see vitdense/datasets/toy.py).

    python tools/dataset/make_toy_coco.py --out data/toy_coco --num-train 200 --num-val 50 --size 128 160

A thin wrapper of ``python -m vitdense.datasets.toy coco`` (same options).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vitdense.datasets.toy import main as _main  # noqa: E402


def main(argv=None):
    _main(argv, command='coco')


if __name__ == '__main__':
    main()
