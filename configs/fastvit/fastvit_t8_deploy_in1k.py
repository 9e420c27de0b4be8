# The fused (deploy) form of fastvit_t8_in1k.py: every MobileOne block, large-kernel conv, RepMixer
# and position encoding as one conv. Load a checkpoint written by
# `python tools/deployment/reparameterize.py fastvit_t8_in1k.py TRAINED.pth FUSED.pth`.
_base_ = './fastvit_t8_in1k.py'

model = dict(backbone=dict(deploy=True))
