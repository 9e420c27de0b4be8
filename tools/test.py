# Test (and evaluate) a checkpoint with an OpenMMLab 2.x config (mmdet, mmseg or mmpretrain; the
# config's `default_scope` decides) with vitdense's backbones registered.
#
#   python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] [--show]
#                        [--show-dir DIR] [--wait-time S] [--cfg-options k=v ...]
#                        [--launcher {none,pytorch,slurm,mpi}] [--tta]
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [same options]
#
# Same command line as mmdet 3.3's tools/test.py. The checkpoint is loaded with
# torch.load(weights_only=True) (vitdense.utils.safe_load).
import argparse
import importlib.util
import os
import os.path as osp
import sys
import warnings
from copy import deepcopy

if importlib.util.find_spec('vitdense') is None:  # running from a checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402

import vitdense  # noqa: E402,F401  (registers the `vitdense` scope)
from vitdense.utils.data_roots import check_data_roots  # noqa: E402
from vitdense.utils.launch import (build_runner, finish_distributed, prepare_scope,  # noqa: E402
                                   setup_cpu_distributed)

# default_hooks.visualization type (scope prefix stripped) -> how --show / --show-dir turn it on
_VIS_HOOKS = ('DetVisualizationHook', 'SegVisualizationHook', 'VisualizationHook')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a detector / segmentor / classifier')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str, help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. mmdet: under work_dir/timestamp/show_dir; '
        "mmseg: the visualizer's save_dir; mmpretrain: show_dir as given")
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair in xxx=yyy format will be '
        'merged into config file. If the value to be overwritten is a list, it should be like key="[a,b]" '
        'or key=a,b It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" Note that the '
        'quotation marks are necessary and that no white space is allowed.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--tta', action='store_true')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _type_name(t) -> str:
    name = t if isinstance(t, str) else getattr(t, '__name__', str(t))
    return name.rsplit('.', 1)[-1]


def trigger_visualization_hook(cfg, args):
    """Turn on the library's visualization hook as its own tools/test.py does."""
    hooks = cfg.get('default_hooks') or {}
    hook = hooks.get('visualization')
    kind = _type_name(hook.get('type')) if hook else None
    if kind not in _VIS_HOOKS:
        raise RuntimeError(
            '--show / --show-dir need a visualization hook in default_hooks, e.g. '
            "default_hooks.visualization=dict(type='DetVisualizationHook') (mmdet), "
            "dict(type='SegVisualizationHook') (mmseg) or dict(type='VisualizationHook') (mmpretrain), "
            f'and a matching `visualizer`; got {hook!r}.')
    if kind == 'DetVisualizationHook':  # mmdet: draw + test_out_dir (under work_dir/timestamp)
        hook['draw'] = True
        if args.show:
            hook['show'] = True
            hook['wait_time'] = args.wait_time
        if args.show_dir:
            hook['test_out_dir'] = args.show_dir
    elif kind == 'SegVisualizationHook':  # mmseg: draw + the visualizer's save_dir
        hook['draw'] = True
        if args.show:
            hook['show'] = True
            hook['wait_time'] = args.wait_time
        if args.show_dir:
            if not cfg.get('visualizer'):
                raise RuntimeError('--show-dir with SegVisualizationHook needs a `visualizer` in the config, '
                                   "e.g. "
                                   "visualizer=dict(type='SegLocalVisualizer', vis_backends=[dict(type="
                                   "'LocalVisBackend')], name='visualizer')")
            cfg.visualizer['save_dir'] = args.show_dir  # (the hook still draws every `interval`-th image)
    else:  # mmpretrain VisualizationHook: enable + out_dir (as given, every image)
        hook['enable'] = True
        hook['show'] = args.show
        hook['wait_time'] = args.wait_time
        hook['out_dir'] = args.show_dir
        hook['interval'] = 1
    return cfg


def _default_tta(cfg):
    scope = cfg.get('default_scope', 'mmengine')
    test_data_cfg = cfg.test_dataloader.dataset
    while 'dataset' in test_data_cfg:
        test_data_cfg = test_data_cfg['dataset']
    if 'tta_model' not in cfg:
        if scope == 'mmdet':
            cfg.tta_model = dict(type='DetTTAModel',
                                 tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
        elif scope == 'mmpretrain':
            cfg.tta_model = dict(type='AverageClsScoreTTA')
        else:
            raise RuntimeError('--tta needs `tta_model` (and `tta_pipeline`) in the config for default_scope '
                               f"{scope!r}, e.g. mmseg: tta_model = dict(type='SegTTAModel').")
        warnings.warn(f'Cannot find ``tta_model`` in config, using {cfg.tta_model["type"]}.')
    if 'tta_pipeline' not in cfg:
        if scope == 'mmdet':
            last = dict(type='PackDetInputs',
                        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                                   'flip_direction'))
        elif scope == 'mmpretrain':
            last = deepcopy(test_data_cfg.pipeline[-1])
        else:
            raise RuntimeError(f'--tta needs `tta_pipeline` in the config for default_scope {scope!r} '
                               '(a pipeline ending with a TestTimeAug transform).')
        warnings.warn('Cannot find ``tta_pipeline`` in config, using a horizontal-flip TestTimeAug.')
        cfg.tta_pipeline = deepcopy(test_data_cfg.pipeline)
        cfg.tta_pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[[dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)], [last]])
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    test_data_cfg.pipeline = cfg.tta_pipeline
    return cfg


def _dump_metric(cfg, out):
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out {out}: the dump file must be a .pkl or .pickle file.')
    if cfg.get('default_scope') == 'mmdet':
        from mmdet.evaluation.metrics import DumpDetResults
        return DumpDetResults(out_file_path=out)
    from mmengine.evaluator import DumpResults
    return DumpResults(out_file_path=out)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if not osp.isfile(osp.expanduser(args.checkpoint)) and '://' not in args.checkpoint:
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist (cwd {os.getcwd()}).')
    cfg.load_from = args.checkpoint
    check_data_roots(cfg, loaders=('test_dataloader', ))
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    prepare_scope(cfg)
    if args.tta:
        cfg = _default_tta(cfg)
    if args.out is not None:
        dump = _dump_metric(cfg, args.out)
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(dump)
    runner.test()
    del runner  # its DDP wrapper must go before the process group
    finish_distributed()


if __name__ == '__main__':
    main()
