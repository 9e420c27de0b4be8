"""Write the toy ADE20K-layout semantic segmentation dataset (see vitdense/datasets/toy.py).

    python tools/dataset/make_toy_ade20k.py --out data/toy_ade20k --num-train 100 --num-val 20 --size 128 160

A thin wrapper of ``python -m vitdense.datasets.toy ade20k`` (same options).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vitdense.datasets.toy import main as _main  # noqa: E402


def main(argv=None):
    _main(argv, command='ade20k')


if __name__ == '__main__':
    main()
