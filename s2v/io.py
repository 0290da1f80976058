"""Read every input format into an array plus metadata; write results safely.

:func:`read_image` turns a file into a 2-D (H, W) image (or, on request, a (F, H, W) stack)
and a metadata dict that says what the data is (its DOMAIN, see :mod:`s2v.domains`).
:func:`write_image` writes PNG/TIFF/NPY/MAT atomically and never over an input. Every bad
input raises :class:`S2VInputError`, whose message names the file and what was expected.

Formats read
============

=============================  ================================================================
extension                      how
=============================  ================================================================
.png .jpg .jpeg .bmp           imageio (Pillow): 8/16-bit grey; RGB(A) and palette -> grey
.tif .tiff                     tifffile: any dtype (float32 kept); RGB and palette -> grey
.dcm .dicom (or a DICM file)   pydicom: MONOCHROME1 (inverted) / MONOCHROME2, RGB/YBR, PALETTE
                               COLOR (through the colour LUT), multi-frame
.mat                           v5 and older: scipy.io.loadmat; v7.3 (HDF5): h5py, transposed
                               back to MATLAB's (rows, cols, ...) order
.npy .npz                      numpy, never ``allow_pickle``; .npy is memory-mapped
.h5 .hdf5 .he5                 h5py; ``variable`` is the dataset path
=============================  ================================================================

Choices
=======

* COLOUR -> GREY: ``round(0.299 R + 0.587 G + 0.114 B)`` (ITU-R BT.601 luma), in the input
  dtype (:func:`rgb_to_grey`). B-mode is grey (R = G = B) so nothing is lost there; a
  ``UserWarning`` is issued only when some pixels really are coloured (overlays), and a note
  is always added. ``keep_colour=True`` returns the (H, W, 3) RGB instead, for
  :func:`s2v.domains.imaging_mask`, which needs the colour to find overlays.
* PALETTE: 16-bit colour-LUT entries (DICOM) are brought to 8 bits by ``round(v / 257)``.
* VARIABLE CHOICE in .mat/.npz/.h5 files: ``variable=`` wins; otherwise, in order, (1) the
  only complex array, (2) a named in-phase/quadrature pair (``I``/``Q``, ``real``/``imag``,
  ``re``/``im``, ``inphase``/``quadrature`` ...), (3) in .mat files only, the reference
  Speckle2Void convention for two unnamed real arrays (the file's or a struct's fields: the
  SECOND is the in-phase part, the FIRST the quadrature) -- used only when both contain
  negative values, as zero-mean I/Q data do, (4) the only array with at least two
  non-singleton axes. Anything else is ambiguous and raises an error listing the candidates.
  ``variable`` may name a struct field as ``'struct.field'`` or a struct holding an I/Q pair.
* REAL/IMAGINARY LAST AXIS: a real 3-D array whose last axis has length 2 (the layout of SLC
  crops such as ``terrasarx_slc_256.npy``, which no metadata describes) is read as
  ``real + 1j * imag`` when ``as_complex`` is ``None`` (default) or ``True``;
  ``as_complex=False`` keeps it real and treats the two planes as frames (e.g. two real
  acquisitions). Compound HDF5/structured records with (real, imag) fields are complex too.
* FRAMES: a 3-D result is a stack of 2-D frames; the frame axis is axis 0 for DICOM and
  TIFF (pages) and otherwise the SHORTEST axis (RF ``(depth, channels, shots)`` -> last, PICMUS
  ``(4, 256, 256)`` -> first), unless ``frame_axis`` is given. ``frame=None`` returns the
  first frame with a note; ``frame='all'`` returns the whole (F, H, W) stack.
* DOMAIN GUESS (``metadata['domain']``), first match wins: complex dtype -> ``'complex'``;
  a domain stored by :func:`write_image` (TIFF description, .mat ``domain`` variable) ->
  that; DICOM with modality US -> ``'bmode'``; a word of the variable name (split at ``_``
  and other separators, trailing digits dropped) such as ``rf`` / ``bmode`` / ``envelope``,
  ``amp`` / ``intensity``, ``power`` -> ``'rf'`` / ``'bmode'`` / ``'amplitude'`` /
  ``'intensity'``; uint8 -> ``'bmode'``; real data with both signs -> ``'rf'``; real data
  all <= 0 -> ``'bmode'`` (dB); otherwise ``'unknown'`` (say what it is when converting).
"""

from __future__ import annotations

import io as _bytes_io
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from s2v.utils import atomic_write_bytes

__all__ = ["S2VInputError", "read_image", "write_image", "rgb_to_grey", "READ_FORMATS", "WRITE_FORMATS"]


