"""Write supervoxel pseudo-labels for self-supervised CAT-Net training (vitdense/fewshot/supervoxels.py).

    python tools/dataset/make_supervoxels.py data/CHAOST2 --method slic --n-segments 5000
    python tools/dataset/make_supervoxels.py data/CMR --method slic --n-segments 1000
    python tools/dataset/make_supervoxels.py data/CHAOST2 --method felzenszwalb --scale 100 --min-size 400

Output: <data_root>/supervoxels_<n>/super_<id>.<ext> (SLIC) or <data_root>/superpixels_fh/ (Felzenszwalb),
the supervoxel_dir the configs name.

A thin wrapper of ``python -m vitdense.datasets.toy supervoxels`` (same options).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vitdense.datasets.toy import main as _main  # noqa: E402


def main(argv=None):
    _main(argv, command='supervoxels')


if __name__ == '__main__':
    main()
