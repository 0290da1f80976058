"""Shared rules of the readers and writers: errors, colour, variable choice, frame axis,
domain guess and the detection of raw channel data (see the :mod:`s2v.io` docstring)."""

from __future__ import annotations

import re
import warnings

import numpy as np

__all__ = ["S2VInputError", "rgb_to_grey", "READ_FORMATS", "WRITE_FORMATS"]


class S2VInputError(ValueError):
    """A file or array that s2v cannot use; the message names the file and what was expected."""


#: Extension -> format name of :func:`s2v.io.read_image`.
READ_FORMATS = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".bmp": "bmp",
    ".tif": "tiff", ".tiff": "tiff",
    ".dcm": "dicom", ".dicom": "dicom",
    ".mat": "mat",
    ".npy": "npy", ".npz": "npz",
    ".h5": "hdf5", ".hdf5": "hdf5", ".he5": "hdf5",
}
#: Extension -> format name of :func:`s2v.io.write_image` and :func:`s2v.io.write_frames`.
WRITE_FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".npy": "npy", ".mat": "mat",
                 ".h5": "hdf5", ".hdf5": "hdf5", ".dcm": "dicom"}

DOMAINS = ("complex", "rf", "bmode", "intensity", "amplitude", "unknown")
# Named in-phase / quadrature pairs (lower case).
_IQ_NAMES = (("i", "q"), ("real", "imag"), ("re", "im"), ("inphase", "quadrature"),
             ("in_phase", "quadrature"), ("iphase", "qphase"), ("i_data", "q_data"))
_BT601 = np.array([0.299, 0.587, 0.114])
# Variable-name words that say the domain (see guess_domain).
_NAME_HINTS = {
    "rf": {"rf", "rfdata", "rawdata"},
    "bmode": {"bmode"},
    "amplitude": {"env", "envelope", "amp", "amplitude", "mag", "magnitude"},
    "intensity": {"int", "intensity", "power", "pow"},
}
# Raw channel data: acquisition structs/groups, element-count scalars, channel-data names
# (compared in lower case without separators).
_ACQUISITION = {"param", "trans", "receive", "tx", "tw", "resource", "probe"}
_ELEMENT_COUNT = {"nelements", "numelements", "nbelements", "elementcount", "nelem", "nel", "numel"}
_CHANNEL_NAMES = {"rcvdata", "channeldata", "chandata", "rawdata", "rfdata", "rf", "rawrf", "rfraw"}
# The frame axis is inferred from the shape only when an end axis is at most this fraction
# of both other axes: (4, 256, 256) and (251, 251, 4) are stacks, (300, 256, 256) is ambiguous.
FRAME_RATIO = 4


def fail(path, message: str, cause: BaseException | None = None):
    """Raise S2VInputError('<path>: <message>'), chained to the library error if any."""
    detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    raise S2VInputError(f"{path}: {message}{detail}") from cause


def _squash(name: str) -> str:
    """Lower case, cell indices and separators dropped: 'RcvData{1}' -> 'rcvdata'."""
    return re.sub(r"[^a-z0-9]", "", re.sub(r"\{\d+\}", "", name.lower()))


# ---------------------------------------------------------------------------------------------
# colour
# ---------------------------------------------------------------------------------------------
def rgb_to_grey(rgb) -> np.ndarray:
    """Grey luma ``round(0.299 R + 0.587 G + 0.114 B)`` (ITU-R BT.601) of an RGB(A) picture.

    Parameters
    ----------
    rgb : array_like, (..., 3|4)
        Colour picture (alpha ignored), integer or float, in any domain where the luma is
        meaningful (B-mode grey levels, typically uint8).

    Returns
    -------
    ndarray, (...)
        Grey levels in the input dtype (rounded and clipped for integer types), same domain.

    Examples
    --------
    >>> rgb_to_grey(np.array([[[255, 0, 0]]], dtype=np.uint8))
    array([[76]], dtype=uint8)
    """
    rgb = np.asarray(rgb)
    if rgb.ndim < 3 or rgb.shape[-1] not in (3, 4):
        raise ValueError(f"rgb_to_grey: expected (..., 3|4) colour data, got shape {rgb.shape}")
    grey = rgb[..., :3].astype(np.float64) @ _BT601
    if np.issubdtype(rgb.dtype, np.integer):
        info = np.iinfo(rgb.dtype)
        return np.clip(np.round(grey), info.min, info.max).astype(rgb.dtype)
    return grey.astype(rgb.dtype)


