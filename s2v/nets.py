"""Blind-spot building blocks of Speckle2Void (Keras 3 layers, any backend).

Geometry (Laine et al. 2019; Bordone Molini et al. 2022): each branch only
sees rows *at or above* its output row. A 3x3 "upward" convolution pads two
rows on top and one column on each side and convolves without padding, so
output row ``i`` reads input rows ``i-2 .. i`` — identical to the reference's
"pad one row on top, SAME convolution, drop the last row". Shifting the
branch output down by ``s`` rows then removes rows ``i-s+1 .. i`` from the
field: the pixel itself (``s = 1``) and also its upper neighbour (``s = 2``,
the reference's shift value ``3``). Running the branch on the four 90°
rotations of the image and rotating back covers the four half-planes.

Everything is written with ``keras.ops``: the layers run under TensorFlow
(the default and tested backend), JAX or PyTorch (``KERAS_BACKEND``).
"""

from __future__ import annotations

from ._tensorflow import quiet_import

quiet_import()  # before Keras: TensorFlow's start-up lines dropped

import keras
from keras import layers, ops

__all__ = ["UpwardConv2D", "CausalBranch", "shift_down", "rotate"]

_PACKAGE = "s2v"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class UpwardConv2D(layers.Layer):
    """3x3 convolution whose output row ``i`` sees input rows ``i-2d .. i`` only.

    Input and output are (B, H, W, C) with the same H and W. ``dilation`` ``d``
    spaces the taps ``d`` pixels apart (rows ``i-2d, i-d, i``, columns
    ``j-d, j, j+d``): still nothing below row ``i``, so the blind spot holds;
    ``d = 1`` is the reference's convolution.
    """

    def __init__(self, filters: int, dilation: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.dilation = int(dilation)
        self.conv = layers.Conv2D(
            self.filters, 3, padding="valid", dilation_rate=self.dilation,
            kernel_initializer="glorot_normal", name="conv")

    def build(self, input_shape):
        self.conv.build((input_shape[0], None, None, input_shape[-1]))

    def call(self, inputs):
        d = self.dilation
        padded = ops.pad(inputs, [[0, 0], [2 * d, 0], [d, d], [0, 0]])
        return self.conv(padded)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "dilation": self.dilation}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CausalBranch(layers.Layer):
    """One causal branch: conv_0 + LeakyReLU, (depth-2) x (conv + BN + LeakyReLU), conv_last.

    Parameters
    ----------
    filters : int
        Feature maps of every convolution.
    depth : int
        Number of convolutions, ``conv_0`` and ``conv_last`` included.
    batch_norm : bool
        BatchNorm after each middle convolution (reference: yes; moments as
        TF1's defaults, momentum 0.99, epsilon 1e-3).
    dilations : sequence of int, optional
        Dilation of each of the ``depth`` convolutions (default: all 1, the reference).
    """

    def __init__(self, filters: int, depth: int, batch_norm: bool = True, dilations=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters, self.depth, self.batch_norm = int(filters), int(depth), bool(batch_norm)
        self.dilations = tuple(int(d) for d in dilations) if dilations else (1,) * self.depth
        if len(self.dilations) != self.depth:
            raise ValueError(f"CausalBranch: {len(self.dilations)} dilations for depth {self.depth}")
        self.convs = [UpwardConv2D(self.filters, d, name=f"conv_{i}")
                      for i, d in enumerate(self.dilations)]
        self.norms = [
            layers.BatchNormalization(momentum=0.99, epsilon=1e-3, name=f"bn_{i}")
            for i in range(1, self.depth - 1)
        ] if self.batch_norm else []

    def build(self, input_shape):
        shape = tuple(input_shape)
        for i, conv in enumerate(self.convs):
            conv.build(shape)
            shape = (*shape[:-1], self.filters)
            if self.batch_norm and 0 < i < self.depth - 1:
                self.norms[i - 1].build(shape)

    def call(self, inputs, training=None):
        x = inputs
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i == self.depth - 1:
                break  # conv_last is linear
            if self.batch_norm and i > 0:
                x = self.norms[i - 1](x, training=training)
            x = ops.leaky_relu(x, negative_slope=0.2)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "depth": self.depth,
                "batch_norm": self.batch_norm, "dilations": list(self.dilations)}


def shift_down(x, rows, max_rows: int):
    """Shift a (B, H, W, C) tensor down by ``rows`` rows, zero fill.

    Parameters
    ----------
    x : tensor, (B, H, W, C)
        Feature maps (any H, W; H may be dynamic).
    rows : int or tensor
        A Python int in ``0 .. max_rows``: a static shift. A tensor, scalar or
        of shape (B,) (one shift per image, e.g. drawn per training step),
        with values in ``1 .. max_rows``: every candidate shift is computed
        and the requested one is selected with ``ops.where``, so the result is
        exact (a selection, no interpolation), the same on every backend, and
        its gradient flows through the selected shift only. A value outside
        ``1 .. max_rows`` gives the shift by 1.
    max_rows : int
        Largest shift.
    """
    if isinstance(rows, int):
        if not 0 <= rows <= max_rows:
            raise ValueError(f"shift of {rows} rows is outside 0 .. {max_rows}")
        return _shift_static(x, rows)
    rows = ops.cast(rows, "int32")
    if len(rows.shape) == 1:
        rows = ops.reshape(rows, (-1, 1, 1, 1))
    out = _shift_static(x, 1)
    for candidate in range(2, max_rows + 1):
        out = ops.where(ops.equal(rows, candidate), _shift_static(x, candidate), out)
    return out


def _shift_static(x, rows: int):
    if rows == 0:
        return x
    return ops.pad(x, [[0, 0], [rows, 0], [0, 0], [0, 0]])[:, :-rows]


def rotate(x, quarter_turns: int):
    """Rotate (B, H, W, C) images counter-clockwise by ``quarter_turns`` x 90°.

    The convention of ``tf.image.rot90`` and ``numpy.rot90(x, k, axes=(1, 2))``
    (tested equal), computed as ``tf.image.rot90`` does it: one flip and at most
    one transpose. Not ``keras.ops.rot90``: under the TensorFlow backend of
    Keras 3.15 its ``k=2`` scrambles non-square images (it reshapes the
    once-rotated (W, H) array to (H, W)), and it adds two transposes.
    """
    k = quarter_turns % 4
    if k == 1:
        return ops.transpose(ops.flip(x, axis=2), (0, 2, 1, 3))
    if k == 2:
        return ops.flip(x, axis=(1, 2))
    if k == 3:
        return ops.flip(ops.transpose(x, (0, 2, 1, 3)), axis=2)
    return x
