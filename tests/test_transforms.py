"""The one pixel shuffle (s2v.transforms): exact inverse, every pixel once, zero padding."""

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
