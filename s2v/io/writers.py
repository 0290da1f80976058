"""Writers: one image or a stack of frames, atomically, never over an input (see :mod:`s2v.io`)."""

from __future__ import annotations

import copy
import datetime
import io as _bytes_io
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from s2v.utils import atomic_write_bytes

from ._common import DOMAINS, WRITE_FORMATS, S2VInputError

__all__ = ["write_image", "write_frames"]

_US_SINGLE = ("1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.6")  # US Image Storage (and retired)
_US_MULTI = "1.2.840.10008.5.1.4.1.1.3.1"  # Ultrasound Multi-frame Image Storage
_DERIVATION = "Speckle reduction by s2v (Speckle2Void)"


def _png_bytes(array: np.ndarray, path) -> bytes:
    import imageio.v3 as iio

    if np.iscomplexobj(array):
        raise S2VInputError(f"{path}: PNG cannot store complex data; write .npy, .mat or .tiff, "
                            "or convert with s2v.domains first")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise S2VInputError(f"{path}: PNG needs (H, W) or (H, W, 3|4) data, got shape {array.shape}")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype not in (np.uint8, np.uint16):
        values = array.astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise S2VInputError(f"{path}: cannot write NaN/Inf values to PNG")
        if np.issubdtype(array.dtype, np.integer) and values.min() >= 0 and values.max() <= 65535:
            array = array.astype(np.uint8 if values.max() <= 255 else np.uint16)
        else:
            low, high = values.min(), values.max()
            span = high - low if high > low else 1.0
            array = np.round((values - low) * (255.0 / span)).astype(np.uint8)
    return iio.imwrite("<bytes>", array, extension=".png")


def _tiff_bytes(array: np.ndarray, domain, *, pages: bool = False) -> bytes:
    import tifffile

    buffer = _bytes_io.BytesIO()
    metadata = {"domain": domain} if domain else {}
    options = {"photometric": "minisblack"} if pages else {}  # (N, H, W): N grey pages, never RGB
    tifffile.imwrite(buffer, array, metadata=metadata or None, **options)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = _bytes_io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _mat_bytes(array: np.ndarray, variable: str, domain, frame_axis=None) -> bytes:
    import scipy.io

    buffer = _bytes_io.BytesIO()
    content = {variable: array}
    if domain:
        content["domain"] = domain
    if frame_axis is not None:
        content["frame_dim"] = float(frame_axis + 1)  # MATLAB's 1-based dimension
    scipy.io.savemat(buffer, content, do_compression=True)
    return buffer.getvalue()


def _hdf5_bytes(array: np.ndarray, variable: str, domain, frame_axis=None) -> bytes:
    import h5py

    buffer = _bytes_io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        dataset = handle.create_dataset(variable.strip("/"), data=array)
        if domain:
            dataset.attrs["domain"] = domain
        if frame_axis is not None:
            dataset.attrs["frame_axis"] = int(frame_axis)
            dataset.dims[frame_axis].label = "frame"
    return buffer.getvalue()


def _dicom_pixels(frames: np.ndarray, path, domain) -> np.ndarray:
    """Integer pixels DICOM can hold: 8/16-bit integers as they are; nothing else is guessed."""
    if frames.dtype in (np.uint8, np.uint16, np.int8, np.int16):
        return frames
    if np.issubdtype(frames.dtype, np.integer) and frames.size and frames.min() >= 0 and frames.max() <= 65535:
        return frames.astype(np.uint8 if frames.max() <= 255 else np.uint16)
    raise S2VInputError(f"{path}: DICOM stores 8- or 16-bit integer pixels, got {frames.dtype}"
                        f"{f' ({domain})' if domain else ''}; convert the frames first, e.g. to 8-bit B-mode "
                        "with s2v.domains.intensity_to_bmode, or write .tif/.npy/.h5 to keep the values")