def convert_colour(rgb: np.ndarray, path, notes: list, what: str, keep_colour: bool) -> np.ndarray:
    """(..., 3|4) colour -> grey (warning when real colour is discarded), or kept as RGB."""
    rgb = rgb[..., :3]
    if keep_colour:
        notes.append(f"{what} kept as (..., 3) RGB (keep_colour=True)")
        return rgb
    if np.any(rgb.max(axis=-1) != rgb.min(axis=-1)):
        warnings.warn(f"{path}: {what} image with coloured pixels converted to grey (BT.601 luma); "
                      "coloured overlays become grey levels (s2v.domains.imaging_mask excludes them)",
                      UserWarning, stacklevel=5)
        notes.append(f"{what} with colour converted to grey (BT.601 luma)")
    else:
        notes.append(f"{what} with R = G = B stored as grey")
    return rgb_to_grey(rgb)


# ---------------------------------------------------------------------------------------------
# arrays, complex data and the choice of a variable in a container file
# ---------------------------------------------------------------------------------------------
def compound_complex(dtype) -> tuple[str, str] | None:
    """Field names of a (real, imag) compound dtype (h5py / structured numpy), else None."""
    names = tuple(n.lower() for n in (dtype.names or ()))
    for real, imag in (("real", "imag"), ("r", "i"), ("re", "im")):
        if names == (real, imag):
            return dtype.names
    return None


def is_numeric(array) -> bool:
    return (isinstance(array, np.ndarray) and array.dtype != np.bool_
            and (np.issubdtype(array.dtype, np.number) or compound_complex(array.dtype) is not None))


def is_complex_dtype(dtype) -> bool:
    return np.issubdtype(dtype, np.complexfloating) or compound_complex(dtype) is not None


def leaf(name: str) -> str:
    """Last component of 'struct.field' (.mat) or 'group/dataset' (HDF5) names."""
    return re.split(r"[./]", name)[-1]


class LazyDataset:
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


def join_iq(in_phase: np.ndarray, quadrature: np.ndarray, path, names: str) -> np.ndarray:
    """``in_phase + 1j * quadrature`` as complex64 (complex128 for float64 parts)."""
    if in_phase.shape != quadrature.shape:
        fail(path, f"in-phase and quadrature arrays {names} have different shapes "
                   f"{in_phase.shape} and {quadrature.shape}")
    double = np.result_type(in_phase, quadrature, np.float32) == np.float64
    joined = np.empty(in_phase.shape, dtype=np.complex128 if double else np.complex64)
    joined.real, joined.imag = in_phase, quadrature
    return joined


def as_plain(array: np.ndarray) -> np.ndarray:
    """Compound (real, imag) records -> complex; everything else unchanged."""
    fields = compound_complex(array.dtype)
    if fields is None:
        return array
    return join_iq(np.asarray(array[fields[0]]), np.asarray(array[fields[1]]), "", "(real, imag) fields")


def image_like(array) -> bool:
    """At least two axes longer than 1: an image or a stack, not a scalar or a vector."""
    return sum(n > 1 for n in array.shape) >= 2


def _named_pair(entries: dict) -> tuple[str, str] | None:
    """Keys of a named in-phase/quadrature pair among ``entries`` (case-insensitive)."""
    lower = {leaf(key).lower(): key for key in entries}
    for i_name, q_name in _IQ_NAMES:
        if i_name in lower and q_name in lower:
            return lower[i_name], lower[q_name]
    return None


def _pair_in(fields: dict, path, fmt: str, notes: list, *, name: str, ordered: bool) -> np.ndarray | None:
    """Join an in-phase/quadrature pair among ``fields`` (name rules, then the .mat rule)."""
    fields = {k: v for k, v in fields.items() if image_like(v) and not is_complex_dtype(v.dtype)}
    pair = _named_pair(fields)
    where = f" of {name!r}" if name else ""
    if pair is not None:
        notes.append(f"complex data joined from in-phase {pair[0]!r} and quadrature {pair[1]!r}")
        return join_iq(np.asarray(fields[pair[0]]), np.asarray(fields[pair[1]]), path, str(pair))
    if fmt == "mat" and ordered and len(fields) == 2:
        first, second = fields
        a, b = np.asarray(fields[first]), np.asarray(fields[second])
        if a.shape == b.shape and a.min() < 0 and b.min() < 0:
            notes.append(f"complex data joined by the reference Speckle2Void convention: 2nd field{where} "
                         f"{second!r} = in-phase, 1st field {first!r} = quadrature")
            return join_iq(b, a, path, f"({second!r}, {first!r})")
    return None


