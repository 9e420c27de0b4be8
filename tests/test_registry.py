"""`type='vitdense.X'` resolves from mmdet, mmseg and mmpretrain registries, and the libraries'
own classes of the same name stay theirs."""
import importlib

import pytest
from mmengine.registry import DefaultScope

import vitdense  # noqa: F401
from vitdense.backbones.swin import SwinTransformer as OurSwin
from vitdense.registry import MODELS as OUR_MODELS


@pytest.mark.parametrize('lib', ['mmdet', 'mmseg', 'mmpretrain'])
def test_scoped_name_resolves_from_each_library(lib):
    importlib.import_module(f'{lib}.models')
    reg = importlib.import_module(f'{lib}.registry')
    with DefaultScope.overwrite_default_scope(lib):
        ours = reg.MODELS.build(dict(type='vitdense.SwinTransformer', arch='tiny'))
        theirs_cls = reg.MODELS.get('SwinTransformer')
    assert type(ours) is OurSwin
    assert theirs_cls is not None and theirs_cls is not OurSwin
    assert theirs_cls.__module__.startswith(lib)


def test_our_registries_are_scoped_children_of_mmengine_roots():
    from mmengine.registry import MODELS as ROOT
    assert OUR_MODELS.scope == 'vitdense'
    assert OUR_MODELS.parent is ROOT
    assert ROOT.children['vitdense'] is OUR_MODELS
    assert OUR_MODELS.get('SwinTransformer') is OurSwin


def test_unknown_scoped_name_fails_clearly():
    from mmdet.registry import MODELS as DET
    with DefaultScope.overwrite_default_scope('mmdet'):
        with pytest.raises(KeyError, match='NoSuchBackbone'):
            DET.build(dict(type='vitdense.NoSuchBackbone'))