def _dicom_bytes(frames: np.ndarray, source, path, domain, description) -> bytes:
    """A copy of the source DICOM with new grey pixel data, UIDs and derivation elements."""
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    if source is None:
        raise S2VInputError(f"{path}: writing DICOM needs source= (the DICOM file the frames come from), "
                            "whose patient, study and acquisition metadata are copied")
    pixels = _dicom_pixels(frames, path, domain)
    try:
        ds = copy.deepcopy(source) if isinstance(source, Dataset) else pydicom.dcmread(source)
    except Exception as error:
        raise S2VInputError(f"{source}: source= must be a readable DICOM file ({type(error).__name__}: "
                            f"{error})") from error
    syntax = ds.file_meta.get("TransferSyntaxUID")
    lossy = (ds.get("LossyImageCompression") == "01"
             or str(syntax) in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.91",
                                "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.203"))
    if syntax is not None and not syntax.is_little_endian:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian  # pixel data is replaced anyway
    source_class, source_uid = ds.get("SOPClassUID"), ds.get("SOPInstanceUID")
    for element in list(ds):  # colour tables and pixel statistics of the old pixels
        keyword = element.keyword or ""
        if "PaletteColorLookupTable" in keyword or keyword in (
                "SmallestImagePixelValue", "LargestImagePixelValue", "ICCProfile", "ColorSpace",
                "PixelPaddingValue", "PixelPaddingRangeLimit", "ExtendedOffsetTable",
                "ExtendedOffsetTableLengths"):
            del ds[element.tag]
    n_frames = pixels.shape[0]
    bits = 8 * pixels.dtype.itemsize
    if pixels.dtype.kind == "u" and bits == 16:  # keep the source's BitsStored when the values fit
        needed = max(1, int(pixels.max()).bit_length())
        source_bits = int(ds.get("BitsStored", 16) or 16)
        bits = source_bits if needed <= source_bits <= 16 else 16
    try:
        ds.set_pixel_data(pixels if n_frames > 1 else pixels[0], "MONOCHROME2", bits)
    except (ValueError, AttributeError, NotImplementedError) as error:
        raise S2VInputError(f"{path}: cannot write these frames into a copy of {source} "
                            f"({type(error).__name__}: {error})") from error
    if n_frames > 1 and str(ds.get("SOPClassUID", "")) in _US_SINGLE:
        ds.SOPClassUID = _US_MULTI
    if n_frames > 1 or str(ds.get("SOPClassUID", "")) == _US_MULTI:
        ds.NumberOfFrames = n_frames
        if "FrameIncrementPointer" not in ds and "FrameTime" in ds:
            ds.FrameIncrementPointer = 0x00181063  # (0018,1063) Frame Time
        if "FrameTimeVector" in ds and len(ds.FrameTimeVector) != n_frames:
            del ds.FrameTimeVector
    ds.SeriesInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    image_type = list(ds.get("ImageType", [])) if "ImageType" in ds else []
    ds.ImageType = ["DERIVED", "SECONDARY"] + [str(v) for v in image_type[2:]]
    ds.DerivationDescription = (description or _DERIVATION)[:1024]
    ds.SeriesDescription = f"{ds.get('SeriesDescription', '') or ''} despeckled".strip()[:64]
    if source_uid is not None:
        reference = Dataset()
        reference.ReferencedSOPClassUID = source_class
        reference.ReferencedSOPInstanceUID = source_uid
        ds.SourceImageSequence = [reference]
    if lossy:
        ds.LossyImageCompression = "01"  # once lossy, always flagged (PS3.3 C.7.6.1.1.5)
    now = datetime.datetime.now()
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    buffer = _bytes_io.BytesIO()
    try:  # dcmwrite, not save_as: re-encodes a big-endian source as little endian
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    except Exception as error:
        raise S2VInputError(f"{path}: could not encode the DICOM copy of {source} "
                            f"({type(error).__name__}: {error})") from error
    return buffer.getvalue()


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _target(path, inputs, overwrite, domain) -> tuple[Path, str]:
    """The checked destination and its format."""
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise S2VInputError(f"{path}: cannot write {path.suffix or '(no extension)'!r} files; "
                            f"expected one of {sorted(WRITE_FORMATS)}")
    for source in inputs:
        if _same_file(path, Path(source)):
            raise S2VInputError(f"{path}: refusing to overwrite an input file; choose another output path")
    if path.exists() and not overwrite:
        raise S2VInputError(f"{path}: file exists; pass overwrite=True to replace it")
    if domain is not None and domain not in DOMAINS:
        raise S2VInputError(f"{path}: unknown domain {domain!r}; expected one of {DOMAINS}")
    return path, fmt


