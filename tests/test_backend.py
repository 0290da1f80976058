"""Keras backends: the model trains and predicts under JAX as under TensorFlow; ``.keras`` files cross.

TensorFlow is the default and tested backend (every other test file). Here, when ``jax`` is
installed (optional: ``pip install "jax[cpu]"``), a fresh process with ``KERAS_BACKEND=jax``
(the backend is fixed at the first ``import keras``) runs the exact blind-spot check, a few
training steps through ``fit`` (the path ``s2v.train`` takes: ``PatchSampler`` batches, the
blind-spot shift drawn per step, ``Speckle2Void.compute_loss``), saves the model, and loads and
runs a model written by TensorFlow; this process compares the predictions with TensorFlow's.

Tolerance of the cross-backend comparisons: the same float32 computation in another order
(XLA's convolutions against oneDNN's). Measured on these maps: posterior mean 3e-7 relative,
alpha and beta 1.2e-7 and 3e-8 absolute (6e-5 relative on the smallest betas), the prior mean
and posterior std as much relative, amplified where alpha is near 1; the TensorFlow-written
model's posterior mean came out bit-identical under JAX. Compared to 1e-5 relative plus 1e-5
of the map's largest value (13x the largest difference measured, on beta).
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="jax is not installed (optional: pip install 'jax[cpu]')")

CONFIG = dict(filters=8, depth=3, patch_size=16, batch_size=4, steps_per_epoch=4, total_steps=4)

_JAX = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np
    from s2v.config import S2VConfig
    from s2v.model import Speckle2Void, pack_batch
    from s2v.patches import PatchSampler, make_dataset
    from s2v.simulate import gamma_speckle

    folder = Path(sys.argv[1])
    report = {"backend": keras.backend.backend()}
    image = np.load(folder / "image.npy")

    # 1. A model written by TensorFlow, predicted here.
    written_by_tf = keras.saving.load_model(folder / "tf.keras")
    np.save(folder / "tf_model_on_jax.npy", written_by_tf.predict_maps(image, progress=False)["posterior_mean"])

    # 2. The exact blind-spot check, by the Jacobian, on the path fit takes: a packed batch of
    #    two images whose shift planes say 2 and 1 rows (selected inside the traced function).
    config = S2VConfig.from_preset("cpu", **__CONFIG__)
    keras.utils.set_random_seed(0)
    model = Speckle2Void(config)
    model.head.bias.assign(np.full(2, 5.0, np.float32))  # no dead ReLU: zeros come from geometry
    h, w = 7, 8
    noisy = np.random.default_rng(1).gamma(1.0, 1.0, (2, h, w, 1)).astype(np.float32)
    mask, shifts = np.ones_like(noisy), np.array([2, 1])
    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]

    def network(x):
        batch = jnp.concatenate([x, jnp.asarray(pack_batch(noisy, mask, shifts)[..., 1:])], axis=-1)
        return model.stateless_call(trainable, frozen, batch, training=False)[0]

    jac = np.asarray(jax.jit(jax.jacrev(network))(jnp.asarray(noisy)))[..., 0]  # (2,h,w,2,2,h,w)
    leaks, seen = [], []
    for b, rows in enumerate(shifts):
        for i in range(h):
            for j in range(w):
                hidden = [i] + ([k for k in (i - 1, i + 1) if 0 <= k < h] if rows == 2 else [])
                leaks += [float(np.abs(jac[b, i, j, :, b, k, j]).max()) for k in hidden]
        seen.append(float(np.abs(jac[b, 3, 4, :, b, 3, 3]).sum()))
    report.update(max_leak=max(leaks), left_neighbour=seen,
                  across_images=float(np.abs(jac[0, ..., 1, :, :]).max()))

    # 3. A few training steps through fit, as s2v.train runs them.
    keras.utils.set_random_seed(0)
    model = Speckle2Void(config)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    start = model.get_weights()
    clean = np.full((61, 67), 1.0, np.float32)
    clean[:, 33:] = 4.0
    sampler = PatchSampler([gamma_speckle(clean, 1.0, seed=1)], config)
    history = model.fit(make_dataset(sampler, 0, 4), epochs=1, steps_per_epoch=4, verbose=0, shuffle=False)
    report["logs"] = {k: [float(v) for v in values] for k, values in history.history.items()}
    report["weight_change"] = max(float(np.abs(a - b).max()) for a, b in zip(start, model.get_weights()))
    report["steps"] = int(model.optimizer.iterations.numpy())
    model.save(folder / "jax.keras")
    maps = model.predict_maps(image, progress=False)
    np.savez(folder / "jax_maps.npz", **maps)
    np.save(folder / "jax_call.npy", np.asarray(model(image[None, :, :, None], training=False)))
    print(json.dumps(report))
""").replace("__CONFIG__", repr(CONFIG))


