"""Speckle2Void network: the blind-spot invariant (exact), receptive field, tiling, save/load.

TensorFlow backend (the default); ``tests/test_backend.py`` runs the blind-spot check,
training and save/load under JAX.
"""

import numpy as np
import pytest
import tensorflow as tf

from s2v.batches import draw_shift_rows, pack_batch, to_mosaic
from s2v.config import ConfigError, S2VConfig
from s2v.model import Speckle2Void, total_variation
from s2v.nets import rotate, shift_down

TINY = dict(filters=8, depth=4)  # same geometry as the presets, cheap enough for full Jacobians


def _model(preset, **overrides):
    model = Speckle2Void(S2VConfig.from_preset(preset, **overrides))
    # Positive head bias: every ReLU of the head is active, so a zero gradient
    # can only come from the geometry, never from a dead unit.
    model.head.bias.assign(tf.fill(model.head.bias.shape, 5.0))
    return model


def _jacobian(model, image, rows):
    """d(alpha, beta)[i, j] / d input[k, l] as (H, W, 2, H, W), BatchNorm in inference mode."""
    x = tf.constant(image[None, ..., None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = model(x, training=False, vertical_shift=rows)[0]
    return tape.jacobian(out, x)[..., 0, :, :, 0].numpy()


def _assert_blind(jac, rows):
    """No output pixel sees itself (nor, for a 2-row shift, its vertical neighbours)."""
    h, w = jac.shape[:2]
    for i in range(h):
        for j in range(w):
            hidden = [i] + ([k for k in (i - 1, i + 1) if 0 <= k < h] if rows == 2 else [])
            for k in hidden:
                assert np.all(jac[i, j, :, k, j] == 0.0), f"({i},{j}) sees ({k},{j})"


@pytest.fixture(params=["paper", "cpu"])
def preset(request):
    return request.param


@pytest.mark.parametrize("rows", [1, 2])
def test_blind_spot_is_exact_for_every_pixel(preset, rows, rng):
    """Shift 1 hides the pixel; shift '3' (2 rows) also hides its vertical neighbours.

    BatchNorm uses its moving statistics here (training=False): in training
    mode batch statistics weakly couple all pixels of a batch, which is not
    the geometry under test.
    """
    model = _model(preset)
    h, w = 9, 11
    jac = _jacobian(model, rng.gamma(1.0, 1.0, (h, w)).astype(np.float32), rows)
    for i in range(h):
        for j in range(w):
            assert np.all(jac[i, j, :, i, j] == 0.0), f"pixel ({i},{j}) sees itself"
            if rows == 2:
                for k in (i - 1, i + 1):
                    if 0 <= k < h:
                        assert np.all(jac[i, j, :, k, j] == 0.0), f"({i},{j}) sees vertical neighbour {k}"
    c = (h // 2, w // 2)
    seen = np.abs(jac[c[0], c[1]]).sum(axis=0)
    for dr, dc in ((0, -1), (0, 1), (-1, -1), (1, 1), (-2, 0), (2, 0)):
        assert seen[c[0] + dr, c[1] + dc] > 0, f"neighbour {(dr, dc)} should be in the receptive field"
    if rows == 1:
        assert seen[c[0] - 1, c[1]] > 0 and seen[c[0] + 1, c[1]] > 0


@pytest.mark.parametrize("rows", [1, 2])
def test_blind_spot_is_exact_with_dilated_convolutions(rows, rng):
    """``dilations``: taps ``d`` rows apart still never reach below the output row.

    Full Jacobian on an odd image large enough that, from the centre, pixels beyond the
    undilated field (radius 2 * depth + 1 = 9) are inside the image; the dilated radius is 17.
    """
    model = _model("cpu", filters=4, depth=4, dilations=(1, 2, 4, 1))
    h, w = 25, 27
    jac = _jacobian(model, rng.gamma(1.0, 1.0, (h, w)).astype(np.float32), rows)
    _assert_blind(jac, rows)
    c = (h // 2, w // 2)
    seen = np.abs(jac[c[0], c[1]]).sum(axis=0)
    assert seen[c[0], c[1] - 1] > 0 and seen[c[0], c[1] + 1] > 0
    # The dilated layers reach farther than an undilated branch of the same depth (radius 9).
    assert seen[c[0] + 10:, :].sum() > 0 and seen[:, :c[1] - 9].sum() > 0


@pytest.mark.parametrize("overrides", [TINY, dict(TINY, dilations=(1, 2, 3, 1))])
def test_receptive_field_extent_by_impulse_response(overrides):
    """A single bright pixel changes outputs exactly up to the stated radius (n2v-style test)."""
    model = _model("cpu", **overrides)
    radius = model.receptive_field_radius  # 2 * sum(dilations) + 1
    assert radius == 2 * sum(overrides.get("dilations", (1,) * overrides["depth"])) + 1
    size = 2 * radius + 11
    base = np.ones((size, size), np.float32)
    impulse = base.copy()
    impulse[size // 2, size // 2] = 50.0
    out = [model(tf.constant(a[None, ..., None]), training=False)[0].numpy() for a in (base, impulse)]
    changed = np.argwhere(np.any(out[0] != out[1], axis=-1)) - size // 2
    assert np.abs(changed).max() == radius
    assert not np.any(np.all(changed == 0, axis=1)), "the impulse must not change its own output"


def test_tiled_prediction_equals_whole_image(rng):
    model = _model("cpu", **TINY)
    image = rng.gamma(1.0, 1.0, (53, 71)).astype(np.float32)
    whole = model.predict_maps(image, tile_size=1024, progress=False)
    tiled = model.predict_maps(image, tile_size=9, progress=False)
    for name in whole:
        np.testing.assert_allclose(tiled[name], whole[name], rtol=1e-5, atol=1e-6 * np.abs(whole[name]).max())


def test_predict_maps_shapes_domain_and_point_targets(rng):
    model = _model("cpu", **TINY, normalization="median", clip=50.0)
    image = rng.gamma(1.0, 1.0, (9, 1)).astype(np.float32) * 3.0
    image[4, 0] = 1e4  # a point target: copied back untouched
    maps = model.predict_maps(image, looks=1.0, progress=False)
    assert set(maps) == {"posterior_mean", "prior_mean", "alpha", "beta", "posterior_std"}
    for value in maps.values():
        assert value.shape == image.shape and value.dtype == np.float32 and np.all(np.isfinite(value))
    assert maps["posterior_mean"][4, 0] == image[4, 0]
    assert np.all(maps["alpha"] >= 1.0) and np.all(maps["beta"] >= 0.0)


def test_point_target_share_caps_the_pixels_copied_back(rng):
    """predict_point_target_share: at most that share of the pixels are copied back untouched
    (a scanner B-mode put 3-10 % above 50 x median); 0 keeps the reference rule."""
    from s2v.batches import normalisation_constants

    image = rng.gamma(1.0, 1.0, (41, 37)).astype(np.float32)
    bright = rng.random(image.shape) < 0.06  # 6 % bright tissue, far above 50 x median
    image[bright] *= 1e3
    image[20, 18] = 1e7  # one true point target, brighter than all
    reference = _model("cpu", **TINY, normalization="median", clip=50.0)
    capped = _model("cpu", **TINY, normalization="median", clip=50.0, predict_point_target_share=0.001)
    for model, most in ((reference, None), (capped, int(0.001 * image.size))):
        _, clip_value, _ = normalisation_constants(image, model.s2v_config, prediction=True)
        flagged = int(np.sum(image > clip_value))
        if most is None:
            assert flagged >= bright.sum() - 5  # nearly all bright pixels pass for point targets
        else:
            assert 1 <= flagged <= most
        estimate = model.predict_maps(image, looks=1.0, progress=False)["posterior_mean"]
        copied = np.sum(estimate == image)
        assert copied >= flagged and estimate[20, 18] == image[20, 18]
    # Training keeps the reference rule whatever the cap (the cap is a prediction setting).
    _, train_clip, _ = normalisation_constants(image, capped.s2v_config)
    assert train_clip == normalisation_constants(image, reference.s2v_config)[1]


def test_local_level_follows_depth_gain_and_ignores_a_point_target(rng):
    """local_level: the local median of single-look speckle (within 15 % away from a +20 dB step,
    whose log mean it follows), moved by under 2 % by a point target 10^4 times the tissue."""
    from s2v.batches import local_level

    level = np.where(np.arange(161)[:, None] < 80, 1.0, 100.0) * np.ones((161, 123))
    image = (level * rng.exponential(1.0, level.shape)).astype(np.float32)
    estimate = local_level(image)
    assert estimate.shape == image.shape and estimate.dtype == np.float32
    median = np.log(2.0) * level  # the median of exponential speckle of mean `level`
    far = (np.abs(np.arange(161) - 80) > 30)[:, None] & np.ones((1, 123), bool)
    np.testing.assert_allclose(estimate[far], median[far], rtol=0.15)
    with_target = image.copy()
    with_target[40, 60] = 1e4 * level[40, 60]
    assert np.max(np.abs(local_level(with_target) / estimate - 1.0)) < 0.02
    np.testing.assert_array_equal(local_level(image), estimate)  # deterministic


def test_local_point_target_rule_keeps_bright_tissue_and_finds_point_targets(rng):
    """predict_point_targets='local': a bright region (+30 dB, a third of the image) is
    despeckled, not copied back, under the local rule (away from its edge, where the 40-px level
    blends both sides) and copied back under the global one;
    a point target within it is copied back under both; tiles and the pixel shuffle give
    the same answer as the whole image."""
    gain = np.where(np.arange(121)[:, None] < 60, 1e3, 1.0) * np.ones((121, 59))
    image = (gain * rng.exponential(1.0, gain.shape)).astype(np.float32)
    image[10, 30] = 1e3 * 5e3  # a point target in the bright region
    overrides = dict(TINY, normalization="median", clip=50.0)
    global_rule = _model("cpu", **overrides)
    local_rule = global_rule.with_prediction_settings(predict_point_targets="local")
    bright = gain > 1
    inner = bright & (np.arange(121)[:, None] < 30)  # 30+ px from the edge of the bright region
    for model, copies_bright in ((global_rule, True), (local_rule, False)):
        maps = model.predict_maps(image, looks=1.0, progress=False)
        assert maps["posterior_mean"][10, 30] == image[10, 30]
        copied = maps["posterior_std"] == 0  # exactly the point targets (the posterior std is > 0 elsewhere)
        assert copied[10, 30] and (copied[inner].mean() > 0.5) == copies_bright
        assert copied[~bright].mean() < 0.01
    whole = local_rule.predict_maps(image, looks=1.0, progress=False)
    tiled = local_rule.predict_maps(image, looks=1.0, tile_size=16, progress=False)
    for name in whole:
        np.testing.assert_allclose(tiled[name], whole[name], rtol=2e-4, atol=1e-6)
    shuffled = local_rule.predict_maps(image, looks=1.0, pixel_shuffle=2, progress=False)
    copied = shuffled["posterior_std"] == 0
    assert shuffled["posterior_mean"][10, 30] == image[10, 30] and copied[10, 30] and copied[inner].mean() < 0.01
    with pytest.raises(ConfigError, match="normalization='median'"):
        S2VConfig.from_preset("paper", predict_point_targets="local")  # the paper's normalisation is fixed
    with pytest.raises(ConfigError, match="set one of them"):
        S2VConfig.from_preset("cpu", normalization="median", predict_point_targets="local",
                              predict_point_target_share=0.01)
    with pytest.raises(ConfigError, match="predict_point_targets"):
        S2VConfig.from_preset("cpu", predict_point_targets="nearby")


def test_with_prediction_settings_keeps_the_weights_and_refuses_training_fields():
    model = _model("cpu", **TINY)
    changed = model.with_prediction_settings(predict_mosaic_notch=0.25, predict_ratio_calibration=True)
    assert changed is not model and model.s2v_config.predict_mosaic_notch == 0.0
    assert changed.s2v_config == model.s2v_config.replace(predict_mosaic_notch=0.25, predict_ratio_calibration=True)
    for a, b in zip(changed.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="filters change what the weights mean"):
        model.with_prediction_settings(filters=4)


def test_median_normalisation_is_scale_equivariant(rng):
    model = _model("cpu", **TINY, normalization="median")
    image = rng.gamma(1.0, 1.0, (21, 17)).astype(np.float32)
    a = model.predict_maps(image, progress=False)["posterior_mean"]
    b = model.predict_maps(image * 1000.0, progress=False)["posterior_mean"]
    np.testing.assert_allclose(b, 1000.0 * a, rtol=1e-4)


@pytest.mark.parametrize("bad, message", [
    (np.ones((3, 4, 5)), "2-D"), (np.array([[1.0, np.nan]]), "NaN"), (-np.ones((4, 4)), "negative"),
    (np.ones((4, 4), np.complex64), "complex"), (np.ones((0, 4)), "empty")])
def test_bad_inputs_give_clear_errors(bad, message):
    model = _model("cpu", **TINY)
    with pytest.raises(ValueError, match=message):
        model.predict_maps(bad, progress=False)


@pytest.mark.parametrize("pixel_shuffle", [1, 2])
def test_predict_returns_the_posterior_mean_of_an_image_and_of_a_stack(pixel_shuffle, rng):
    """``model.predict`` is the estimate, not Keras' raw outputs; odd sizes, stacks frame by frame."""
    model = _model("cpu", **TINY, pixel_shuffle=pixel_shuffle)
    stack = rng.gamma(1.0, 1.0, (3, 37, 45)).astype(np.float32)
    expected = [model.predict_maps(frame, outputs=("posterior_mean",), progress=False)["posterior_mean"]
                for frame in stack]
    image = model.predict(stack[0], progress=False)
    assert image.shape == (37, 45) and image.dtype == np.float32
    np.testing.assert_array_equal(image, expected[0])
    frames = model.predict(stack, progress=False)
    assert frames.shape == stack.shape and frames.dtype == np.float32
    np.testing.assert_array_equal(frames, np.stack(expected))


@pytest.mark.parametrize("bad, message", [
    (np.ones((1, 8, 8, 1)), r"\(H, W\) intensity image or an \(N, H, W\) stack"),
    (np.ones((8, 8, 1)), "channel axis"), (np.ones(5), "got shape"), (np.ones((0, 4, 4)), "no frame"),
    (np.stack([np.ones((4, 4)), -np.ones((4, 4))]), "frame 1 of the stack.*negative")])
def test_predict_refuses_bad_inputs_clearly(bad, message):
    model = _model("cpu", **TINY)
    with pytest.raises(ValueError, match=message):
        model.predict(bad, progress=False)


@pytest.mark.parametrize("overrides", [TINY, dict(TINY, dilations=(1, 2, 4, 1))])
def test_save_load_round_trip_is_identical(overrides, tmp_path, rng):
    import s2v

    model = _model("cpu", **overrides)
    image = rng.gamma(1.0, 1.0, (19, 23)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    loaded = s2v.load_model(tmp_path / "m.keras")
    assert loaded.s2v_config == model.s2v_config
    for name, value in model.predict_maps(image, progress=False).items():
        np.testing.assert_array_equal(loaded.predict_maps(image, progress=False)[name], value)


def test_batched_and_separate_rotations_agree_at_inference(rng):
    model = _model("cpu", **TINY)
    other = Speckle2Void(model.s2v_config, batched_rotations=True)
    other.set_weights(model.get_weights())
    x = tf.constant(rng.gamma(1.0, 1.0, (2, 15, 19, 1)).astype(np.float32))
    np.testing.assert_allclose(other(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-6)


def test_blind_spot_is_exact_on_the_training_path(rng):
    """The path ``fit`` takes: a packed batch whose shift plane selects the shift per image.

    Two images, shifts 2 and 1 rows: the dynamic selection (``ops.where`` over the candidate
    shifts) must hide exactly what the static shift hides, and give the same values.
    """
    model = _model("cpu", **TINY)
    h, w = 7, 8
    noisy = rng.gamma(1.0, 1.0, (2, h, w, 1)).astype(np.float32)
    packed = tf.constant(pack_batch(noisy, np.ones_like(noisy), np.array([2, 1])))
    with tf.GradientTape() as tape:
        tape.watch(packed)
        out = model(packed, training=False)
    jac = tape.jacobian(out, packed)[..., 0].numpy()  # d out / d noisy plane: (2, h, w, 2, 2, h, w)
    for b, rows in enumerate((2, 1)):
        static = model(tf.constant(noisy[b:b + 1]), training=False, vertical_shift=rows)[0]
        # Same values up to float32 rounding: a batch of 2 and a batch of 1 may take different
        # oneDNN kernels (measured: 3 of 112 values off by 1 ulp on an AVX-512 machine).
        np.testing.assert_allclose(out[b], static, rtol=1e-6, atol=1e-6)
        other = 1 - b
        assert np.all(jac[b, :, :, :, other] == 0.0), "images of a batch are independent at inference"
        for i in range(h):
            for j in range(w):
                hidden = [i] + ([k for k in (i - 1, i + 1) if 0 <= k < h] if rows == 2 else [])
                for k in hidden:
                    assert np.all(jac[b, i, j, :, b, k, j] == 0.0), f"image {b}: ({i},{j}) sees ({k},{j})"
        assert np.abs(jac[b, 3, 4, :, b, 3, 3]).sum() > 0, "the left neighbour is in the field"


def test_training_shift_is_keyed_by_seed_and_step():
    """Same (seed, step), same shift; frequencies follow ``prob`` (Monte Carlo, 4000 steps)."""
    config = S2VConfig.from_preset("cpu")
    draws = np.array([draw_shift_rows(config, step) for step in range(4000)])
    assert [draw_shift_rows(config, step) for step in range(50)] == draws[:50].tolist()
    assert set(draws.tolist()) == {1, 2}
    # P(2 rows) = 0.9: binomial standard deviation sqrt(0.09 / 4000) = 0.005, 4 sigma
    assert abs(np.mean(draws == 2) - 0.9) < 0.02
    other = config.replace(seed=1)
    assert [draw_shift_rows(other, step) for step in range(50)] != draws[:50].tolist()


@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (1, 6, 6, 1)])
def test_rotate_matches_tf_image_rot90_and_numpy(shape, rng):
    """Counter-clockwise, on axes (H, W), non-square included (``keras.ops.rot90`` k=2 is not)."""
    x = rng.normal(size=shape).astype(np.float32)
    for k in range(-1, 6):
        ours = np.asarray(rotate(x, k))
        np.testing.assert_array_equal(ours, tf.image.rot90(x, k % 4).numpy())
        np.testing.assert_array_equal(ours, np.rot90(x, k, axes=(1, 2)))


def test_dynamic_shift_equals_static_shift(rng):
    x = rng.normal(size=(3, 6, 4, 2)).astype(np.float32)
    for rows in (1, 2, 3):
        static = np.asarray(shift_down(x, rows, 3))
        np.testing.assert_array_equal(static[:, rows:], x[:, :-rows])
        assert np.all(static[:, :rows] == 0)
        np.testing.assert_array_equal(np.asarray(shift_down(x, tf.constant(rows), 3)), static)
    per_image = np.asarray(shift_down(x, tf.constant([3, 1, 2]), 3))
    for b, rows in enumerate((3, 1, 2)):
        np.testing.assert_array_equal(per_image[b], np.asarray(shift_down(x, rows, 3))[b])


def test_the_numpy_helpers_are_still_importable_from_the_model_module():
    import s2v.batches
    import s2v.model

    for name in ("normalise_intensity", "TRAINING_PLANES", "pack_batch", "draw_shift_rows", "to_mosaic"):
        assert getattr(s2v.model, name) is getattr(s2v.batches, name)


def test_total_variation_is_tf_image_total_variation(rng):
    x = rng.gamma(1.0, 1.0, (3, 9, 7, 2)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(total_variation(x)), tf.image.total_variation(tf.constant(x)).numpy())


@pytest.mark.parametrize("shape, stride", [((9, 7), 2), ((10, 13), 4), ((5, 5), 5)])
def test_pixel_shuffle_mosaic_holds_every_pixel_once(shape, stride):
    """No pixel is duplicated (a copy in the receptive field would defeat the blind spot)."""
    image = np.arange(1, shape[0] * shape[1] + 1, dtype=np.float32).reshape(shape)
    mosaic, inside = to_mosaic(image, stride)
    assert sorted(mosaic[inside].tolist()) == sorted(image.ravel().tolist())
    assert np.all(mosaic[~inside] == 0)


def _image_jacobian(model, image, stride, mosaic_fn, rows=1):
    """d output[p] / d image[q] over the image grid, as (H W, 2, H W), through the mosaic.

    ``mosaic_fn`` makes the mosaic as :meth:`Speckle2Void.predict_maps` does (``to_mosaic``);
    the maps come back with ``s2v.transforms.pixel_shuffle``. Which image pixel each mosaic
    position holds is read by passing an image of pixel numbers through the same function, so
    that a pixel held twice (a reflected copy) adds both derivatives.
    """
    from s2v.transforms import pixel_shuffle

    h, w = image.shape
    mosaic, _ = mosaic_fn(image, stride)
    numbers, _ = mosaic_fn(np.arange(1, h * w + 1, dtype=np.float64).reshape(h, w), stride)
    hm, wm = mosaic.shape
    jac = _jacobian(model, mosaic, rows).reshape(hm * wm, 2, hm * wm)
    source = numbers.ravel().astype(int) - 1  # image pixel of each mosaic position, -1 on padding
    held = np.zeros((hm * wm, h * w))
    held[np.flatnonzero(source >= 0), source[source >= 0]] = 1.0
    position = pixel_shuffle(np.arange(hm * wm).reshape(hm, wm), stride, shape=(h, w)).ravel()
    return jac[position] @ held


@pytest.mark.parametrize("stride, shape", [(2, (7, 9)), (3, (8, 10))])
@pytest.mark.parametrize("rows", [1, 2])
def test_blind_spot_is_exact_through_the_pixel_shuffle(stride, shape, rows, rng):
    """``pixel_shuffle > 1``: image -> ``to_mosaic`` -> network -> shuffled back, exact Jacobian.

    Odd sides, so that the zero padding is there; no output pixel may depend on its own input
    pixel. With a reflected padding the copy of a border pixel lands in the next tile, inside
    the receptive field, and this fails (tried, rows 1: 15 of the 63 pixels see themselves at
    stride 2, 24 of 80 at stride 3).
    """
    model = _model("cpu", filters=4, depth=3, pixel_shuffle=stride)
    image = rng.gamma(1.0, 1.0, shape).astype(np.float32)
    jac = _image_jacobian(model, image, stride, to_mosaic, rows)
    pixels = np.arange(image.size)
    assert np.all(jac[pixels, :, pixels] == 0.0), "an output pixel depends on its own input pixel"
    seen = np.abs(jac).sum(axis=1)
    assert np.all(seen.sum(axis=1) > 0), "every output sees other pixels"
    h, w = shape
    i, j = h // 2, w // 2  # its mosaic neighbours are the image pixels `stride` away
    assert seen[i * w + j, i * w + j - stride] > 0 and seen[i * w + j, i * w + j + stride] > 0


def test_many_models_predicting_log_no_retracing_warning_but_other_warnings_pass(caplog):
    """Each model compiles one shape-free prediction function; TensorFlow's detector would call
    six such first traces "excessive retracing". Only that warning, for that function, is dropped."""
    import logging

    import tensorflow as tf

    from s2v.model import _OurRetracingWarnings

    image = np.random.default_rng(3).gamma(1.0, 1.0, (23, 19)).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for seed in range(7):
            model = Speckle2Void(S2VConfig.from_preset("cpu", filters=4, depth=2, seed=seed))
            model.predict(image, progress=False)
            model.predict(image[:17, :13], progress=False)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
    ours = logging.LogRecord("tensorflow", logging.WARNING, "", 0, "5 out of the last 9 calls to <function "
                             "Speckle2Void._make_predict_fn.<locals>.infer> triggered tf.function retracing", (), None)
    other = logging.LogRecord("tensorflow", logging.WARNING, "", 0, "5 out of the last 9 calls to <function "
                              "user_function> triggered tf.function retracing", (), None)
    assert not _OurRetracingWarnings().filter(ours) and _OurRetracingWarnings().filter(other)
    assert any(isinstance(f, _OurRetracingWarnings) for f in tf.get_logger().filters)


# --------------------------------------------------------------------------- log network input


@pytest.mark.parametrize("rows", [1, 2])
def test_blind_spot_is_exact_with_the_log_input(rows, rng):
    """``network_input="log"``: the log and exp are pointwise, so the geometry is unchanged."""
    model = _model("cpu", filters=8, depth=4, network_input="log")
    h, w = 9, 11
    jac = _jacobian(model, rng.gamma(1.0, 1.0, (h, w)).astype(np.float32), rows)
    _assert_blind(jac, rows)
    seen = np.abs(jac[h // 2, w // 2]).sum(axis=0)
    assert seen[h // 2, w // 2 - 1] > 0 and seen[h // 2 + 2, w // 2] > 0


def test_blind_spot_is_exact_with_the_log_input_through_the_pixel_shuffle(rng):
    model = _model("cpu", filters=4, depth=3, pixel_shuffle=2, network_input="log")
    image = rng.gamma(1.0, 1.0, (7, 9)).astype(np.float32)
    jac = _image_jacobian(model, image, 2, to_mosaic, 1)
    pixels = np.arange(image.size)
    assert np.all(jac[pixels, :, pixels] == 0.0)


def test_log_input_resolves_intensities_far_below_the_median(rng):
    """beta = exp(.) is positive for any input, and the network sees log-intensity: an image whose
    values span 12 decades gives finite, positive maps (the linear head's ReLU can give beta = 0)."""
    model = Speckle2Void(S2VConfig.from_preset("cpu", filters=4, depth=3, network_input="log"))
    image = (10.0 ** rng.uniform(-8, 4, (33, 31))).astype(np.float32)
    alpha_beta = model(tf.constant(image[None, ..., None]), training=False)[0].numpy()
    assert np.all(np.isfinite(alpha_beta)) and np.all(alpha_beta[..., 1] > 0) and np.all(alpha_beta[..., 0] >= 1)
    estimate = model.predict(image, progress=False)
    assert np.all(np.isfinite(estimate)) and np.all(estimate > 0)


# --------------------------------------------------------------------------- prediction stride


def test_prediction_stride_and_offsets(rng):
    """``pixel_shuffle=`` predicts as a model configured with that stride; ``offsets=True`` is
    exactly the mean of the predictions on the s*s grids moved by mirrored rows and columns."""
    from s2v.transforms import pixel_shuffle as shuffle_back

    model = _model("cpu", **TINY, pixel_shuffle=3)
    image = rng.gamma(1.0, 1.0, (29, 23)).astype(np.float32)
    at_two = Speckle2Void(model.s2v_config.replace(pixel_shuffle=2))
    at_two.set_weights(model.get_weights())
    own = at_two.predict_maps(image, outputs=("posterior_mean",), progress=False)["posterior_mean"]
    override = model.predict_maps(image, outputs=("posterior_mean",), progress=False,
                                  pixel_shuffle=2)["posterior_mean"]
    np.testing.assert_array_equal(own, override)

    averaged = model.predict_maps(image, outputs=("posterior_mean",), progress=False, pixel_shuffle=2,
                                  offsets=True)["posterior_mean"]
    manual = np.zeros(image.shape)
    for dy in range(2):
        for dx in range(2):
            moved = np.pad(image, ((dy, 0), (dx, 0)), mode="symmetric")
            maps = model._maps(to_mosaic(moved, 2)[0], 1.0, None, ("posterior_mean",), False)
            manual += shuffle_back(maps["posterior_mean"], 2, shape=moved.shape)[dy:, dx:] / 4
    np.testing.assert_allclose(averaged, manual, rtol=1e-5)
    assert not np.allclose(averaged, override, rtol=1e-3)  # the offsets do change the estimate

    plain = model.predict_maps(image, outputs=("posterior_mean",), progress=False, pixel_shuffle=1)
    with_offsets = model.predict_maps(image, outputs=("posterior_mean",), progress=False, pixel_shuffle=1,
                                      offsets=True)
    np.testing.assert_array_equal(plain["posterior_mean"], with_offsets["posterior_mean"])
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="pixel_shuffle must be an integer >= 1"):
            model.predict_maps(image, pixel_shuffle=bad, progress=False)


def test_configured_prediction_stride_rules(rng):
    """The default stride follows the configuration: trained, fixed for prediction, or measured."""
    from s2v.strides import stride_from_correlation

    white = rng.gamma(1.0, 1.0, (64, 64)).astype(np.float32)
    correlated = ndimage_smooth(rng, (96, 90))
    trained = Speckle2Void(S2VConfig.from_preset("cpu", **TINY, pixel_shuffle=4))
    assert trained.prediction_stride(white) == 4
    fixed = Speckle2Void(trained.s2v_config.replace(predict_pixel_shuffle=2))
    assert fixed.prediction_stride(white) == 2
    measured = Speckle2Void(trained.s2v_config.replace(stride_from_correlation=True))
    assert measured.prediction_stride(white) == 1
    assert measured.prediction_stride(correlated) == stride_from_correlation(correlated) > 1


def ndimage_smooth(rng, shape):
    """Correlated speckle: |h * s|^2 for circular Gaussian scatterers s and a Gaussian h."""
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.normal(size=shape), 2.0) + 1j * gaussian_filter(rng.normal(size=shape), 2.0)
    return (np.abs(field) ** 2).astype(np.float32)


def test_ratio_calibration_makes_the_ratio_image_mean_one(rng):
    """predict_ratio_calibration: one gain on the intensity maps, mean(y / estimate) = 1 over the
    pixels that are not point targets; alpha is untouched; off by default."""
    import keras

    keras.utils.set_random_seed(3)  # the initial weights (so the bias below) not left to test order
    model = Speckle2Void(S2VConfig.from_preset("cpu", **TINY))
    image = rng.gamma(1.0, 1.0, (45, 39)).astype(np.float32) * np.linspace(1, 4, 39, dtype=np.float32)
    image[5, 5] = 1e4  # a point target, outside the mean
    plain = model.predict_maps(image, outputs=("posterior_mean", "prior_mean", "alpha"), progress=False)
    calibrated = model.predict_maps(image, outputs=("prior_mean", "alpha"), progress=False,
                                    ratio_calibration=True)
    assert set(calibrated) == {"prior_mean", "alpha"}
    usable = np.ones(image.shape, bool)
    usable[5, 5] = False
    gain = float(np.mean(image[usable] / plain["posterior_mean"][usable]))
    assert abs(gain - 1.0) > 0.01, gain  # an untrained network is biased: the test can fail
    np.testing.assert_allclose(calibrated["prior_mean"], plain["prior_mean"] * gain, rtol=1e-5)
    np.testing.assert_array_equal(calibrated["alpha"], plain["alpha"])
    estimate = model.predict_maps(image, outputs=("posterior_mean",), progress=False,
                                  ratio_calibration=True)["posterior_mean"]
    assert np.mean(image[usable] / estimate[usable]) == pytest.approx(1.0, abs=1e-5)
    configured = Speckle2Void(model.s2v_config.replace(predict_ratio_calibration=True))
    configured.set_weights(model.get_weights())
    np.testing.assert_allclose(configured.predict(image, progress=False), estimate, rtol=1e-6)


# --------------------------------------------------------------------------- flip self-ensemble


@pytest.mark.parametrize("stride", [1, 2])
def test_flip_ensemble_is_the_mean_of_the_unflipped_views_and_keeps_the_blind_spot(stride, rng):
    """``flips=4``: exactly the mean of the four mirrored predictions, mirrored back; a pixel's
    prior mean never depends on its own value (fixed normalisation, so no median moves)."""
    model = _model("cpu", **TINY, pixel_shuffle=stride, normalization="fixed", norm=1.0, clip=1e9)
    image = rng.gamma(1.0, 1.0, (27, 21)).astype(np.float32)
    four = model.predict_maps(image, outputs=("posterior_mean", "prior_mean"), progress=False, flips=4)
    manual = np.zeros(image.shape)
    for flip_rows in (1, -1):
        for flip_cols in (1, -1):
            view = model.predict_maps(image[::flip_rows, ::flip_cols], outputs=("posterior_mean",),
                                      progress=False)["posterior_mean"]
            manual += view[::flip_rows, ::flip_cols] / 4
    np.testing.assert_allclose(four["posterior_mean"], manual, rtol=1e-5)
    plain = model.predict_maps(image, outputs=("posterior_mean",), progress=False)["posterior_mean"]
    assert not np.allclose(four["posterior_mean"], plain, rtol=1e-3)  # the views do differ
    for i, j in [(0, 0), (13, 10), (26, 20), (5, 17)]:
        changed = image.copy()
        changed[i, j] *= 25.0
        prior = model.predict_maps(changed, outputs=("prior_mean",), progress=False, flips=4)["prior_mean"]
        assert prior[i, j] == four["prior_mean"][i, j], f"pixel {(i, j)} sees itself"
        assert not np.array_equal(prior, four["prior_mean"])  # its neighbours do see it
    configured = Speckle2Void(model.s2v_config.replace(predict_flips=2))
    configured.set_weights(model.get_weights())
    two = model.predict_maps(image, outputs=("posterior_mean",), progress=False, flips=2)["posterior_mean"]
    np.testing.assert_array_equal(configured.predict(image, progress=False), two)
    for bad in (3, 0, True):
        with pytest.raises(ValueError, match="flips must be 1, 2 or 4"):
            model.predict_maps(image, flips=bad, progress=False)
    with pytest.raises(ValueError, match="predict_flips"):
        S2VConfig.from_preset("cpu", predict_flips=3)