class S2VInputError(ValueError):
    """A file or array that s2v cannot use; the message names the file and what was expected."""


#: Extension -> format name of :func:`read_image`.
READ_FORMATS = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".bmp": "bmp",
    ".tif": "tiff", ".tiff": "tiff",
    ".dcm": "dicom", ".dicom": "dicom",
    ".mat": "mat",
    ".npy": "npy", ".npz": "npz",
    ".h5": "hdf5", ".hdf5": "hdf5", ".he5": "hdf5",
}
#: Extension -> format name of :func:`write_image`.
WRITE_FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".npy": "npy", ".mat": "mat"}

_DOMAINS = ("complex", "rf", "bmode", "intensity", "amplitude", "unknown")
# Named in-phase / quadrature pairs (lower case).
_IQ_NAMES = (("i", "q"), ("real", "imag"), ("re", "im"), ("inphase", "quadrature"),
             ("in_phase", "quadrature"), ("iphase", "qphase"), ("i_data", "q_data"))
_BT601 = np.array([0.299, 0.587, 0.114])
# Variable-name words that say the domain (see _guess_domain).
_NAME_HINTS = {
    "rf": {"rf", "rfdata", "rawdata"},
    "bmode": {"bmode"},
    "amplitude": {"env", "envelope", "amp", "amplitude", "mag", "magnitude"},
    "intensity": {"int", "intensity", "power", "pow"},
}


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _fail(path, message: str, cause: BaseException | None = None):
    """Raise S2VInputError('<path>: <message>'), chained to the library error if any."""
    detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    raise S2VInputError(f"{path}: {message}{detail}") from cause


