"""docs/model_zoo.md is what tools/analysis/model_zoo.py gives from the metafiles and measured figures."""
import importlib.util
import json
import os

import vitdense

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location('model_zoo', os.path.join(ROOT, 'tools/analysis/model_zoo.py'))
zoo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zoo)


def test_page_and_measurements_are_current():
    assert zoo.main(['--check']) == 0, 'stale: run python tools/analysis/model_zoo.py'


def test_measured_figures_are_real():
    with open(zoo.JSON) as f:
        known = json.load(f)
    assert sorted(known) == vitdense.list_models()
    # re-measure a few small ones of different kinds (window attention, spatial reduction, conv)
    again = zoo.measure(['pvtv2_b0', 'shufflenet_v2_0.5x', 'emo_1m'])
    for name, figures in again.items():
        assert known[name] == figures, name


def test_every_metafile_model_is_on_the_page():
    page = open(zoo.MD).read()
    families = zoo.load_metafiles()
    assert len(families) == len([d for d in os.listdir(os.path.join(ROOT, 'configs'))
                                 if os.path.exists(os.path.join(ROOT, 'configs', d, 'metafile.yml'))])
    for fam in families:
        for m in fam['models']:
            assert f'| {m["Name"]} | `{m["Config"]}` |' in page, m['Name']


def test_check_fails_on_a_stale_page(tmp_path, monkeypatch):
    stale = tmp_path / 'model_zoo.md'
    stale.write_text(open(zoo.MD).read().replace('| `swin_t` |', '| `swin_tiny` |'))
    monkeypatch.setattr(zoo, 'MD', str(stale))
    assert zoo.main(['--check']) == 1
