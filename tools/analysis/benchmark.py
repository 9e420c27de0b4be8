"""Params, FLOPs, time and peak memory of backbones at dense-prediction sizes, ours against peer
implementations of the same network, timed interleaved in one process.

    python tools/analysis/benchmark.py pvtv2-b2                     # one preset, both default sizes
    python tools/analysis/benchmark.py --models swin-t pvt-t --sizes 512x512 --rounds 4 --iters 2
    python tools/analysis/benchmark.py --all --out docs/benchmarks.md   # regenerate the whole table

For each preset and input size, all its models (ours and each peer) are built in one process and
timed in interleaved rounds (A B A B ...): each round runs ``--iters`` steps of every model, and the
best and median per-step time over all rounds are reported. Machine drift on a shared machine then
hits every model alike and cancels in the ratio ours / peer (< 1: we are faster). Two modes are
timed: ``train`` (train mode, forward + backward of the mean of every output) and ``infer`` (eval
mode, forward under no_grad). Batch 1 by default.

The same run measures this machine's fp32 matrix-multiply throughput (2048x2048 GEMM, same thread
count); each model's achieved throughput is FLOPs per step / best step time, reported as a fraction
of it. FLOPs come from ``vitdense.utils.flops`` (mmengine's complexity analysis of the forward pass
with attention counted, fused SDPA included; one multiply-add counted as one FLOP, as the papers report); for the matmul yardstick the same convention is used (n^3
multiply-adds per GEMM), and a forward+backward step is counted as 3x the forward FLOPs.

Peak memory (resident-set growth over the weights on CPU, max allocated on CUDA) needs a fresh
process per model; it is measured only with ``--memory``.
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

DEFAULT_SIZES = ((512, 512), (800, 1216))
MODES = ('train', 'infer')


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
    from mmengine.registry import DefaultScope
    if kind in ('vitdense', 'mmdet', 'mmseg', 'mmpretrain'):
        import importlib
        importlib.import_module('vitdense' if kind == 'vitdense' else f'{kind}.models')
        reg = importlib.import_module(f'{kind}.registry')
        # a registry builds in the current default scope: pin it, whatever the caller left set
        with DefaultScope.overwrite_default_scope(kind):
            return reg.MODELS.build(dict(spec))
    if kind == 'timm':
        import timm
        spec = dict(spec)
        name = spec.pop('model_name')
        try:
            m = timm.create_model(name, pretrained=False, img_size=size, **spec)
        except TypeError:  # models without a fixed input size (pvt_v2) take no img_size
            m = timm.create_model(name, pretrained=False, **spec)

        class Features(nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                return self.net.forward_intermediates(x, norm=False, intermediates_only=True)
        return Features(m)
    raise ValueError(f'unknown builder kind {kind!r}')


def count_flops(model, x):
    """Multiply-adds of one step on ``x`` (attention included: vitdense.utils.flops)."""
    from vitdense.utils.flops import count_flops as _count
    try:
        return _count(model, inputs=x[:1]) * x.shape[0]
    except Exception as e:  # report, do not hide: the row says n/a
        print(f'[benchmark] FLOPs failed: {type(e).__name__}: {e}', file=sys.stderr)
        return None


def matmul_gflops(threads, n=2048, reps=5):
    """Best fp32 GEMM throughput of this machine in GMAC/s (n^3 multiply-adds per product)."""
    import torch
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    return n ** 3 / min(_timed(torch.mm, a, b) for _ in range(reps)) / 1e9


def _timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def _stepper(model, x, mode, device):
    import torch

    def sync():
        if device == 'cuda':
            torch.cuda.synchronize()

    if mode == 'train':
        def step():
            model.train()  # mmdet's backbones return None from train()/eval(): never chain them
            outs = model(x)
            loss = sum(o.float().mean() for o in outs)
            loss.backward()
            model.zero_grad(set_to_none=True)
            sync()
    else:
        def step():
            model.eval()
            with torch.no_grad():
                model(x)
            sync()
    return step


def interleaved(preset, names, size, args):
    """Time every model of ``names`` in this process, interleaved: returns name -> mode -> stats."""
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, *size, device=args.device)
    models, info = {}, {}
    for name in names:
        kind, spec = preset[name]
        torch.manual_seed(0)
        m = _build(kind, spec, size).to(args.device)
        models[name] = m
        info[name] = dict(params=sum(p.numel() for p in m.parameters()), flops=count_flops(m, x))
    out = {n: dict(info[n]) for n in names}
    # the GEMM yardstick is timed in the same rounds, so "% of GEMM" sees the same machine load
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    gemm_s = [_timed(torch.mm, a, b)]
    for mode in args.modes:
        steps = {n: _stepper(models[n], x, mode, args.device) for n in names}
        for n in names:  # warm-up outside the timed rounds
            for _ in range(args.warmup):
                steps[n]()
        times = {n: [] for n in names}
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]  # A B, B A: no model always runs first
            for n in order:
                for _ in range(args.iters):
                    times[n].append(_timed(steps[n]))
            gemm_s.append(_timed(torch.mm, a, b))
        for n in names:
            out[n][mode] = dict(best_ms=1000 * min(times[n]), median_ms=1000 * statistics.median(times[n]))
    return out, 2048 ** 3 / min(gemm_s) / 1e9


def _rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def _peak(kind, spec, size, batch, threads, device, mode, q):
    import torch
    torch.set_num_threads(threads)
    model = _build(kind, spec, size).to(device)
    x = torch.randn(batch, 3, *size, device=device)
    step = _stepper(model, x, mode, device)
    base = _rss_mb()  # weights only: the peak below is activations, gradients and workspace
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    step()
    step()
    if device == 'cuda':
        q.put(torch.cuda.max_memory_allocated() / 2 ** 20)
    else:  # ru_maxrss: peak resident set of this process in KiB
        q.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base)


def peak_memory(kind, spec, size, mode, args):
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(target=_peak, args=(kind, spec, tuple(size), args.batch, args.threads, args.device,
                                        mode, q))
    p.start()
    p.join()
    if p.exitcode != 0:
        raise RuntimeError(f'measuring the peak memory of {kind} failed (exit code {p.exitcode})')
    return q.get()


def parse_size(s):
    try:
        h, w = (int(v) for v in s.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size {s!r}: write HxW, e.g. 512x512') from None
    return h, w


def fmt_g(flops):
    return 'n/a' if flops is None else f'{flops / 1e9:.2f}G'


def table(records, gemm, args):
    """Markdown rows; each row group's "% of GEMM" uses the yardstick timed in its own rounds
    (``gemm`` only for records that have none)."""
    memory = any('peak_mb' in r for rec in records for r in rec['results'].values())
    lines = ['| model | input | mode | params | FLOPs (fwd) | impl | best ms | median ms | '
             '% of GEMM | ratio ours/peer (best) | GEMM GMAC/s |' + (' peak MB |' if memory else ''),
             '|---|---|---|---|---|---|---|---|---|---|---|' + ('---|' if memory else '')]
    for rec in records:
        res = rec['results']
        g = rec.get('gemm_gmacs', gemm)
        for mode in (m for m in MODES if m in res['ours']):
            for name, r in res.items():
                mult = 3 if mode == 'train' else 1
                frac = ('n/a' if r['flops'] is None else
                        f'{100 * mult * r["flops"] / (r[mode]["best_ms"] / 1000) / (g * 1e9):.1f}%')
                ratio = ('' if name == 'ours' else
                         f'{res["ours"][mode]["best_ms"] / r[mode]["best_ms"]:.2f}')
                mem = f' {r.get("peak_mb", {}).get(mode, float("nan")):.0f} |' if memory else ''
                lines.append(f'| {rec["model"]} | {rec["size"][0]}x{rec["size"][1]} | {mode} | '
                             f'{r["params"] / 1e6:.2f}M | {fmt_g(r["flops"])} | {name} | '
                             f'{r[mode]["best_ms"]:.1f} | {r[mode]["median_ms"]:.1f} | {frac} | {ratio} | '
                             f'{g:.0f} |' + mem)
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model', nargs='?', choices=sorted(PRESETS), help='one preset (or use --models/--all)')
    ap.add_argument('--models', nargs='+', choices=sorted(PRESETS), default=None)
    ap.add_argument('--all', action='store_true', help='every preset')
    ap.add_argument('--sizes', nargs='+', type=parse_size, default=None, metavar='HxW',
                    help='input sizes (default: 512x512 800x1216)')
    ap.add_argument('--size', type=int, nargs=2, default=None, metavar=('H', 'W'),
                    help='a single input size (kept for older commands)')
    ap.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--iters', type=int, default=2, help='steps per model per round')
    ap.add_argument('--rounds', type=int, default=4)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    ap.add_argument('--peers', nargs='*', default=None, help='subset of the preset peers (default: all)')
    ap.add_argument('--memory', action='store_true', help='also measure peak memory (fresh process each)')
    ap.add_argument('--out', help='write the markdown report to this file')
    ap.add_argument('--json', help='write all figures as json')
    ap.add_argument('--from-json', nargs='+', metavar='JSON',
                    help='time nothing: report the union of these --json runs (with --out/--json)')
    ap.add_argument('--merge', metavar='JSON',
                    help="merge this run into an earlier run's --json file (rows measured now replace its "
                         "rows of the same model and size) and report the union (written back to it)")
    args = ap.parse_args(argv)

    if args.from_json:  # no timing: the union of earlier runs (later files win per model and size)
        names, records = [], []
    elif args.all:
        names = sorted(PRESETS)
    else:
        names = ([args.model] if args.model else []) + (args.models or [])
    if not names and not args.from_json:
        ap.error('name a preset, or pass --models NAME ... or --all (or --from-json FILE ...)')
    sizes = args.sizes or ([tuple(args.size)] if args.size else list(DEFAULT_SIZES))

    gemm = matmul_gflops(args.threads) if names else float('nan')
    print(f'[benchmark] fp32 GEMM 2048^3: {gemm:.1f} GMAC/s ({args.threads} threads)', flush=True)
    records, failed = [], []
    for path in args.from_json or []:
        with open(path) as f:
            records.append(json.load(f)['records'])
    if args.from_json:
        seen = {}
        for rec in (r for run in records for r in run):
            seen[(rec['model'], tuple(rec['size']))] = rec
        records = list(seen.values())
        args.merge = None
    for model in names:
        preset = PRESETS[model]
        impls = ['ours'] + [p for p in preset if p != 'ours' and (args.peers is None or p in args.peers)]
        for size in sizes:
            print(f'[benchmark] {model} {"/".join(impls)}: {args.batch}x3x{size[0]}x{size[1]}, '
                  f'{args.rounds} rounds x {args.iters} steps, {args.modes} on {args.device}', flush=True)
            try:
                res, rec_gemm = interleaved(preset, impls, size, args)
            except Exception as e:  # e.g. a peer refusing this input size: say so, go on
                print(f'[benchmark] {model} at {size} failed: {type(e).__name__}: {e}', file=sys.stderr)
                failed.append(f'{model} at {size[0]}x{size[1]}: {type(e).__name__}: {e}')
                continue
            if args.memory:
                for n in impls:
                    res[n]['peak_mb'] = {m: peak_memory(*preset[n], size, m, args) for m in args.modes}
            rec = dict(model=model, size=list(size), results=res, gemm_gmacs=rec_gemm,
                       date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), threads=args.threads,
                       rounds=args.rounds, iters=args.iters)
            records.append(rec)
            print(table([rec], gemm, args), flush=True)
    if args.from_json:
        order = {n: i for i, n in enumerate(sorted(PRESETS))}
        records.sort(key=lambda r: (order.get(r['model'], len(order)), r['size'][0] * r['size'][1]))
    if args.merge:  # rows of earlier runs kept unless measured again now
        with open(args.merge) as f:
            old = json.load(f)['records']
        fresh = {(r['model'], tuple(r['size'])) for r in records}
        records = [r for r in old if (r['model'], tuple(r['size'])) not in fresh] + records
        order = {n: i for i, n in enumerate(sorted(PRESETS))}
        records.sort(key=lambda r: (order.get(r['model'], len(order)), r['size'][0] * r['size'][1]))
        args.json = args.json or args.merge
    report = table(records, gemm, args)
    if args.out:
        notes = ''  # hand-written notes below NOTES_MARKER in an earlier report survive regeneration
        if os.path.isfile(args.out):
            with open(args.out) as f:
                old_text = f.read()
            if NOTES_MARKER in old_text:
                notes = '\n' + old_text[old_text.index(NOTES_MARKER):]
        with open(args.out, 'w') as f:
            f.write(HEADER.format(cmd=' '.join(['python tools/analysis/benchmark.py'] + (argv or sys.argv[1:])),
                                  date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                                  threads=args.threads, batch=args.batch))
            f.write(report + '\n' + notes)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(batch=args.batch, records=records), f, indent=1)
    if failed:  # the report holds the rows that ran; the exit status says some did not
        raise SystemExit('[benchmark] rows that did not run:\n  ' + '\n  '.join(failed))
    return records


NOTES_MARKER = '<!-- notes below: kept when benchmark.py rewrites this file -->'

HEADER = """# Backbone benchmarks at dense-prediction sizes

Generated by `{cmd}` (last run {date}), {threads} threads, batch {batch}. Every row group (one model
at one size) records its own run, rounds and date in the `--json` file next to this one.

- `train`: train mode, forward + backward; `infer`: eval mode, forward under `no_grad`.
- Ours and every peer of a row group are timed interleaved in one process (A B, B A, ...), so
  drift of a shared machine cancels in the ratio ours / peer (< 1: ours is faster). Absolute times
  are noisy; the ratios are what to compare.
- FLOPs: mmengine's count of the forward pass, one multiply-add = one FLOP. "% of GEMM" is
  FLOPs per step / best step time over this machine's fp32 2048x2048 GEMM throughput, timed in the
  same rounds as the row group (column "GEMM GMAC/s", same multiply-add convention); a train step
  counts 3x the forward FLOPs.
- Regenerate: `python tools/analysis/benchmark.py --all --rounds 3 --iters 1 --threads 2 --json
  docs/benchmarks.json --out docs/benchmarks.md` (long: run by hand); a subset replaces its rows with
  `--models NAME ... --merge docs/benchmarks.json --out docs/benchmarks.md`.

"""


if __name__ == '__main__':
    main()
