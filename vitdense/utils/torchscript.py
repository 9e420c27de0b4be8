"""Save the weights of a TorchScript archive (e.g. RepNeXt's official ``*_fused.pt``) as a plain
state dict that ``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads with ``weights_only=True``.

    python -m vitdense.utils.torchscript repnext_m3_distill_300e_fused.pt repnext_m3_fused.pth

``torch.jit.load`` deserialises the archive's TorchScript code, which is more than the weights-only
loader allows; vitdense therefore never does it on its own. Run this once on a file you trust.
"""
import argparse

import torch

COMMAND = 'python -m vitdense.utils.torchscript'


def torchscript_to_state_dict(src: str, dst: str) -> int:
    """Write ``src``'s tensors to ``dst`` as a state dict; returns how many were written."""
    module = torch.jit.load(src, map_location='cpu')
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    torch.save(state, dst)
    return len(state)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='TorchScript archive (.pt)')
    parser.add_argument('dst', help='output state dict (.pth)')
    args = parser.parse_args(argv)
    print(f'wrote {torchscript_to_state_dict(args.src, args.dst)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
