"""s2v.widen: a wider network that computes the trained one's function (Net2WiderNet), blind spot kept."""

import numpy as np
import pytest
import tensorflow as tf

from s2v.config import S2VConfig
from s2v.model import Speckle2Void
from s2v.widen import widen_model

SMALL = dict(filters=4, depth=4, normalization="median", clip=50.0, norm=1.0)


def _trained_like(rng, **overrides):
    """A small model whose every weight, BatchNorm statistics included, is random (nothing at its init)."""
    model = Speckle2Void(S2VConfig.from_preset("cpu", **{**SMALL, **overrides}))
    for weight in model.weights:
        value = rng.normal(0.0, 0.3, weight.shape)
        if "moving_variance" in weight.path or "gamma" in weight.path:
            value = 0.5 + np.abs(value)  # positive, as trained statistics and scales are
        weight.assign(value.astype(np.float32))
    model.head.bias.assign(tf.constant([2.0, 0.5]))  # alpha > 1: a proper prior mean
    return model


def _raw(model, image, rows=2):
    x = tf.constant(image[None, ..., None])
    return model(x, training=False, vertical_shift=rows)[0].numpy()


@pytest.mark.parametrize("overrides", [{}, {"dilations": (1, 2, 1, 1)}, {"network_input": "log"}])
@pytest.mark.parametrize("filters", [7, 8])
def test_widened_network_computes_the_same_function(rng, overrides, filters):
    model = _trained_like(rng, **overrides)
    wide = widen_model(model, filters, noise=0.0, seed=3)
    assert wide.s2v_config.filters == filters
    assert wide.s2v_config.replace(filters=4) == model.s2v_config
    image = rng.gamma(1.0, 1.0, (23, 19)).astype(np.float32)
    np.testing.assert_allclose(_raw(wide, image), _raw(model, image), rtol=1e-4, atol=1e-5)
    # The whole prediction road too (normalisation, tiles, posterior mean), on an odd image.
    intensity = (rng.exponential(1.0, (41, 37)) * 7.0).astype(np.float32)
    np.testing.assert_allclose(wide.predict(intensity, progress=False), model.predict(intensity, progress=False),
                               rtol=1e-4)


def test_noise_breaks_the_symmetry_of_the_copies_and_changes_little(rng):
    model = _trained_like(rng)
    wide = widen_model(model, 8, noise=1e-3, seed=0)
    kernel = np.asarray(wide.branch_vertical.convs[1].conv.kernel)  # (3, 3, 8, 8)
    copies_of = {}
    for j in range(4, 8):  # the extra maps: each copies one of the first four, plus noise
        source = int(np.argmin([np.abs(kernel[..., j] - kernel[..., k]).max() for k in range(4)]))
        copies_of[j] = source
        assert 0 < np.abs(kernel[..., j] - kernel[..., source]).max() < 1e-2
    image = rng.gamma(1.0, 1.0, (23, 19)).astype(np.float32)
    exact, noisy = _raw(widen_model(model, 8, noise=0.0, seed=0), image), _raw(wide, image)
    assert 0 < np.abs(noisy - exact).max() < 0.05 * np.abs(exact).max()


@pytest.mark.parametrize("rows", [1, 2])
def test_blind_spot_of_the_widened_network_is_exact(rng, rows):
    wide = widen_model(_trained_like(rng), 6, noise=1e-3)
    h, w = 9, 11
    x = tf.constant(rng.gamma(1.0, 1.0, (1, h, w, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = wide(x, training=False, vertical_shift=rows)[0]
    jac = tape.jacobian(out, x)[..., 0, :, :, 0].numpy()
    for i in range(h):
        for j in range(w):
            hidden = [i] + ([k for k in (i - 1, i + 1) if 0 <= k < h] if rows == 2 else [])
            for k in hidden:
                assert np.all(jac[i, j, :, k, j] == 0.0), f"({i},{j}) sees ({k},{j})"


def test_widen_errors(rng):
    model = _trained_like(rng)
    with pytest.raises(ValueError, match="at least the model's 4"):
        widen_model(model, 3)
    with pytest.raises(ValueError, match="noise"):
        widen_model(model, 8, noise=1.5)
    with pytest.raises(ValueError, match="Speckle2Void model"):
        widen_model("ultrasound", 8)
