"""Read every input format into arrays on stated axes plus metadata; write results safely.

:func:`read_image` turns a file into a 2-D (H, W) image (or, on request, a (F, H, W) stack);
:func:`read_frames` returns every frame of a cine loop as (N, H, W). Both give a metadata
dict that says what the data is (its DOMAIN, see :mod:`s2v.domains`) and where its frames
were. :func:`write_image` and :func:`write_frames` write PNG/TIFF/NPY/MAT/HDF5/DICOM
atomically and never over an input; a stack goes back into the container type it came from
(multi-frame DICOM with the source's metadata, multi-page TIFF, HDF5, NPY, MAT). Every bad
input raises :class:`S2VInputError`, whose message names the file and what was expected.

Formats read
============

=============================  ================================================================
extension                      how
=============================  ================================================================
.png .jpg .jpeg .bmp           imageio (Pillow): 8/16-bit grey; RGB(A) and palette -> grey
.tif .tiff                     tifffile: any dtype (float32 kept); RGB and palette -> grey;
                               pages are frames
.dcm .dicom (or a DICM file)   pydicom: MONOCHROME1 (inverted) / MONOCHROME2, RGB/YBR, PALETTE
                               COLOR (through the colour LUT), multi-frame (NumberOfFrames)
.mat                           v5 and older: scipy.io.loadmat; v7.3 (HDF5): pymatreader
                               (structs, cell arrays as Verasonics writes ``RcvData``, char,
                               complex), in MATLAB's (rows, cols, ...) order; an HDF5 .mat
                               without MATLAB header: h5py, axes reversed
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
  ``re``/``im``, ``inphase``/``quadrature`` ...), (3) in MATLAB v5 files only, the reference
  Speckle2Void convention for two unnamed real arrays (the file's or a struct's fields: the
  SECOND is the in-phase part, the FIRST the quadrature) -- used only when both contain
  negative values, as zero-mean I/Q data do (v7.3 readers do not keep the field order),
  (4) the only array with at least two non-singleton axes. Anything else is ambiguous and
  raises an error listing the candidates and asking for ``variable=``. ``variable`` may name
  a struct field (``'param.fs'``), a cell element (``'RcvData{1}'``, MATLAB's 1-based index;
  a cell or struct holding one image is enough) or a struct holding an I/Q pair. The
  variable chosen is ``metadata['variable']`` and in the notes.
* RAW CHANNEL DATA (samples x elements x transmits, before beamforming) is refused with a
  message that says what the file holds and how to beamform it (e.g. with the PyPI
  ``pymust`` package): it is recognised from an acquisition struct or group (``param``,
  ``Trans``, ``Receive``, ``TX``, ``TW``, ``Resource``, ``probe``) or an element count
  (``param.Nelements``, ``Trans.numelements``) together with the shape (the element count
  is a trailing axis) or the name (``RF``, ``RcvData``, ``channel_data`` ...).
  ``allow_channel_data=True`` reads it as it is (domain ``'rf'``).
* REAL/IMAGINARY LAST AXIS: a real 3-D array whose last axis has length 2 (the layout of SLC
  crops such as ``terrasarx_slc_256.npy``, which no metadata describes) is read as
  ``real + 1j * imag`` with ``as_complex=True``, as two frames with ``as_complex=False``;
  by default (``None``) it is joined only when both planes have both signs, as I/Q parts of
  speckle do, and refused as ambiguous otherwise. Compound HDF5/structured records with
  (real, imag) fields are complex.
* FRAMES: a 3-D result is a stack of 2-D frames. The frame axis comes from, in order:
  ``frame_axis=``; the format (DICOM NumberOfFrames, TIFF pages, the ``frame_axis``
  attribute or a ``frame`` dimension label in HDF5, ``frame_dim`` in .mat -- the last three
  written by :func:`write_frames`); the shape, only when an END axis is at most a quarter of
  both others ((4, 256, 256) -> 0, (251, 251, 4) -> 2). Otherwise -- e.g. a (300, 256, 256)
  cine -- the reader refuses and asks for ``frame_axis=``. ``frame=None`` returns the first
  frame with a note; ``frame='all'`` and :func:`read_frames` return the whole (F, H, W)
  stack; ``metadata['frame_count']``, ``['frame_axis']`` and ``['frame_axis_from']`` say
  how many frames there were, where, and what said so.
* DOMAIN GUESS (``metadata['domain']``, with ``metadata['domain_reason']``), first match
  wins: complex dtype -> ``'complex'``; a domain stored by :func:`write_image` (TIFF
  description, .mat ``domain`` variable, HDF5 attribute) -> that; DICOM with modality US ->
  ``'bmode'``; a word of the variable name (split at ``_`` and other separators, trailing
  digits dropped) such as ``rf`` / ``bmode`` / ``envelope``, ``amp`` / ``intensity``,
  ``power`` -> ``'rf'`` / ``'bmode'`` / ``'amplitude'`` / ``'intensity'``; uint8 ->
  ``'bmode'``; anything else (16-bit pictures, values of both signs, values all <= 0,
  non-negative floats) -> ``'unknown'``, with a reason that names the ``domain=`` to pass:
  callers refuse ``'unknown'`` rather than guess.
"""

from ._common import READ_FORMATS, WRITE_FORMATS, S2VInputError, rgb_to_grey
from .readers import read_frames, read_image
from .writers import write_frames, write_image

__all__ = ["S2VInputError", "read_image", "read_frames", "write_image", "write_frames", "rgb_to_grey",
           "READ_FORMATS", "WRITE_FORMATS"]
