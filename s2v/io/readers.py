"""Readers: every input format into an array on stated axes plus metadata (see :mod:`s2v.io`)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ._common import (DOMAINS, READ_FORMATS, LazyDataset, S2VInputError, ambiguous_frames_message, as_plain,
                      channel_data_message, choose, compound_complex, convert_colour, fail, guess_domain,
                      infer_frame_axis, is_numeric, join_iq)

__all__ = ["read_image", "read_frames"]

# HDF5 dimension labels that name the frame axis.
_FRAME_LABELS = {"frame", "frames", "time", "t", "slow_time", "n_frames", "nframes"}


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
        fail(path, f"could not be read as a {fmt.upper()} image (truncated or corrupt?)", error)
    if fmt == "jpeg":
        notes.append("JPEG is lossy: compression artefacts correlate neighbouring speckle samples")
    if mode == "P":
        notes.append("palette image expanded through its colour table")
    colour = array.ndim == 3 and array.shape[-1] in (3, 4)
    if colour:
        array = convert_colour(array, path, notes, "palette" if mode == "P" else "RGB", keep_colour)
    elif array.ndim == 3 and array.shape[-1] == 2:  # grey + alpha
        array = array[..., 0]
        notes.append("alpha channel dropped")
    elif array.dtype == np.bool_:  # 1-bit pictures
        array = array.astype(np.uint8) * np.uint8(255)
        notes.append("1-bit image stored as 0/255")
    info = {"colour": colour and keep_colour}
    if array.dtype == np.uint16:
        info["bit_depth"] = 16
    return array, info


def _read_tiff(path: Path, notes: list, keep_colour: bool):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            series = tif.series[0]
            array = series.asarray()
            axes = series.axes
            photometric = page.photometric
            colormap = page.colormap
            described = tif.shaped_metadata[0] if tif.shaped_metadata else {}
    except Exception as error:
        fail(path, "could not be read as a TIFF image (truncated or corrupt?)", error)
    colour = False
    if photometric == tifffile.PHOTOMETRIC.PALETTE and colormap is not None:
        colour = True
        array = np.moveaxis(colormap[:, array], 0, -1)
        notes.append("palette TIFF expanded through its colour map")
        array = convert_colour(np.round(array / 257.0).astype(np.uint8), path, notes, "palette", keep_colour)
    elif photometric == tifffile.PHOTOMETRIC.RGB and array.shape[-1] in (3, 4):
        colour = True
        array = convert_colour(array, path, notes, "RGB", keep_colour)
    elif photometric == tifffile.PHOTOMETRIC.MINISWHITE and np.issubdtype(array.dtype, np.integer):
        array = np.iinfo(array.dtype).max - array
        notes.append("min-is-white TIFF inverted")
    info = {"colour": colour and keep_colour}
    grey_axes = axes[:-1] if colour else axes
    if array.ndim - (colour and keep_colour) == 3:
        if len(grey_axes) == 3 and grey_axes.endswith("YX"):  # pages (or planes) first
            info.update(frame_axis=0, frame_axis_from=f"TIFF pages (axes {axes!r})")
        elif len(grey_axes) == 3 and grey_axes.startswith("YX"):  # extra samples last
            info.update(frame_axis=2, frame_axis_from=f"TIFF samples per pixel (axes {axes!r})")
    if array.dtype == np.uint16:
        info["bit_depth"] = 16
    if described.get("domain") in DOMAINS:
        info["stored_domain"] = described["domain"]
    return array, info


def _read_dicom(path: Path, frame, notes: list, keep_colour: bool):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as error:
        fail(path, "is not a DICOM file (no DICM preamble)", error)
    except Exception as error:
        fail(path, "could not be read as DICOM (truncated or corrupt?)", error)
    if "PixelData" not in ds:
        fail(path, "DICOM file without pixel data; expected an image")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    index = 0 if frame is None else (None if frame == "all" else int(frame))
    if index is not None:
        if not -n_frames <= index < n_frames:
            fail(path, f"frame {frame} out of range: the file has {n_frames} frame(s)")
        index %= n_frames
    try:
        # Decode a single frame when one is asked for: multi-frame cine loops can be large.
        if n_frames > 1 and index is not None:
            from pydicom.pixels import pixel_array

            array = pixel_array(ds, index=index)
        else:
            array = ds.pixel_array
    except Exception as error:
        fail(path, f"DICOM pixel data could not be decoded ({photometric}, transfer syntax "
                   f"{ds.file_meta.get('TransferSyntaxUID', '?')}; truncated, or a codec is missing?)", error)
    colour = photometric == "PALETTE COLOR" or int(ds.get("SamplesPerPixel", 1)) > 1
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        rgb = apply_color_lut(array, ds)
        if rgb.dtype == np.uint16:
            rgb = np.round(rgb / 257.0).astype(np.uint8)
        notes.append("PALETTE COLOR mapped through the colour LUT")
        array = convert_colour(rgb, path, notes, "palette", keep_colour)
    elif int(ds.get("SamplesPerPixel", 1)) > 1:
        array = convert_colour(array, path, notes, photometric, keep_colour)  # pydicom gives YBR as RGB
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
        "n_frames": n_frames,
        "frame_axis": 0 if n_frames > 1 else None,
        "frame_axis_from": "DICOM NumberOfFrames" if n_frames > 1 else None,
        "selected": n_frames > 1 and index is not None,  # one frame already decoded
        "frame": index if n_frames > 1 else None,
        "dicom": {
            "modality": str(ds.get("Modality", "")),
            "photometric": photometric,
            "manufacturer": str(ds.get("Manufacturer", "")),
            "sop_class": str(ds.get("SOPClassUID", "")),
            "regions": _dicom_regions(ds),
        },
    }
    if n_frames > 1 and frame is None:
        notes.append(f"multi-frame DICOM ({n_frames} frames): frame 0 returned (frame=INDEX, frame='all' "
                     "or read_frames for all)")
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
    """Walk simplified .mat content: arrays, dict structs, cell arrays (lists) and scalars.

    Struct fields are named ``'s.f'``, cell elements ``'c{1}'``, ``'c{2}'`` (MATLAB's 1-based
    linear index).
    """
    if isinstance(value, dict):
        fields = {}
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else key
            _flatten_mat(item, name, arrays, groups, scalars)
            if isinstance(item, np.ndarray) and is_numeric(item):
                fields[name] = item
        if prefix:
            groups[prefix] = fields
    elif isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.dtype == object):
        items = value.ravel(order="F") if isinstance(value, np.ndarray) else value
        for number, item in enumerate(items, start=1):
            _flatten_mat(item, f"{prefix}{{{number}}}", arrays, groups, scalars)
    elif isinstance(value, np.ndarray) and is_numeric(value):
        if value.size == 1:
            scalars[prefix] = as_plain(value).item()
        else:
            arrays[prefix] = value
    elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        scalars[prefix] = value.item() if isinstance(value, np.generic) else value


def _container_info(arrays, groups, scalars, name, fmt, stored_domain=None) -> dict:
    info = {"variable": name, "scalars": scalars, "format": fmt, "groups": list(groups)}
    if isinstance(stored_domain, str) and stored_domain in DOMAINS:
        info["stored_domain"] = stored_domain
    return info


def _stated_axis(scalars: dict, key: str, offset: int) -> dict:
    """A frame axis written by :func:`s2v.io.write_frames` (``frame_dim`` in .mat, 1-based)."""
    value = scalars.get(key)
    if isinstance(value, (int, float)) and float(value).is_integer() and 0 <= value - offset <= 2:
        return {"frame_axis": int(value - offset), "frame_axis_from": f"'{key}' stored in the file"}
    return {}


def _read_mat(path: Path, variable, notes: list):
    import h5py

    with open(path, "rb") as handle:
        header = handle.read(128)
    if h5py.is_hdf5(path):
        if not header.startswith(b"MATLAB 7.3"):
            notes.append("HDF5 file without a MATLAB v7.3 header: read as HDF5, axes reversed to MATLAB order")
            return _read_hdf5(path, variable, notes, matlab=True)
        return _read_mat73(path, variable, notes)
    import scipy.io

    try:
        content = scipy.io.loadmat(path, simplify_cells=True)
    except Exception as error:
        fail(path, "could not be read as a MATLAB .mat file (truncated, corrupt or not a .mat?)", error)
    return _mat_content(path, content, variable, notes, "v5", ordered=True)


def _read_mat73(path: Path, variable, notes: list):
    """MATLAB v7.3 through pymatreader (structs, cell arrays, char, complex); see _read_mat."""
    try:
        from pymatreader import read_mat
    except ImportError:
        notes.append("pymatreader is not installed: MATLAB v7.3 read through h5py (no cell arrays; "
                     "pip install pymatreader)")
        return _read_hdf5(path, variable, notes, matlab=True)
    names = None
    if variable is not None:  # load only what is needed: the variable and the small ones beside it
        from pymatreader import whosmat

        top = re.split(r"[.{]", variable)[0]
        try:
            listing = whosmat(path)
        except Exception as error:
            fail(path, "could not be read as a MATLAB v7.3 (HDF5) .mat file (truncated or corrupt?)", error)
        names = [n for n, shape, cls in listing
                 if n == top or cls in ("struct", "char") or int(np.prod(shape)) <= 4096]
    try:
        content = read_mat(str(path), variable_names=names)
    except Exception as error:
        fail(path, "could not be read as a MATLAB v7.3 (HDF5) .mat file (truncated or corrupt?)", error)
    # pymatreader does not keep the order of variables and fields: no two-field convention.
    return _mat_content(path, content, variable, notes, "v7.3", ordered=False)


def _mat_content(path, content: dict, variable, notes: list, version: str, *, ordered: bool):
    arrays, groups, scalars = {}, {}, {}
    content = {k: v for k, v in content.items() if not k.startswith("__")}
    stored_domain = content.get("domain")
    _flatten_mat(content, "", arrays, groups, scalars)
    array, name = choose(arrays, groups, path, "mat", variable, notes, ordered=ordered)
    if name is not None:
        notes.append(f"MATLAB {version} variable {name!r} read")
    info = _container_info(arrays, groups, scalars, name, "mat", stored_domain)
    info.update(_stated_axis(scalars, "frame_dim", 1))
    return array, info


def _read_hdf5(path: Path, variable, notes: list, *, matlab: bool):
    import h5py

    sep = "." if matlab else "/"
    fmt = "mat" if matlab else "hdf5"
    arrays, groups, scalars, attrs = {}, {}, {}, {}
    stored_domain = None
    try:
        with h5py.File(path, "r") as handle:
            def visit(name, item):
                nonlocal stored_domain
                if isinstance(item, h5py.Group) and not name.startswith("#"):
                    groups.setdefault(name.replace("/", sep), {})
                    return
                if name.split("/")[0] in ("#refs#", "#subsystem#") or not isinstance(item, h5py.Dataset):
                    return
                key = name.replace("/", sep)
                if matlab and item.attrs.get("MATLAB_class", b"") == b"char":
                    if key == "domain":
                        stored_domain = "".join(map(chr, np.asarray(item).ravel()))
                    return
                if matlab and item.attrs.get("MATLAB_class", b"") == b"cell":
                    fail(path, f"MATLAB cell array {key!r} needs pymatreader (pip install pymatreader)")
                if item.dtype.kind not in "iufc" and compound_complex(item.dtype) is None:
                    return
                if item.size == 1:
                    scalars[key] = as_plain(np.asarray(item[()])).item()
                    return
                # MATLAB writes column-major: reversing the axes gives MATLAB's (rows, cols, ...).
                arrays[key] = LazyDataset(item, transpose=matlab)
                attrs[key] = {"domain": item.attrs.get("domain"), "frame_axis": item.attrs.get("frame_axis"),
                              "labels": [] if matlab else [d.label for d in item.dims]}
                if sep in key:
                    groups.setdefault(key.rsplit(sep, 1)[0], {})[key] = arrays[key]

            handle.visititems(visit)
            if variable is not None:
                variable = variable.strip("/").replace("/", sep)
            array, name = choose(arrays, {g: f for g, f in groups.items() if f}, path, fmt, variable, notes)
    except S2VInputError:
        raise
    except Exception as error:
        what = "a MATLAB v7.3 (HDF5) .mat" if matlab else "an HDF5"
        fail(path, f"could not be read as {what} file (truncated or corrupt?)", error)
    if matlab:
        notes.append("MATLAB v7.3 (HDF5) file: axes reversed to MATLAB order")
    own = attrs.get(name, {})
    domain = own.get("domain")
    domain = domain.decode() if isinstance(domain, bytes) else domain
    info = _container_info(arrays, groups, scalars, name, fmt, stored_domain or domain)
    if own.get("frame_axis") is not None and 0 <= int(own["frame_axis"]) <= 2:
        info.update(frame_axis=int(own["frame_axis"]), frame_axis_from="HDF5 attribute 'frame_axis'")
    labelled = [i for i, label in enumerate(own.get("labels", [])) if str(label).lower() in _FRAME_LABELS]
    if len(labelled) == 1 and "frame_axis" not in info:
        info.update(frame_axis=labelled[0], frame_axis_from="HDF5 dimension label")
    if matlab:
        info.update(_stated_axis(scalars, "frame_dim", 1))
    return array, info


def _read_npy(path: Path, notes: list):
    try:
        # Memory-mapped: only the frame that is returned is read from disk.
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as error:
        fail(path, "could not be read as a .npy array (truncated, corrupt, or an object array, which is "
                   "never unpickled)", error)
    return array, {}


def _read_npz(path: Path, variable, notes: list):
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays, scalars = {}, {}
            for key in archive.files:
                value = archive[key]
                if is_numeric(value):
                    if value.size == 1:
                        scalars[key] = as_plain(value).item()
                    else:
                        arrays[key] = value
    except Exception as error:
        fail(path, "could not be read as a .npz archive (truncated, corrupt, or object arrays, which are "
                   "never unpickled)", error)
    array, name = choose(arrays, {}, path, "npz", variable, notes)
    return array, _container_info(arrays, {}, scalars, name, "npz")


def _detect_format(path: Path) -> str:
    fmt = READ_FORMATS.get(path.suffix.lower())
    if fmt is not None:
        return fmt
    with open(path, "rb") as handle:
        head = handle.read(132)
    if head[128:132] == b"DICM":  # DICOM files often have no extension
        return "dicom"
    fail(path, f"unknown file type {path.suffix or '(no extension)'!r}; expected one of "
               f"{sorted(set(READ_FORMATS))} or a DICOM file")


# ---------------------------------------------------------------------------------------------
# the shared road of read_image and read_frames
# ---------------------------------------------------------------------------------------------
def _check_options(path, frame, frame_axis, as_complex):
    if frame is not None and frame != "all" and (isinstance(frame, bool) or not isinstance(frame, (int, np.integer))):
        raise S2VInputError(f"{path}: frame must be an integer, 'all' or None, got {frame!r}")
    if frame_axis is not None and (isinstance(frame_axis, bool) or not isinstance(frame_axis, (int, np.integer))
                                   or not -3 <= frame_axis <= 2):
        raise S2VInputError(f"{path}: frame_axis must be 0, 1, 2 (or -1..-3) or None, got {frame_axis!r}")
    if as_complex not in (None, True, False):
        raise S2VInputError(f"{path}: as_complex must be True, False or None, got {as_complex!r}")


def _real_pairs(array, as_complex, path, notes):
    """A real (..., 2) array: real + 1j imag, two frames, or an ambiguity error."""
    if as_complex is False:
        notes.append("real array with a last axis of length 2 kept real (as_complex=False)")
        return array
    values = np.asarray(array)
    signs = [float(values[..., k].min()) < 0 < float(values[..., k].max()) for k in (0, 1)]
    if as_complex is None and not all(signs):
        fail(path, f"real {values.shape} array whose last axis of length 2 may be real + imaginary parts or two "
                   "images; real/imaginary parts of IQ/SLC data have both signs, these do not: pass "
                   "as_complex=True to join them or as_complex=False to read two frames")
    notes.append("real array with a last axis of length 2 read as real + 1j * imaginary "
                 + ("(as_complex=True)" if as_complex else
                    "(both planes have both signs, as I/Q parts do; as_complex=False keeps two frames)"))
    return join_iq(values[..., 0], values[..., 1], path, "(last axis: real, imaginary)")


def _load(path, *, variable, frame, frame_axis, as_complex, keep_colour, allow_channel_data):
    path = Path(path)
    if not path.exists():
        fail(path, "file not found; expected an image, DICOM, .mat, .npy/.npz or HDF5 file")
    if path.is_dir():
        fail(path, "is a folder; expected a file")
    if path.stat().st_size == 0:
        fail(path, "file is empty (0 bytes)")
    _check_options(path, frame, frame_axis, as_complex)
    fmt = _detect_format(path)
    if variable is not None and fmt not in ("mat", "npz", "hdf5"):
        fail(path, f"variable={variable!r} only applies to .mat, .npz and HDF5 files, not {fmt}")
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
    array = as_plain(array)
    file_shape = tuple(array.shape)

    channel = channel_data_message(array, info.get("variable"), info.get("groups", ()), info.get("scalars", {}))
    if channel is not None:
        if not allow_channel_data:
            fail(path, channel)
        notes.append("raw channel data read as it is (allow_channel_data=True)")
    colour = bool(info.get("colour"))
    if not colour and array.ndim == 3 and array.shape[-1] == 2 and not np.iscomplexobj(array):
        array = _real_pairs(array, as_complex, path, notes)
    elif as_complex and not np.iscomplexobj(array):
        fail(path, f"as_complex=True needs complex data or a real array whose last axis has length 2, "
                   f"got shape {file_shape}")
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        fail(path, f"expected numeric pixel values, got dtype {array.dtype}")

    spatial = array.ndim - colour
    n_frames, axis, source, index = 1, None, None, None
    if info.get("selected"):  # DICOM: one frame decoded
        n_frames, axis, source, index = info["n_frames"], 0, info["frame_axis_from"], info["frame"]
        domain_data = result = array
    elif spatial == 2:
        if frame not in (None, 0, -1, "all"):
            fail(path, f"frame {frame} requested but the data is a single 2-D image {array.shape}")
        if frame_axis is not None:
            notes.append(f"frame_axis={frame_axis} ignored: the data is a single 2-D image")
        domain_data = result = array
    elif spatial == 3:
        stated = info.get("frame_axis")
        if frame_axis is not None:
            axis, source = int(frame_axis) % 3, "option frame_axis"
            if (fmt == "dicom" or colour) and axis != 0:
                fail(path, f"frame_axis={frame_axis}: the frames of this {fmt} file are on axis 0 "
                           f"({info.get('frame_axis_from') or 'colour frames'})")
            if stated is not None and axis != stated:
                notes.append(f"frame_axis={frame_axis} overrides the file's frame axis {stated}")
        elif stated is not None:
            axis, source = stated, info["frame_axis_from"]
        elif colour:
            axis, source = 0, "colour frames"
        else:
            axis = infer_frame_axis(array.shape)
            if axis is None:
                fail(path, ambiguous_frames_message(array.shape))
            source = f"shape {file_shape}: the only short end axis"
        n_frames = array.shape[axis]
        stack = np.moveaxis(array, axis, 0)
        domain_data = stack
        if frame == "all":
            result = stack
            notes.append(f"all {n_frames} frames returned as (F, H, W) (frame axis {axis} of {array.shape})")
        else:
            index = 0 if frame is None else int(frame)
            if not -n_frames <= index < n_frames:
                fail(path, f"frame {frame} out of range: {n_frames} frames along axis {axis} of {array.shape}")
            index %= n_frames
            result = stack[index]
            if frame is None and n_frames > 1:
                notes.append(f"{n_frames} frames along axis {axis} of {array.shape}: frame 0 returned "
                             "(frame=INDEX, frame='all' or read_frames for all; frame_axis=AXIS to change)")
    else:
        fail(path, f"expected a 2-D image or a 3-D stack of frames, got an array of shape {array.shape}")

    image_shape = result.shape[-3:-1] if colour else result.shape[-2:]
    if result.ndim - colour < 2 or min(image_shape) < 2:
        fail(path, f"expected a 2-D image with at least 2 x 2 pixels, got shape {file_shape}")
    if result.nbytes < 2**28:  # small results: a normal, writeable, in-memory array
        result = np.array(result)
    if np.issubdtype(result.dtype, np.inexact) and not np.all(np.isfinite(result)):
        bad = int(np.size(result) - np.count_nonzero(np.isfinite(result)))
        fail(path, f"contains {bad} NaN/Inf value(s); expected finite data (mask or fill them before use)")
    domain, reason, candidates = guess_domain(domain_data, fmt, info)
    if channel is not None:
        domain, reason, candidates = "rf", "raw channel data (allow_channel_data=True)", ()
    axes = ("FYX" if result.ndim - colour == 3 else "YX") + ("C" if colour else "")
    metadata = {
        "path": str(path),
        "format": info.get("format", fmt),
        "domain": domain,
        "domain_reason": reason,
        "domain_candidates": candidates,
        "dtype": str(result.dtype),
        "shape": tuple(result.shape),
        "axes": axes,
        "file_shape": file_shape,
        "variable": info.get("variable"),
        "frame": index if frame != "all" else None,
        "n_frames": n_frames,
        "frame_count": n_frames,
        "frame_axis": axis,
        "frame_axis_from": source,
        "notes": notes,
    }
    for key in ("scalars", "dicom"):
        if key in info:
            metadata[key] = info[key]
    return result, metadata


_METADATA_DOC = """metadata : dict
        ``path``, ``format``, ``domain`` (``'complex'``, ``'rf'``, ``'bmode'``,
        ``'intensity'``, ``'amplitude'`` or ``'unknown'``: refuse or ask for ``domain=``),
        ``domain_reason`` (why; for ``'unknown'``: ``'<evidence>; pass domain=...'``),
        ``domain_candidates`` (tuple: the domains that fit an ``'unknown'``, for a command
        line to name its own flag; empty otherwise), ``dtype``,
        ``shape``, ``axes`` (``'YX'``, ``'FYX'``, ``+'C'`` for RGB), ``file_shape`` (the
        array as stored, MATLAB order for .mat), ``variable`` (or None), ``frame`` (index
        returned, None for all), ``frame_count`` (= ``n_frames``), ``frame_axis`` (axis of
        ``file_shape`` holding the frames, None for a 2-D image), ``frame_axis_from`` (what
        said so: the format, the option, or the shape rule), ``notes`` (list of str: every
        conversion made); plus ``scalars`` (numeric scalars of .mat/.npz/HDF5 files, e.g.
        ``param.fs``) and ``dicom`` (modality, photometric, manufacturer, SOP class,
        ultrasound ``regions``) where they apply."""


def read_image(path, *, variable=None, frame=None, frame_axis=None, as_complex=None, keep_colour=False,
               allow_channel_data=False):
    """Read an image (B-mode, intensity, amplitude, complex IQ/SLC or RF) and describe it.

    See the :mod:`s2v.io` docstring for the formats and the colour, variable, frame-axis,
    channel-data and domain rules. For every frame of a cine loop use :func:`read_frames`.

    Parameters
    ----------
    path : str or Path
        File to read.
    variable : str, optional
        Array inside a .mat/.npz/HDF5 file: a name, ``'struct.field'`` or ``'cell{2}'``
        (.mat), a dataset path (HDF5), or a struct/group holding an in-phase/quadrature pair.
        Required when several candidate arrays exist (the error lists them).
    frame : int or 'all', optional
        Frame of a 3-D stack; ``None`` = first frame (noted in metadata); ``'all'`` = the
        whole stack as (F, H, W).
    frame_axis : int, optional
        Axis of the frames in a 3-D array as stored. Needed when the layout is ambiguous
        (e.g. (300, 256, 256)); DICOM frames (NumberOfFrames), TIFF pages and axes written by
        :func:`write_frames` are known without it.
    as_complex : bool, optional
        For a real 3-D array whose last axis has length 2: join it as ``real + 1j imag``
        (``True``) or keep the two planes as frames (``False``). ``None`` joins it only when
        both planes have both signs (as I/Q parts do) and refuses otherwise.
    keep_colour : bool, optional
        Return colour and palette pictures as (H, W, 3) RGB instead of grey (no warning),
        e.g. for :func:`s2v.domains.imaging_mask`; :func:`rgb_to_grey` converts them
        afterwards exactly as the default does.
    allow_channel_data : bool, optional
        Read raw channel data (samples x elements x transmits) as it is instead of refusing.

    Returns
    -------
    array : ndarray
        (H, W) image -- or (F, H, W) with ``frame='all'``, with a trailing RGB axis of 3 with
        ``keep_colour`` -- in the file's own domain and dtype (uint8 B-mode, complex64 IQ,
        int16 RF, float32 ...). Large .npy stacks may come back as a read-only memory map.
    {metadata}

    Raises
    ------
    S2VInputError
        Missing, empty, truncated or corrupt file; unknown format; no 2-D image; several
        candidate variables; ambiguous frame axis or real/imaginary pairs; raw channel data;
        NaN/Inf values; out-of-range frame.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> image, meta = read_image(get_testdata_file("US1_UNCR.dcm"))  # doctest: +SKIP
    >>> image.shape, image.dtype, meta["domain"]  # doctest: +SKIP
    ((480, 640), dtype('uint8'), 'bmode')
    """
    return _load(path, variable=variable, frame=frame, frame_axis=frame_axis, as_complex=as_complex,
                 keep_colour=keep_colour, allow_channel_data=allow_channel_data)


def read_frames(path, *, variable=None, frame_axis=None, as_complex=None, keep_colour=False,
                allow_channel_data=False):
    """Read every frame of a file as a (N, H, W) stack, frames first; N = 1 for a single image.

    The same rules as :func:`read_image` (``frame='all'``): a DICOM cine gives its
    NumberOfFrames frames, a multi-page TIFF its pages, an HDF5/NPY/.mat stack its frames
    along the stated or unambiguous axis (``frame_axis=`` otherwise).

    Parameters
    ----------
    path : str or Path
        File to read.
    variable, frame_axis, as_complex, keep_colour, allow_channel_data
        As in :func:`read_image`.

    Returns
    -------
    frames : ndarray, (N, H, W) (or (N, H, W, 3) with ``keep_colour``)
        In the file's own domain and dtype (uint8 B-mode, complex64 IQ, float32 ...);
        frame k is ``frames[k]``.
    {metadata}

    Raises
    ------
    S2VInputError
        As :func:`read_image`.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> frames, meta = read_frames(get_testdata_file("examples_ybr_color.dcm"))  # doctest: +SKIP
    >>> frames.shape, meta["frame_count"], meta["frame_axis_from"]  # doctest: +SKIP
    ((30, 240, 320), 30, 'DICOM NumberOfFrames')
    """
    frames, meta = _load(path, variable=variable, frame="all", frame_axis=frame_axis, as_complex=as_complex,
                         keep_colour=keep_colour, allow_channel_data=allow_channel_data)
    if not meta["axes"].startswith("F"):
        frames = frames[None]
        meta.update(shape=tuple(frames.shape), axes="F" + meta["axes"])
    return frames, meta


if read_image.__doc__:  # None under python -OO
    read_image.__doc__ = read_image.__doc__.replace("{metadata}", _METADATA_DOC)
    read_frames.__doc__ = read_frames.__doc__.replace("{metadata}", _METADATA_DOC)