def rgb_to_grey(rgb) -> np.ndarray:
    """Grey luma ``round(0.299 R + 0.587 G + 0.114 B)`` (ITU-R BT.601) of an RGB(A) picture.

    Parameters
    ----------
    rgb : array_like, (..., 3|4)
        Colour picture (alpha ignored), integer or float.

    Returns
    -------
    ndarray, (...)
        Grey levels in the input dtype (rounded and clipped for integer types).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim < 3 or rgb.shape[-1] not in (3, 4):
        raise ValueError(f"rgb_to_grey: expected (..., 3|4) colour data, got shape {rgb.shape}")
    grey = rgb[..., :3].astype(np.float64) @ _BT601
    if np.issubdtype(rgb.dtype, np.integer):
        info = np.iinfo(rgb.dtype)
        return np.clip(np.round(grey), info.min, info.max).astype(rgb.dtype)
    return grey.astype(rgb.dtype)


def _convert_colour(rgb: np.ndarray, path, notes: list, what: str, keep_colour: bool) -> np.ndarray:
    """(…, 3|4) colour -> grey (warning when real colour is discarded), or kept as RGB."""
    rgb = rgb[..., :3]
    if keep_colour:
        notes.append(f"{what} kept as (..., 3) RGB (keep_colour=True)")
        return rgb
    if np.any(rgb.max(axis=-1) != rgb.min(axis=-1)):
        warnings.warn(f"{path}: {what} image with coloured pixels converted to grey (BT.601 luma); "
                      "coloured overlays become grey levels (s2v.domains.imaging_mask excludes them)",
                      UserWarning, stacklevel=4)
        notes.append(f"{what} with colour converted to grey (BT.601 luma)")
    else:
        notes.append(f"{what} with R = G = B stored as grey")
    return rgb_to_grey(rgb)


def _is_numeric(array) -> bool:
    return (isinstance(array, np.ndarray) and array.dtype != np.bool_
            and (np.issubdtype(array.dtype, np.number) or _compound_complex(array.dtype) is not None))


def _is_complex_dtype(dtype) -> bool:
    return np.issubdtype(dtype, np.complexfloating) or _compound_complex(dtype) is not None


def _leaf(name: str) -> str:
    """Last component of 'struct.field' (.mat) or 'group/dataset' (HDF5) names."""
    return re.split(r"[./]", name)[-1]


class _LazyDataset:
    """An HDF5 dataset that is read only if it is chosen (files may hold gigabytes of raw data).

    ``transpose`` reverses the axes, for MATLAB v7.3 files (stored column-major).
    """

    def __init__(self, dataset, transpose: bool):
        self._dataset, self._transpose = dataset, transpose
        self.dtype = dataset.dtype
        self.shape = tuple(dataset.shape[::-1] if transpose else dataset.shape)

    def __array__(self, dtype=None, copy=None):
        data = np.asarray(self._dataset[()])
        data = data.T if self._transpose else data
        return data if dtype is None else data.astype(dtype)


def _compound_complex(dtype) -> tuple[str, str] | None:
    """Field names of a (real, imag) compound dtype (h5py / structured numpy), else None."""
    names = tuple(n.lower() for n in (dtype.names or ()))
    for real, imag in (("real", "imag"), ("r", "i"), ("re", "im")):
        if names == (real, imag):
            return dtype.names
    return None


def _as_plain(array: np.ndarray) -> np.ndarray:
    """Compound (real, imag) records -> complex; everything else unchanged."""
    fields = _compound_complex(array.dtype)
    if fields is None:
        return array
    return _join_iq(np.asarray(array[fields[0]]), np.asarray(array[fields[1]]), "", "(real, imag) fields")


def _image_like(array: np.ndarray) -> bool:
    """At least two axes longer than 1: an image or a stack, not a scalar or a vector."""
    return sum(n > 1 for n in array.shape) >= 2


def _join_iq(in_phase: np.ndarray, quadrature: np.ndarray, path, names: str) -> np.ndarray:
    if in_phase.shape != quadrature.shape:
        _fail(path, f"in-phase and quadrature arrays {names} have different shapes "
                    f"{in_phase.shape} and {quadrature.shape}")
    double = np.result_type(in_phase, quadrature, np.float32) == np.float64
    joined = np.empty(in_phase.shape, dtype=np.complex128 if double else np.complex64)
    joined.real, joined.imag = in_phase, quadrature
    return joined


# ---------------------------------------------------------------------------------------------
# choosing a variable in a container file (.mat / .npz / .h5)
# ---------------------------------------------------------------------------------------------
def _named_pair(entries: dict) -> tuple[str, str] | None:
    """Keys of a named in-phase/quadrature pair among ``entries`` (case-insensitive)."""
    lower = {_leaf(key).lower(): key for key in entries}
    for i_name, q_name in _IQ_NAMES:
        if i_name in lower and q_name in lower:
            return lower[i_name], lower[q_name]
    return None


def _choose(arrays: dict, groups: dict, path, fmt: str, variable, notes: list):
    """Pick the image among the numeric arrays of a container file.

    ``arrays`` maps names (``'a'``, ``'s.f'``) to numeric arrays in file order; ``groups``
    maps struct/group names to their {field: array} (for I/Q pairs inside a struct).
    Returns ``(array, variable_name)``.
    """
    if variable is not None:
        if variable in arrays:
            return _as_plain(np.asarray(arrays[variable])), variable
        if variable in groups:
            joined = _pair_in(groups[variable], path, fmt, notes, name=variable)
            if joined is not None:
                return joined, variable
            _fail(path, f"variable {variable!r} is a struct/group without an in-phase/quadrature pair; "
                        f"name one of its arrays: {sorted(k for k in arrays if k.startswith(variable + '.'))}")
        _fail(path, f"no variable {variable!r}; available arrays: {list(arrays)}")
    candidates = {k: v for k, v in arrays.items() if _image_like(v)}
    complex_ones = [k for k, v in candidates.items() if _is_complex_dtype(v.dtype)]
    if len(complex_ones) == 1:
        return _as_plain(np.asarray(candidates[complex_ones[0]])), complex_ones[0]
    if not complex_ones:
        # A top-level pair first, then pairs inside structs/groups.
        top = {k: v for k, v in candidates.items() if _leaf(k) == k}
        for name, fields in [("", top)] + list(groups.items()):
            joined = _pair_in(fields, path, fmt, notes, name=name)
            if joined is not None:
                return joined, name or None
    if len(candidates) == 1:
        name = next(iter(candidates))
        return _as_plain(np.asarray(candidates[name])), name
    if not candidates:
        _fail(path, f"expected a 2-D image (an array with at least two axes longer than 1) in the {fmt} file; "
                    f"found only {list(arrays) or 'no numeric arrays'}")
    listing = ", ".join(f"{k} {v.shape} {v.dtype}" for k, v in candidates.items())
    _fail(path, f"several candidate arrays ({listing}); choose one with variable=NAME")


def _pair_in(fields: dict, path, fmt: str, notes: list, *, name: str) -> np.ndarray | None:
    """Join an in-phase/quadrature pair among ``fields`` (name rules, then the .mat rule)."""
    fields = {k: v for k, v in fields.items() if _image_like(v) and not _is_complex_dtype(v.dtype)}
    pair = _named_pair(fields)
    where = f" of {name!r}" if name else ""
    if pair is not None:
        notes.append(f"complex data joined from in-phase {pair[0]!r} and quadrature {pair[1]!r}")
        return _join_iq(np.asarray(fields[pair[0]]), np.asarray(fields[pair[1]]), path, str(pair))
    if fmt == "mat" and len(fields) == 2:
        first, second = fields
        a, b = np.asarray(fields[first]), np.asarray(fields[second])
        if a.shape == b.shape and a.min() < 0 and b.min() < 0:
            notes.append(f"complex data joined by the reference Speckle2Void convention: 2nd field{where} "
                         f"{second!r} = in-phase, 1st field {first!r} = quadrature")
            return _join_iq(b, a, path, f"({second!r}, {first!r})")
    return None


# ---------------------------------------------------------------------------------------------
# format readers: each returns (array, info) where info holds format-specific metadata
# ---------------------------------------------------------------------------------------------
def _read_picture(path: Path, fmt: str, notes: list, keep_colour: bool):
    import imageio.v3 as iio
    from PIL import Image

    try:
        with Image.open(path) as handle:
            mode = handle.mode
        array = iio.imread(path)
    except Exception as error:  # Pillow raises many types for truncated / corrupt files
        _fail(path, f"could not be read as a {fmt.upper()} image (truncated or corrupt?)", error)
    if fmt == "jpeg":
        notes.append("JPEG is lossy: compression artefacts correlate neighbouring speckle samples")
    if mode == "P":
        notes.append("palette image expanded through its colour table")
    colour = array.ndim == 3 and array.shape[-1] in (3, 4)
    if colour:
        array = _convert_colour(array, path, notes, "palette" if mode == "P" else "RGB", keep_colour)
    elif array.ndim == 3 and array.shape[-1] == 2:  # grey + alpha
        array = array[..., 0]
        notes.append("alpha channel dropped")
    elif array.dtype == np.bool_:  # 1-bit pictures
        array = array.astype(np.uint8) * np.uint8(255)
        notes.append("1-bit image stored as 0/255")
    return array, {"colour": colour and keep_colour}


def _read_tiff(path: Path, notes: list, keep_colour: bool):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            array = tif.asarray()
            photometric = page.photometric
            colormap = page.colormap
            described = tif.shaped_metadata[0] if tif.shaped_metadata else {}
    except Exception as error:
        _fail(path, "could not be read as a TIFF image (truncated or corrupt?)", error)
    colour = False
    if photometric == tifffile.PHOTOMETRIC.PALETTE and colormap is not None:
        colour = True
        array = np.moveaxis(colormap[:, array], 0, -1)
        notes.append("palette TIFF expanded through its colour map")
        array = _convert_colour(np.round(array / 257.0).astype(np.uint8), path, notes, "palette", keep_colour)
    elif photometric == tifffile.PHOTOMETRIC.RGB and array.shape[-1] in (3, 4):
        colour = True
        array = _convert_colour(array, path, notes, "RGB", keep_colour)
    elif photometric == tifffile.PHOTOMETRIC.MINISWHITE and np.issubdtype(array.dtype, np.integer):
        array = np.iinfo(array.dtype).max - array
        notes.append("min-is-white TIFF inverted")
    info = {"colour": colour and keep_colour}
    if described.get("domain") in _DOMAINS:
        info["stored_domain"] = described["domain"]
    return array, info


def _read_dicom(path: Path, frame, notes: list, keep_colour: bool):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as error:
        _fail(path, "is not a DICOM file (no DICM preamble)", error)
    except Exception as error:
        _fail(path, "could not be read as DICOM (truncated or corrupt?)", error)
    if "PixelData" not in ds:
        _fail(path, "DICOM file without pixel data; expected an image")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    try:
        # Decode a single frame when one is asked for: multi-frame cine loops can be large.
        index = 0 if frame is None else (None if frame == "all" else int(frame))
        if index is not None:
            if not -n_frames <= index < n_frames:
                _fail(path, f"frame {frame} out of range: the file has {n_frames} frame(s)")
            index %= n_frames
        if n_frames > 1 and index is not None:
            from pydicom.pixels import pixel_array

            array = pixel_array(ds, index=index)
        else:
            array = ds.pixel_array
    except S2VInputError:
        raise
    except Exception as error:
        _fail(path, f"DICOM pixel data could not be decoded ({photometric}, transfer syntax "
                    f"{ds.file_meta.get('TransferSyntaxUID', '?')}; truncated, or a codec is missing?)", error)
    colour = photometric == "PALETTE COLOR" or int(ds.get("SamplesPerPixel", 1)) > 1
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        rgb = apply_color_lut(array, ds)
        if rgb.dtype == np.uint16:
            rgb = np.round(rgb / 257.0).astype(np.uint8)
        notes.append("PALETTE COLOR mapped through the colour LUT")
        array = _convert_colour(rgb, path, notes, "palette", keep_colour)
    elif int(ds.get("SamplesPerPixel", 1)) > 1:
        array = _convert_colour(array, path, notes, photometric, keep_colour)  # pydicom gives YBR as RGB
    elif photometric == "MONOCHROME1":
        bits = int(ds.get("BitsStored", 8 * array.dtype.itemsize))
        signed = int(ds.get("PixelRepresentation", 0)) == 1
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        array = (low + high - array.astype(np.int64)).astype(array.dtype)
        notes.append("MONOCHROME1 inverted (white = high values)")
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        notes.append("stored values returned; the modality rescale (slope/intercept) was not applied")
    info = {
        "colour": colour and keep_colour,
        "frame_axis": 0 if n_frames > 1 and frame == "all" else None,
        "n_frames": n_frames,
        "frame": None if frame == "all" or n_frames == 1 else index,
        "dicom": {
            "modality": str(ds.get("Modality", "")),
            "photometric": photometric,
            "manufacturer": str(ds.get("Manufacturer", "")),
            "regions": _dicom_regions(ds),
        },
    }
    if n_frames > 1 and frame is None:
        notes.append(f"multi-frame DICOM ({n_frames} frames): frame 0 returned (frame=INDEX or frame='all')")
    return array, info


def _dicom_regions(ds) -> list[dict]:
    """The Sequence of Ultrasound Regions: bounding boxes and data types, as plain dicts.

    ``box`` is (x0, y0, x1, y1) with inclusive ends, in pixels; ``data_type`` 1 is tissue,
    2 colour flow, 13 a grey bar, 14 a colour bar (DICOM PS3.3 C.8.5.5.1.2).
    """
    regions = []
    for item in ds.get("SequenceOfUltrasoundRegions", []):
        region = {
            "box": tuple(int(item.get(k, 0)) for k in ("RegionLocationMinX0", "RegionLocationMinY0",
                                                        "RegionLocationMaxX1", "RegionLocationMaxY1")),
            "data_type": int(item.get("RegionDataType", 0)),
            "spatial_format": int(item.get("RegionSpatialFormat", 0)),
        }
        if "PhysicalDeltaX" in item:
            region["physical_delta"] = (float(item.PhysicalDeltaX), float(item.PhysicalDeltaY))
            region["physical_units"] = (int(item.get("PhysicalUnitsXDirection", 0)),
                                        int(item.get("PhysicalUnitsYDirection", 0)))
        regions.append(region)
    return regions


def _flatten_mat(value, prefix: str, arrays: dict, groups: dict, scalars: dict):
    """Walk scipy's simplified .mat content: arrays, dict structs and scalars."""
    if isinstance(value, dict):
        fields = {}
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else key
            _flatten_mat(item, name, arrays, groups, scalars)
            if isinstance(item, np.ndarray) and _is_numeric(item):
                fields[name] = item
        if prefix:
            groups[prefix] = fields
    elif isinstance(value, np.ndarray) and _is_numeric(value):
        if value.size == 1:
            scalars[prefix] = value.item()
        else:
            arrays[prefix] = value
    elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        scalars[prefix] = value.item() if isinstance(value, np.generic) else value


