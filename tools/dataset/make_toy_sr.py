"""Write the toy super-resolution dataset (vitdense/datasets/toy_sr.py); the same as
``python -m vitdense.datasets.toy sr``.

    python tools/dataset/make_toy_sr.py [--out data/toy_sr]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vitdense.datasets.toy import main as _main  # noqa: E402
from vitdense.datasets.toy_sr import make_toy_sr  # noqa: E402,F401


def main(argv=None):
    _main(argv, command='sr')


if __name__ == '__main__':
    main()
