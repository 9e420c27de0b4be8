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