def choose(arrays: dict, groups: dict, path, fmt: str, variable, notes: list, *, ordered: bool = True):
    """Pick the image among the numeric arrays of a container file.

    ``arrays`` maps names (``'a'``, ``'s.f'``, ``'c{2}'``) to numeric arrays in file order;
    ``groups`` maps struct/group names to their {field: array} (for I/Q pairs inside a
    struct). ``ordered`` says whether the file order is known (the reference two-field
    convention needs it). Returns ``(array, variable_name)``.
    """
    if variable is not None:
        if variable in arrays:
            return as_plain(np.asarray(arrays[variable])), variable
        if variable in groups:
            joined = _pair_in(groups[variable], path, fmt, notes, name=variable, ordered=ordered)
            if joined is not None:
                return joined, variable
        inside = {k: v for k, v in arrays.items() if k.startswith((variable + "{", variable + "."))
                  and image_like(v)}
        if len(inside) == 1:  # a cell (or struct) holding one image: RcvData -> RcvData{1}
            name = next(iter(inside))
            notes.append(f"variable {variable!r} holds one image array: {name!r} used")
            return as_plain(np.asarray(inside[name])), name
        if inside:
            listing = ", ".join(f"{k} {v.shape} {v.dtype}" for k, v in inside.items())
            fail(path, f"variable {variable!r} holds several arrays ({listing}); name one with variable=NAME")
        fail(path, f"no variable {variable!r}; available arrays: {list(arrays)}")
    candidates = {k: v for k, v in arrays.items() if image_like(v)}
    complex_ones = [k for k, v in candidates.items() if is_complex_dtype(v.dtype)]
    if len(complex_ones) == 1:
        return as_plain(np.asarray(candidates[complex_ones[0]])), complex_ones[0]
    if not complex_ones:
        # A top-level pair first, then pairs inside structs/groups.
        top = {k: v for k, v in candidates.items() if leaf(k) == k}
        for name, fields in [("", top)] + list(groups.items()):
            joined = _pair_in(fields, path, fmt, notes, name=name, ordered=ordered)
            if joined is not None:
                return joined, name or None
    if len(candidates) == 1:
        name = next(iter(candidates))
        return as_plain(np.asarray(candidates[name])), name
    if not candidates:
        fail(path, f"expected a 2-D image (an array with at least two axes longer than 1) in the {fmt} file; "
                   f"found only {list(arrays) or 'no numeric arrays'}")
    listing = ", ".join(f"{k} {v.shape} {v.dtype}" for k, v in candidates.items())
    fail(path, f"several candidate arrays ({listing}); choose one with variable=NAME")


# ---------------------------------------------------------------------------------------------
# raw channel data
# ---------------------------------------------------------------------------------------------
def _si(value: float, unit: str) -> str:
    """'6.67 MHz', '0.298 mm', '1480 m/s'."""
    scale = {"Hz": (1e6, "MHz"), "m": (1e-3, "mm")}.get(unit, (1.0, unit))
    return f"{value / scale[0]:.4g} {scale[1]}"


def channel_data_message(array, name, groups, scalars: dict) -> str | None:
    """What a raw channel-data array is, in words, or None when it does not look like one.

    Channel data (samples x elements [x transmits], before beamforming) is recognised from
    the file's acquisition metadata -- a struct/group ``param``, ``Trans``, ``Receive``,
    ``TX``, ``TW``, ``Resource`` or ``probe``, or an element-count scalar such as
    ``param.Nelements`` / ``Trans.numelements`` -- together with the shape: the element count
    is one of the trailing axes, or the array's name says so (``RF``, ``RcvData``,
    ``channel_data`` ...) and an acquisition struct is present.
    """
    shape = tuple(array.shape)
    if len(shape) not in (2, 3) or name is None:
        return None
    structs = sorted({leaf(g) for g in groups if _squash(leaf(g)) in _ACQUISITION}
                     | {k.split(".")[0] for k in scalars if _squash(k.split(".")[0]) in _ACQUISITION and "." in k})
    counts = [int(v) for k, v in scalars.items()
              if _squash(leaf(k)) in _ELEMENT_COUNT and isinstance(v, (int, float, np.number))
              and float(v).is_integer() and v > 1]
    n_elements = counts[0] if counts else None
    named = _squash(leaf(name)) in _CHANNEL_NAMES
    if len(shape) == 2 and _squash(leaf(name)) not in ("rcvdata", "channeldata", "chandata"):
        return None  # (samples, lines) may be beamformed RF lines: only a channel-data name says otherwise
    if n_elements is not None and n_elements in shape[1:]:
        element_axis = shape.index(n_elements, 1)
    elif named and structs:
        element_axis = 1
    else:
        return None
    verasonics = _squash(leaf(name)) == "rcvdata" or any(_squash(s) in ("trans", "receive") for s in structs)
    labels = (["samples (all acquisitions)", "channels", "frames"] if verasonics
              else ["samples", "elements", "transmits"])
    if element_axis == 2:
        labels = [labels[0], labels[2], labels[1]]
    words = " × ".join(f"{n} {label}" for n, label in zip(shape, labels))
    params = []
    for key, unit in (("fs", "Hz"), ("fc", "Hz"), ("pitch", "m"), ("c", "m/s")):
        value = next((v for k, v in scalars.items() if _squash(leaf(k)) == key), None)
        if isinstance(value, (int, float, np.number)):
            params.append(f"{key} {_si(float(value), unit)}")
    if n_elements is not None:
        params.append(f"{n_elements} elements")
    where = ", ".join(params + ([f"struct(s) {', '.join(structs)}"] if structs else []))
    return (f"raw channel data, not an image: {name!r} is {words} ({where}); beamform it to IQ first, "
            "e.g. with pymust (PyPI): IQ = pymust.rf2iq(RF, param); M = pymust.dasmtx(IQ[:, :, 0], x, z, param); "
            "IQb = (M @ IQ.reshape(-1, IQ.shape[2], order='F')).reshape(*x.shape, -1, order='F'); "
            "then read the (z, x, frames) IQ with frame_axis=2 "
            "(if it is already beamformed RF lines, or to read the raw samples, pass allow_channel_data=True)")


