"""Alias of make_synthetic_volumes.py under the data/toy_<name> -> make_toy_<name>.py naming that
tools/train.py's missing-data hint uses:
``python tools/dataset/make_toy_fewshot.py --out data/toy_fewshot``."""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from make_synthetic_volumes import main  # noqa: E402

if __name__ == '__main__':
    main()
