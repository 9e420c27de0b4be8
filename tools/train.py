# Train a model from an OpenMMLab 2.x config (mmdet, mmseg or mmpretrain; the config's
# `default_scope` decides) with vitdense's backbones registered.
#
#   python tools/train.py CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]] [--auto-scale-lr]
#                         [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
#   bash tools/dist_train.sh CONFIG GPUS [same options]
#
# Same command line as mmdet 3.3's tools/train.py. On a machine without CUDA a distributed launch
# falls back to gloo on CPU (vitdense.utils.launch.setup_cpu_distributed).
import argparse
import importlib.util
import logging
import os
import os.path as osp
import sys

if importlib.util.find_spec('vitdense') is None:  # running from a checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available  # noqa
from mmengine.logging import print_log  # noqa: E402

import vitdense  # noqa: E402,F401  (registers the `vitdense` scope)
from vitdense.utils.data_roots import check_data_roots  # noqa: E402
from vitdense.utils.launch import (build_runner, finish_distributed, prepare_scope,  # noqa: E402
                                   setup_cpu_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector / segmentor / classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='If specify checkpoint path, resume from it, while if not specify, try to auto resume from '
        'the latest checkpoint in the work directory.')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair in xxx=yyy format will be '
        'merged into config file. If the value to be overwritten is a list, it should be like key="[a,b]" '
        'or key=a,b It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" Note that the '
        'quotation marks are necessary and that no white space is allowed.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank; torchrun sets
    # the LOCAL_RANK environment variable instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def apply_args(cfg, args):
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        if not (is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()):
            raise RuntimeError('--amp needs a CUDA device (mmengine AmpOptimWrapper; or NPU/MLU/MUSA); this '
                               'machine has none. Drop --amp to train in fp32 on CPU.')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper in ('AmpOptimWrapper', 'mmengine.AmpOptimWrapper'):
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        else:
            if optim_wrapper not in ('OptimWrapper', 'mmengine.OptimWrapper'):
                raise ValueError('--amp only replaces optim_wrapper type OptimWrapper, got '
                                 f'{optim_wrapper!r}; '
                                 'set optim_wrapper.type=AmpOptimWrapper in the config instead.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.auto_scale_lr:
        asl = cfg.get('auto_scale_lr')
        if not asl or 'base_batch_size' not in asl:
            raise RuntimeError('--auto-scale-lr needs '
                               '`auto_scale_lr = dict(enable=False, base_batch_size=N)` '
                               'in the config (N: the total batch size the learning rate was tuned for).')
        cfg.auto_scale_lr.enable = True

    # resume is determined in this priority: resume from > auto_resume
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg = apply_args(cfg, args)
    from vitdense.engine.resume import add_exact_resume_hook
    add_exact_resume_hook(cfg)  # RNG states and data position in checkpoints: --resume continues exactly
    check_data_roots(cfg, loaders=('train_dataloader', 'val_dataloader'))
    prepare_scope(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    runner.train()
    del runner  # its DDP wrapper must go before the process group
    finish_distributed()


if __name__ == '__main__':
    main()
