"""Turn a trained model into its re-parameterized (deploy) form: every module with
``switch_to_deploy()`` (mmpretrain's convention: RepVGG, RepNeXt, UniRepLKNet, ...) fuses its
train-time branches in place. ``tools/deployment/reparameterize.py`` applies it to a checkpoint."""
from typing import List

import torch.nn as nn


def reparameterize_model(model: nn.Module) -> List[str]:
    """Call ``switch_to_deploy()`` on the outermost modules that have it; returns their names.
    A model without any raises, naming what it contains (nothing is silently left unfused)."""
    done = []

    def visit(module: nn.Module, name: str):
        if callable(getattr(module, 'switch_to_deploy', None)):
            module.switch_to_deploy()
            done.append(name or type(module).__name__)
            return
        for child_name, child in module.named_children():
            visit(child, f'{name}.{child_name}' if name else child_name)

    visit(model, '')
    if not done:
        kinds = sorted({type(m).__name__ for m in model.children()})
        raise ValueError(f'{type(model).__name__} has no module with switch_to_deploy() (children: {kinds}); '
                         f'only re-parameterizable families (RepVGG, RepNeXt, UniRepLKNet, ...) have a '
                         f'deploy form')
    model.eval()
    return done
