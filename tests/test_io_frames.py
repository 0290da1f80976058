"""Tests of the frame rules of s2v.io: frames on a stated axis (refused when ambiguous), every
frame read with read_frames, and stacks written back into the container they came from
(multi-frame DICOM with the source's metadata, multi-page TIFF, HDF5, NPY, MAT)."""

import warnings

import h5py
import numpy as np
import pydicom
import pytest
import tifffile
from pydicom.data import get_testdata_file

from s2v.io import S2VInputError, read_frames, read_image, write_frames, write_image

US_MULTI_FRAME = "1.2.840.10008.5.1.4.1.1.3.1"


def quiet(function, *args, **kwargs):
    """Call a reader with the colour-to-grey UserWarning silenced (real DICOMs have overlays)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return function(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# the frame axis
# ---------------------------------------------------------------------------------------------
def test_frames_first_cine_is_not_sliced_along_time(tmp_path, rng):
    """A (frames, rows, cols) cine with as many frames as rows is ambiguous: refused, not sliced."""
    cine = rng.gamma(1.0, 1.0, size=(40, 32, 36)).astype(np.float32)
    np.save(tmp_path / "cine.npy", cine)
    with pytest.raises(S2VInputError, match=r"cine\.npy: 3-D array \(40, 32, 36\): cannot tell which axis holds "
                                            r"the frames.*frame_axis=0 or frame_axis=2"):
        read_image(tmp_path / "cine.npy")
    frames, meta = read_frames(tmp_path / "cine.npy", frame_axis=0)
    np.testing.assert_array_equal(frames, cine)
    assert meta["frame_count"] == 40 and meta["frame_axis"] == 0 and meta["axes"] == "FYX"
    assert meta["frame_axis_from"] == "option frame_axis"
    last, meta = read_image(tmp_path / "cine.npy", frame_axis=0, frame=-1)
    np.testing.assert_array_equal(last, cine[-1])
    assert meta["frame"] == 39

    with h5py.File(tmp_path / "cine.h5", "w") as handle:  # the same in HDF5, frames first
        handle["us/cine"] = cine
    with pytest.raises(S2VInputError, match=r"cine\.h5: .*frame_axis="):
        read_frames(tmp_path / "cine.h5")
    with h5py.File(tmp_path / "labelled.h5", "w") as handle:  # a dimension label says it
        handle["cine"] = cine
        handle["cine"].dims[0].label = "frame"
    frames, meta = read_frames(tmp_path / "labelled.h5")
    np.testing.assert_array_equal(frames, cine)
    assert meta["frame_axis_from"] == "HDF5 dimension label"


@pytest.mark.parametrize("shape, axis", [((4, 32, 36), 0), ((32, 36, 4), 2), ((1, 32, 36), 0)])
def test_a_clearly_short_end_axis_is_the_frame_axis(tmp_path, rng, shape, axis):
    stack = rng.gamma(1.0, 1.0, size=shape).astype(np.float32)
    np.save(tmp_path / "stack.npy", stack)
    frames, meta = read_frames(tmp_path / "stack.npy")
    np.testing.assert_array_equal(frames, np.moveaxis(stack, axis, 0))
    assert meta["frame_axis"] == axis and meta["frame_count"] == shape[axis] and "shape" in meta["frame_axis_from"]
    first, meta = read_image(tmp_path / "stack.npy")  # read_image: the first frame, with a note
    np.testing.assert_array_equal(first, np.take(stack, 0, axis=axis))
    assert first.shape == (32, 36) and meta["frame"] == 0


def test_middle_axis_never_guessed_and_frame_axis_checked(tmp_path, rng):
    np.save(tmp_path / "odd.npy", rng.random((32, 4, 36)))
    with pytest.raises(S2VInputError, match="frame_axis="):
        read_image(tmp_path / "odd.npy")
    frames, _ = read_frames(tmp_path / "odd.npy", frame_axis=1)
    assert frames.shape == (4, 32, 36)
    with pytest.raises(S2VInputError, match=r"frame_axis must be 0, 1, 2"):
        read_image(tmp_path / "odd.npy", frame_axis=3)


def test_single_image_read_frames_gives_one_frame(tmp_path, rng):
    image = rng.integers(0, 256, size=(33, 37)).astype(np.uint8)
    write_image(tmp_path / "b.png", image)
    frames, meta = read_frames(tmp_path / "b.png")
    np.testing.assert_array_equal(frames, image[None])
    assert meta["frame_count"] == 1 and meta["frame_axis"] is None and meta["axes"] == "FYX"
    single, meta = read_image(tmp_path / "b.png")
    assert single.shape == (33, 37) and meta["axes"] == "YX"


def test_domain_not_guessed_from_signs(tmp_path, rng):
    values = rng.standard_normal((33, 37)).astype(np.float32)
    np.save(tmp_path / "signed.npy", values)
    _, meta = read_image(tmp_path / "signed.npy")
    assert meta["domain"] == "unknown" and "both signs" in meta["domain_reason"]
    assert "; pass domain='rf'" in meta["domain_reason"] and meta["domain_candidates"] == ("rf",)
    np.save(tmp_path / "db.npy", -np.abs(values))
    _, meta = read_image(tmp_path / "db.npy")
    assert meta["domain"] == "unknown" and "domain='bmode'" in meta["domain_reason"]
    assert meta["domain_candidates"] == ("bmode",)
    np.save(tmp_path / "zeros.npy", np.zeros((33, 37), np.float32))
    _, meta = read_image(tmp_path / "zeros.npy")
    assert meta["domain"] == "unknown" and meta["domain_reason"].startswith("all zeros")
    np.savez(tmp_path / "named.npz", rf_lines=values)  # a name that says so is followed
    _, meta = read_image(tmp_path / "named.npz")
    assert meta["domain"] == "rf" and "variable name" in meta["domain_reason"] and meta["domain_candidates"] == ()


# ---------------------------------------------------------------------------------------------
# DICOM cines: read every frame, write them back with the source's metadata
# ---------------------------------------------------------------------------------------------
def test_real_multi_frame_dicom_round_trip_keeps_frames_and_metadata(tmp_path):
    source = get_testdata_file("examples_ybr_color.dcm")  # real US cine: 30 frames, YBR_FULL_422, JPEG
    frames, meta = quiet(read_frames, source)
    assert frames.shape == (30, 240, 320) and frames.dtype == np.uint8
    assert meta["frame_count"] == 30 and meta["frame_axis_from"] == "DICOM NumberOfFrames"
    assert meta["domain"] == "bmode"
    estimate = (255 - frames).astype(np.uint8)  # something visibly different per pixel
    out = write_frames(tmp_path / "cine_despeckled.dcm", estimate, source=source, inputs=[source])
    back, back_meta = read_frames(out)
    np.testing.assert_array_equal(back, estimate)
    assert back_meta["frame_count"] == 30 and back_meta["domain"] == "bmode"

    original, written = pydicom.dcmread(source), pydicom.dcmread(out)
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID", "StudyDate", "Modality", "Manufacturer",
                    "FrameTime", "Rows", "Columns"):
        assert written.get(keyword) == original.get(keyword), keyword
    assert written.NumberOfFrames == 30 and written.PhotometricInterpretation == "MONOCHROME2"
    assert written.BitsAllocated == 8 and written.SamplesPerPixel == 1 and "PlanarConfiguration" not in written
    assert written.SOPInstanceUID != original.SOPInstanceUID
    assert written.SeriesInstanceUID != original.SeriesInstanceUID
    assert written.file_meta.MediaStorageSOPInstanceUID == written.SOPInstanceUID
    assert written.SOPClassUID == US_MULTI_FRAME
    assert list(written.ImageType)[:2] == ["DERIVED", "SECONDARY"] and "s2v" in written.DerivationDescription
    assert written.SourceImageSequence[0].ReferencedSOPInstanceUID == original.SOPInstanceUID
    assert written.LossyImageCompression == "01"  # the source was JPEG baseline: stays flagged
    assert not written.file_meta.TransferSyntaxUID.is_compressed


def test_single_frame_us_source_becomes_a_multi_frame_file(tmp_path, rng):
    source = get_testdata_file("gdcm-US-ALOKA-16.dcm")  # real ultrasound, 16-bit palette, single frame
    picture, source_meta = quiet(read_image, source)
    frames = np.stack([picture, picture // 2, picture // 3])
    out = write_frames(tmp_path / "three.dcm", frames, source=source, description="test derivation")
    written = pydicom.dcmread(out)
    assert written.NumberOfFrames == 3 and written.SOPClassUID == US_MULTI_FRAME
    assert written.PatientID == "98279" and written.DerivationDescription == "test derivation"
    assert not any("PaletteColorLookupTable" in (e.keyword or "") for e in written)  # grey now
    back, meta = read_frames(out)
    np.testing.assert_array_equal(back, frames)
    assert meta["dicom"]["photometric"] == "MONOCHROME2"
    assert meta["dicom"]["regions"] == source_meta["dicom"]["regions"] != []  # the regions still apply
    one = write_image(tmp_path / "one.dcm", picture, source=source)  # a single image stays single-frame
    assert "NumberOfFrames" not in pydicom.dcmread(one)
    np.testing.assert_array_equal(read_image(one)[0], picture)


def test_dicom_writer_refuses_what_it_cannot_store(tmp_path, rng):
    source = get_testdata_file("gdcm-US-ALOKA-16.dcm")
    intensity = rng.gamma(1.0, 1.0, size=(2, 480, 640)).astype(np.float32)
    with pytest.raises(S2VInputError, match=r"f\.dcm: DICOM stores 8- or 16-bit integer pixels, got float32.*"
                                            r"intensity_to_bmode"):
        write_frames(tmp_path / "f.dcm", intensity, source=source)
    with pytest.raises(S2VInputError, match=r"n\.dcm: writing DICOM needs source="):
        write_frames(tmp_path / "n.dcm", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(S2VInputError, match="refusing to overwrite an input"):
        write_frames(source, np.zeros((2, 8, 8), np.uint8), source=source, inputs=[source], overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# the other containers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_frames", [3, 5])  # 3 pages must not be taken for an RGB picture
def test_multi_page_tiff_round_trip(tmp_path, rng, n_frames):
    frames = rng.gamma(1.0, 1.0, size=(n_frames, 33, 37)).astype(np.float32)
    out = write_frames(tmp_path / "stack.tif", frames, domain="intensity")
    with tifffile.TiffFile(out) as tif:
        assert len(tif.pages) == n_frames
    back, meta = read_frames(out)
    np.testing.assert_array_equal(back, frames)
    assert back.dtype == np.float32 and meta["frame_count"] == n_frames and meta["domain"] == "intensity"
    assert meta["frame_axis_from"].startswith("TIFF pages")
    grey = rng.integers(0, 256, size=(n_frames, 33, 37)).astype(np.uint8)
    back, meta = read_frames(write_frames(tmp_path / "grey.tif", grey))
    np.testing.assert_array_equal(back, grey)
    assert meta["domain"] == "bmode"


@pytest.mark.parametrize("suffix", [".npy", ".h5", ".mat"])
@pytest.mark.parametrize("frame_axis", [0, 2])
def test_stacks_written_in_the_input_layout(tmp_path, rng, suffix, frame_axis):
    """Frames go back on the input's axis; .h5 and .mat record it, so they read back without options."""
    frames = rng.gamma(1.0, 1.0, size=(40, 32, 36)).astype(np.float32)  # ambiguous shape on purpose
    out = write_frames(tmp_path / f"cine{suffix}", frames, frame_axis=frame_axis, domain="intensity")
    stored = np.moveaxis(frames, 0, frame_axis)
    if suffix == ".npy":
        np.testing.assert_array_equal(np.load(out), stored)
        back, meta = read_frames(out, frame_axis=frame_axis)  # .npy has no metadata: the option says it
    else:
        back, meta = read_frames(out)
        assert meta["domain"] == "intensity" and "frame_axis_from" in meta
        assert meta["frame_axis_from"] != "option frame_axis"
    np.testing.assert_array_equal(back, frames)
    assert meta["frame_axis"] == frame_axis and meta["frame_count"] == 40


def test_png_holds_one_frame_and_complex_stacks_stay_complex(tmp_path, rng):
    with pytest.raises(S2VInputError, match=r"s\.png: PNG holds one image, not 2 frames"):
        write_frames(tmp_path / "s.png", np.zeros((2, 8, 8), np.uint8))
    write_frames(tmp_path / "one.png", np.full((1, 8, 8), 7, np.uint8))
    np.testing.assert_array_equal(read_image(tmp_path / "one.png")[0], np.full((8, 8), 7, np.uint8))
    z = (rng.standard_normal((3, 16, 17)) + 1j * rng.standard_normal((3, 16, 17))).astype(np.complex64)
    for suffix in (".npy", ".h5", ".tif", ".mat"):
        back, meta = read_frames(write_frames(tmp_path / f"z{suffix}", z, domain="complex"))
        np.testing.assert_array_equal(back, z)
        assert meta["domain"] == "complex"
    with pytest.raises(S2VInputError, match=r"expected frames as a non-empty \(N, H, W\) array"):
        write_frames(tmp_path / "flat.npy", np.zeros((8, 8)))
