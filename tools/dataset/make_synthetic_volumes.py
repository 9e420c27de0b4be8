"""Write synthetic 3D volumes with organ-like labelled blobs (vitdense/fewshot/synthetic.py) for the
CAT-Net demo and tests, in the layout the few-shot datasets read (image_<i> / label_<i>).

    python tools/dataset/make_synthetic_volumes.py --out data/toy_fewshot
    python tools/dataset/make_synthetic_volumes.py --out data/toy_fewshot --supervoxels slic --n-segments 200

A thin wrapper of ``python -m vitdense.datasets.toy fewshot`` (same options).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vitdense.datasets.toy import main as _main  # noqa: E402


def main(argv=None):
    _main(argv, command='fewshot')


if __name__ == '__main__':
    main()