# ---------------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------------
def infer_frame_axis(shape) -> int | None:
    """Axis 0 or 2 of a 3-D shape when it is clearly the frame axis, else None.

    An END axis is taken as the frame axis only when it is at most 1/FRAME_RATIO of both
    other axes: (4, 256, 256) -> 0, (251, 251, 4) -> 2, (300, 256, 256) -> None.
    """
    first, middle, last = shape
    if first * FRAME_RATIO <= min(middle, last):
        return 0
    if last * FRAME_RATIO <= min(first, middle):
        return 2
    return None


def ambiguous_frames_message(shape) -> str:
    return (f"3-D array {tuple(shape)}: cannot tell which axis holds the frames ((frames, rows, cols), "
            "as ultrasound toolboxes store cine loops, or (rows, cols, frames)); pass frame_axis=0 or "
            f"frame_axis=2 (an end axis is taken as frames without it only when it is at most 1/{FRAME_RATIO} "
            "of both other axes)")


# ---------------------------------------------------------------------------------------------
# domain
# ---------------------------------------------------------------------------------------------
def _unknown(evidence: str, *candidates: str, extra: str = "") -> tuple[str, str, tuple]:
    options = " or ".join(f"domain={c!r}" for c in candidates)
    return "unknown", f"{evidence}; pass {options}{extra}", candidates


def guess_domain(array: np.ndarray, fmt: str, info: dict) -> tuple[str, str, tuple]:
    """``(domain, reason, candidates)``: the data's domain and why.

    For ``'unknown'`` the reason reads ``'<evidence>; pass domain=... or domain=...'`` and
    ``candidates`` lists the domains that fit (for a command line to name its own flag).
    """
    if np.iscomplexobj(array):
        return "complex", "complex values", ()
    if info.get("stored_domain"):
        return info["stored_domain"], "domain stored in the file", ()
    if fmt == "dicom" and info["dicom"]["modality"] == "US":
        return "bmode", "DICOM modality US", ()
    # Words of the variable name and the name without separators, trailing digits dropped:
    # 'RF', 'rf_data', 'B_mode', 'envelope2' ...
    name = re.sub(r"\{\d+\}", "", leaf(info.get("variable") or "")).lower()
    words = {w.rstrip("0123456789") for w in re.split(r"[^a-z0-9]+", name) + [re.sub(r"[^a-z0-9]", "", name)]}
    for domain, names in _NAME_HINTS.items():
        if words & names:
            return domain, f"variable name {info.get('variable')!r}", ()
    if array.dtype == np.uint8:
        return "bmode", "8-bit grey levels", ()
    low, high = float(np.min(array)), float(np.max(array))
    if info.get("bit_depth") == 16:
        return _unknown(f"16-bit grey {fmt.upper()} (values {low:.6g}..{high:.6g}): not 8-bit B-mode grey levels "
                        "and not known to be linear", "intensity", "amplitude",
                        extra=" if it holds linear data (a B-mode must be rescaled to 8 bits first)")
    if low == high == 0:
        return _unknown("all zeros: nothing says what the data is", "intensity", "amplitude", "bmode")
    if low < 0 < high:
        return _unknown(f"real values of both signs ({low:.6g}..{high:.6g}): beamformed RF lines, log-intensity "
                        "or one I/Q component?", "rf", extra=" for RF lines (axis 0 = fast time), or the domain "
                        "the data is in")
    if high <= 0:
        return _unknown(f"all values <= 0 ({low:.6g}..{high:.6g}): B-mode in dB?", "bmode",
                        extra=" if so, or the domain the data is in")
    return _unknown(f"non-negative real values ({low:.6g}..{high:.6g}) and nothing in the file says what they are",
                    "intensity", "amplitude", "bmode")
