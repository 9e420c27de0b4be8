# No peer library implements agent attention (its equivalence is tested against the official
# dense code's outputs, tests/data/agent_attention_official_small.pt). The dense agent grids of the
# official detection / segmentation configs.
PRESETS = {
    'agent-swin-t': {
        'ours': ('vitdense', dict(type='AgentSwinTransformer', arch='tiny', agent_shapes=(9, 12, 14, 7),
                                  drop_path_rate=0.0)),
    },
    'agent-pvt-t': {
        'ours': ('vitdense', dict(type='AgentPVT', arch='tiny', agent_shapes=(12, 16, 28, 28), drop_path_rate=0.0)),
    },
}