def _read_mat(path: Path, variable, notes: list):
    import h5py

    if h5py.is_hdf5(path):
        return _read_hdf5(path, variable, notes, matlab=True)
    import scipy.io

    try:
        content = scipy.io.loadmat(path, simplify_cells=True)
    except Exception as error:
        _fail(path, "could not be read as a MATLAB .mat file (truncated, corrupt or not a .mat?)", error)
    arrays, groups, scalars = {}, {}, {}
    stored_domain = content.get("domain")
    _flatten_mat({k: v for k, v in content.items() if not k.startswith("__")}, "", arrays, groups, scalars)
    array, name = _choose(arrays, groups, path, "mat", variable, notes)
    info = {"variable": name, "scalars": scalars, "format": "mat"}
    if isinstance(stored_domain, str) and stored_domain in _DOMAINS:
        info["stored_domain"] = stored_domain
    return array, info


def _read_hdf5(path: Path, variable, notes: list, *, matlab: bool):
    import h5py

    sep = "." if matlab else "/"
    fmt = "mat" if matlab else "hdf5"
    arrays, groups, scalars = {}, {}, {}
    stored_domain = None
    try:
        with h5py.File(path, "r") as handle:
            def visit(name, item):
                nonlocal stored_domain
                if name.split("/")[0] in ("#refs#", "#subsystem#") or not isinstance(item, h5py.Dataset):
                    return
                key = name.replace("/", sep)
                if matlab and item.attrs.get("MATLAB_class", b"") == b"char":
                    if key == "domain":
                        stored_domain = "".join(map(chr, np.asarray(item).ravel()))
                    return
                if item.dtype.kind not in "iufc" and _compound_complex(item.dtype) is None:
                    return
                if item.size == 1:
                    scalars[key] = _as_plain(np.asarray(item[()])).item()
                    return
                # MATLAB writes column-major: reversing the axes gives MATLAB's (rows, cols, ...).
                arrays[key] = _LazyDataset(item, transpose=matlab)
                if sep in key:
                    groups.setdefault(key.rsplit(sep, 1)[0], {})[key] = arrays[key]

            handle.visititems(visit)
            if variable is not None:
                variable = variable.strip("/").replace("/", sep)
            array, name = _choose(arrays, groups, path, fmt, variable, notes)
    except S2VInputError:
        raise
    except Exception as error:
        what = "a MATLAB v7.3 (HDF5) .mat" if matlab else "an HDF5"
        _fail(path, f"could not be read as {what} file (truncated or corrupt?)", error)
    if matlab:
        notes.append("MATLAB v7.3 (HDF5) file: axes reversed to MATLAB order")
    info = {"variable": name, "scalars": scalars, "format": fmt}
    if stored_domain in _DOMAINS:
        info["stored_domain"] = stored_domain
    return array, info


