"""Backbones by name: vitdense.list_models / get_model (timm's and mmpretrain's convention)."""
import pytest
import torch

import vitdense
from vitdense.backbones.base import BaseBackbone
from vitdense.registry import MODELS
from vitdense.testing import randomize_


def test_every_family_and_arch_has_a_name():
    """One listed name per distinct zoo entry of every registered backbone; every zoo key (alias)
    resolves; names are unique and lower case."""
    listed = vitdense.list_models()
    everything = vitdense.list_models(include_aliases=True)
    assert len(set(listed)) == len(listed) and set(listed) <= set(everything)
    assert all(n == n.lower() for n in everything)
    from vitdense.hub import _catalogue
    catalogue = _catalogue()
    for cls_name, cls in MODELS.module_dict.items():
        if isinstance(cls, type) and issubclass(cls, BaseBackbone):
            prefix = cls.__dict__.get('model_name_prefix') or cls_name.lower()
            distinct = {repr(sorted(v.items())) for v in cls.arch_zoo.values()}
            ours = [n for n, (c, _, shown) in catalogue.items() if c == cls_name and shown]
            assert len(ours) == len(distinct) and set(ours) <= set(listed), (cls_name, ours)
            assert all(f'{prefix}_{k}'.lower().replace('-', '_') in everything for k in cls.arch_zoo)
    assert {'swin_t', 'convnext_t', 'pvtv2_b0', 'repvgg_a0', 'vit_adapter_t', 'twins_svt_s'} <= set(listed)


def test_pattern_filters_like_timm():
    assert vitdense.list_models('pvtv2_b*') == [n for n in vitdense.list_models() if n.startswith('pvtv2_b')]
    assert 'swin_tiny' not in vitdense.list_models('swin*')
    assert 'swin_tiny' in vitdense.list_models('swin*', include_aliases=True)


def test_get_model_builds_the_named_arch_with_overrides():
    m = vitdense.get_model('swin_t', out_indices=(1, 3))
    ref = MODELS.build(dict(type='vitdense.SwinTransformer', arch='tiny', out_indices=(1, 3)))
    assert type(m) is type(ref) and m.out_indices == ref.out_indices
    assert sum(p.numel() for p in m.parameters()) == sum(p.numel() for p in ref.parameters())
    alias, short = vitdense.get_model('Swin-Tiny'), vitdense.get_model('swin_t')
    assert alias.state_dict().keys() == short.state_dict().keys()
    assert sum(p.numel() for p in alias.parameters()) == sum(p.numel() for p in short.parameters())
    assert vitdense.get_model('repvgg_a0', deploy=True).deploy is True


def test_get_model_builds_ours_under_any_default_scope():
    """A default scope left by another library (an mmpretrain Runner, whose registry has its own
    RepVGG) does not change which class get_model builds."""
    from mmengine.registry import DefaultScope
    import mmpretrain.models  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        m = vitdense.get_model('repvgg_a0')
    assert type(m).__module__ == 'vitdense.backbones.repvgg'


def test_get_model_loads_pretrained_weights(tmp_path):
    src = randomize_(vitdense.get_model('pvtv2_b0'), seed=3)
    path = tmp_path / 'pvtv2_b0.pth'
    torch.save({'state_dict': src.state_dict()}, path)
    m = vitdense.get_model('pvtv2_b0', pretrained=str(path))
    for k, v in src.state_dict().items():
        assert torch.equal(m.state_dict()[k], v), k


def test_bad_names_and_arguments_say_what_to_do():
    with pytest.raises(ValueError, match=r"no model named 'swin_tt'.*did you mean .*swin_t"):
        vitdense.get_model('swin_tt')
    with pytest.raises(TypeError, match='checkpoint path or URL'):
        vitdense.get_model('swin_t', pretrained=True)
    with pytest.raises(TypeError, match='sets type and arch'):
        vitdense.get_model('swin_t', arch='small')
