"""The harness's data set (s2v.items): every frame of a cine becomes an item, from a file, a
folder or an (N, H, W) dict; 2-D items behave as before."""

import imageio.v3 as iio
import numpy as np
import pytest

from s2v import metrics
from s2v.compare import compare, resolve_methods
from s2v.domains import imaging_mask, to_intensity
from s2v.io import read_frames, write_frames
from s2v.items import read_file_items, resolve_dataset

SHAPE = (37, 29)  # odd-sized frames
NAMES = ["cine.tif[0]", "cine.tif[1]", "cine.tif[2]"]


def bmode_cine(rng, count=3):
    """8-bit B-mode frames, each different, with a black border whose width grows per frame
    (so each frame has its own imaging mask)."""
    frames = rng.integers(40, 256, (count, *SHAPE), dtype=np.uint8)
    for i, frame in enumerate(frames):
        border = 2 + 2 * i
        frame[:border] = frame[-border:] = 0
        frame[:, :border] = frame[:, -border:] = 0
    return frames


@pytest.fixture
def cine(tmp_path, rng):
    """A 3-page B-mode TIFF written by the package's writer, and the frames written."""
    frames = bmode_cine(rng)
    path = write_frames(tmp_path / "data" / "cine.tif", frames, domain="bmode")
    return path, frames


def test_multi_page_tiff_gives_one_item_per_frame(cine):
    path, frames = cine
    meta = read_frames(path)[1]
    assert meta["domain"] == "bmode" and meta["frame_count"] == 3
    items, skipped = resolve_dataset(path)
    assert skipped == [] and [item.name for item in items] == NAMES
    for item, frame in zip(items, frames):
        np.testing.assert_array_equal(item.intensity, to_intensity(frame, meta["domain"]))
        np.testing.assert_array_equal(item.mask, imaging_mask(frame))
        assert item.intensity.dtype == np.float32 and item.intensity.shape == SHAPE
    # each frame its own mask: the border widths differ
    assert len({int(item.mask.sum()) for item in items}) == 3


def test_folder_with_a_cine_and_an_image_gives_every_frame(cine, rng):
    path, frames = cine
    image = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    iio.imwrite(path.parent / "scan.png", image)
    items, skipped = resolve_dataset(str(path.parent))
    assert skipped == []
    assert [item.name for item in items] == NAMES + ["scan.png"]
    np.testing.assert_array_equal(items[1].intensity, to_intensity(frames[1], "bmode"))
    np.testing.assert_array_equal(items[3].intensity, to_intensity(image, "bmode"))


def test_ambiguous_frame_axis_is_skipped_in_a_folder_and_refused_alone(tmp_path, rng):
    folder = tmp_path / "data"
    folder.mkdir()
    ambiguous = folder / "loop.npy"
    np.save(ambiguous, rng.integers(0, 256, (40, *SHAPE), dtype=np.uint8))  # no short end axis
    iio.imwrite(folder / "scan.png", rng.integers(0, 256, SHAPE, dtype=np.uint8))
    items, skipped = resolve_dataset(folder)
    assert [item.name for item in items] == ["scan.png"]
    assert len(skipped) == 1 and str(ambiguous) in skipped[0] and "frame_axis" in skipped[0]
    with pytest.raises(ValueError, match="frame_axis=0 or frame_axis=2"):
        resolve_dataset(ambiguous)


def test_stack_item_expands_with_per_frame_and_shared_fields(rng):
    stack = rng.gamma(1.0, 1.0, (3, *SHAPE)).astype(np.float32)
    truth = rng.uniform(0.5, 2.0, (3, *SHAPE)).astype(np.float32)
    mask = np.ones(SHAPE, bool)
    mask[:5] = False
    items, _ = resolve_dataset({"name": "cine", "intensity": stack, "ground_truth": truth,
                                "mask": mask, "looks": 2, "points": [(10, 10)]})
    assert [item.name for item in items] == ["cine[0]", "cine[1]", "cine[2]"]
    for i, item in enumerate(items):
        np.testing.assert_array_equal(item.intensity, stack[i])
        np.testing.assert_array_equal(item.ground_truth, truth[i])
        np.testing.assert_array_equal(item.mask, mask)
        assert item.looks == 2.0 and item.points == [(10, 10)]
    per_frame_masks = rng.random((3, *SHAPE)) > 0.2
    items, _ = resolve_dataset([{"intensity": stack, "mask": per_frame_masks}])
    assert [item.name for item in items] == ["image0[0]", "image0[1]", "image0[2]"]
    for i, item in enumerate(items):
        np.testing.assert_array_equal(item.mask, per_frame_masks[i])
        assert item.ground_truth is None


