"""The study's conclusion: the real-data check leaves out the images a model trained on."""

import pytest

from s2v.results import Rule
from s2v.study import held_out_checks, ultrasound_conclusion


def _records(method, ratios):
    return [{"image": image, "method": method, "ratio_mean": value} for image, value in ratios.items()]


def test_held_out_checks_drop_each_methods_training_images():
    records = (_records("a", {"x": 1.0, "y": 1.2, "z": 0.8})
               + _records("b", {"x": 2.0, "y": 1.0, "z": 1.0})
               + _records("c", {"x": 1.0}))
    rows = {r["method"]: r for r in held_out_checks(records, ["ratio_mean"], trained_on={"b": ("x",), "c": ("x",)})}
    assert rows["a"]["ratio_mean"] == pytest.approx(1.0) and rows["a"]["n"] == 3
    assert rows["b"]["ratio_mean"] == pytest.approx(1.0) and rows["b"]["n"] == 2  # x (2.0) left out
    assert "c" not in rows  # trained on every real image: nothing held out, so not eligible


def test_the_conclusion_checks_a_method_on_held_out_images_only():
    """'deep' is checked on the images TRAINED_ON does not list for it: over both real images its
    ratio mean (1.15) fails the check; with liver_bmode listed as its training image, it is
    checked on the other one only (1.0) and wins."""
    from s2v import study

    simulated = [{"method": "deep", "psnr": 30.0}, {"method": "filter", "psnr": 25.0}]
    real = _records("deep", {"must_disk_iq_frame0": 1.0, "liver_bmode": 1.3}) + _records(
        "filter", {"must_disk_iq_frame0": 0.8, "liver_bmode": 0.8})
    rule = Rule({"psnr": "max"}, within={"ratio_mean": (0.95, 1.05)})
    study_trained_on = dict(study.TRAINED_ON)
    try:
        study.TRAINED_ON.clear()
        assert ultrasound_conclusion(simulated, real, rule).winner is None  # 1.15 and 0.8: neither
        study.TRAINED_ON["deep"] = ("liver_bmode",)
        assert ultrasound_conclusion(simulated, real, rule).winner == "deep"  # in-sample image: passes
    finally:
        study.TRAINED_ON.clear()
        study.TRAINED_ON.update(study_trained_on)


def test_simulation_items_score_a_scanner_export_against_its_mapped_truth():
    """simulation_items(scanner=True): the user's intensity of the export, and its ground truth
    mapped through the same log compression (not the simulation's own blurred echogenicity)."""
    import numpy as np

    from s2v.datasets import scanner_ultrasound_set
    from s2v.study import simulation_items

    sims = scanner_ultrasound_set(1, seed=600, shape=(129, 97))
    (scanner,) = simulation_items(sims, scanner=True)
    (plain,) = simulation_items(sims)
    assert scanner["name"] == "sim_us_600_scanner" and plain["name"] == "sim_us_600"
    np.testing.assert_array_equal(scanner["intensity"], sims[0]["scanner"]["intensity"])
    np.testing.assert_array_equal(scanner["ground_truth"], sims[0]["scanner"]["reference_intensity"])
    np.testing.assert_array_equal(plain["ground_truth"], sims[0]["blurred_echogenicity"])
    assert scanner["regions"] == plain["regions"] and scanner["points"] == plain["points"]
    with pytest.raises(ValueError, match="choose one"):
        simulation_items(sims, scanner=True, bmode8=True)