def _read_npy(path: Path, notes: list):
    try:
        # Memory-mapped: only the frame that is returned is read from disk.
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as error:
        _fail(path, "could not be read as a .npy array (truncated, corrupt, or an object array, which is "
                    "never unpickled)", error)
    return array, {}


def _read_npz(path: Path, variable, notes: list):
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {}
            scalars = {}
            for key in archive.files:
                value = archive[key]
                if _is_numeric(value):
                    if value.size == 1:
                        scalars[key] = _as_plain(value).item()
                    else:
                        arrays[key] = value
    except Exception as error:
        _fail(path, "could not be read as a .npz archive (truncated, corrupt, or object arrays, which are "
                    "never unpickled)", error)
    array, name = _choose(arrays, {}, path, "npz", variable, notes)
    return array, {"variable": name, "scalars": scalars}


# ---------------------------------------------------------------------------------------------
# the public reader
# ---------------------------------------------------------------------------------------------
def _detect_format(path: Path) -> str:
    fmt = READ_FORMATS.get(path.suffix.lower())
    if fmt is not None:
        return fmt
    with open(path, "rb") as handle:
        head = handle.read(132)
    if head[128:132] == b"DICM":  # DICOM files often have no extension
        return "dicom"
    _fail(path, f"unknown file type {path.suffix or '(no extension)'!r}; expected one of "
                f"{sorted(set(READ_FORMATS))} or a DICOM file")


