"""The one pixel shuffle (s2v.transforms): exact inverse, every pixel once, zero padding; the Keras pair."""

from __future__ import annotations

import numpy as np
import pytest

from s2v.transforms import pixel_shuffle, pixel_unshuffle


@pytest.mark.parametrize("stride", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(37, 53), (3, 4), (1, 1), (12, 10)])
def test_round_trip_is_exact_and_every_pixel_appears_once(stride, shape):
    image = np.arange(1, shape[0] * shape[1] + 1, dtype=np.float64).reshape(shape)  # unique, non-zero
    mosaic, inside = pixel_unshuffle(image, stride)
    assert mosaic.shape == (stride * -(-shape[0] // stride), stride * -(-shape[1] // stride))
    np.testing.assert_array_equal(pixel_shuffle(mosaic, stride, shape=shape), image)
    # every input value exactly once, inside the mask; the padding is zero and masked out
    values, counts = np.unique(mosaic[inside], return_counts=True)
    np.testing.assert_array_equal(values, image.ravel()[np.argsort(image.ravel())])
    assert np.all(counts == 1) and inside.sum() == image.size
    assert np.all(mosaic[~inside] == 0)


def test_tiles_are_the_strided_sub_images():
    image = np.random.default_rng(0).normal(size=(9, 11))
    mosaic, _ = pixel_unshuffle(image, 3)
    for a in range(3):
        for b in range(3):
            tile = mosaic[a * 3:(a + 1) * 3, b * 4:(b + 1) * 4]
            sub = image[a::3, b::3]
            np.testing.assert_array_equal(tile[:sub.shape[0], :sub.shape[1]], sub)


def test_complex_and_integer_dtypes_are_kept():
    z = (np.arange(20) + 1j * np.arange(20)).reshape(4, 5).astype(np.complex64)
    mosaic, _ = pixel_unshuffle(z, 2)
    assert mosaic.dtype == np.complex64
    np.testing.assert_array_equal(pixel_shuffle(mosaic, 2, shape=z.shape), z)
    assert pixel_unshuffle(np.ones((3, 3), np.uint8), 2)[0].dtype == np.uint8


@pytest.mark.parametrize("stride", [0, -1, 1.5, True, "2"])
def test_bad_strides_are_refused(stride):
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        pixel_unshuffle(np.ones((4, 4)), stride)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        pixel_unshuffle(np.ones((2, 3, 4)), 2)
    with pytest.raises(ValueError, match="divisible"):
        pixel_shuffle(np.ones((5, 4)), 2)
    with pytest.raises(ValueError, match="does not fit"):
        pixel_shuffle(np.ones((4, 4)), 2, shape=(5, 4))


# --------------------------------------------------------------------------
# The Keras layer pair: the same arrangement on (B, H, W, C) tensors
# --------------------------------------------------------------------------

def _numpy_mosaics(images, stride):
    """pixel_unshuffle of every image and channel of a (B, H, W, C) array."""
    return np.stack([np.stack([pixel_unshuffle(image[..., c], stride)[0] for c in range(image.shape[-1])],
                              axis=-1) for image in images])


@pytest.mark.parametrize("stride", [1, 2, 3, 4, 5])
def test_keras_layers_equal_the_numpy_transform(stride):
    from s2v.transforms import PixelShuffle, PixelUnshuffle

    rng = np.random.default_rng(stride)
    images = rng.normal(size=(2, 5 * stride, 3 * stride, 3)).astype(np.float32)  # non-square, 3 channels
    mosaic = np.asarray(PixelUnshuffle(stride)(images))
    np.testing.assert_array_equal(mosaic, _numpy_mosaics(images, stride))
    np.testing.assert_array_equal(np.asarray(PixelShuffle(stride)(mosaic)), images)


def test_keras_layers_serialise_and_refuse_bad_sizes(tmp_path):
    import keras

    from s2v.transforms import PixelShuffle, PixelUnshuffle

    assert keras.saving.get_registered_name(PixelUnshuffle) == "s2v>PixelUnshuffle"
    assert keras.saving.get_registered_name(PixelShuffle) == "s2v>PixelShuffle"
    assert PixelShuffle.from_config(PixelShuffle(3).get_config()).stride == 3
    # A model of any input size (dynamic H, W), saved and loaded.
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, PixelShuffle(2)(PixelUnshuffle(2)(inputs)))
    model.save(tmp_path / "pair.keras")
    loaded = keras.saving.load_model(tmp_path / "pair.keras")
    images = np.random.default_rng(0).normal(size=(1, 6, 10, 2)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(images)), images)
    with pytest.raises(ValueError, match="not a multiple of the stride"):
        PixelUnshuffle(2)(np.ones((1, 5, 4, 1), np.float32))
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        PixelShuffle(0)


def test_keras_layers_under_jax():
    """Backend-agnostic (``keras.ops`` only): the same values under ``KERAS_BACKEND=jax``."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (optional: pip install 'jax[cpu]')")
    script = (
        "import numpy as np, keras\n"
        "from s2v.transforms import PixelShuffle, PixelUnshuffle, pixel_unshuffle\n"
        "assert keras.backend.backend() == 'jax'\n"
        "x = np.random.default_rng(1).normal(size=(2, 6, 9, 2)).astype(np.float32)\n"
        "m = np.asarray(PixelUnshuffle(3)(x))\n"
        "ref = np.stack([np.stack([pixel_unshuffle(i[..., c], 3)[0] for c in range(2)], -1) for i in x])\n"
        "assert np.array_equal(m, ref) and np.array_equal(np.asarray(PixelShuffle(3)(m)), x)\n"
        "print('ok')\n")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
