"""AP-BSN's pixel-shuffle downsampling (PD): the one pixel shuffle of :mod:`s2v.transforms`,
each sub-image framed by ``pad`` pixels.

Domain: **normalised intensity** (H, W) in, the mosaic of sub-images out. The zero fill of
:func:`s2v.transforms.pixel_unshuffle` (to multiples of the stride) and the frames hold the
value ``fill`` (default 1, the image mean, i.e. 0 in the log-intensity the network sees,
the zero padding of the official code, which pads the network input), and are marked
outside in the returned mask so no loss is taken there. NumPy only.
"""

from __future__ import annotations

import numpy as np

from s2v.transforms import pixel_shuffle, pixel_unshuffle

__all__ = ["pd_down", "pd_up"]


def _blocks(shape, stride: int, pad: int) -> tuple[int, int]:
    """Side of one framed sub-image of a mosaic of ``shape``."""
    rows, cols = shape
    if rows % stride or cols % stride:
        raise ValueError(f"a PD mosaic of stride {stride} has sides divisible by it, got {shape}")
    h, w = rows // stride - 2 * pad, cols // stride - 2 * pad
    if h < 1 or w < 1:
        raise ValueError(f"mosaic {shape} is too small for stride {stride} and pad {pad}")
    return h, w


def pd_down(image: np.ndarray, stride: int, pad: int = 0, *, fill: float = 1.0):
    """PD mosaic of an image: sub-image ``(u, v)`` = ``image[u::s, v::s]`` in block ``(u, v)``.

    Parameters
    ----------
    image : ndarray (H, W)
        Normalised intensity (any real image). Each side at least ``stride``.
    stride : int
        PD factor ``s``.
    pad : int
        Frame of ``fill`` pixels around every sub-image (AP-BSN ``pd_pad``), so that the
        convolutions of one sub-image read ``fill`` rather than its neighbour.
    fill : float
        Value of the frames and of the fill to multiples of ``s``.

    Returns
    -------
    mosaic : ndarray, shape (s (ceil(H/s) + 2 pad), s (ceil(W/s) + 2 pad)), float32
    inside : ndarray of bool, same shape
        True where an image pixel is (each exactly once); False on fill and frames.
    """
    image = np.asarray(image, np.float32)
    if image.ndim != 2:
        raise ValueError(f"pd_down: expected a 2-D (H, W) image, got shape {image.shape}")
    if min(image.shape) < stride:
        raise ValueError(f"image of {image.shape[0]}x{image.shape[1]} pixels is too small for PD "
                         f"stride {stride} (each side must be at least {stride})")
    mosaic, inside = pixel_unshuffle(image, stride)
    mosaic = np.where(inside, mosaic, np.float32(fill)).astype(np.float32)
    if pad:
        h, w = mosaic.shape[0] // stride, mosaic.shape[1] // stride
        frame = ((0, 0), (pad, pad), (0, 0), (pad, pad))
        mosaic = np.pad(mosaic.reshape(stride, h, stride, w), frame, constant_values=fill)
        inside = np.pad(inside.reshape(stride, h, stride, w), frame, constant_values=False)
        shape = (stride * (h + 2 * pad), stride * (w + 2 * pad))
        mosaic, inside = mosaic.reshape(shape), inside.reshape(shape)
    return mosaic, inside


def pd_up(mosaic: np.ndarray, stride: int, pad: int = 0, *, shape) -> np.ndarray:
    """Exact inverse of :func:`pd_down`: frames dropped, sub-images back to an (H, W) image.

    ``mosaic`` (2-D) is a :func:`pd_down` output or a per-pixel map computed on it (e.g. the
    network's output); ``shape`` is the (H, W) of the original image.
    """
    mosaic = np.asarray(mosaic)
    if mosaic.ndim != 2:
        raise ValueError(f"pd_up: expected a 2-D mosaic, got shape {mosaic.shape}")
    if pad:
        h, w = _blocks(mosaic.shape, stride, pad)
        blocks = mosaic.reshape(stride, h + 2 * pad, stride, w + 2 * pad)
        mosaic = blocks[:, pad:pad + h, :, pad:pad + w].reshape(stride * h, stride * w)
    return pixel_shuffle(mosaic, stride, shape=tuple(shape))
