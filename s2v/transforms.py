"""Pixel-shuffle downsampling (AP-BSN's "PD"): the one implementation used by every method.

A stride-``s`` mosaic rearranges an (H, W) image into ``s x s`` sub-images: tile ``(a, b)``
(rows ``a*h:(a+1)*h``, columns ``b*w:(b+1)*w``, with ``h = ceil(H / s)``, ``w = ceil(W / s)``)
is ``padded[a::s, b::s]``. Neighbours inside a tile are ``s`` pixels apart in the image, so
spatially correlated speckle looks (nearly) independent to a blind-spot network.

The image is padded with **zeros** at the bottom and right to multiples of ``s``, never by
reflection: a reflected copy of a pixel would land in its own receptive field and leak it
past the blind spot. The ``inside`` mask marks the padding so it stays out of a loss.

:class:`PixelUnshuffle` and :class:`PixelShuffle` are the same arrangement as Keras layers
(``keras.ops`` only, any backend) on (B, H, W, C) tensors whose H and W are multiples of the
stride (pad first with :func:`pixel_unshuffle`'s rule, or choose such patch sizes). They are
created on first access, so that the NumPy functions do not import Keras: import them
(``from s2v.transforms import PixelUnshuffle``) before loading a model that uses them.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["pixel_unshuffle", "pixel_shuffle", "PixelUnshuffle", "PixelShuffle"]


def _check_stride(stride) -> int:
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    return int(stride)


def pixel_unshuffle(image, stride):
    """Mosaic of the stride x stride sub-images of an (H, W) image, zero-padded.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Any real or complex image (intensity for speckle work); dtype kept.
    stride : int
        Sub-sampling step ``s`` (1 returns a copy).

    Returns
    -------
    mosaic : ndarray, shape (s * ceil(H / s), s * ceil(W / s)), same dtype
        Tile ``(a, b)`` is ``padded[a::s, b::s]`` (module docstring); every input pixel
        appears exactly once, the padding is 0.
    inside : ndarray of bool, same shape
        False on the padding.

    Examples
    --------
    >>> x = np.arange(1.0, 13.0).reshape(3, 4)
    >>> mosaic, inside = pixel_unshuffle(x, 2)
    >>> mosaic
    array([[ 1.,  3.,  2.,  4.],
           [ 9., 11., 10., 12.],
           [ 5.,  7.,  6.,  8.],
           [ 0.,  0.,  0.,  0.]])
    >>> bool(np.array_equal(pixel_shuffle(mosaic, 2, shape=x.shape), x))
    True
    """
    array = np.asarray(image)
    stride = _check_stride(stride)
    if array.ndim != 2:
        raise ValueError(f"pixel_unshuffle: expected a 2-D (H, W) image, got shape {array.shape}")
    rows, cols = array.shape
    height, width = -(-rows // stride), -(-cols // stride)
    pad = ((0, height * stride - rows), (0, width * stride - cols))
    padded = np.pad(array, pad)
    inside = np.pad(np.ones(array.shape, bool), pad)

    def arrange(plane):
        tiles = plane.reshape(height, stride, width, stride).transpose(1, 0, 3, 2)
        return tiles.reshape(stride * height, stride * width)

    return arrange(padded), arrange(inside)


def pixel_shuffle(mosaic, stride, *, shape=None):
    """Exact inverse of :func:`pixel_unshuffle`: back to the image grid, padding cropped.

    Parameters
    ----------
    mosaic : array_like, shape (s * h, s * w)
        A mosaic of sub-images (e.g. a despeckled :func:`pixel_unshuffle` output).
    stride : int
        The stride ``s`` of the mosaic.
    shape : (int, int), optional
        The original (H, W); default the mosaic's shape (no cropping).

    Returns
    -------
    ndarray, shape ``shape``, same dtype
    """
    array = np.asarray(mosaic)
    stride = _check_stride(stride)
    if array.ndim != 2 or array.shape[0] % stride or array.shape[1] % stride:
        raise ValueError(f"pixel_shuffle: expected a 2-D mosaic with sides divisible by {stride}, "
                         f"got shape {array.shape}")
    height, width = array.shape[0] // stride, array.shape[1] // stride
    image = array.reshape(stride, height, stride, width).transpose(1, 0, 3, 2)
    image = image.reshape(stride * height, stride * width)
    rows, cols = array.shape if shape is None else (int(shape[0]), int(shape[1]))
    if not (0 < rows <= image.shape[0] and 0 < cols <= image.shape[1]):
        raise ValueError(f"pixel_shuffle: shape {shape} does not fit in the {image.shape} image grid")
    return image[:rows, :cols]


@functools.cache
def _keras_layers():
    """Define (once) and register the Keras layer pair; returns ``{name: class}``."""
    from ._tensorflow import quiet_import

    quiet_import()
    import keras
    from keras import ops

    class Rearrange(keras.layers.Layer):
        """(B, H, W, C) -> same shape, pixels moved between the image and its mosaic.

        The 6-D view of :meth:`grid` is transposed by (0, 2, 1, 4, 3, 5) and flattened back;
        H and W must be multiples of ``stride`` (checked when static).
        """

        def __init__(self, stride, **kwargs):
            super().__init__(**kwargs)
            self.stride = _check_stride(stride)

        def grid(self, rows, cols):
            """The (rows, cols) split of the 6-D view, without the batch and channel axes."""
            raise NotImplementedError

        def call(self, inputs):
            static = tuple(inputs.shape)
            name, s = type(self).__name__, self.stride
            if len(static) != 4:
                raise ValueError(f"{name}: expected a (B, H, W, C) tensor, got shape {static}")
            for axis, side in (("H", static[1]), ("W", static[2])):
                if side is not None and side % s:
                    raise ValueError(f"{name}: {axis} = {side} is not a multiple of the stride {s}; "
                                     "pad the image first (s2v.transforms.pixel_unshuffle pads with zeros)")
            batch, rows, cols, channels = (static[i] if static[i] is not None else ops.shape(inputs)[i]
                                           for i in range(4))
            x = ops.reshape(inputs, (batch, *self.grid(rows, cols), channels))
            x = ops.transpose(x, (0, 2, 1, 4, 3, 5))
            return ops.reshape(x, (batch, rows, cols, channels))

        def compute_output_shape(self, input_shape):
            return tuple(input_shape)

        def get_config(self):
            return {**super().get_config(), "stride": self.stride}

    @keras.saving.register_keras_serializable(package="s2v")
    class PixelUnshuffle(Rearrange):
        """(B, H, W, C) images to their stride x stride mosaics, same shape (see the module).

        Equal to :func:`pixel_unshuffle` applied to each image and channel; H and W must be
        multiples of ``stride`` (no padding here). Any dtype; no weights.
        """

        def grid(self, rows, cols):
            s = self.stride
            return rows // s, s, cols // s, s

    @keras.saving.register_keras_serializable(package="s2v")
    class PixelShuffle(Rearrange):
        """Exact inverse of :class:`PixelUnshuffle`: (B, H, W, C) mosaics back to images.

        Equal to :func:`pixel_shuffle` (without cropping) on each image and channel.
        """

        def grid(self, rows, cols):
            s = self.stride
            return s, rows // s, s, cols // s

    return {"PixelUnshuffle": PixelUnshuffle, "PixelShuffle": PixelShuffle}


def __getattr__(name):
    if name in ("PixelUnshuffle", "PixelShuffle"):
        return _keras_layers()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
