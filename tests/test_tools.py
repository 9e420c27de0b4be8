"""tools/train.py, tools/test.py and tools/dist_train.sh on a tiny mmpretrain classifier.

Every test runs the real scripts in a subprocess with the repository's .venv python on a toy
image-folder data set written to a tmp dir (tests/configs/toy_cls.py). No GPU is needed: the
distributed test exercises the CPU/gloo fallback of vitdense.utils.launch.
"""
import json
import os
import os.path as osp
import pickle
import re
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from vitdense.utils.safe_load import register_safe_globals

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(REPO, 'tests', 'configs', 'toy_cls.py')
VENV_PY = osp.join(REPO, '.venv', 'bin', 'python')
PY = VENV_PY if osp.exists(VENV_PY) else sys.executable
N_VAL = 8  # 2 classes x 4 images

register_safe_globals()  # `import vitdense` does it too; this test reads runner checkpoints itself


def make_toy_cls(root):
    """<root>/{train,val}/{dark,bright}/*.png, 32x32 RGB; the two classes differ in brightness."""
    import cv2
    rng = np.random.default_rng(0)
    for split, n in (('train', 8), ('val', N_VAL // 2)):
        for c, (name, base) in enumerate((('dark', 40), ('bright', 210))):
            d = osp.join(root, split, name)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                img = np.clip(base + rng.integers(-30, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
                assert cv2.imwrite(osp.join(d, f'{name}_{i}.png'), img)
    return root


def data_opts(root):
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    return [f'{k}.dataset.data_root={root}' for k in loaders]


def run(cmd, cwd, env=None, timeout=600):
    # CUDA_VISIBLE_DEVICES='': the scripts see no GPU on any machine, so the CPU paths are tested
    full_env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
                    CUDA_VISIBLE_DEVICES='')
    full_env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout


def train(work_dir, root, *extra, cwd):
    return run([PY, osp.join(REPO, 'tools', 'train.py'), CFG, '--work-dir', work_dir, '--cfg-options',
                *data_opts(root), *extra], cwd=cwd)


def log_text(work_dir):
    """Concatenated text logs of all runs in work_dir (<work_dir>/<timestamp>/<timestamp>.log)."""
    logs = sorted(osp.join(work_dir, d, f'{d}.log') for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, f'{d}.log')))
    assert logs, f'no log file under {work_dir}: {os.listdir(work_dir)}'
    return [open(p).read() for p in logs]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    return make_toy_cls(str(tmp_path_factory.mktemp('toy_cls')))


@pytest.fixture(scope='module')
def trained(tmp_path_factory, toy_root):
    """One single-process run: 4 iterations, a checkpoint every 2."""
    work = str(tmp_path_factory.mktemp('train'))
    rc, out = train(work, toy_root, cwd=work)
    assert rc == 0, out[-4000:]
    return work


@pytest.mark.slow
def test_train_writes_runner_checkpoints(trained):
    assert osp.isfile(osp.join(trained, 'iter_2.pth')) and osp.isfile(osp.join(trained, 'iter_4.pth'))
    with open(osp.join(trained, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_4.pth')
    ckpt = torch.load(osp.join(trained, 'iter_4.pth'), map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    assert {'state_dict', 'message_hub', 'optimizer', 'param_schedulers'} <= set(ckpt)


@pytest.mark.slow
def test_dist_train_two_processes_gloo(tmp_path, toy_root):
    work = str(tmp_path / 'work')
    # SyncBN in the config: on CPU the fallback wrapper must turn it back into BN
    rc, out = run(['bash', osp.join(REPO, 'tools', 'dist_train.sh'), CFG, '2', '--work-dir', work,
                   '--cfg-options', *data_opts(toy_root), 'model.backbone.norm_cfg.type=SyncBN'],
                  cwd=str(tmp_path), env=dict(PORT=str(free_port())))
    assert rc == 0, out[-6000:]
    assert 'CPU distributed fallback for --launcher pytorch' in out, out[-4000:]
    assert "backend 'gloo' (config asked for 'nccl'), world size 2" in out
    assert 'SyncBatchNorm layer(s) reverted to BatchNorm' in out
    log, = log_text(work)
    assert 'GPU number: 2' in log and 'Distributed launcher: pytorch' in log
    assert re.search(r"dist_cfg: \{'backend': 'gloo'", log), log[:3000]
    assert 'Iter(train) [4/4]' in log
    ckpt = torch.load(osp.join(work, 'iter_4.pth'), map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    # the model was wrapped by DDP: the saved keys are the bare module's (no `module.` prefix)
    assert any(k.startswith('backbone.') for k in ckpt['state_dict'])

    # dist_test.sh: 2 processes evaluate that checkpoint; results are gathered over gloo
    rc, out = run(['bash', osp.join(REPO, 'tools', 'dist_test.sh'), CFG, osp.join(work, 'iter_4.pth'), '2',
                   '--work-dir', str(tmp_path / 'test'), '--out', str(tmp_path / 'preds.pkl'),
                   '--cfg-options', *data_opts(toy_root)],
                  cwd=str(tmp_path), env=dict(PORT=str(free_port())))
    assert rc == 0, out[-6000:]
    assert "backend 'gloo' (config asked for 'nccl'), world size 2" in out
    # 8 images, 2 ranks, batch 4: one iteration per rank, then the results of both are gathered
    assert re.search(r'Iter\(test\) \[1/1\]\s+accuracy/top1: [\d.]+', out), out[-3000:]
    with open(tmp_path / 'preds.pkl', 'rb') as f:  # written by this test run (mmengine DumpResults)
        preds = pickle.load(f)
    assert sorted(osp.basename(p['img_path']) for p in preds) == sorted(
        f'{c}_{i}.png' for c in ('dark', 'bright') for i in range(N_VAL // 2))


@pytest.mark.slow
def test_resume_continues_from_last_checkpoint(tmp_path, trained, toy_root):
    work = str(tmp_path / 'work')
    shutil.copytree(trained, work)
    for d in os.listdir(work):  # keep only the checkpoints of the first run, not its logs
        if osp.isdir(osp.join(work, d)):
            shutil.rmtree(osp.join(work, d))
    rc, out = train(work, toy_root, 'train_cfg.max_iters=6', '--resume', cwd=str(tmp_path))
    assert rc == 0, out[-4000:]
    log, = log_text(work)
    assert re.search(r'resumed epoch: \d+, iter: 4', log), log[-3000:]
    iters = [int(i) for i in re.findall(r'Iter\(train\) \[\s*(\d+)/6\]', log)]
    assert iters == [5, 6], iters  # continued at 5, did not restart at 1
    # lr drops from 0.01 to 0.001 after iteration 2 (toy_cls.py): iteration 5 runs at 0.001 only
    # because the optimizer and scheduler states were resumed (a fresh start runs at 0.01)
    assert re.search(r'Iter\(train\) \[5/6\]\s+lr: 1\.0000e-03', log), log[-3000:]
    ckpt = torch.load(osp.join(work, 'iter_6.pth'), map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 6
    assert ckpt['message_hub']['runtime_info']['iter'] == 5  # 0-based index of the last iteration run


@pytest.mark.slow
def test_resume_from_explicit_checkpoint(tmp_path, trained, toy_root):
    work = str(tmp_path / 'work')
    rc, out = train(work, toy_root, 'train_cfg.max_iters=3', '--resume', osp.join(trained, 'iter_2.pth'),
                    cwd=str(tmp_path))
    assert rc == 0, out[-4000:]
    log, = log_text(work)
    assert re.search(r'resumed epoch: \d+, iter: 2', log)
    assert [int(i) for i in re.findall(r'Iter\(train\) \[\s*(\d+)/3\]', log)] == [3]


@pytest.mark.slow
def test_test_py_loads_runner_checkpoint_and_prints_metrics(tmp_path, trained, toy_root):
    out_pkl = str(tmp_path / 'preds.pkl')
    rc, out = run([PY, osp.join(REPO, 'tools', 'test.py'), CFG, osp.join(trained, 'iter_4.pth'),
                   '--work-dir', str(tmp_path / 'work'), '--out', out_pkl, '--show-dir', 'vis',
                   '--cfg-options', *data_opts(toy_root)], cwd=str(tmp_path))
    assert rc == 0, out[-4000:]
    assert 'Loads checkpoint by local (weights_only) backend' in out
    m = re.search(r'Iter\(test\) \[\d+/\d+\]\s+accuracy/top1: ([\d.]+)', out)
    assert m, out[-3000:]
    assert 0.0 <= float(m.group(1)) <= 100.0
    with open(out_pkl, 'rb') as f:  # written by this test run (mmengine DumpResults)
        preds = pickle.load(f)
    assert len(preds) == N_VAL
    # --show-dir: mmpretrain's VisualizationHook drew every test image into vis/ (relative to cwd)
    pngs = sorted(f for f in os.listdir(tmp_path / 'vis') if f.endswith('.png'))
    assert len(pngs) == N_VAL, pngs


@pytest.mark.slow
@pytest.mark.parametrize('launcher', ['slurm', 'mpi'])
def test_slurm_and_mpi_launchers_fall_back_to_gloo_on_cpu(tmp_path, trained, toy_root, launcher):
    # a one-task job with the variables srun / mpirun set; no scontrol needed as MASTER_ADDR is given
    env = dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()))
    env.update(dict(SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_NODELIST='localhost', SLURM_LOCALID='0')
               if launcher == 'slurm' else
               dict(OMPI_COMM_WORLD_SIZE='1', OMPI_COMM_WORLD_RANK='0', OMPI_COMM_WORLD_LOCAL_RANK='0'))
    rc, out = run([PY, osp.join(REPO, 'tools', 'test.py'), CFG, osp.join(trained, 'iter_4.pth'),
                   '--launcher', launcher, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                   *data_opts(toy_root)], cwd=str(tmp_path), env=env)
    assert rc == 0, out[-4000:]
    assert (f"fallback for --launcher {launcher}: backend 'gloo' (config asked for 'nccl'), world size 1"
            in out), out[-4000:]
    assert re.search(r'Iter\(test\) \[\d+/\d+\]\s+accuracy/top1: [\d.]+', out), out[-3000:]


@pytest.mark.slow
def test_load_from_cli_uses_weights_only(tmp_path, trained, toy_root):
    work = str(tmp_path / 'work')
    rc, out = train(work, toy_root, 'train_cfg.max_iters=1', f'load_from={osp.join(trained, "iter_4.pth")}',
                    cwd=str(tmp_path))
    assert rc == 0, out[-4000:]
    assert 'Loads checkpoint by local (weights_only) backend' in out  # printed, not logged, by mmengine
    log, = log_text(work)
    assert f'Load checkpoint from {osp.join(trained, "iter_4.pth")}' in log
    # load_from loads weights only: training starts at iteration 1, lr back at 0.01
    assert re.search(r'Iter\(train\) \[1/1\]\s+lr: 1\.0000e-02', log), log[-3000:]


def test_train_py_missing_data_root_fails_early(tmp_path):
    missing = str(tmp_path / 'data' / 'toy_coco')
    rc, out = train(str(tmp_path / 'work'), missing, cwd=str(tmp_path))
    assert rc != 0
    assert 'FileNotFoundError' in out
    assert missing in out and 'docs/data_preparation.md' in out
    assert f'python -m vitdense.datasets.toy coco --out {missing}' in out  # works installed, from any cwd
    assert not osp.exists(tmp_path / 'work'), 'the Runner was built although the data root is missing'


def test_amp_without_cuda_is_a_clear_error(tmp_path, toy_root):
    rc, out = train(str(tmp_path / 'work'), toy_root, '--amp', cwd=str(tmp_path))
    assert rc != 0
    assert '--amp needs a CUDA device' in out and 'Drop --amp' in out


def test_check_data_roots_walks_wrappers_and_names_path_and_doc(tmp_path, monkeypatch):
    from mmengine.config import Config

    from vitdense.utils.data_roots import check_data_roots
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'real' / 'annotations').mkdir(parents=True)
    (tmp_path / 'real' / 'annotations' / 'train.json').write_text('{}')
    ok = dict(type='CocoDataset', data_root='real/', ann_file='annotations/train.json')
    cfg = Config(dict(
        train_dataloader=dict(dataset=dict(type='RepeatDataset', times=2, dataset=dict(
            type='ConcatDataset', datasets=[ok, dict(type='CocoDataset', data_root='data/toy_coco',
                                                     ann_file='annotations/instances_train.json')]))),
        val_dataloader=dict(dataset=dict(ok, ann_file='annotations/val.json')),
        test_dataloader=dict(dataset=dict(type='ADE20KDataset', data_root='s3://bucket/ade')),
    ))
    with pytest.raises(FileNotFoundError) as info:
        check_data_roots(cfg)
    msg = str(info.value)
    # the missing toy root (inside RepeatDataset > ConcatDataset.datasets[1]) and the missing ann_file
    assert 'data/toy_coco (from train_dataloader.dataset.dataset.datasets[1].data_root)' in msg
    assert osp.join('real/', 'annotations/val.json') in msg
    assert 'docs/data_preparation.md' in msg
    assert 'python -m vitdense.datasets.toy coco --out data/toy_coco' in msg
    assert 's3://' not in msg and 'train.json' not in msg  # remote roots skipped; present files fine
    check_data_roots(cfg, loaders=('test_dataloader', ))  # only the remote one: no error

    (tmp_path / 'data' / 'toy_coco' / 'annotations').mkdir(parents=True)
    (tmp_path / 'data' / 'toy_coco' / 'annotations' / 'instances_train.json').write_text('{}')
    (tmp_path / 'real' / 'annotations' / 'val.json').write_text('{}')
    check_data_roots(cfg)


def _load_tool(name):
    import importlib.util
    path = osp.join(REPO, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_vitdense_tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('scope,hook_type,vis_type', [
    ('mmdet', 'DetVisualizationHook', 'DetLocalVisualizer'),
    ('mmseg', 'SegVisualizationHook', 'SegLocalVisualizer'),
    ('mmpretrain', 'VisualizationHook', 'UniversalVisualizer'),
])
def test_show_dir_turns_on_each_librarys_visualization_hook(tmp_path, monkeypatch, scope, hook_type,
                                                            vis_type):
    from mmengine.config import Config
    from mmengine.registry import HOOKS, VISUALIZERS, DefaultScope
    monkeypatch.setenv('LOCAL_RANK', '0')
    test_tool = _load_tool('test')
    vis_dir = str(tmp_path / 'vis')
    cfg = Config(dict(default_scope=scope, default_hooks=dict(visualization=dict(type=hook_type)),
                      visualizer=dict(type=vis_type, vis_backends=[dict(type='LocalVisBackend')])))
    args = test_tool.parse_args([CFG, 'x.pth', '--show-dir', vis_dir])
    cfg = test_tool.trigger_visualization_hook(cfg, args)
    # build them as the Runner would, in the library's scope: the keys must be the hook's arguments
    with DefaultScope.overwrite_default_scope(scope):
        visualizer = VISUALIZERS.build(dict(cfg.visualizer, name=f'vis_{scope}_{tmp_path.name}',
                                            save_dir=cfg.visualizer.get('save_dir', str(tmp_path / 'log'))))
        hook = HOOKS.build(cfg.default_hooks.visualization)
    assert type(hook).__name__ == hook_type and type(visualizer).__name__ == vis_type
    if scope == 'mmdet':
        assert hook.draw is True and hook.test_out_dir == vis_dir  # the hook joins work_dir/timestamp
    elif scope == 'mmseg':
        assert hook.draw is True
        assert visualizer._vis_backends['LocalVisBackend']._save_dir.startswith(vis_dir)
    else:
        assert hook.enable is True and hook.out_dir == vis_dir and hook.interval == 1

    with pytest.raises(RuntimeError, match='need a visualization hook in default_hooks'):
        test_tool.trigger_visualization_hook(Config(dict(default_scope=scope, default_hooks=dict())), args)


def test_benchmark_times_ours_and_peer_and_merges_runs(tmp_path):
    """tools/analysis/benchmark.py: one preset with a peer at a small size gives a row per
    implementation and mode with a ratio and a per-group GEMM yardstick; a later run of another size
    merges into the same json and report instead of replacing it. A default scope left by earlier
    code (here mmpretrain's, which has no PVTv2) does not change which registry builds a peer."""
    from mmengine.registry import DefaultScope
    from tools.analysis import benchmark
    DefaultScope.get_instance('test_benchmark_leftover_scope', scope_name='mmpretrain')
    try:
        js, md = str(tmp_path / 'b.json'), str(tmp_path / 'b.md')
        common = ['--rounds', '1', '--iters', '1', '--warmup', '0', '--threads', '1', '--modes', 'infer']
        benchmark.main(['pvtv2-b0', '--sizes', '64x64', '--peers', 'mmdet', '--json', js, '--out', md] + common)
        benchmark.main(['pvtv2-b0', '--sizes', '96x64', '--peers', 'mmdet', '--merge', js, '--out', md] + common)
        with open(js) as f:
            recs = json.load(f)['records']
        assert [r['size'] for r in recs] == [[64, 64], [96, 64]]
        assert all(r['gemm_gmacs'] > 0 and set(r['results']) == {'ours', 'mmdet'} for r in recs)
        rows = [line for line in open(md) if line.startswith('| pvtv2-b0 ')]
        assert len(rows) == 4  # 2 sizes x (ours, mmdet)
        ratios = [line.split('|')[10].strip() for line in rows]
        assert ratios[0] == '' and float(ratios[1]) > 0
        assert '--merge' in open(md).read()
        with open(md, 'a') as f:  # notes written by hand below the marker survive a regeneration
            f.write(benchmark.NOTES_MARKER + '\n\n## Notes\n\nmeasured on a quiet machine\n')
        benchmark.main(['--from-json', js, '--out', md])
        text = open(md).read()
        assert text.count('| pvtv2-b0 ') == 4 and text.endswith('measured on a quiet machine\n')
        assert text.count(benchmark.NOTES_MARKER) == 1
    finally:  # later tests see the scopes they had
        DefaultScope._instance_dict.pop('test_benchmark_leftover_scope')
