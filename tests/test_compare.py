"""Comparison harness: end to end on a tiny simulated set, regions round trip, bad inputs,
DataFrames and the computed conclusion."""

import argparse
import csv
import json
import math
import sys

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from s2v import metrics
from s2v.baselines import denoise_boxcar, denoise_median
from s2v.cli import add_compare_arguments, compare_main
from s2v.compare import CompareResults, Rule, compare, conclude, resolve_methods
from s2v.roi import load_regions, save_regions
from s2v.simulate import gamma_speckle

SHAPES = {"a": (63, 71), "b": (57, 65)}
FINITE_KEYS = ("psnr", "ssim", "enl", "speckle_snr", "cnr", "gcnr", "ratio_mean", "ratio_var",
               "epi")


def piecewise_clean(shape):
    """Clean intensity: 0.5 on the left, 1.0 on the right, a dark (0.05) disk on the left."""
    h, w = shape
    clean = np.full(shape, 0.5, np.float32)
    clean[:, w // 2:] = 1.0
    rows, cols = np.ogrid[:h, :w]
    clean[(rows - h // 2) ** 2 + (cols - w // 4) ** 2 < (min(h, w) // 6) ** 2] = 0.05
    return clean


@pytest.fixture(scope="module")
def tiny_set():
    """Two odd-sized single-look images with their ground truth."""
    rng = np.random.default_rng(20221)
    items = []
    for name, shape in SHAPES.items():
        clean = piecewise_clean(shape)
        items.append({"name": name, "intensity": gamma_speckle(clean, 1.0, seed=rng),
                      "ground_truth": clean})
    return items


@pytest.fixture(scope="module")
def run(tiny_set, tmp_path_factory):
    """One comparison shared by the read-only tests below (figures take most of the time)."""
    out = tmp_path_factory.mktemp("compare")
    return compare({"boxcar": denoise_boxcar, "median": denoise_median}, tiny_set, out_dir=out,
                   realisations=2, seed=3, progress=False)


def test_end_to_end_writes_tables_and_figures(run):
    assert isinstance(run, CompareResults)
    for key in ("markdown", "summary_csv", "records_csv", "json", "regions"):
        assert run.files[key].is_file(), key
    table = run.table_markdown()
    assert table.splitlines()[0].startswith("| method | n | PSNR (dB) | SSIM |")
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == [
        "noisy", "boxcar", "median"]
    report = run.files["markdown"].read_text()
    assert table in report
    for name in ("a", "b"):  # and one table per image, over its two realisations
        assert f"## {name}\n\n{run.table_markdown(name)}" in report
        assert "| boxcar | 2 |" in run.table_markdown(name)
    with open(run.files["summary_csv"]) as handle:
        summary = list(csv.DictReader(handle))
    assert [row["method"] for row in summary] == ["noisy", "boxcar", "median"]
    assert all(row["n"] == "4" for row in summary)  # 2 images x 2 realisations
    with open(run.files["records_csv"]) as handle:
        assert len(list(csv.DictReader(handle))) == 2 * 2 * 3
    payload = json.loads(run.files["json"].read_text())
    assert payload["config"]["methods"] == ["noisy", "boxcar", "median"]
    assert len(payload["records"]) == 12
    assert set(run.figures) == {"a", "b"}
    assert len(run.figure_paths) == 6
    for path in run.figure_paths:
        assert path.suffix == ".png"
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_end_to_end_numbers_finite_and_sensible(run):
    for record in run.records:
        for key in FINITE_KEYS:
            assert math.isfinite(record[key]), (record["method"], key)
        timed = record["method"] != "noisy"
        assert math.isfinite(record["runtime_s_per_mpix"]) == timed
    summary = {row["method"]: row for row in run.summary}
    for method in ("boxcar", "median"):
        # Single-look speckle: any 7x7 filter gains > 8 dB and multiplies the ENL.
        assert summary[method]["psnr_mean"] > summary["noisy"]["psnr_mean"] + 8.0
        assert summary[method]["enl_mean"] > 10 * summary["noisy"]["enl_mean"]
        assert summary[method]["gcnr_mean"] > summary["noisy"]["gcnr_mean"]
    # Scoring the input against itself: ratio image identically 1.
    assert summary["noisy"]["ratio_mean_mean"] == pytest.approx(1.0)
    assert summary["noisy"]["ratio_var_mean"] == pytest.approx(0.0, abs=1e-12)
    # Boxcar is a local mean, so the ratio keeps mean ~1 and variance ~1/L = 1.
    assert summary["boxcar"]["ratio_mean_mean"] == pytest.approx(1.0, abs=0.05)
    assert summary["boxcar"]["ratio_var_mean"] == pytest.approx(1.0, abs=0.2)


def test_psnr_is_on_amplitude_with_the_reference_peak(run, tiny_set):
    item = tiny_set[0]
    record = next(r for r in run.records
                  if (r["image"], r["realisation"], r["method"]) == ("a", 0, "noisy"))
    clean_amp, noisy_amp = np.sqrt(item["ground_truth"]), np.sqrt(item["intensity"])
    expected = peak_signal_noise_ratio(clean_amp.astype(np.float64), noisy_amp.astype(np.float64),
                                       data_range=float(clean_amp.max()))
    assert record["psnr"] == pytest.approx(expected, rel=1e-9)


def test_denoisers_get_float32_copies_and_the_looks(tiny_set, tmp_path):
    seen = []

    def halve_in_place(intensity, *, looks):
        seen.append((intensity.dtype, intensity.shape, looks))
        intensity *= 0.5  # a careless filter: must not change what the others get
        return intensity

    item = {**tiny_set[0], "intensity": tiny_set[0]["intensity"].astype(np.float64)}
    before = item["intensity"].copy()
    results = compare({"halve": halve_in_place, "boxcar": denoise_boxcar}, [item],
                      out_dir=tmp_path, looks=3, progress=False, figures=False)
    assert seen == [(np.float32, SHAPES["a"], 3.0)]
    assert np.array_equal(item["intensity"], before)
    by_method = {r["method"]: r for r in results.records}
    assert by_method["halve"]["ratio_mean"] == pytest.approx(2.0)
    assert by_method["boxcar"]["ratio_mean"] == pytest.approx(1.0, abs=0.05)


def test_realisations_are_fresh_speckle_and_reproducible(tiny_set, tmp_path):
    def noisy_psnr(out):
        results = compare({"boxcar": denoise_boxcar}, tiny_set[:1], out_dir=out, realisations=3,
                          seed=7, progress=False, figures=False)
        return [r["psnr"] for r in results.records if r["method"] == "noisy"]

    first, second = noisy_psnr(tmp_path / "one"), noisy_psnr(tmp_path / "two")
    assert first == second
    assert len(set(first)) == 3
    assert not (tmp_path / "one" / "figures").exists()


def test_regions_json_round_trip_and_edit(run, tiny_set, tmp_path):
    loaded = load_regions(run.files["regions"])
    assert loaded == run.regions
    assert run.regions["a"]["source"] == {"homogeneous": "auto", "pairs": "auto"}
    # A user replaces the proposals of image 'a' with a box in its flat bright half.
    box = [4, 40, 24, 68]
    loaded["a"]["homogeneous"] = [box]
    edited = save_regions(loaded, tmp_path / "edited.json")
    results = compare({"boxcar": denoise_boxcar}, tiny_set, out_dir=tmp_path / "out",
                      regions=edited, progress=False, figures=False)
    assert results.regions["a"]["homogeneous"] == [{"box": box}]
    assert results.regions["a"]["source"]["homogeneous"] == "given"
    # Passed back unchanged, the proposals of image 'b' are used as given.
    for key in ("homogeneous", "pairs"):
        assert results.regions["b"][key] == run.regions["b"][key]
    assert results.regions["b"]["source"] == {"homogeneous": "given", "pairs": "given"}
    record = next(r for r in results.records if (r["image"], r["method"]) == ("a", "noisy"))
    assert record["enl"] == pytest.approx(metrics.enl(tiny_set[0]["intensity"][4:24, 40:68]))


@pytest.mark.parametrize("change, message", [
    (lambda it: it.update(ground_truth=it["ground_truth"][:-1]), "ground truth has shape"),
    (lambda it: it.update(intensity=np.zeros_like(it["intensity"])), "is all zero"),
    (lambda it: it.update(intensity=-it["intensity"]), "negative values"),
    (lambda it: it.update(intensity=it["intensity"][None]), r"expected a 2-D \(H, W\) image"),
    (lambda it: it.update(regions={"homogeneous": [[80, 80, 90, 90]]}), "homogeneous.0. is empty"),
    (lambda it: it.update(regions={"target": [5, 5, 5, 9], "background": [0, 0, 20, 20]}),
     r"pairs\[0\].target is empty"),
    (lambda it: it.update(regions={"homogenous": []}), "did you mean 'homogeneous'"),
])
def test_bad_items_raise_clear_errors(tiny_set, tmp_path, change, message):
    item = dict(tiny_set[0])
    change(item)
    with pytest.raises(ValueError, match=message):
        compare({"boxcar": denoise_boxcar}, [item], out_dir=tmp_path, progress=False)


def test_example_name_brings_its_ground_truth_and_regions(tmp_path):
    from s2v.examples import load_example

    results = compare({"boxcar": denoise_boxcar}, "sar_slc", out_dir=tmp_path, progress=False,
                      figures=False)
    regions = results.regions["sar_slc"]
    assert regions["source"] == {"homogeneous": "given", "pairs": "given"}
    assert len(regions["pairs"]) >= 2  # the dark river and the bright blocks
    noisy = next(r for r in results.records if r["method"] == "noisy")
    example = load_example("sar_slc")
    homogeneous = example["regions"]["homogeneous"]  # one connected field
    assert noisy["enl"] == pytest.approx(metrics.enl(example["intensity"][homogeneous]))
    assert math.isfinite(noisy["psnr"]) and math.isfinite(noisy["gcnr"])


def test_bad_arguments_raise_clear_errors(tiny_set, tmp_path):
    with pytest.raises(ValueError, match="did you mean 'us_phantom'"):
        compare({"boxcar": denoise_boxcar}, "us_phantm", out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown method 'meidan'; did you mean 'median'"):
        resolve_methods("boxcar,meidan")
    with pytest.raises(ValueError, match="not in the data set.*did you mean 'a'"):
        compare({"boxcar": denoise_boxcar}, tiny_set, out_dir=tmp_path, progress=False,
                regions={"A": {"homogeneous": []}})
    with pytest.raises(ValueError, match="image names must be unique"):
        compare({"boxcar": denoise_boxcar}, [tiny_set[0], tiny_set[0]], out_dir=tmp_path,
                progress=False)
    with pytest.raises(ValueError, match="method 'crop' returned shape"):
        compare({"crop": lambda x, *, looks: x[1:]}, tiny_set, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="no denoiser"):
        compare({}, tiny_set, out_dir=tmp_path)
    with pytest.raises(ValueError, match="is not valid JSON"):
        (tmp_path / "broken.json").write_text("{")
        load_regions(tmp_path / "broken.json")


def test_resolve_methods_by_name():
    from s2v.baselines import BASELINES

    assert resolve_methods(" lee , bm3d_log") == {"lee": BASELINES["lee"],
                                                 "bm3d_log": BASELINES["bm3d_log"]}
    assert list(resolve_methods("all")) == list(BASELINES)


def test_s2v_method_needs_the_model_api(monkeypatch):
    # A None entry in sys.modules makes ``import keras`` fail as if Keras were not installed:
    # the one way the model API can be missing (s2v.pipeline itself is part of the package).
    monkeypatch.setitem(sys.modules, "keras", None)
    with pytest.raises(ValueError, match=r"needs the Speckle2Void model API \(s2v.despeckle\)"):
        resolve_methods("s2v:paper")


def test_cli_reports_bad_method(capsys, tmp_path):
    parser = add_compare_arguments(argparse.ArgumentParser(prog="s2v compare"))
    args = parser.parse_args(["--data", str(tmp_path), "--methods", "boxcr",
                              "--out", str(tmp_path / "out"), "--looks", "auto"])
    assert args.looks == "auto"
    assert compare_main(args) == 2
    assert "did you mean 'boxcar'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["--data", "x", "--out", "y", "--looks", "-1"])


def test_cli_runs_on_a_folder_and_skips_unreadable_files(capsys, tmp_path):
    from s2v.domains import intensity_to_bmode
    from s2v.io import write_image

    rng = np.random.default_rng(11)
    clean = piecewise_clean((95, 101))  # estimate_looks needs several 15x15 blocks
    data = tmp_path / "data"
    write_image(data / "sar.tif", gamma_speckle(clean, 1.0, seed=rng), domain="intensity")
    write_image(data / "us.png", intensity_to_bmode(gamma_speckle(clean, 1.0, seed=rng)))
    np.save(data / "unlabelled.npy", clean)  # positive floats: domain unknown
    (data / "notes.txt").write_text("not an image")
    parser = add_compare_arguments(argparse.ArgumentParser(prog="s2v compare"))
    args = parser.parse_args(["--data", str(data), "--methods", "boxcar,median", "--out",
                              str(tmp_path / "out"), "--no-progress", "--no-figures",
                              "--looks", "auto"])
    assert compare_main(args) == 0
    captured = capsys.readouterr()
    assert "| boxcar |" in captured.out
    assert "unlabelled.npy" in captured.err and "notes.txt" in captured.err
    payload = json.loads((tmp_path / "out" / "results.json").read_text())
    assert payload["config"]["images"] == ["sar.tif", "us.png"]
    assert len(payload["skipped"]) == 2
    records = payload["records"]
    assert all(r["psnr"] is None and r["enl"] > 0 for r in records)  # no ground truth here
    # --looks auto: one estimate per image, close to the single look simulated (measured 1.00
    # and 1.01; the margin covers the small image and the 8-bit B-mode round trip).
    looks = {r["image"]: r["looks"] for r in records}
    assert 0.7 < looks["sar.tif"] < 1.4 and 0.7 < looks["us.png"] < 1.4


def test_compatibility_imports_stay_in_the_harness():
    # Other modules still import these from s2v.compare while the split settles.
    from s2v import compare as harness
    from s2v import roi

    assert harness.propose_regions is roi.propose_regions
    assert harness.region_mask is roi.region_mask


def test_results_as_dataframe_and_html(run):
    frame = run.to_dataframe()
    assert list(frame.index) == ["noisy", "boxcar", "median"]
    for row in run.summary:
        assert frame.loc[row["method"], "psnr_mean"] == row["psnr_mean"]
        assert frame.loc[row["method"], "n"] == 4
    records = run.to_dataframe(per_image=True)
    assert len(records) == 12 and list(records.columns[:3]) == ["image", "realisation", "method"]
    assert records["psnr"].tolist() == [r["psnr"] for r in run.records]
    page = run._repr_html_()
    assert page.count("<tr>") == 4 and "<th>PSNR (dB)</th>" in page
    assert run.table_markdown().splitlines()[3].split("|")[3].strip() in page  # same cells


HELD_OUT = [  # a hand-made table: B is best everywhere but fails the check on real data
    {"method": "noisy", "bmode_psnr": 10.0, "bmode_ssim": 0.2, "gcnr": 0.5, "point_fwhm": 1.0},
    {"method": "A", "bmode_psnr": 30.0, "bmode_ssim": 0.8, "gcnr": 0.90, "point_fwhm": 2.0},
    {"method": "B", "bmode_psnr": 35.0, "bmode_ssim": 0.9, "gcnr": 0.99, "point_fwhm": 1.0},
    {"method": "C", "bmode_psnr": 31.0, "bmode_ssim": 0.7, "gcnr": 0.95, "point_fwhm": 2.0},
    {"method": "D", "bmode_psnr": 40.0, "bmode_ssim": 0.95, "gcnr": 0.99, "point_fwhm": 0.5},
]
REAL = [{"method": "noisy", "ratio_mean_mean": 1.0}, {"method": "A", "ratio_mean_mean": 1.0},
        {"method": "B", "ratio_mean_mean": 1.1}, {"method": "C", "ratio_mean_mean": 0.97}]
RULE = Rule({"bmode_psnr": "max", "bmode_ssim": "max", "gcnr": "max", "point_fwhm": "min"},
            within={"ratio_mean": (0.95, 1.05)}, ranked_on="held-out simulations",
            checked_on="real data")


def test_conclusion_applies_the_rule_stated_in_advance():
    result = conclude(HELD_OUT, RULE, checks=REAL)
    # Eligible: A and C (B's ratio mean is 1.1; D was not run on real data; noisy excluded).
    # Ranks A / C: PSNR 2 / 1, SSIM 1 / 2, gCNR 2 / 1, FWHM 1.5 / 1.5 -> 1.625 / 1.375.
    assert result.winner == "C"
    assert [row["method"] for row in result.ranks] == ["C", "A", "B", "D"]
    ranks = result.to_dataframe()
    assert ranks.loc["C", "mean rank"] == pytest.approx(1.375)
    assert ranks.loc["A", "mean rank"] == pytest.approx(1.625)
    assert ranks.loc["A", "point_fwhm rank"] == 1.5
    assert ranks.loc["B", "why not"] == "ratio_mean 1.1 outside [0.95, 1.05]"
    assert ranks.loc["D", "why not"] == "not in real data"
    assert not ranks.loc["B", "eligible"] and math.isnan(ranks.loc["B", "mean rank"])
    assert ranks.loc["C", "ratio_mean (check)"] == 0.97  # found as ratio_mean_mean
    assert "point_fwhm (lower is better)" in result.rule and "[0.95, 1.05]" in result.rule
    assert result.rule in result.to_markdown() and "Winner: **C**" in result.to_markdown()
    assert "<table" in result._repr_html_()
    # Without the check on real data, D (best everywhere) wins: the check is what decides.
    assert conclude(HELD_OUT, Rule(RULE.rank_by)).winner == "D"


def test_conclusion_ties_missing_values_and_bad_columns():
    rows = [{"method": "x", "a": 1.0, "b": 2.0}, {"method": "y", "a": 2.0, "b": 1.0},
            {"method": "z", "a": math.nan, "b": 3.0}]
    # z's missing 'a' ranks last: x (2 + 2) / 2, y (1 + 3) / 2 and z (3 + 1) / 2 all tie at
    # 2, and the first metric of the rule breaks the tie: y.
    result = conclude(rows, Rule({"a": "max", "b": "min"}))
    assert result.to_dataframe().loc["z", "a rank"] == 3
    assert result.winner == "y"
    assert conclude(rows, Rule({"a": "max"}, within={"b": (5, 6)})).winner is None
    with pytest.raises(ValueError, match="no column 'bmode_psnr'.*did you mean 'bmode_ssim'"):
        conclude([{"method": "x", "bmode_ssim": 1.0}], Rule({"bmode_psnr": "max"}))
    with pytest.raises(ValueError, match="'max' or 'min'"):
        Rule({"a": "higher"})


def test_conclusion_on_harness_results(run):
    # Summary columns are found by metric key (psnr -> psnr_mean). On this run boxcar has the
    # better PSNR (21.7 against 19.7 dB) and median the better gCNR (0.863 against 0.839), so
    # the mean ranks tie and the first metric of the rule decides.
    summary = {row["method"]: row for row in run.summary}
    assert summary["boxcar"]["psnr_mean"] > summary["median"]["psnr_mean"]
    assert summary["boxcar"]["gcnr_mean"] < summary["median"]["gcnr_mean"]
    within = {"ratio_mean": (0.9, 1.1)}
    assert conclude(run, Rule({"psnr": "max", "gcnr": "max"}, within=within)).winner == "boxcar"
    assert conclude(run, Rule({"gcnr": "max", "psnr": "max"}, within=within)).winner == "median"
    result = conclude(run, Rule({"psnr": "max", "gcnr": "max"}, within={"ratio_mean": (0.9, 1.0)}))
    assert [row["method"] for row in result.ranks] == ["boxcar", "median"]
    assert result.ranks[1]["why not"].startswith("ratio_mean 1.04")
    # A DataFrame (indexed by method, as to_dataframe gives it) is a table too.
    assert conclude(run.to_dataframe(), Rule({"gcnr": "max"})).winner == "median"