def _guess_domain(array: np.ndarray, fmt: str, info: dict) -> str:
    if np.iscomplexobj(array):
        return "complex"
    if info.get("stored_domain"):
        return info["stored_domain"]
    if fmt == "dicom" and info["dicom"]["modality"] == "US":
        return "bmode"
    # Words of the variable name and the name without separators, trailing digits dropped:
    # 'RF', 'rf_data', 'B_mode', 'envelope2' ...
    leaf = _leaf(info.get("variable") or "").lower()
    words = {word.rstrip("0123456789") for word in re.split(r"[^a-z0-9]+", leaf) + [re.sub(r"[^a-z0-9]", "", leaf)]}
    for domain, names in _NAME_HINTS.items():
        if words & names:
            return domain
    if array.dtype == np.uint8:
        return "bmode"
    low, high = float(np.min(array)), float(np.max(array))
    if low < 0 < high:
        return "rf"
    if high <= 0:
        return "bmode"
    return "unknown"


def _select_frame(array: np.ndarray, frame, frame_axis, fmt: str, path, info: dict, notes: list) -> np.ndarray:
    if array.ndim == 2:
        if frame not in (None, 0, "all"):
            _fail(path, f"frame {frame} requested but the data is a single 2-D image {array.shape}")
        return array
    if array.ndim != 3:
        _fail(path, f"expected a 2-D image or a 3-D stack of frames, got an array of shape {array.shape}")
    if frame_axis is None:
        frame_axis = 0 if fmt in ("dicom", "tiff") else int(np.argmin(array.shape))
    frame_axis = int(frame_axis) % 3
    n_frames = array.shape[frame_axis]
    info.update(frame_axis=frame_axis, n_frames=n_frames)
    if frame == "all":
        info["frame"] = None
        stack = np.moveaxis(array, frame_axis, 0)
        notes.append(f"all {n_frames} frames returned as (F, H, W) (frame axis {frame_axis} of {array.shape})")
        return stack
    index = 0 if frame is None else int(frame)
    if not -n_frames <= index < n_frames:
        _fail(path, f"frame {frame} out of range: {n_frames} frames along axis {frame_axis} of {array.shape}")
    info["frame"] = index % n_frames
    if frame is None:
        notes.append(f"{n_frames} frames along axis {frame_axis} of {array.shape}: frame 0 returned "
                     "(frame=INDEX, frame='all' or frame_axis=AXIS to change)")
    return np.take(array, index, axis=frame_axis)


