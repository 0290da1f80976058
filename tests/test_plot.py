"""Figures: one display range for every panel, insets on the given boxes, ratio images, profiles."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from s2v import plot
from s2v.domains import intensity_to_bmode
from s2v.metrics import ratio_statistics
from s2v.simulate import gamma_speckle

SHAPE = (37, 45)


@pytest.fixture(scope="module")
def images():
    """A step (0.2 | 1.0) ground truth, its single-look speckle and two 'estimates'."""
    clean = np.full(SHAPE, 0.2, np.float32)
    clean[:, 20:] = 1.0
    noisy = gamma_speckle(clean, 1.0, seed=np.random.default_rng(4))
    return clean, noisy, {"half": noisy * 0.5, "clean": clean.copy()}


def _main_images(fig):
    """The AxesImage of each top-level axes that shows a B-mode panel (not insets, colour bars)."""
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def test_montage_shows_every_panel_on_one_bmode_scale(images, tmp_path):
    clean, noisy, estimates = images
    boxes = [[2, 3, 12, 15], [20, 18, 30, 40]]
    fig = plot.montage(estimates, noisy=noisy, ground_truth=clean, dynamic_range=50.0,
                       insets=boxes, titles={"half": "extra line"}, path=tmp_path / "m.png")
    assert isinstance(fig, Figure)
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    panels = _main_images(fig)
    assert [ax.get_title().split("\n")[0] for ax in panels] == ["noisy", "ground truth", "half",
                                                               "clean"]
    assert panels[2].get_title() == "half\nextra line"
    reference = plot.display_reference(clean)  # the ground truth sets the one reference
    for ax, image in zip(panels, [noisy, clean, *estimates.values()]):
        (shown,) = ax.images
        assert shown.get_clim() == (-50.0, 0.0)
        expected = intensity_to_bmode(image, dynamic_range=50.0, scale="db", reference=reference)
        np.testing.assert_allclose(shown.get_array(), expected, atol=1e-4)
        insets = [child for child in ax.child_axes if child.images]
        assert len(insets) == 2
        for inset, (r0, c0, r1, c1) in zip(insets, boxes):
            assert inset.images[0].get_clim() == (-50.0, 0.0)
            assert inset.get_xlim() == (c0 - 0.5, c1 - 0.5)
            assert inset.get_ylim() == (r1 - 0.5, r0 - 0.5)
    assert "dynamic range 50 dB" in fig._suptitle.get_text()


def test_montage_ratio_rows_show_noisy_over_each_estimate(images):
    clean, noisy, estimates = images
    fig = plot.montage(estimates, noisy=noisy, ratio=True, looks=4.0)
    ratios = [ax for ax in _main_images(fig) if ax.get_title().startswith("ratio")]
    assert [ax.get_title() for ax in ratios] == ["ratio noisy / half", "ratio noisy / clean"]
    for ax, estimate in zip(ratios, estimates.values()):
        assert ax.images[0].get_clim() == (0.0, 2.5)  # 1 + 3 / sqrt(L)
        np.testing.assert_allclose(ax.images[0].get_array(), noisy / estimate, rtol=1e-6)


def test_ratio_montage_titles_state_the_ratio_statistics(images, tmp_path):
    clean, noisy, estimates = images
    fig = plot.ratio_montage(noisy, estimates, path=tmp_path / "r.png")
    assert (tmp_path / "r.png").is_file()
    stats = ratio_statistics(noisy, clean)
    title = _main_images(fig)[1].get_title()
    assert title == f"clean\nmean {stats['mean']:.3f}, var {stats['var']:.3f}"
    assert _main_images(fig)[0].get_title() == "half\nmean 2.000, var 0.000"


def test_profile_is_the_line_in_db(images):
    clean, noisy, estimates = images
    fig = plot.profile_figure(estimates, noisy=noisy, ground_truth=clean, line=("row", 5),
                              reference=1.0)
    lines = {line.get_label(): line.get_ydata() for line in fig.axes[0].get_lines()}
    np.testing.assert_allclose(lines["ground truth"], 10 * np.log10(clean[5]), rtol=1e-5)
    np.testing.assert_allclose(lines["half"], 10 * np.log10(noisy[5] * 0.5), rtol=1e-5)


def test_strongest_edge_finds_the_step(images):
    clean, noisy, _ = images
    row, col, axis = plot.strongest_edge(noisy, ground_truth=clean)
    assert axis == "row" and col in (19, 20)
    row, col, axis = plot.strongest_edge(noisy)  # smoothed noisy image: near the step
    assert axis == "row" and abs(col - 19.5) <= 3


def test_bad_montages_raise_clear_errors(images):
    clean, noisy, estimates = images
    with pytest.raises(ValueError, match="ratio images need the noisy image"):
        plot.montage(estimates, ratio=True)
    with pytest.raises(ValueError, match="panel 'bad' has shape"):
        plot.montage({"bad": noisy[1:]}, noisy=noisy)
    with pytest.raises(ValueError, match="at most 4 insets"):
        plot.montage(estimates, insets=[[0, 0, 5, 5]] * 5)
    with pytest.raises(ValueError, match="less than 2x2 pixels"):
        plot.montage(estimates, insets=[[40, 50, 60, 70]])
    with pytest.raises(ValueError, match="nothing to show"):
        plot.montage({})
