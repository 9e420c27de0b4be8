"""Key renames that several families' checkpoint converters share."""
from typing import Dict

import torch


def rename_final_norm(sd: Dict[str, torch.Tensor], stage_prefix: str) -> Dict[str, torch.Tensor]:
    """Classification checkpoints end in one ``norm.*``; our backbones close each returned stage
    with ``norm{i}``: the final norm becomes the norm of the last stage (the largest index ``i`` of
    the ``{stage_prefix}.{i}.`` keys). A state dict without ``norm.*`` keys is returned as it is."""
    if not any(k.startswith('norm.') for k in sd):
        return sd
    p = stage_prefix.rstrip('.') + '.'
    stages = [int(k[len(p):].split('.', 1)[0]) for k in sd if k.startswith(p)]
    if not stages:
        raise KeyError(f'checkpoint has a final norm but no {p}<i>. stage keys to attach it to; '
                       'is it a checkpoint of this family?')
    last = max(stages)
    return {(f'norm{last}.' + k[len('norm.'):] if k.startswith('norm.') else k): v for k, v in sd.items()}
