"""Params, FLOPs, forward+backward time and peak memory of a backbone, side by side with peer
implementations of the same network, measured in the same run.

    python tools/analysis/benchmark.py swin-t --size 224 224 --batch 2 --iters 10
    python tools/analysis/benchmark.py swin-t --size 800 1333 --batch 1 --peers mmdet --out bench.md

Each model is measured in its own fresh process (so peak memory is that model's alone): build,
warm up, then ``--iters`` timed forward+backward passes; the median is reported. FLOPs come from
mmengine's complexity analysis (one multiply-add counted as one FLOP, as the papers report). The
markdown row gives ours/peer time ratios against the fastest peer (< 1: we are faster).
"""
import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


# name -> {'ours': builder spec, peer name -> builder spec}, gathered from tools/analysis/presets/*.py.
# A spec is (kind, arg): 'vitdense' and 'mmdet'/'mmseg'/'mmpretrain' build a registry config; 'timm'
# creates a timm model whose forward_intermediates gives the stage features.
def load_presets():
    import importlib
    import pkgutil
    from tools.analysis import presets as pkg
    out = {}
    for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        for name, preset in importlib.import_module(f'tools.analysis.presets.{m.name}').PRESETS.items():
            if name in out:
                raise ValueError(f'benchmark preset {name!r} is defined twice')
            out[name] = preset
    return out


PRESETS = load_presets()


def _build(kind, spec, size):
    import torch.nn as nn
    if kind == 'vitdense':
        import vitdense  # noqa: F401
        from vitdense.registry import MODELS
        return MODELS.build(dict(spec))
    if kind in ('mmdet', 'mmseg', 'mmpretrain'):
        import importlib
        importlib.import_module(f'{kind}.models')
        reg = importlib.import_module(f'{kind}.registry')
        return reg.MODELS.build(dict(spec))
    if kind == 'timm':
        import timm
        spec = dict(spec)
        name = spec.pop('model_name')
        m = timm.create_model(name, pretrained=False, img_size=size, **spec)

        class Features(nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                return self.net.forward_intermediates(x, norm=False, intermediates_only=True)
        return Features(m)
    raise ValueError(f'unknown builder kind {kind!r}')


def _sdpa_flop_jit(inputs, outputs):
    """Multiply-adds of softmax(q k^T) v, which the jit trace sees as one fused op: q k^T and the
    product with v (the same count the explicit matmuls of other implementations get)."""
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(t) for t in inputs[:3])
    batch = 1
    for d in q[:-2]:
        batch *= d
    return batch * q[-2] * k[-2] * q[-1] + batch * q[-2] * k[-2] * v[-1]


def _rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def _measure(kind, spec, size, batch, iters, warmup, threads, device, q):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = _build(kind, spec, size).to(device)
    model.train()  # mmdet's backbones return None from train()/eval(): never chain them
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(batch, 3, *size, device=device)

    def step():
        outs = model(x)
        loss = sum(o.float().mean() for o in outs)
        loss.backward()
        model.zero_grad(set_to_none=True)

    base = _rss_mb()  # weights only: the peak below is activations, gradients and workspace
    for _ in range(warmup):
        step()
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    if device == 'cuda':
        peak = torch.cuda.max_memory_allocated() / 2 ** 20
    else:  # ru_maxrss: peak resident set of this process in KiB
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    flops = None
    try:
        from mmengine.analysis import FlopAnalyzer
        model.eval()
        with torch.no_grad():
            flops = FlopAnalyzer(model, (x[:1],)).set_op_handle(
                'aten::scaled_dot_product_attention', _sdpa_flop_jit).unsupported_ops_warnings(False) \
                .uncalled_modules_warnings(False).total()
    except Exception as e:  # report, do not hide: the row says n/a
        print(f'[benchmark] FLOPs of {kind} failed: {type(e).__name__}: {e}', file=sys.stderr)
    q.put(dict(params=params, flops=flops, ms=1000 * statistics.median(times),
               ms_min=1000 * min(times), ms_max=1000 * max(times), peak_mb=peak))


def measure(kind, spec, args):
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(target=_measure, args=(kind, spec, tuple(args.size), args.batch, args.iters, args.warmup,
                                           args.threads, args.device, q))
    p.start()
    p.join()
    if p.exitcode != 0:
        raise RuntimeError(f'measuring {kind} failed (exit code {p.exitcode})')
    return q.get()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model', choices=sorted(PRESETS))
    ap.add_argument('--size', type=int, nargs=2, default=(224, 224), metavar=('H', 'W'))
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--iters', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    ap.add_argument('--peers', nargs='*', default=None, help='subset of the preset peers (default: all)')
    ap.add_argument('--out', help='append the markdown row to this file')
    ap.add_argument('--json', help='write all figures as json')
    args = ap.parse_args(argv)

    preset = PRESETS[args.model]
    peers = [p for p in preset if p != 'ours' and (args.peers is None or p in args.peers)]
    results = {}
    for name in ['ours'] + peers:
        kind, spec = preset[name]
        print(f'[benchmark] {args.model} {name}: {args.batch}x3x{args.size[0]}x{args.size[1]}, '
              f'{args.iters} fwd+bwd on {args.device} ({args.threads} threads)', flush=True)
        results[name] = measure(kind, spec, args)
        r = results[name]
        print(f'    params {r["params"] / 1e6:.2f}M  FLOPs {fmt_g(r["flops"])}  fwd+bwd median '
              f'{r["ms"]:.1f} ms (min {r["ms_min"]:.1f}, max {r["ms_max"]:.1f})  peak {r["peak_mb"]:.0f} MB',
              flush=True)
    ours = results['ours']
    fastest = min(peers, key=lambda p: results[p]['ms']) if peers else None
    ratio = f'{ours["ms"] / results[fastest]["ms"]:.2f} vs {fastest}' if fastest else 'n/a'
    peer_txt = ', '.join(f'{p} {results[p]["ms"]:.1f} ms / {results[p]["peak_mb"]:.0f} MB' for p in peers)
    header = ('| model | input | params | FLOPs | fwd+bwd (ours) | peak mem (ours) | peers | ratio ours/fastest |\n'
              '|---|---|---|---|---|---|---|---|')
    row = (f'| {args.model} | {args.batch}x{args.size[0]}x{args.size[1]} {args.device} | '
           f'{ours["params"] / 1e6:.2f}M | {fmt_g(ours["flops"])} | {ours["ms"]:.1f} ms | '
           f'{ours["peak_mb"]:.0f} MB | {peer_txt or "-"} | {ratio} |')
    print(header)
    print(row)
    if args.out:
        new = not os.path.exists(args.out)
        with open(args.out, 'a') as f:
            f.write((header + '\n' if new else '') + row + '\n')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(model=args.model, size=args.size, batch=args.batch, results=results), f, indent=1)
    return results


def fmt_g(flops):
    return 'n/a' if flops is None else f'{flops / 1e9:.2f}G'


if __name__ == '__main__':
    main()
