"""``s2v denoise`` on cine loops: every frame despeckled, the container and its metadata kept."""

from __future__ import annotations

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402

from s2v.cli import main  # noqa: E402
from s2v.io import read_frames, read_image, write_frames  # noqa: E402


def _bmode_frames(rng, count, shape):
    """8-bit B-mode frames of fully developed speckle (60 dB), different per frame."""
    from s2v.domains import intensity_to_bmode

    return np.stack([intensity_to_bmode(rng.gamma(1.0, 1.0, shape) * 1e-3, dynamic_range=60.0,
                                        reference=1.0) for _ in range(count)])


def test_multi_frame_dicom_despeckled_frame_by_frame_keeps_frames_and_metadata(tmp_path, rng, capsys):
    source = get_testdata_file("gdcm-US-ALOKA-16.dcm")  # real ultrasound DICOM (pydicom's test data)
    picture, _ = read_image(source)
    frames = _bmode_frames(rng, 3, picture.shape[:2]).astype(picture.dtype)
    cine = write_frames(tmp_path / "in" / "cine.dcm", frames, source=source)
    assert main(["denoise", str(cine), "--out", str(tmp_path / "out"), "--domain", "bmode",
                 "--model", "ultrasound"]) == 0
    out = tmp_path / "out" / "cine_despeckled.dcm"
    assert "(3 frames)" in capsys.readouterr().out
    written, original = pydicom.dcmread(out), pydicom.dcmread(cine)
    assert written.NumberOfFrames == 3
    for keyword in ("PatientID", "StudyInstanceUID", "Modality", "SequenceOfUltrasoundRegions"):
        assert written.get(keyword) == original.get(keyword), keyword
    assert written.SOPInstanceUID != original.SOPInstanceUID
    back, meta = read_frames(out)
    assert back.shape == frames.shape and meta["frame_count"] == 3
    # each frame was despeckled on its own: smoother than its input, and the frames still differ
    for k in range(3):
        assert np.std(np.diff(back[k].astype(float), axis=1)) < 0.5 * np.std(np.diff(frames[k].astype(float), axis=1))
    assert not np.array_equal(back[0], back[1])


def test_multi_page_tiff_despeckled_frame_by_frame(tmp_path, rng):
    frames = _bmode_frames(rng, 4, (61, 77))
    stack = write_frames(tmp_path / "cine.tif", frames)
    assert main(["denoise", str(stack), "--out", str(tmp_path / "out"), "--domain", "bmode",
                 "--model", "ultrasound"]) == 0
    back, meta = read_frames(tmp_path / "out" / "cine_despeckled.tif")
    assert back.shape == frames.shape and meta["frame_count"] == 4 and back.dtype == np.uint8
    singles = [read_frames(write_frames(tmp_path / f"f{k}.tif", frames[k:k + 1]))[0][0] for k in range(4)]
    assert main(["denoise", *[str(tmp_path / f"f{k}.tif") for k in range(4)], "--out",
                 str(tmp_path / "single"), "--domain", "bmode", "--model", "ultrasound"]) == 0
    for k in range(4):  # the same result as despeckling each frame as its own file
        np.testing.assert_array_equal(back[k], read_image(tmp_path / "single" / f"f{k}_despeckled.tif")[0])
        np.testing.assert_array_equal(singles[k], frames[k])
