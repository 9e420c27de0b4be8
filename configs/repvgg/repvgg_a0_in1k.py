# RepVGG-A0 ImageNet-1k classification: mmpretrain's own RepVGG-A0 recipe (8 GPUs x 32 images,
# 120 epochs, SGD + cosine, no weight decay on the branch BatchNorms) with the backbone replaced.
# The weight-decay keys follow our parameter names (conv3x3.bn, conv1x1.bn, identity) in place of
# mmpretrain's (branch_3x3.norm, branch_1x1.norm, branch_norm). mmpretrain's released checkpoint of
# this recipe loads through init_cfg (its 'backbone.' keys are converted).
_base_ = 'mmpretrain::repvgg/repvgg-A0_8xb32_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.RepVGG', arch='a0', out_indices=(3, )),
    head=dict(in_channels=1280))
optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True,
        bias_decay_mult=0.0,
        custom_keys={
            'conv3x3.bn': dict(decay_mult=0.0),
            'conv1x1.bn': dict(decay_mult=0.0),
            'identity.bias': dict(decay_mult=0.0),
        }))
