"""Helpers for the test suite and for family authors checking a new backbone."""
import torch


def randomize_(module: torch.nn.Module, seed: int = 0, std: float = 0.05) -> torch.nn.Module:
    """Fill every parameter (and BatchNorm running statistics) with random values, so equivalence
    tests cannot pass on symmetric initialisations (ones/zeros norms, zero bias tables). Other
    buffers (attention masks, index tables) are derived state and left alone."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        stats = [(n, b) for n, b in module.named_buffers() if n.endswith(('running_mean', 'running_var'))]
        for name, t in list(module.named_parameters()) + stats:
            if not t.is_floating_point():
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith('weight') and t.dim() == 1:  # norm scales around 1
                t.copy_(1 + std * torch.randn(t.shape, generator=g))
            else:
                t.copy_(std * torch.randn(t.shape, generator=g))
    return module


def params_without_gradient(model: torch.nn.Module, x: torch.Tensor) -> list:
    """Backpropagate a loss over every output of ``model(x)`` and return the names of the
    parameters whose gradient is missing or all zero (a backbone test wants ``[]``)."""
    outs = model(x)
    sum(o.square().mean() for o in outs).backward()
    return [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]


def assert_same_outputs_and_grads(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> None:
    """``a`` and ``b`` (e.g. without / with ``with_cp``, same weights) give the same summed outputs
    on ``x`` and the same gradient for every parameter."""
    sa, sb = sum(o.sum() for o in a(x)), sum(o.sum() for o in b(x))
    sa.backward()
    sb.backward()
    torch.testing.assert_close(sa, sb)
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, msg=n)


def toy_training_run(config_path: str, work_dir: str, iters: int, warmup: int = 3, train_images=None,
                     val_images=None, lr=None, evaluate: bool = True, data_root=None):
    """Train a toy config (``configs/*/..._toy.py``) for ``iters`` iterations on the generated
    dataset (made if missing) and evaluate it; returns ``(losses, metrics)``.

    ``train_images`` / ``val_images`` restrict the datasets to their first N images (short CI runs
    learn visibly on a few fixed images). Works for the mmdet (COCO) and mmseg (ADE20K) toys.
    ``data_root`` (default: the config's, relative to the current directory) is where the data go.
    """
    import os

    import numpy as np
    from mmengine.config import Config
    from mmengine.runner import Runner

    from vitdense.datasets.toy import make_toy_ade20k, make_toy_coco

    cfg = Config.fromfile(config_path)
    # a relative data_root (data/toy_coco/) means the current directory's, as for tools/train.py
    root = os.path.abspath(data_root or cfg.train_dataloader.dataset.data_root)
    if cfg.get('default_scope') == 'mmdet':
        data = make_toy_coco(root)
        cfg.val_evaluator.ann_file = data['val_ann_file']
        if cfg.get('test_evaluator'):
            cfg.test_evaluator.ann_file = data['val_ann_file']
    else:
        data = make_toy_ade20k(root)
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(split):
            cfg[split].dataset.data_root = data['root'] + '/'
    if train_images:
        cfg.train_dataloader.dataset.indices = train_images
    if val_images:
        cfg.val_dataloader.dataset.indices = val_images
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    cfg.work_dir = work_dir
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = warmup
    cfg.param_scheduler[-1].begin = warmup
    cfg.param_scheduler[-1].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 1
    if not evaluate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    values, _ = runner.message_hub.get_scalar('train/loss').data
    metrics = runner.val_loop.run() if evaluate else {}
    if evaluate:  # a checkpoint that also holds the validation metrics (message hub), for load tests
        runner.save_checkpoint(work_dir, 'after_val.pth')
    return np.asarray(values, dtype=float), metrics


def assert_features_close(got, ref, rel: float = 1e-4, floor: float = 1e-7, msg: str = '') -> None:
    """Each tensor of ``got`` equals its partner in ``ref`` up to fp32 reordering noise.

    The budget is relative to the scale of the reference, ``max|got - ref| <= rel * max|ref| + floor``:
    two fp32 implementations of one network (other kernels, SDPA vs. softmax, thread count, CPU)
    differ by ~1e-6 of the feature scale, a real mismatch (wrong window, shift or bias) by 1e-3 and
    more. Shapes must match and ``got`` must be finite. Accepts single tensors or sequences."""
    if isinstance(got, torch.Tensor) or isinstance(ref, torch.Tensor):
        got, ref = [got], [ref]
    got, ref = list(got), list(ref)
    assert len(got) == len(ref), f'{msg}: {len(got)} outputs, expected {len(ref)}'
    for i, (g, r) in enumerate(zip(got, ref)):
        where = f'{msg} [output {i}]' if msg else f'output {i}'
        assert g.shape == r.shape, f'{where}: shape {tuple(g.shape)}, expected {tuple(r.shape)}'
        g, r = g.detach().double(), r.detach().double()
        assert torch.isfinite(g).all(), f'{where}: non-finite values'
        scale = float(r.abs().max()) if r.numel() else 0.0
        err = float((g - r).abs().max()) if r.numel() else 0.0
        budget = rel * scale + floor
        assert err <= budget, (f'{where}: max |got - ref| = {err:.3g} exceeds budget {budget:.3g} '
                               f'(rel {rel:g} x scale max|ref| = {scale:.3g}); ratio err/scale = '
                               f'{err / max(scale, 1e-30):.3g}')
