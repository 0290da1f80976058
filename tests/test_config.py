"""S2VConfig: presets, validation of every field at once, JSON round trip."""

import json

import pytest

from s2v.config import ConfigError, S2VConfig, shift_rows


def test_paper_preset_is_the_reference():
    c = S2VConfig.from_preset("paper")
    assert (c.filters, c.depth, c.batch_norm) == (64, 17, True)
    assert c.shift_list == (3, 1) and c.prob == (0.9, 0.1)
    assert (c.learning_rate, c.batch_size, c.patch_size, c.steps_per_epoch) == (1e-4, 16, 64, 2000)
    assert (c.k_penalty_tv, c.looks, c.clip, c.norm) == (5e-5, 1.0, 5e5, 1e5)
    assert c.checkpoint_every == 5000 and c.normalization == "fixed"


def test_reference_shift_units():
    assert shift_rows(1) == 1 and shift_rows(3) == 2
    assert S2VConfig.from_preset("paper").max_shift_rows == 2


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        S2VConfig(filters=0, learning_rate=-1, prob=(0.5, 0.2), normalization="max")
    message = str(info.value)
    for field in ("filters", "learning_rate", "prob", "normalization"):
        assert field in message


def test_unknown_key_gets_a_hint():
    with pytest.raises(ConfigError, match="did you mean 'filters'"):
        S2VConfig.from_dict({"filter": 32})
    with pytest.raises(ConfigError, match="did you mean 'paper'"):
        S2VConfig.from_preset("papr")


def test_json_round_trip(tmp_path):
    c = S2VConfig.from_preset("cpu", looks=4.0)
    path = c.save(tmp_path / "config.json")
    assert json.loads(path.read_text())["looks"] == 4.0
    assert S2VConfig.load(path) == c


def test_load_reports_bad_json(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="config.json"):
        S2VConfig.load(bad)
