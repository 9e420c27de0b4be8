# The fused (deploy) form of repvgg_a0_in1k.py: one biased 3x3 conv per layer. Load a checkpoint
# written by `python tools/deployment/reparameterize.py repvgg_a0_in1k.py TRAINED.pth FUSED.pth`.
_base_ = './repvgg_a0_in1k.py'

model = dict(backbone=dict(deploy=True))
