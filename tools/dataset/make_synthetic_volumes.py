"""Write synthetic 3D volumes with organ-like labelled blobs (vitdense/fewshot/synthetic.py) for the
CAT-Net demo and tests, in the layout the few-shot datasets read (image_<i> / label_<i>).

    python tools/dataset/make_synthetic_volumes.py --out data/toy_fewshot
    python tools/dataset/make_synthetic_volumes.py --out data/toy_fewshot --supervoxels slic --n-segments 200
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from vitdense.fewshot.synthetic import ORGAN_TEMPLATES, write_synthetic_dataset  # noqa: E402

DEFAULT_ROOT = 'data/toy_fewshot'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=DEFAULT_ROOT, help='output folder (default: %(default)s)')
    p.add_argument('--num-volumes', type=int, default=15)
    p.add_argument('--shape', type=int, nargs=3, default=(64, 64, 24), metavar=('H', 'W', 'D'))
    p.add_argument('--labels', type=int, nargs='+', default=(1, 2, 3),
                   help=f'organ ids to draw, from {sorted(ORGAN_TEMPLATES)}')
    p.add_argument('--format', default='nii.gz', choices=('nii.gz', 'nii', 'npy'))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--supervoxels', choices=('slic', 'felzenszwalb'), default=None,
                   help='also write supervoxel pseudo-labels for self-supervised training')
    p.add_argument('--n-segments', type=int, default=200, help='SLIC supervoxels per volume')
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    sv = None
    if a.supervoxels == 'slic':
        sv = dict(method='slic', n_segments=a.n_segments)
    elif a.supervoxels == 'felzenszwalb':
        sv = dict(method='felzenszwalb', min_size=50)
    paths = write_synthetic_dataset(a.out, num_volumes=a.num_volumes, shape=tuple(a.shape), labels=a.labels,
                                    seed=a.seed, fmt=a.format, supervoxels=sv)
    names = ', '.join(f'{i}={ORGAN_TEMPLATES[i][0]}' for i in a.labels)
    print(f'wrote {len(paths)} volumes {tuple(a.shape)} (H, W, D) to {a.out}: image_<i>.{a.format} + '
          f'label_<i>.{a.format}; labels {names}' + (f'; {a.supervoxels} supervoxels' if sv else ''))


if __name__ == '__main__':
    main()