def write_image(path, array, *, overwrite=False, inputs: Iterable = (), domain=None, variable="image",
                source=None, description=None) -> Path:
    """Write an array to PNG, TIFF, NPY, MAT, HDF5 or DICOM, atomically and never over an input.

    The file is written to a temporary name in the same folder and renamed into place, so a
    reader never sees half a file. ``inputs`` lists the files the result was computed from:
    writing to any of them is refused even with ``overwrite=True``. For a stack of frames
    (a cine loop) use :func:`write_frames`.

    =======  ==================================================================================
    format   what is stored
    =======  ==================================================================================
    .png     uint8 / uint16 as they are; bool as 0/255; other integers in [0, 65535] as uint8
             (if <= 255) or uint16; anything else (float: intensities, dB...) LINEARLY
             min-max SCALED to uint8 0..255 -- a picture, not data. For a faithful B-mode,
             convert first with :func:`s2v.domains.intensity_to_bmode`.
    .tif     the array unchanged (float32 stays float32, complex allowed); ``domain`` stored as
             JSON in the image description and read back by :func:`read_image`.
    .npy     the array unchanged (no pickling).
    .mat     MATLAB v5 (compressed), array under ``variable``, plus a ``domain`` string.
    .h5      dataset ``variable``, unchanged, with a ``domain`` attribute.
    .dcm     a copy of ``source`` (a DICOM file) with this image as MONOCHROME2 pixel data;
             8/16-bit integers only (see :func:`write_frames`).
    =======  ==================================================================================

    Parameters
    ----------
    path : str or Path
        Destination; its extension chooses the format. Missing folders are created.
    array : array_like
        Data to write, any domain (typically (H, W); (H, W, 3) RGB for PNG).
    overwrite : bool, optional
        Replace an existing file (never one of ``inputs``).
    inputs : iterable of paths, optional
        Input files that must not be overwritten.
    domain : str, optional
        Domain of ``array`` (``'intensity'``, ``'bmode'``, ...), stored in TIFF, MAT and
        HDF5 files.
    variable : str, optional
        Variable name in a .mat file, dataset path in an HDF5 file.
    source : str, Path or pydicom.Dataset, optional
        For .dcm only (required there): the DICOM whose metadata is copied.
    description : str, optional
        For .dcm only: the Derivation Description (default: speckle reduction by s2v).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    S2VInputError
        Unsupported extension, data the format cannot hold, an existing file without
        ``overwrite``, or a path that is one of ``inputs``.
    """
    path, fmt = _target(path, inputs, overwrite, domain)
    array = np.asarray(array)
    if array.size == 0:
        raise S2VInputError(f"{path}: refusing to write an empty array (shape {array.shape})")
    if fmt == "png":
        data = _png_bytes(array, path)
    elif fmt == "tiff":
        data = _tiff_bytes(array, domain)
    elif fmt == "npy":
        data = _npy_bytes(array)
    elif fmt == "mat":
        data = _mat_bytes(array, variable, domain)
    elif fmt == "hdf5":
        data = _hdf5_bytes(array, variable, domain)
    else:
        if array.ndim != 2:
            raise S2VInputError(f"{path}: write_image writes one (H, W) DICOM image, got shape {array.shape}; "
                                "use write_frames for a stack")
        data = _dicom_bytes(array[None], source, path, domain, description)
    return atomic_write_bytes(path, data)