def _close(actual, expected):
    expected = np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    """Write a TensorFlow model, run the JAX process once; (folder, report, TF model)."""
    import keras

    from s2v.config import S2VConfig
    from s2v.model import Speckle2Void

    assert keras.backend.backend() == "tensorflow", "the test process is the TensorFlow side"
    folder = tmp_path_factory.mktemp("backends")
    image = np.random.default_rng(7).gamma(1.0, 1.0, (23, 29)).astype(np.float32)
    np.save(folder / "image.npy", image)
    keras.utils.set_random_seed(3)
    written_by_tf = Speckle2Void(S2VConfig.from_preset("cpu", **CONFIG))
    written_by_tf.save(folder / "tf.keras")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "OMP_NUM_THREADS": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", _JAX, str(folder)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax"
    return folder, report, image, written_by_tf


def test_blind_spot_is_exact_under_jax(jax_run):
    _, report, _, _ = jax_run
    assert report["max_leak"] == 0.0, "an output pixel sees itself (or, at shift 2, a vertical neighbour)"
    assert all(g > 0 for g in report["left_neighbour"]), "the left neighbour is in the receptive field"
    assert report["across_images"] == 0.0


def test_training_under_jax_moves_the_weights(jax_run):
    _, report, _, _ = jax_run
    assert report["steps"] == 4
    assert set(report["logs"]) >= {"loss", "nll", "tv"}
    assert all(np.isfinite(v) for values in report["logs"].values() for v in values)
    assert report["weight_change"] > 0


def test_model_trained_under_jax_loads_under_tensorflow(jax_run):
    import s2v

    folder, _, image, _ = jax_run
    loaded = s2v.load_model(folder / "jax.keras", compile=True)
    assert int(loaded.optimizer.iterations.numpy()) == 4, "the optimizer state crossed over too"
    expected = np.load(folder / "jax_maps.npz")
    for name, value in loaded.predict_maps(image, progress=False).items():
        _close(value, expected[name])
    _close(np.asarray(loaded(image[None, :, :, None], training=False)), np.load(folder / "jax_call.npy"))


def test_model_written_by_tensorflow_predicts_the_same_under_jax(jax_run):
    folder, _, image, written_by_tf = jax_run
    ours = written_by_tf.predict_maps(image, progress=False)["posterior_mean"]
    _close(np.load(folder / "tf_model_on_jax.npy"), ours)


_WITHOUT_TENSORFLOW = textwrap.dedent("""
    import json, sys
    sys.modules["tensorflow"] = None  # as on a GPU machine that has JAX and no TensorFlow
    from pathlib import Path
    import numpy as np
    import s2v
    from s2v.simulate import gamma_speckle

    folder = Path(sys.argv[1])
    config = s2v.S2VConfig.from_preset("cpu", **__CONFIG__).replace(total_steps=6, checkpoint_every=2,
                                                                     steps_per_epoch=2)
    clean = np.full((61, 67), 1.0, np.float32)
    clean[:, 33:] = 4.0
    images = [gamma_speckle(clean, 1.0, seed=1)]
    # Straight to step 6, and 4 steps then a resume to 6: s2v.train's exact resume, TensorFlow-free.
    straight = s2v.train(images, config, out_dir=folder / "straight", verbose=0, tensorboard=False)
    s2v.train(images, config, out_dir=folder / "resumed", total_steps=4, verbose=0, tensorboard=False)
    resumed = s2v.train(images, config, out_dir=folder / "resumed", verbose=0, tensorboard=False)
    report = {"tensorflow_loaded": sys.modules.get("tensorflow") is not None,
              "steps": [int(m.optimizer.iterations.numpy()) for m in (straight, resumed)],
              "max_difference": max(float(np.abs(a - b).max())
                                    for a, b in zip(straight.get_weights(), resumed.get_weights()))}
    print(json.dumps(report))
""").replace("__CONFIG__", repr(CONFIG))


def test_training_and_exact_resume_without_tensorflow(tmp_path):
    """``s2v.train`` under JAX on a machine without TensorFlow (the GPU machines): the batches go
    through a plain generator instead of ``tf.data``, and a resumed run ends where a straight one does."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _WITHOUT_TENSORFLOW, str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not report["tensorflow_loaded"]
    assert report["steps"] == [6, 6]
    assert report["max_difference"] < 1e-5, "the resumed run left the straight one's path"
