"""Save the weights of a TorchScript archive (e.g. RepNeXt's official ``*_fused.pt``) as a plain
state dict that ``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads with ``weights_only=True``.

    python tools/convert/torchscript_to_state_dict.py repnext_m3_distill_300e_fused.pt repnext_m3_fused.pth

``torch.jit.load`` deserialises the archive's TorchScript code, which is more than the weights-only
loader allows; vitdense therefore never does it on its own. Run this once on a file you trust.
"""
import argparse

import torch


def convert(src: str, dst: str) -> int:
    module = torch.jit.load(src, map_location='cpu')
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    torch.save(state, dst)
    return len(state)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='TorchScript archive (.pt)')
    parser.add_argument('dst', help='output state dict (.pth)')
    args = parser.parse_args()
    print(f'wrote {convert(args.src, args.dst)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
