"""Tests of s2v.io: every format round-trips through the library that writes it, real files
load with the expected shapes and domains, and every bad input gives S2VInputError naming
the file and what was expected."""

import warnings

import h5py
import imageio.v3 as iio
import numpy as np
import pydicom
import pytest
import scipy.io
import tifffile
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from s2v.io import S2VInputError, read_frames, read_image, rgb_to_grey, write_image

US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
SHAPE = (63, 71)


def read_quiet(path, **kwargs):
    """read_image with warnings turned into a list, so tests can check them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image, meta = read_image(path, **kwargs)
    return image, meta, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def write_dicom(path, pixels, photometric, *, modality="US", frames=None, **elements):
    """A minimal uncompressed DICOM file written by pydicom itself."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = US_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = US_IMAGE_STORAGE, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    colour = photometric in ("RGB",)
    spatial = pixels.shape[-3:-1] if colour else pixels.shape[-2:]
    ds.Rows, ds.Columns = spatial
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = 8 * pixels.dtype.itemsize
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    if frames:
        ds.NumberOfFrames = frames
    for key, value in elements.items():
        setattr(ds, key, value)
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_mat73(path, variables):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 with a 512-byte header, column-major data,
    MATLAB_class attributes and (real, imag) compound complex numbers; dicts become structs
    and lists 1 x N cell arrays (a dataset of object references into '#refs#', as MATLAB
    stores them and as Verasonics saves RcvData)."""
    def store(group, name, value):
        if isinstance(value, list):
            refs = group.file.require_group("#refs#")
            targets = []
            for item in value:
                key = f"r{len(refs)}"
                store(refs, key, item)
                targets.append(refs[key].ref)
            cell = group.create_dataset(name, data=np.array(targets, dtype=h5py.ref_dtype).reshape(-1, 1))
            cell.attrs["MATLAB_class"] = np.bytes_("cell")
            return
        if isinstance(value, dict):
            sub = group.create_group(name)
            sub.attrs["MATLAB_class"] = np.bytes_("struct")
            for key, item in value.items():
                store(sub, key, item)
            return
        if isinstance(value, str):
            data = np.array([ord(c) for c in value], dtype=np.uint16)[:, None]
            group.create_dataset(name, data=data).attrs["MATLAB_class"] = np.bytes_("char")
            return
        value = np.asarray(value)
        if np.iscomplexobj(value):
            real_dtype = value.real.dtype
            data = np.empty(value.T.shape, dtype=[("real", real_dtype), ("imag", real_dtype)])
            data["real"], data["imag"] = value.real.T, value.imag.T
            cls = "single" if real_dtype == np.float32 else "double"
        else:
            data = value.T
            cls = {np.dtype(np.float32): "single", np.dtype(np.float64): "double",
                   np.dtype(np.int16): "int16"}[value.dtype]
        group.create_dataset(name, data=data).attrs["MATLAB_class"] = np.bytes_(cls)

    with h5py.File(path, "w", userblock_size=512) as handle:
        for name, value in variables.items():
            store(handle, name, value)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as handle:
        handle.write(header.ljust(116) + b"\0" * 8 + b"\x00\x02IM")
    return path


# ---------------------------------------------------------------------------------------------
# pictures: PNG / JPEG / BMP / TIFF
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix, dtype", [(".png", np.uint8), (".png", np.uint16), (".bmp", np.uint8),
                                           (".tif", np.uint8), (".tif", np.uint16), (".tif", np.float32)])
def test_grey_pictures_round_trip_exactly(tmp_path, rng, suffix, dtype):
    if np.issubdtype(dtype, np.integer):
        image = rng.integers(0, np.iinfo(dtype).max, size=SHAPE, endpoint=True).astype(dtype)
    else:
        image = rng.gamma(1.0, 1.0, size=SHAPE).astype(dtype)
    path = tmp_path / f"image{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, image)
    else:
        iio.imwrite(path, image)
    out, meta, caught = read_quiet(path)
    np.testing.assert_array_equal(out, image)
    assert out.dtype == dtype and meta["shape"] == SHAPE and not caught
    assert meta["format"] == {".png": "png", ".bmp": "bmp", ".tif": "tiff"}[suffix]
    assert meta["domain"] == ("bmode" if dtype == np.uint8 else "unknown")
    if dtype == np.uint16:  # not silently linear intensity: says what it is and what to pass
        assert "16-bit grey" in meta["domain_reason"] and "domain='intensity'" in meta["domain_reason"]


def test_jpeg_reads_close_with_a_lossy_note(tmp_path, rng):
    image = np.repeat(np.linspace(0, 255, SHAPE[1]), SHAPE[0]).reshape(SHAPE[::-1]).T.astype(np.uint8)
    path = tmp_path / "image.jpg"
    iio.imwrite(path, np.ascontiguousarray(image), quality=95)
    out, meta, _ = read_quiet(path)
    assert out.shape == SHAPE and meta["format"] == "jpeg"
    assert np.abs(out.astype(int) - image).mean() < 2.0  # quality 95 on a smooth ramp
    assert any("lossy" in note for note in meta["notes"])


def test_rgb_png_becomes_bt601_grey_with_a_warning_only_when_coloured(tmp_path, rng):
    rgb = rng.integers(0, 256, size=SHAPE + (3,)).astype(np.uint8)
    iio.imwrite(tmp_path / "colour.png", rgb)
    out, meta, caught = read_quiet(tmp_path / "colour.png")
    expected = np.round(rgb.astype(float) @ [0.299, 0.587, 0.114]).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    assert len(caught) == 1 and "colour" in caught[0] and "colour.png" in caught[0]

    grey = rng.integers(0, 256, size=SHAPE).astype(np.uint8)
    iio.imwrite(tmp_path / "grey_rgb.png", np.stack([grey] * 3, axis=-1))
    out, meta, caught = read_quiet(tmp_path / "grey_rgb.png")
    np.testing.assert_array_equal(out, grey)
    assert not caught and meta["domain"] == "bmode"

    kept, meta, caught = read_quiet(tmp_path / "colour.png", keep_colour=True)
    np.testing.assert_array_equal(kept, rgb)
    np.testing.assert_array_equal(rgb_to_grey(kept), expected)
    assert not caught and meta["shape"] == SHAPE + (3,)


def test_palette_png_and_tiff_go_through_their_colour_tables(tmp_path, rng):
    index = rng.integers(0, 256, size=SHAPE).astype(np.uint8)
    picture = Image.fromarray(index, mode="P")
    grey_palette = np.repeat(np.arange(256, dtype=np.uint8), 3)
    picture.putpalette(grey_palette.tolist())
    picture.save(tmp_path / "palette.png")
    out, meta, caught = read_quiet(tmp_path / "palette.png")
    np.testing.assert_array_equal(out, index)
    assert not caught and any("palette" in note for note in meta["notes"])

    colour_palette = grey_palette.reshape(256, 3).copy()
    colour_palette[255] = (255, 0, 0)  # one red overlay colour
    picture.putpalette(colour_palette.ravel().tolist())
    picture.save(tmp_path / "palette_colour.png")
    _, _, caught = read_quiet(tmp_path / "palette_colour.png")
    assert len(caught) == 1

    colormap = np.tile(np.arange(256, dtype=np.uint16) * 257, (3, 1))
    tifffile.imwrite(tmp_path / "palette.tif", index, photometric="palette", colormap=colormap)
    out, meta, caught = read_quiet(tmp_path / "palette.tif")
    np.testing.assert_array_equal(out, index)
    assert not caught


def test_rgb_tiff_becomes_grey(tmp_path, rng):
    rgb = rng.integers(0, 256, size=SHAPE + (3,)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    out, _, caught = read_quiet(tmp_path / "rgb.tif")
    np.testing.assert_array_equal(out, rgb_to_grey(rgb))
    assert len(caught) == 1


# ---------------------------------------------------------------------------------------------
# DICOM
# ---------------------------------------------------------------------------------------------
def test_dicom_monochrome2_and_monochrome1(tmp_path, rng):
    pixels = rng.integers(0, 4096, size=SHAPE).astype(np.uint16)
    out, meta, _ = read_quiet(write_dicom(tmp_path / "m2.dcm", pixels, "MONOCHROME2", BitsStored=12, HighBit=11))
    np.testing.assert_array_equal(out, pixels)
    assert meta["format"] == "dicom" and meta["domain"] == "bmode"  # modality US
    assert meta["dicom"]["photometric"] == "MONOCHROME2"

    out, meta, _ = read_quiet(write_dicom(tmp_path / "m1.dcm", pixels, "MONOCHROME1", modality="CR",
                                          BitsStored=12, HighBit=11))
    np.testing.assert_array_equal(out, 4095 - pixels)  # 12 stored bits: white is 4095
    assert meta["domain"] == "unknown" and any("MONOCHROME1" in note for note in meta["notes"])


def test_dicom_rgb_and_palette_become_grey(tmp_path, rng):
    rgb = rng.integers(0, 256, size=SHAPE + (3,)).astype(np.uint8)
    out, meta, caught = read_quiet(write_dicom(tmp_path / "rgb.dcm", rgb, "RGB"))
    np.testing.assert_array_equal(out, rgb_to_grey(rgb))
    assert len(caught) == 1 and meta["domain"] == "bmode"

    index = rng.integers(0, 200, size=SHAPE).astype(np.uint8)
    index[:5, :5] = 255  # drawn with a red palette entry
    lut = (np.arange(256) * 257).astype(np.uint16)
    red, green, blue = lut.copy(), lut.copy(), lut.copy()
    green[255] = blue[255] = 0
    luts = {f"{c}PaletteColorLookupTableDescriptor": [256, 0, 16] for c in ("Red", "Green", "Blue")}
    luts.update(RedPaletteColorLookupTableData=red.tobytes(), GreenPaletteColorLookupTableData=green.tobytes(),
                BluePaletteColorLookupTableData=blue.tobytes())
    out, meta, caught = read_quiet(write_dicom(tmp_path / "palette.dcm", index, "PALETTE COLOR", **luts))
    np.testing.assert_array_equal(out[5:, 5:], index[5:, 5:])  # grey entries map to themselves
    assert out[0, 0] == round(0.299 * 255)  # pure red -> BT.601 luma
    assert len(caught) == 1 and any("PALETTE" in note for note in meta["notes"])


def test_dicom_multi_frame(tmp_path, rng):
    frames = rng.integers(0, 256, size=(3,) + SHAPE).astype(np.uint8)
    path = write_dicom(tmp_path / "cine.dcm", frames, "MONOCHROME2", frames=3)
    first, meta, _ = read_quiet(path)
    np.testing.assert_array_equal(first, frames[0])
    assert meta["n_frames"] == 3 and meta["frame"] == 0 and any("frame 0" in n for n in meta["notes"])
    second, meta, _ = read_quiet(path, frame=2)
    np.testing.assert_array_equal(second, frames[2])
    stack, meta, _ = read_quiet(path, frame="all")
    np.testing.assert_array_equal(stack, frames)
    assert meta["frame_axis"] == 0


def test_dicom_without_extension_is_recognised(tmp_path, rng):
    pixels = rng.integers(0, 256, size=SHAPE).astype(np.uint8)
    write_dicom(tmp_path / "IM0001", pixels, "MONOCHROME2")
    out, meta, _ = read_quiet(tmp_path / "IM0001")
    np.testing.assert_array_equal(out, pixels)
    assert meta["format"] == "dicom"


@pytest.mark.parametrize("name, shape, notes", [
    ("gdcm-US-ALOKA-16.dcm", (480, 640), "PALETTE"),  # 16-bit palette, two-panel pelvis
    ("US1_UNCR.dcm", (480, 640), "RGB"),              # GE, colour Doppler box
    ("US1_J2KR.dcm", (480, 640), "YBR_RCT"),          # the same image, JPEG 2000 lossless
])
def test_real_ultrasound_dicoms_from_pydicom_data(name, shape, notes):
    image, meta, caught = read_quiet(get_testdata_file(name))
    assert image.shape == shape and image.dtype == np.uint8
    assert meta["domain"] == "bmode" and meta["dicom"]["modality"] == "US"
    assert any(notes in note for note in meta["notes"]) and len(caught) == 1  # coloured overlays
    assert 20 < image.mean() < 120  # a dark B-mode picture, not an all-white decode


def test_real_dicom_regions_and_frames():
    _, meta, _ = read_quiet(get_testdata_file("gdcm-US-ALOKA-16.dcm"))
    regions = meta["dicom"]["regions"]
    assert [r["box"] for r in regions] == [(32, 24, 335, 415), (336, 24, 639, 415), (32, 40, 63, 103)]
    assert [r["data_type"] for r in regions] == [1, 1, 13]  # two tissue panels and a grey bar
    path = get_testdata_file("OBXXXX1A_2frame.dcm")  # 8-bit palette, 2 frames
    stack, meta, _ = read_quiet(path, frame="all")
    assert stack.shape == (2, 600, 800) and meta["n_frames"] == 2
    second, _, _ = read_quiet(path, frame=1)
    np.testing.assert_array_equal(second, stack[1])


# ---------------------------------------------------------------------------------------------
# MATLAB
# ---------------------------------------------------------------------------------------------
def test_mat_v5_complex_and_named_iq_pairs(tmp_path, rng):
    z = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    scipy.io.savemat(tmp_path / "complex.mat", {"slc": z})
    out, meta, _ = read_quiet(tmp_path / "complex.mat")
    np.testing.assert_array_equal(out, z)
    assert meta["domain"] == "complex" and meta["variable"] == "slc"

    scipy.io.savemat(tmp_path / "iq.mat", {"Q": z.imag, "I": z.real})
    out, meta, _ = read_quiet(tmp_path / "iq.mat")
    np.testing.assert_array_equal(out, z)
    assert any("in-phase 'I'" in note for note in meta["notes"])

    scipy.io.savemat(tmp_path / "struct.mat", {"img": {"imag": z.imag, "real": z.real}})
    out, meta, _ = read_quiet(tmp_path / "struct.mat")
    np.testing.assert_array_equal(out, z)
    out, meta, _ = read_quiet(tmp_path / "struct.mat", variable="img.imag")
    np.testing.assert_array_equal(out, z.imag)


def test_mat_v5_reference_convention_second_field_is_in_phase(tmp_path, rng):
    z = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    # Speckle2Void's decorrelate.m: fields{2} = in-phase, fields{1} = quadrature.
    scipy.io.savemat(tmp_path / "tsx.mat", {"quad_part": z.imag, "inphase_part": z.real})
    out, meta, _ = read_quiet(tmp_path / "tsx.mat")
    np.testing.assert_array_equal(out, z)
    assert any("reference Speckle2Void convention" in note for note in meta["notes"])

    # Two non-negative images are not an I/Q pair: ambiguous, listed in the error.
    scipy.io.savemat(tmp_path / "two.mat", {"a": np.abs(z.real), "b": np.abs(z.imag)})
    with pytest.raises(S2VInputError, match=r"two\.mat.*several candidate arrays.*a \(63, 71\).*variable="):
        read_image(tmp_path / "two.mat")


def test_mat_v5_channel_data_is_refused_unless_allowed(tmp_path, rng):
    rf = rng.integers(-2000, 2000, size=(65, 17, 5)).astype(np.int16)
    param = {"fs": 20e6, "fc": 5e6, "Nelements": 17, "TXdelay": np.ones((1, 17))}
    scipy.io.savemat(tmp_path / "rf.mat", {"data": rf, "param": param})
    with pytest.raises(S2VInputError, match=r"rf\.mat: raw channel data.*'data' is 65 samples × 17 elements × "
                                            r"5 transmits \(fs 20 MHz, fc 5 MHz, 17 elements.*beamform.*pymust"):
        read_image(tmp_path / "rf.mat")
    # Read as it is on request; (65, 17, 5) does not say where the frames are: frame_axis= does.
    with pytest.raises(S2VInputError, match=r"cannot tell which axis holds the frames.*frame_axis="):
        read_image(tmp_path / "rf.mat", allow_channel_data=True)
    out, meta, _ = read_quiet(tmp_path / "rf.mat", allow_channel_data=True, frame_axis=2)
    np.testing.assert_array_equal(out, rf[:, :, 0])
    assert meta["domain"] == "rf" and meta["n_frames"] == 5 and meta["frame_axis"] == 2
    assert meta["frame_axis_from"] == "option frame_axis"
    assert meta["scalars"]["param.fs"] == 20e6 and meta["scalars"]["param.fc"] == 5e6
    stack, _, _ = read_quiet(tmp_path / "rf.mat", frame="all", frame_axis=2, allow_channel_data=True)
    np.testing.assert_array_equal(stack, np.moveaxis(rf, 2, 0))

    # The same shape without acquisition metadata is a stack, not channel data.
    scipy.io.savemat(tmp_path / "stack.mat", {"data": rf})
    stack, meta, _ = read_quiet(tmp_path / "stack.mat", frame="all", frame_axis=2)
    assert stack.shape == (5, 65, 17) and meta["domain"] == "unknown"  # both signs: RF? not guessed
    assert "domain='rf'" in meta["domain_reason"]


def test_mat_v73_through_h5py(tmp_path, rng):
    z = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    path = write_mat73(tmp_path / "v73.mat", {"cout": z, "fs": np.array([[4.0]])})
    out, meta, _ = read_quiet(path)
    np.testing.assert_array_equal(out, z)  # axes back in MATLAB order, compound -> complex
    assert meta["format"] == "mat" and meta["scalars"] == {"fs": 4.0}

    path = write_mat73(tmp_path / "v73_struct.mat", {"img": {"Q": z.imag, "I": z.real}, "domain": "complex"})
    out, meta, _ = read_quiet(path)
    np.testing.assert_array_equal(out, z)

    amplitude = np.abs(z)
    path = write_mat73(tmp_path / "v73_amp.mat", {"A": amplitude, "domain": "amplitude"})
    out, meta, _ = read_quiet(path)
    np.testing.assert_array_equal(out, amplitude)
    assert meta["domain"] == "amplitude"  # the stored 'domain' char array


def test_mat_v73_cell_arrays_as_verasonics_saves_them(tmp_path, rng):
    pytest.importorskip("pymatreader", reason="MATLAB v7.3 cell arrays are read through pymatreader")
    # RcvData{1}: samples of all acquisitions x channels x frames, int16, with Trans/Receive structs.
    rcv = rng.integers(-500, 500, size=(96, 16, 3)).astype(np.int16)
    path = write_mat73(tmp_path / "verasonics.mat", {
        "RcvData": [rcv], "Trans": {"numelements": np.array([[16.0]]), "frequency": np.array([[5.2]])},
        "Receive": {"startSample": np.array([[1.0]]), "endSample": np.array([[96.0]])}})
    with pytest.raises(S2VInputError, match=r"verasonics\.mat: raw channel data.*'RcvData' is 96 samples \(all "
                                            r"acquisitions\) × 16 channels × 3 frames.*Receive, Trans.*beamform"):
        read_image(path)
    raw, meta = read_frames(path, allow_channel_data=True)
    np.testing.assert_array_equal(raw, np.moveaxis(rcv, 2, 0))  # MATLAB order, frames last -> first
    assert meta["variable"] == "RcvData" and meta["frame_axis"] == 2 and meta["domain"] == "rf"

    # A cell of two images: ambiguous, the error names both elements; variable= picks one.
    iq = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    bmode = rng.integers(0, 256, size=SHAPE).astype(np.float32)
    path = write_mat73(tmp_path / "cells.mat", {"frames": [bmode, bmode + 1], "fs": np.array([[4.0]])})
    with pytest.raises(S2VInputError, match=r"several candidate arrays \(frames\{1\} \(63, 71\) float32, "
                                            r"frames\{2\}.*variable="):
        read_image(path)
    out, meta, _ = read_quiet(path, variable="frames{2}")
    np.testing.assert_array_equal(out, bmode + 1)
    assert meta["variable"] == "frames{2}" and any("v7.3 variable 'frames{2}'" in n for n in meta["notes"])
    with pytest.raises(S2VInputError, match=r"variable 'frames' holds several arrays.*frames\{1\}"):
        read_image(path, variable="frames")

    # A cell holding one complex image beside a real one: the complex one is the image.
    path = write_mat73(tmp_path / "iq_cell.mat", {"IQ": [iq], "grid": np.ones((4, 5))})
    out, meta, _ = read_quiet(path)
    np.testing.assert_array_equal(out, iq)
    assert meta["variable"] == "IQ" and meta["domain"] == "complex"


def test_mat_v73_several_candidates_ask_for_variable(tmp_path, rng):
    pytest.importorskip("pymatreader", reason="MATLAB v7.3 files are read through pymatreader")
    a, b = rng.random(SHAPE), rng.random(SHAPE)
    path = write_mat73(tmp_path / "two.mat", {"before": a, "after": {"img": b}})
    with pytest.raises(S2VInputError, match=r"two\.mat: several candidate arrays.*variable=NAME"):
        read_image(path)
    out, meta, _ = read_quiet(path, variable="after.img")
    np.testing.assert_array_equal(out, b)
    assert meta["variable"] == "after.img"


# ---------------------------------------------------------------------------------------------
# numpy and HDF5
# ---------------------------------------------------------------------------------------------
def test_npy_complex_and_real_imaginary_last_axis(tmp_path, rng):
    z = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    np.save(tmp_path / "z.npy", z)
    out, meta, _ = read_quiet(tmp_path / "z.npy")
    np.testing.assert_array_equal(out, z)
    assert meta["domain"] == "complex" and out.flags.writeable

    pairs = np.stack([z.real, z.imag], axis=-1)  # the TerraSAR-X crop layout
    np.save(tmp_path / "pairs.npy", pairs)
    out, meta, _ = read_quiet(tmp_path / "pairs.npy")
    np.testing.assert_array_equal(out, z)
    out, meta, _ = read_quiet(tmp_path / "pairs.npy", as_complex=False, frame=1)
    np.testing.assert_array_equal(out, z.imag)
    assert meta["n_frames"] == 2 and meta["domain"] == "unknown"  # real, both signs: not guessed as RF

    # Two positive planes are not real/imaginary parts: ambiguous unless as_complex= says.
    two = np.abs(pairs)
    np.save(tmp_path / "two.npy", two)
    with pytest.raises(S2VInputError, match=r"two\.npy.*may be real \+ imaginary.*as_complex=True.*as_complex=False"):
        read_image(tmp_path / "two.npy")
    out, meta, _ = read_quiet(tmp_path / "two.npy", as_complex=True)
    np.testing.assert_array_equal(out, two[..., 0] + 1j * two[..., 1])
    frames, meta = read_frames(tmp_path / "two.npy", as_complex=False)
    np.testing.assert_array_equal(frames, np.moveaxis(two, 2, 0))
    assert meta["frame_axis"] == 2 and meta["domain"] == "unknown"


def test_npz_choice_of_variable(tmp_path, rng):
    envelope = rng.rayleigh(size=(4,) + SHAPE).astype(np.float32)
    np.savez(tmp_path / "picmus.npz", envelope=envelope, x_m=np.linspace(0, 1, SHAPE[1]), n=np.arange(4))
    out, meta, _ = read_quiet(tmp_path / "picmus.npz", frame=3)
    np.testing.assert_array_equal(out, envelope[3])
    assert meta["variable"] == "envelope" and meta["domain"] == "amplitude" and meta["frame_axis"] == 0

    np.savez(tmp_path / "two.npz", first=envelope[0], second=envelope[1])
    out, meta, _ = read_quiet(tmp_path / "two.npz", variable="second")
    np.testing.assert_array_equal(out, envelope[1])


def test_hdf5_dataset_path_and_compound_complex(tmp_path, rng):
    z = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    intensity = np.abs(z) ** 2
    with h5py.File(tmp_path / "data.h5", "w") as handle:
        handle.create_dataset("scene/slc", data=z)  # h5py stores complex as an (r, i) compound
        handle.create_dataset("scene/intensity", data=intensity)
        handle.create_dataset("axis", data=np.arange(10.0))
    out, meta, _ = read_quiet(tmp_path / "data.h5")
    np.testing.assert_array_equal(out, z)  # the only complex dataset
    assert meta["variable"] == "scene/slc" and meta["format"] == "hdf5"
    out, meta, _ = read_quiet(tmp_path / "data.h5", variable="/scene/intensity")
    np.testing.assert_array_equal(out, intensity)
    assert meta["domain"] == "intensity"


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def test_write_then_read_every_format(tmp_path, rng):
    intensity = rng.gamma(1.0, 1.0, size=SHAPE).astype(np.float32)
    for name in ("out.tif", "out.npy", "out.mat"):
        path = write_image(tmp_path / name, intensity, domain="intensity")
        out, meta, _ = read_quiet(path)
        np.testing.assert_array_equal(out, intensity)
        assert out.dtype == np.float32
        if name != "out.npy":
            assert meta["domain"] == "intensity"
    bmode = rng.integers(0, 256, size=SHAPE).astype(np.uint8)
    out, _, _ = read_quiet(write_image(tmp_path / "b.png", bmode))
    np.testing.assert_array_equal(out, bmode)
    # Floats in a PNG are a picture: min-max scaled to 0..255 (documented).
    out, _, _ = read_quiet(write_image(tmp_path / "scaled.png", intensity))
    expected = np.round((intensity - intensity.min()) * 255.0 / np.ptp(intensity)).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    slc = (intensity + 1j * intensity).astype(np.complex64)
    out, meta, _ = read_quiet(write_image(tmp_path / "slc.tif", slc))
    np.testing.assert_array_equal(out, slc)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(  # no temporary files left behind
        ["out.tif", "out.npy", "out.mat", "b.png", "scaled.png", "slc.tif"])


def test_write_never_overwrites_inputs_and_asks_before_replacing(tmp_path, rng):
    image = rng.integers(0, 256, size=SHAPE).astype(np.uint8)
    source = write_image(tmp_path / "input.png", image)
    with pytest.raises(S2VInputError, match=r"input\.png.*refusing to overwrite an input"):
        write_image(tmp_path / "input.png", image, overwrite=True, inputs=[str(source)])
    with pytest.raises(S2VInputError, match=r"input\.png.*file exists.*overwrite=True"):
        write_image(source, image)
    write_image(source, 255 - image, overwrite=True)
    np.testing.assert_array_equal(read_quiet(source)[0], 255 - image)
    with pytest.raises(S2VInputError, match=r"out\.jpg.*cannot write"):
        write_image(tmp_path / "out.jpg", image)
    with pytest.raises(S2VInputError, match=r"c\.png.*complex"):
        write_image(tmp_path / "c.png", image + 1j)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.png"]


# ---------------------------------------------------------------------------------------------
# bad inputs: one clear error naming the file and what was expected
# ---------------------------------------------------------------------------------------------
def _good_png(path):
    iio.imwrite(path, np.arange(63 * 71, dtype=np.uint16).reshape(SHAPE).astype(np.uint8))


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def make_bad(kind, tmp_path, rng):
    """Create one kind of bad input; return (path, kwargs, expected message fragment)."""
    if kind == "missing":
        return tmp_path / "absent.png", {}, "file not found"
    if kind == "empty":
        (tmp_path / "empty.png").write_bytes(b"")
        return tmp_path / "empty.png", {}, "empty"
    if kind == "folder":
        (tmp_path / "dir.png").mkdir()
        return tmp_path / "dir.png", {}, "folder"
    if kind == "truncated_png":
        _good_png(tmp_path / "cut.png")
        _truncate(tmp_path / "cut.png")
        return tmp_path / "cut.png", {}, "PNG image"
    if kind == "corrupt_png":
        (tmp_path / "noise.png").write_bytes(rng.integers(0, 256, 500).astype(np.uint8).tobytes())
        return tmp_path / "noise.png", {}, "PNG image"
    if kind == "corrupt_tiff":
        (tmp_path / "noise.tif").write_bytes(b"II*\x00" + bytes(40))
        return tmp_path / "noise.tif", {}, "TIFF image"
    if kind == "unknown_extension":
        (tmp_path / "data.xyz").write_bytes(b"hello")
        return tmp_path / "data.xyz", {}, "unknown file type '.xyz'"
    if kind == "not_dicom":
        (tmp_path / "fake.dcm").write_bytes(b"not a dicom file" * 20)
        return tmp_path / "fake.dcm", {}, "DICOM"
    if kind == "truncated_dicom":
        path = write_dicom(tmp_path / "cut.dcm", rng.integers(0, 256, SHAPE).astype(np.uint8), "MONOCHROME2")
        _truncate(path, keep=0.7)
        return path, {}, "DICOM"
    if kind == "dicom_no_pixels":
        path = write_dicom(tmp_path / "nopix.dcm", np.zeros(SHAPE, np.uint8), "MONOCHROME2")
        ds = pydicom.dcmread(path)
        del ds.PixelData
        ds.save_as(path)
        return path, {}, "without pixel data"
    if kind == "truncated_npy":
        np.save(tmp_path / "cut.npy", rng.standard_normal(SHAPE))
        _truncate(tmp_path / "cut.npy")
        return tmp_path / "cut.npy", {}, ".npy array"
    if kind == "pickled_npy":
        np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        return tmp_path / "obj.npy", {}, "never unpickled"
    if kind == "nan":
        image = rng.standard_normal(SHAPE)
        image[3, 4] = np.nan
        np.save(tmp_path / "nan.npy", image)
        return tmp_path / "nan.npy", {}, "1 NaN/Inf"
    if kind == "inf_mat":
        image = rng.standard_normal(SHAPE)
        image[:2, 0] = np.inf
        scipy.io.savemat(tmp_path / "inf.mat", {"img": image})
        return tmp_path / "inf.mat", {}, "2 NaN/Inf"
    if kind == "vector":
        np.save(tmp_path / "vector.npy", np.arange(10.0))
        return tmp_path / "vector.npy", {}, "expected a 2-D image"
    if kind == "four_d":
        np.save(tmp_path / "4d.npy", np.zeros((3, 4, 5, 6)))
        return tmp_path / "4d.npy", {}, "3-D stack"
    if kind == "no_image_in_npz":
        np.savez(tmp_path / "grid.npz", x=np.arange(5.0), z=np.arange(7.0))
        return tmp_path / "grid.npz", {}, "expected a 2-D image"
    if kind == "several_candidates":
        np.savez(tmp_path / "two.npz", a=np.ones(SHAPE), b=np.ones(SHAPE))
        return tmp_path / "two.npz", {}, "several candidate arrays"
    if kind == "missing_variable":
        scipy.io.savemat(tmp_path / "v.mat", {"img": np.ones(SHAPE)})
        return tmp_path / "v.mat", {"variable": "cout"}, "no variable 'cout'"
    if kind == "corrupt_mat":
        (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
        return tmp_path / "bad.mat", {}, "MATLAB"
    if kind == "corrupt_hdf5":
        with h5py.File(tmp_path / "cut.h5", "w") as handle:
            handle.create_dataset("img", data=rng.standard_normal((200, 200)))
        _truncate(tmp_path / "cut.h5", keep=0.3)
        return tmp_path / "cut.h5", {}, "HDF5"
    if kind == "frame_out_of_range":
        np.save(tmp_path / "stack.npy", np.zeros((4,) + SHAPE))
        return tmp_path / "stack.npy", {"frame": 4}, "frame 4 out of range"
    raise AssertionError(kind)


BAD_INPUTS = ["missing", "empty", "folder", "truncated_png", "corrupt_png", "corrupt_tiff", "unknown_extension",
              "not_dicom", "truncated_dicom", "dicom_no_pixels", "truncated_npy", "pickled_npy", "nan", "inf_mat",
              "vector", "four_d", "no_image_in_npz", "several_candidates", "missing_variable", "corrupt_mat",
              "corrupt_hdf5", "frame_out_of_range"]


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_gives_one_clear_error(kind, tmp_path, rng):
    path, kwargs, expected = make_bad(kind, tmp_path, rng)
    with pytest.raises(S2VInputError) as info:
        read_image(path, **kwargs)
    message = str(info.value)
    assert message.startswith(str(path)), message  # names the file ...
    assert expected in message, message  # ... and what was expected
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------------------------
# the shared real data (skipped when ../shared/data is absent)
# ---------------------------------------------------------------------------------------------
def test_shared_ultrasound_files(shared_data):
    must = shared_data / "ultrasound" / "must_PWI_disk_rf.mat"
    with pytest.raises(S2VInputError) as info:  # raw Verasonics channel data: said, not despeckled
        read_image(must)
    message = str(info.value)
    assert message.startswith(f"{must}: raw channel data")
    assert "'RF' is 334 samples × 128 elements × 32 transmits" in message
    assert "fs 6.667 MHz, fc 5 MHz, pitch 0.298 mm, c 1480 m/s, 128 elements, struct(s) param" in message
    assert "pymust.rf2iq" in message and "allow_channel_data=True" in message and "\n" not in message
    rf, meta, _ = read_quiet(must, allow_channel_data=True)
    assert rf.shape == (334, 128) and rf.dtype == np.int16 and meta["domain"] == "rf"
    assert meta["n_frames"] == 32 and meta["frame_axis"] == 2
    assert meta["scalars"]["param.fc"] == 5e6 and abs(meta["scalars"]["param.fs"] - 6.67e6) < 0.01e6

    iq, meta, _ = read_quiet(shared_data / "ultrasound" / "must_pwi_disk_iq_das_4frames.npy", frame=3)
    assert iq.shape == (251, 251) and iq.dtype == np.complex64 and meta["n_frames"] == 4

    envelope, meta, _ = read_quiet(shared_data / "ultrasound" / "picmus_exp_contrast_speckle_DAS_envelope.npz",
                                   frame="all")
    assert envelope.shape == (4, 256, 256) and meta["variable"] == "envelope" and meta["domain"] == "amplitude"

    liver, meta, _ = read_quiet(shared_data / "ultrasound" / "obnlm_liver_convex_bmode.png")
    assert liver.shape == (512, 512) and liver.dtype == np.uint8 and meta["domain"] == "bmode"

    with pytest.raises(S2VInputError, match="must_pwi_disk_iq_grid.npz.*expected a 2-D image"):
        read_image(shared_data / "ultrasound" / "must_pwi_disk_iq_grid.npz")


def test_shared_sar_files(shared_data):
    path = shared_data / "sar" / "terrasarx_slc_256.npy"
    slc, meta, _ = read_quiet(path)
    raw = np.load(path)
    assert slc.shape == (256, 256) and slc.dtype == np.complex64 and meta["domain"] == "complex"
    np.testing.assert_array_equal(slc, raw[..., 0] + 1j * raw[..., 1])

    k, meta, _ = read_quiet(shared_data / "sar" / "sentinel1_slc_labrador_256.npz", frame=1)
    assert k.shape == (256, 256) and k.dtype == np.complex64
    assert meta["variable"] == "k" and meta["n_frames"] == 2  # two polarisations

    path = shared_data / "sar" / "sar_clean_amplitude_2crops.npz"
    with pytest.raises(S2VInputError, match="marais2_10_0.*ramb_10_0"):
        read_image(path)
    clean, meta, _ = read_quiet(path, variable="ramb_10_0")
    assert clean.shape == (256, 256) and meta["domain"] == "unknown"  # amplitude, but nothing says so
