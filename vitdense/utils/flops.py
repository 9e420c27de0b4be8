"""FLOPs (multiply-adds, the papers' convention) that include attention.

mmengine's ``FlopAnalyzer`` (the counter behind mmdet's / mmseg's ``get_flops.py``) traces the model
with the JIT and counts the ops it has handles for. Three gaps make it undercount the attention of
modern backbones:

- ``F.scaled_dot_product_attention`` is one traced op with no handle: its ``q k^T`` and ``w v`` count 0;
- ``aten::matmul`` is counted as ``prod(a.shape) * b.shape[-1]``, which is wrong when ``a`` is the
  broadcast operand (``(N, d) @ (B, h, d, M)``, as in some sparse attentions after a gather);
- a general ``einsum`` is counted through ``np.einsum_path`` on arrays of the full operand shapes
  (memory of the real tensors, and half the count when nothing is summed).

``count_flops`` counts these from the output shapes instead. Gathers, softmax and element-wise ops
count zero, as in the papers' tables.
"""
from math import prod
from typing import Any, List, Sequence

import torch

__all__ = ['count_flops', 'flop_analyzer']


def _shape(v) -> List[int]:
    from mmengine.analysis.jit_handles import get_shape
    return get_shape(v)


def _sdpa(inputs: List[Any], outputs: List[Any]) -> int:
    """``softmax(q k^T) v``: q k^T plus the product with v, per batch of the (broadcast) output."""
    q, k = _shape(inputs[0]), _shape(inputs[1])
    out = _shape(outputs[0])
    batch = prod(out[:-2])
    return batch * q[-2] * k[-2] * q[-1] + batch * q[-2] * k[-2] * out[-1]


def _matmul(inputs: List[Any], outputs: List[Any]) -> int:
    """Every output element is a dot product over the contracted dimension."""
    a = _shape(inputs[0])
    out = _shape(outputs[0])
    return prod(out) * a[-1]


def _baddbmm(inputs: List[Any], outputs: List[Any]) -> int:
    """``beta * input + alpha * (b1 @ b2)``: the batched product (the addition counts zero)."""
    b1 = _shape(inputs[1])
    return prod(_shape(outputs[0])) * b1[-1]


def _einsum(inputs: List[Any], outputs: List[Any]) -> int:
    """Two operands: one multiply-add per combination of all the equation's indices. More: the
    contraction order numpy would pick, on zero-stride arrays (no memory of the real shapes)."""
    import numpy as np
    equation = inputs[0].toIValue().replace(' ', '')
    shapes = [_shape(v) for v in inputs[1].node().inputs()]
    lhs = equation.split('->')[0].split(',')
    if '...' in equation:
        raise NotImplementedError(f'einsum with ellipsis is not counted: {equation!r}')
    if len(lhs) <= 2:
        sizes = {}
        for term, shape in zip(lhs, shapes):
            sizes.update(zip(term, shape))
        return prod(sizes.values())
    arrays = [np.broadcast_to(np.zeros(()), s) for s in shapes]
    report = np.einsum_path(equation, *arrays, optimize='optimal')[1]
    for line in report.split('\n'):
        if 'optimized flop' in line.lower():
            return int(float(line.split(':')[-1]) // 2)
    raise NotImplementedError(f'einsum not counted: {equation!r}')


HANDLES = {
    'aten::scaled_dot_product_attention': _sdpa,
    'aten::matmul': _matmul,
    'aten::baddbmm': _baddbmm,
    'aten::einsum': _einsum,
}


def flop_analyzer(model: torch.nn.Module, inputs: Any):
    """mmengine's ``FlopAnalyzer`` with the handles above (``.total()``, ``.by_module()``,
    ``.by_operator()``); the model is traced as it is (call ``model.eval()`` first)."""
    from mmengine.analysis import FlopAnalyzer
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    fa = FlopAnalyzer(model, inputs)
    for name, handle in HANDLES.items():
        fa.set_op_handle(name, handle)
    return fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False)


def count_flops(model: torch.nn.Module, shape: Sequence[int] = (224, 224), inputs: Any = None) -> int:
    """Multiply-adds of one eval-mode forward of ``model`` on a ``(1, 3, H, W)`` input (or on
    ``inputs``). The model's train/eval mode is restored afterwards."""
    if inputs is None:
        p = next(model.parameters(), None)
        inputs = torch.zeros(1, 3, *shape, device=p.device if p is not None else 'cpu')
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return int(flop_analyzer(model, inputs).total())
    finally:
        model.train(was_training)


def main(argv=None) -> None:
    """``python -m vitdense.utils.flops swin_t convnext_t --shape 800 1216``: GFLOPs and parameters
    of models by name (``vitdense.list_models()``)."""
    import argparse

    from vitdense.hub import get_model
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument('names', nargs='+')
    parser.add_argument('--shape', type=int, nargs=2, default=(224, 224), metavar=('H', 'W'))
    args = parser.parse_args(argv)
    for name in args.names:
        model = get_model(name)
        params = sum(p.numel() for p in model.parameters())
        print(f'{name}: {count_flops(model, args.shape) / 1e9:.2f} GFLOPs at {args.shape[0]}x{args.shape[1]}, '
              f'{params / 1e6:.2f} M params')


if __name__ == '__main__':
    main()