def write_frames(path, frames, *, frame_axis=0, overwrite=False, inputs: Iterable = (), domain=None,
                 variable="image", source=None, description=None) -> Path:
    """Write a stack of frames (a cine loop) back into the container type it came from.

    =======  ==================================================================================
    format   what is stored
    =======  ==================================================================================
    .dcm     a copy of ``source`` (the input DICOM): patient, study, equipment, frame timing and
             ultrasound regions kept; new pixel data as MONOCHROME2 (8/16-bit integers only:
             convert intensities with :func:`s2v.domains.intensity_to_bmode` first),
             NumberOfFrames, Bits Allocated/Stored, a new SOP Instance UID and Series Instance
             UID, Image Type DERIVED\\SECONDARY, a Derivation Description, a Source Image
             Sequence pointing at the input, uncompressed Explicit VR Little Endian
             (LossyImageCompression kept at 01 if the source was lossy). A multi-frame stack
             from a single-frame US source becomes Ultrasound Multi-frame Image Storage.
    .tif     one page per frame (float32 and complex kept), ``domain`` in the description.
    .npy     the stack with its frames on ``frame_axis``.
    .h5      dataset ``variable`` with the frames on ``frame_axis``; attributes ``domain`` and
             ``frame_axis`` and the dimension label ``frame``, read back by :func:`read_frames`.
    .mat     MATLAB v5, frames on ``frame_axis``, plus ``domain`` and ``frame_dim``
             (``frame_axis + 1``, MATLAB's 1-based dimension), read back by :func:`read_frames`.
    .png     a single frame only (N = 1).
    =======  ==================================================================================

    Parameters
    ----------
    path : str or Path
        Destination; its extension chooses the format.
    frames : array_like, (N, H, W)
        The frames, frames first, any domain the format holds (see the table).
    frame_axis : int, optional
        Axis the frames are put on in .npy, .h5 and .mat files: pass the input's
        ``meta["frame_axis"]`` to write the layout it had (default 0, frames first). TIFF pages
        and DICOM frames are always first.
    overwrite, inputs, domain, variable
        As in :func:`write_image`.
    source : str, Path or pydicom.Dataset, optional
        For .dcm (required there): the DICOM the frames come from.
    description : str, optional
        For .dcm: the Derivation Description (default: speckle reduction by s2v).

    Returns
    -------
    Path
        The one file holding every frame, written atomically.

    Raises
    ------
    S2VInputError
        Frames that are not (N, H, W), a format that cannot hold them, or a destination
        :func:`write_image` would refuse too.

    Examples
    --------
    >>> frames, meta = read_frames("cine.dcm")  # doctest: +SKIP
    >>> write_frames("out/cine_despeckled.dcm", frames, source="cine.dcm")  # doctest: +SKIP
    """
    path, fmt = _target(path, inputs, overwrite, domain)
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.size == 0:
        raise S2VInputError(f"{path}: expected frames as a non-empty (N, H, W) array, got shape {frames.shape}")
    if isinstance(frame_axis, bool) or not isinstance(frame_axis, (int, np.integer)) or not -3 <= frame_axis <= 2:
        raise S2VInputError(f"{path}: frame_axis must be 0, 1 or 2, got {frame_axis!r}")
    frame_axis = int(frame_axis) % 3
    n_frames = frames.shape[0]
    if fmt == "png":
        if n_frames != 1:
            raise S2VInputError(f"{path}: PNG holds one image, not {n_frames} frames; write a multi-page .tif, "
                                ".npy, .h5 or .dcm")
        data = _png_bytes(frames[0], path)
    elif fmt == "tiff":
        data = _tiff_bytes(frames, domain, pages=True)
    elif fmt == "dicom":
        data = _dicom_bytes(frames, source, path, domain, description)
    else:
        stored = np.moveaxis(frames, 0, frame_axis)
        if fmt == "npy":
            data = _npy_bytes(stored)
        elif fmt == "mat":
            data = _mat_bytes(stored, variable, domain, frame_axis)
        else:
            data = _hdf5_bytes(stored, variable, domain, frame_axis)
    return atomic_write_bytes(path, data)
