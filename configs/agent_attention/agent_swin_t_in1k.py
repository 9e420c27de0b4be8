# Agent-Swin-T ImageNet-1k classification (mmpretrain). The official recipe (agent_transformer/,
# cfgs/agent_swin_t.yaml on Swin's trainer) is Swin's: AdamW, 300 epochs, drop path 0.2, which is
# mmpretrain's swin-tiny_16xb64_in1k.py. The classifier pools the normalised last stage (norm3 =
# the official final norm) into a linear head, as the official model does.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.AgentSwinTransformer',
        arch='tiny',
        drop_path_rate=0.2,
        out_indices=(3,)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=768))
