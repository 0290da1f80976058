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
    # Every improvement is off in the paper configuration (the reference's prediction).
    assert (c.predict_mosaic_notch, c.predict_ratio_calibration, c.predict_point_target_share) == (0.0, False, 0.0)


def test_reference_shift_units():
    assert shift_rows(1) == 1 and shift_rows(3) == 2
    assert S2VConfig.from_preset("paper").max_shift_rows == 2


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        S2VConfig(filters=0, learning_rate=-1, prob=(0.5, 0.2), normalization="max",
                  predict_point_target_share=0.5)
    message = str(info.value)
    for field in ("filters", "learning_rate", "prob", "normalization", "predict_point_target_share"):
        assert field in message


def test_unknown_key_gets_a_hint():
    with pytest.raises(ConfigError, match="did you mean 'filters'"):
        S2VConfig.from_dict({"filter": 32})
    with pytest.raises(ConfigError, match="did you mean 'paper'"):
        S2VConfig.from_preset("papr")


def test_coerce_takes_a_config_a_preset_name_a_dict_or_none():
    cpu = S2VConfig.from_preset("cpu")
    assert S2VConfig.coerce(None, "cpu") == cpu and S2VConfig.coerce("cpu", "paper") == cpu
    assert S2VConfig.coerce(cpu.to_dict(), "paper") == cpu and S2VConfig.coerce(cpu, "paper") is cpu
    for error in (ConfigError, TypeError):  # both, as the model and AP-BSN raised before
        with pytest.raises(error, match="config must be an S2VConfig, a dict or a preset name, got int"):
            S2VConfig.coerce(3, "cpu")
    with pytest.raises(ConfigError, match="normalization must be one of \\['fixed', 'median'\\], got "
                                          "'fixd' \\(did you mean 'fixed'\\?\\)"):
        S2VConfig.coerce({"normalization": "fixd"}, "cpu")


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


@pytest.mark.parametrize("values, message", [
    ({"prob": None}, "prob must be a list of finite numbers, got None"),
    ({"shift_list": None}, "shift_list must be a list of integers, got None"),
    ({"prob": [0.9, "0.1"]}, r"prob\[1\] must be a finite number, got '0.1'"),
    ({"batch_norm": "no"}, "batch_norm must be true or false, got 'no'"),
    ({"batch_norm": 0}, "batch_norm must be true or false, got 0"),
    ({"seed": "abc"}, "seed must be an integer, got 'abc'"),
    ({"filters": 8.0}, "filters must be an integer, got 8.0"),
    ({"filters": True}, "filters must be an integer, got True"),
    ({"looks": float("inf")}, "looks must be a finite number, got inf"),
    ({"learning_rate": float("nan")}, "learning_rate must be a finite number, got nan"),
    ({"normalization": 3}, "normalization must be a string, got 3"),
    ({"seed": -1}, r"seed must be in \[0, 2\*\*32\)"),
    ({"dilations": [1, 2]}, r"dilations must be empty or 17 \(depth\) integers >= 1, got \[1, 2\]"),
    ({"depth": 3, "dilations": [1, 0, 1]}, r"dilations must be empty or 3 \(depth\) integers >= 1"),
    ({"dilations": [1.5] * 17}, r"dilations\[0\] must be an integer, got 1.5"),
    ({"predict_pixel_shuffle": -1}, r"predict_pixel_shuffle must be >= 0"),
    ({"stride_from_correlation": True, "predict_pixel_shuffle": 2},
     "stride_from_correlation measures the prediction stride: predict_pixel_shuffle must be 0"),
    ({"stride_threshold": 1.0}, r"stride_threshold must lie in \(0, 1\), got 1.0"),
    ({"predict_stride_threshold": -0.1}, r"predict_stride_threshold must lie in \[0, 1\)"),
    ({"predict_offsets": 1}, "predict_offsets must be true or false, got 1"),
    ({"network_input": "dB"}, "network_input"),
])
def test_fields_are_checked_by_type_not_by_truthiness(values, message):
    """Types come from the annotations: a ConfigError naming the field, never a TypeError later."""
    with pytest.raises(ConfigError, match=message):
        S2VConfig.from_dict(values)


def test_type_and_value_problems_are_reported_together(tmp_path):
    bad = {"filters": 0, "seed": "abc", "prob": None, "batch_norm": "no", "filter": 3}
    with pytest.raises(ConfigError) as info:
        S2VConfig.from_dict(bad)
    message = str(info.value)
    for words in ("filters must be positive", "seed must be an integer", "prob must be a list",
                  "batch_norm must be true or false", "unknown field 'filter'"):
        assert words in message
    assert "shift_list and prob" not in message, "no rule is checked against a badly typed field"
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"batch_norm": "no"}))
    with pytest.raises(ConfigError, match=r"config.json: invalid S2VConfig:\n  - batch_norm"):
        S2VConfig.load(path)  # at load time too, naming the file


def test_numbers_are_normalised():
    import numpy as np

    c = S2VConfig.from_dict({"filters": np.int64(8), "looks": 2, "prob": [np.float32(0.5), 0.5],
                             "shift_list": [3, 1], "batch_norm": np.bool_(False)})
    assert type(c.filters) is int and type(c.looks) is float and c.looks == 2.0
    assert c.prob == (0.5, 0.5) and type(c.prob[0]) is float and c.batch_norm is False
    json.dumps(c.to_dict())  # plain JSON values


def test_a_new_field_is_checked_by_its_annotation_alone():
    """One generic check in ValidatedConfig: a subclass only writes its value rules."""
    import dataclasses
    from typing import Literal

    from s2v.config import ValidatedConfig

    @dataclasses.dataclass(frozen=True)
    class Other(ValidatedConfig):
        steps: int = 1
        rate: float = 0.5
        names: tuple[str, ...] = ("a",)
        pair: tuple[int, float] = (1, 2.0)
        mode: Literal["x", "y"] = "x"
        limit: int | None = None

        def validate(self):
            return [] if self.steps > 0 else [f"steps must be positive, got {self.steps}"]

    assert Other(names=["b", "c"], pair=[3, 4], limit=5).names == ("b", "c")
    for values, message in [({"steps": "1"}, "steps must be an integer"),
                            ({"names": ["a", 1]}, r"names\[1\] must be a string"),
                            ({"pair": [1]}, "pair must have 2 values"),
                            ({"mode": "z"}, r"mode must be one of \['x', 'y'\]"),
                            ({"limit": 2.5}, "limit must be an integer or null"),
                            ({"rate": "fast", "steps": 0}, "rate must be a finite number.*\n.*steps must be positive")]:
        with pytest.raises(ConfigError, match=message):
            Other.from_dict(values)


def test_paper_preset_trains_without_flips_like_the_reference():
    """The reference samples patches with augment=False; flips are an option of the other presets."""
    import numpy as np

    from s2v.patches import PatchSampler

    paper = S2VConfig.from_preset("paper", patch_size=16, batch_size=4, normalization="median",
                                  clip=50.0, norm=1.0)
    assert paper.flips is False and S2VConfig.from_preset("cpu").flips is True
    image = np.random.default_rng(3).gamma(1.0, 1.0, (37, 41)).astype(np.float32) + 0.01
    sampler = PatchSampler([image], paper, augment=paper.flips)
    normalised = sampler.items[0].image
    for step in range(5):
        for patch in sampler.batch(step)[0][..., 0]:
            # every patch is an unflipped window of the image: found at some offset
            windows = np.lib.stride_tricks.sliding_window_view(normalised, patch.shape)
            assert np.any(np.all(windows == patch, axis=(-2, -1)))
