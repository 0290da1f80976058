"""Blind-spot building blocks of Speckle2Void (Keras 3 layers, TensorFlow backend).

Geometry (Laine et al. 2019; Bordone Molini et al. 2022): each branch only
sees rows *at or above* its output row. A 3x3 "upward" convolution pads two
rows on top and one column on each side and convolves without padding, so
output row ``i`` reads input rows ``i-2 .. i`` — identical to the reference's
"pad one row on top, SAME convolution, drop the last row". Shifting the
branch output down by ``s`` rows then removes rows ``i-s+1 .. i`` from the
field: the pixel itself (``s = 1``) and also its upper neighbour (``s = 2``,
the reference's shift value ``3``). Running the branch on the four 90°
rotations of the image and rotating back covers the four half-planes.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

__all__ = ["UpwardConv2D", "CausalBranch", "shift_down", "rotate"]

_PACKAGE = "s2v"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class UpwardConv2D(layers.Layer):
    """3x3 convolution whose output row ``i`` sees input rows ``i-2 .. i`` only.

    Input and output are (B, H, W, C) with the same H and W.
    """

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.conv = layers.Conv2D(
            self.filters, 3, padding="valid", kernel_initializer="glorot_normal",
            name="conv")

    def build(self, input_shape):
        self.conv.build((input_shape[0], None, None, input_shape[-1]))

    def call(self, inputs):
        padded = tf.pad(inputs, [[0, 0], [2, 0], [1, 1], [0, 0]])
        return self.conv(padded)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


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
    """

    def __init__(self, filters: int, depth: int, batch_norm: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.depth, self.batch_norm = int(filters), int(depth), bool(batch_norm)
        self.convs = [UpwardConv2D(self.filters, name=f"conv_{i}") for i in range(self.depth)]
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
            x = tf.nn.leaky_relu(x, alpha=0.2)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "depth": self.depth,
                "batch_norm": self.batch_norm}


def shift_down(x, rows, max_rows: int):
    """Shift a (B, H, W, C) tensor down by ``rows`` (a tensor <= ``max_rows``), zero fill.

    ``rows`` may be a tensor drawn per batch: the result is a dynamic slice of
    the input padded with ``max_rows`` zero rows on top.
    """
    height = tf.shape(x)[1]
    padded = tf.pad(x, [[0, 0], [max_rows, 0], [0, 0], [0, 0]])
    start = max_rows - tf.cast(rows, tf.int32)
    return padded[:, start:start + height]


def rotate(x, quarter_turns: int):
    """Rotate (B, H, W, C) images counter-clockwise by ``quarter_turns`` x 90°."""
    return tf.image.rot90(x, k=quarter_turns % 4)
