import torch
import torch.utils.checkpoint as cp


def maybe_checkpoint(fn, *args, enabled: bool = False, **kwargs):
    """Run ``fn(*args)`` under activation checkpointing when ``enabled`` and gradients are needed
    (``with_cp=True`` in a backbone config trades compute for memory)."""
    if enabled and torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad
                                                   for a in args):
        return cp.checkpoint(fn, *args, use_reentrant=False, **kwargs)
    return fn(*args, **kwargs)