def read_image(path, *, variable=None, frame=None, frame_axis=None, as_complex=None, keep_colour=False):
    """Read an image (B-mode, intensity, amplitude, complex IQ/SLC or RF) and describe it.

    See the module docstring for the formats, the colour, variable, frame and domain rules.

    Parameters
    ----------
    path : str or Path
        File to read.
    variable : str, optional
        Array inside a .mat/.npz/HDF5 file: a name, ``'struct.field'`` (.mat), a dataset path
        (HDF5), or a struct/group holding an in-phase/quadrature pair.
    frame : int or 'all', optional
        Frame of a 3-D stack; ``None`` = first frame (noted in metadata); ``'all'`` = the
        whole stack as (F, H, W).
    frame_axis : int, optional
        Axis of the frames in a 3-D array (default: axis 0 for DICOM and TIFF, else the shortest).
    as_complex : bool, optional
        For a real 3-D array whose last axis has length 2: join it as ``real + 1j imag``
        (``None`` or ``True``) or keep it real (``False``).
    keep_colour : bool, optional
        Return colour and palette pictures as (H, W, 3) RGB instead of grey (no warning),
        e.g. for :func:`s2v.domains.imaging_mask`, which finds colour overlays;
        :func:`rgb_to_grey` converts them afterwards exactly as the default does.

    Returns
    -------
    array : ndarray
        (H, W) image -- or (F, H, W) with ``frame='all'``, with a trailing RGB axis of 3 with
        ``keep_colour`` -- in the file's own domain and
        dtype (uint8 B-mode, complex64 IQ, int16 RF, float32 ...). Large .npy stacks may come
        back as a read-only memory map.
    metadata : dict
        ``path``, ``format``, ``domain`` (``'complex'``, ``'rf'``, ``'bmode'``,
        ``'intensity'``, ``'amplitude'`` or ``'unknown'``), ``dtype``, ``shape``,
        ``variable`` (or None), ``frame``, ``n_frames``, ``frame_axis``, ``notes`` (list of
        str: every conversion made); plus ``scalars`` (numeric scalars found in
        .mat/.npz/HDF5 files, e.g. ``param.fs``) and ``dicom`` (modality, photometric,
        manufacturer, ultrasound ``regions``) where they apply.

    Raises
    ------
    S2VInputError
        Missing, empty, truncated or corrupt file; unknown format; no 2-D image; several
        candidate variables; NaN/Inf values; out-of-range frame.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> image, meta = read_image(get_testdata_file("US1_UNCR.dcm"))  # doctest: +SKIP
    >>> image.shape, image.dtype, meta["domain"]  # doctest: +SKIP
    ((480, 640), dtype('uint8'), 'bmode')
    """
    path = Path(path)
    if not path.exists():
        _fail(path, "file not found; expected an image, DICOM, .mat, .npy/.npz or HDF5 file")
    if path.is_dir():
        _fail(path, "is a folder; expected a file")
    if path.stat().st_size == 0:
        _fail(path, "file is empty (0 bytes)")
    if frame is not None and frame != "all" and not isinstance(frame, (int, np.integer)):
        raise S2VInputError(f"{path}: frame must be an integer, 'all' or None, got {frame!r}")
    fmt = _detect_format(path)
    notes: list[str] = []
    if fmt in ("png", "jpeg", "bmp"):
        array, info = _read_picture(path, fmt, notes, keep_colour)
    elif fmt == "tiff":
        array, info = _read_tiff(path, notes, keep_colour)
    elif fmt == "dicom":
        array, info = _read_dicom(path, frame, notes, keep_colour)
    elif fmt == "mat":
        array, info = _read_mat(path, variable, notes)
    elif fmt == "npy":
        array, info = _read_npy(path, notes)
    elif fmt == "npz":
        array, info = _read_npz(path, variable, notes)
    else:
        array, info = _read_hdf5(path, variable, notes, matlab=False)
    if variable is not None and fmt not in ("mat", "npz", "hdf5"):
        _fail(path, f"variable={variable!r} only applies to .mat, .npz and HDF5 files, not {fmt}")

    array = _as_plain(array)
    if array.ndim == 3 and array.shape[-1] == 2 and not np.iscomplexobj(array) and as_complex is not False:
        array = _join_iq(array[..., 0], array[..., 1], path, "(last axis: real, imaginary)")
        notes.append("real array with a last axis of length 2 read as real + 1j * imaginary "
                     "(as_complex=False keeps the two planes as frames)")
    colour = info.get("colour", False)
    if fmt != "dicom":
        if colour and array.ndim == 4:  # a multi-page colour TIFF: frames on axis 0
            _select_frame(array[..., 0], frame, 0, fmt, path, info, notes)  # checks `frame`, fills info
            array = array if frame == "all" else array[info["frame"]]
        elif not colour:
            array = _select_frame(array, frame, frame_axis, fmt, path, info, notes)
    elif array.ndim == 3 + colour and frame == "all":
        notes.append(f"all {array.shape[0]} frames returned as (F, H, W)")
    spatial = array.shape[:-1] if colour else array.shape
    if len(spatial) not in (2, 3) or min(spatial[-2:]) < 2:
        _fail(path, f"expected a 2-D image with at least 2 x 2 pixels, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        _fail(path, f"expected numeric pixel values, got dtype {array.dtype}")
    if array.nbytes < 2**28:  # small results: a normal, writeable, in-memory array
        array = np.array(array)
    if np.issubdtype(array.dtype, np.inexact) and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        _fail(path, f"contains {bad} NaN/Inf value(s); expected finite data (mask or fill them before use)")
    metadata = {
        "path": str(path),
        "format": info.get("format", fmt),
        "domain": _guess_domain(array, fmt, info),
        "dtype": str(array.dtype),
        "shape": tuple(array.shape),
        "variable": info.get("variable"),
        "frame": info.get("frame"),
        "n_frames": info.get("n_frames", 1),
        "frame_axis": info.get("frame_axis"),
        "notes": notes,
    }
    for key in ("scalars", "dicom"):
        if key in info:
            metadata[key] = info[key]
    return array, metadata


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
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


def _tiff_bytes(array: np.ndarray, domain) -> bytes:
    import tifffile

    buffer = _bytes_io.BytesIO()
    metadata = {"domain": domain} if domain else {}
    tifffile.imwrite(buffer, array, metadata=metadata or None)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = _bytes_io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _mat_bytes(array: np.ndarray, variable: str, domain) -> bytes:
    import scipy.io

    buffer = _bytes_io.BytesIO()
    content = {variable: array}
    if domain:
        content["domain"] = domain
    scipy.io.savemat(buffer, content, do_compression=True)
    return buffer.getvalue()


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def write_image(path, array, *, overwrite=False, inputs: Iterable = (), domain=None, variable="image") -> Path:
    """Write an array to PNG, TIFF, NPY or MAT, atomically and never over an input.

    The file is written to a temporary name in the same folder and renamed into place, so a
    reader never sees half a file. ``inputs`` lists the files the result was computed from:
    writing to any of them is refused even with ``overwrite=True``.

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
    =======  ==================================================================================

    Parameters
    ----------
    path : str or Path
        Destination; its extension chooses the format. Missing folders are created.
    array : array_like
        Data to write, any domain (typically (H, W)).
    overwrite : bool, optional
        Replace an existing file (never one of ``inputs``).
    inputs : iterable of paths, optional
        Input files that must not be overwritten.
    domain : str, optional
        Domain of ``array`` (``'intensity'``, ``'bmode'``, ...), stored in TIFF and MAT files.
    variable : str, optional
        Variable name in a .mat file.

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
    if domain is not None and domain not in _DOMAINS:
        raise S2VInputError(f"{path}: unknown domain {domain!r}; expected one of {_DOMAINS}")
    array = np.asarray(array)
    if array.size == 0:
        raise S2VInputError(f"{path}: refusing to write an empty array (shape {array.shape})")
    if fmt == "png":
        data = _png_bytes(array, path)
    elif fmt == "tiff":
        data = _tiff_bytes(array, domain)
    elif fmt == "npy":
        data = _npy_bytes(array)
    else:
        data = _mat_bytes(array, variable, domain)
    return atomic_write_bytes(path, data)