def test_stack_names_are_zero_padded_so_they_sort(rng):
    stack = rng.gamma(1.0, 1.0, (12, *SHAPE)).astype(np.float32)
    names = [item.name for item in resolve_dataset({"name": "loop", "intensity": stack})[0]]
    assert names[0] == "loop[00]" and names[-1] == "loop[11]" and len(names) == 12
    assert sorted(names) == names


@pytest.mark.parametrize("key, value", [
    ("ground_truth", np.ones((2, *SHAPE), np.float32)),  # wrong frame count
    ("ground_truth", np.ones(SHAPE[::-1], np.float32)),  # transposed frame
    ("mask", np.ones((3, SHAPE[0], SHAPE[1] + 1), bool)),
])
def test_stack_item_with_a_bad_shape_names_the_item(rng, key, value):
    stack = rng.gamma(1.0, 1.0, (3, *SHAPE)).astype(np.float32)
    with pytest.raises(ValueError, match=r"image 'my cine': .*has shape .* stack of shape \(3, 37, 29\)"):
        resolve_dataset({"name": "my cine", "intensity": stack, key: value})


def test_two_d_items_are_unchanged(rng, tmp_path):
    image = rng.gamma(1.0, 1.0, SHAPE).astype(np.float32)
    truth = np.ones(SHAPE, np.float32)
    items, skipped = resolve_dataset([{"name": "a", "intensity": image, "ground_truth": truth}])
    assert skipped == [] and [item.name for item in items] == ["a"]
    np.testing.assert_array_equal(items[0].intensity, image)
    np.testing.assert_array_equal(items[0].ground_truth, truth)
    with pytest.raises(ValueError, match=r"ground truth has shape"):
        resolve_dataset({"name": "a", "intensity": image, "ground_truth": truth[:-1]})
    with pytest.raises(ValueError, match=r"expected a 2-D \(H, W\) image"):  # a single frame: (H, W)
        resolve_dataset({"name": "a", "intensity": image[None]})
    with pytest.raises(ValueError, match="repeated"):
        resolve_dataset([{"name": "a", "intensity": image}, {"name": "a", "intensity": image}])
    png = tmp_path / "scan.png"
    grey = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    iio.imwrite(png, grey)
    items, _ = resolve_dataset(png)
    assert [item.name for item in items] == ["scan.png"]
    np.testing.assert_array_equal(items[0].intensity, to_intensity(grey, "bmode"))
    assert read_file_items(png)[0]["name"] == "scan.png"
    np.save(tmp_path / "floats.npy", image)  # positive floats: the domain is unknown
    with pytest.raises(ValueError, match="cannot tell what the data is"):
        resolve_dataset(tmp_path / "floats.npy")


def test_compare_scores_every_frame_of_a_cine(cine, tmp_path):
    path, frames = cine
    lee = resolve_methods("lee")["lee"]
    results = compare({"lee": lee}, [path], out_dir=tmp_path / "out", progress=False, figures=False)
    assert results.records and {r["image"] for r in results.records} == set(NAMES)
    for method in ("lee", "noisy"):
        assert sorted(r["image"] for r in results.records if r["method"] == method) == NAMES
    # Each frame is scored on its own pixels and its own imaging mask: the ratio statistics
    # (defined without regions, which these small frames do not get) recomputed by hand.
    for name, frame in zip(NAMES, frames):
        record = next(r for r in results.records if (r["image"], r["method"]) == (name, "lee"))
        noisy = to_intensity(frame, "bmode")
        estimate = lee(noisy.copy(), looks=1.0)
        expected = metrics.ratio_statistics(noisy, estimate, mask=(estimate > 0) & imaging_mask(frame))
        assert record["ratio_mean"] == pytest.approx(expected["mean"], rel=1e-6)
        assert record["ratio_var"] == pytest.approx(expected["var"], rel=1e-6)
