"""Write supervoxel pseudo-labels for self-supervised CAT-Net training (vitdense/fewshot/supervoxels.py).

    python tools/dataset/make_supervoxels.py data/CHAOST2 --method slic --n-segments 5000
    python tools/dataset/make_supervoxels.py data/CMR --method slic --n-segments 1000
    python tools/dataset/make_supervoxels.py data/CHAOST2 --method felzenszwalb --scale 100 --min-size 400

Output: <data_root>/supervoxels_<n>/super_<id>.<ext> (SLIC) or <data_root>/superpixels_fh/ (Felzenszwalb),
the supervoxel_dir the configs name.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vitdense.fewshot.supervoxels import write_supervoxels  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('data_root', help='folder with image_<id>.nii.gz volumes')
    p.add_argument('--method', choices=('slic', 'felzenszwalb'), default='slic')
    p.add_argument('--out-dir', default=None)
    p.add_argument('--n-segments', type=int, default=5000, help='SLIC: supervoxels per volume')
    p.add_argument('--compactness', type=float, default=0.1, help='SLIC compactness')
    p.add_argument('--scale', type=float, default=100.0, help='Felzenszwalb scale')
    p.add_argument('--sigma', type=float, default=0.8, help='Felzenszwalb smoothing')
    p.add_argument('--min-size', type=int, default=400, help='Felzenszwalb minimum segment size')
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    if a.method == 'slic':
        kw = dict(n_segments=a.n_segments, compactness=a.compactness)
    else:
        kw = dict(scale=a.scale, sigma=a.sigma, min_size=a.min_size)
    written = write_supervoxels(a.data_root, method=a.method, out_dir=a.out_dir, **kw)
    print(f'wrote {len(written)} supervoxel volumes to {osp.dirname(written[0])}')


if __name__ == '__main__':
    main()
