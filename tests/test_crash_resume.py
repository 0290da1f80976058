"""Crash safety: a training process and a folder despeckling process killed with SIGKILL resume exactly.

SIGKILL cannot be caught: nothing is flushed or saved on the way out, so what survives is
only what was written atomically (temporary file + rename) before the kill.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np

from s2v.cli import main
from s2v.config import S2VConfig
from s2v.model import Speckle2Void
from s2v.simulate import gamma_speckle
from s2v.training import latest_checkpoint, train

CONFIG = dict(filters=8, depth=3, batch_size=4, patch_size=16, steps_per_epoch=10,
              checkpoint_every=4, total_steps=16)

# Training in a child process; each step is slowed down (a real run takes seconds per step)
# so that the parent can kill it between two checkpoints.
_CHILD = textwrap.dedent("""
    import sys, time
    import keras
    import numpy as np
    from s2v.config import S2VConfig
    from s2v.simulate import gamma_speckle
    from s2v.training import train

    class Slow(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.2)

    config = S2VConfig.from_preset("cpu", **{config!r})
    train([np.load(sys.argv[1])], config, out_dir=sys.argv[2], verbose=0, tensorboard=False,
          callbacks=[Slow()])
""")


def _scene():
    clean = np.full((61, 67), 1.0, np.float32)
    clean[:, 33:] = 4.0
    clean[15:35, 10:30] = 9.0
    return gamma_speckle(clean, 1.0, seed=3)


def _wait_for(predicate, process, timeout=180.0):
    start = time.monotonic()
    while not predicate():
        assert process.poll() is None, f"child ended early: {process.stderr.read()[-2000:]}"
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.02)


class _StartSteps(keras.callbacks.Callback):
    """Step counter at the start of each ``fit`` call (train() resumes with a partial epoch)."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_begin(self, logs=None):
        self.steps.append(int(self.model.optimizer.iterations.numpy()))


def test_training_killed_after_a_checkpoint_resumes_exactly(tmp_path):
    noisy = _scene()
    np.save(tmp_path / "noisy.npy", noisy)
    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-c", _CHILD.format(config=CONFIG), str(tmp_path / "noisy.npy"),
                              str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # Kill at once after the second checkpoint: mid-epoch (10 steps an epoch), optimizer moments non-zero.
        pointer = out / "checkpoints" / "latest.txt"
        _wait_for(lambda: pointer.is_file() and "ckpt-00000008" in pointer.read_text(), child)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not (out / "model.keras").exists(), "killed before the end"
    killed_at = latest_checkpoint(out / "checkpoints")
    saved_step = int(killed_at.stem.split("-")[1])
    assert 8 <= saved_step < CONFIG["total_steps"]
    keras.saving.load_model(killed_at, safe_mode=True)  # every visible checkpoint is complete

    config = S2VConfig.from_preset("cpu", **CONFIG)
    starts = _StartSteps()
    resumed = train([noisy], config, out_dir=out, verbose=0, tensorboard=False, callbacks=[starts])
    straight = train([noisy], config, out_dir=tmp_path / "straight", verbose=0, tensorboard=False)

    assert starts.steps == [saved_step, 10], "continues from the checkpoint: the rest of epoch 1, then epoch 2"
    assert int(resumed.optimizer.iterations.numpy()) == int(straight.optimizer.iterations.numpy()) == 16
    # Bit-exact final weights AND Adam moments of the uninterrupted run: the optimizer state and
    # the data order (patches and shifts keyed by the step) continued where the killed run stopped.
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(straight.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_checkpoint_temp_files_are_never_resumed_from(tmp_path):
    """A save killed half-way leaves only a hidden temporary file, which resume ignores."""
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / ".ckpt-00000012.tmp-999.keras").write_bytes(b"PK\x03\x04 half a zip")
    assert latest_checkpoint(checkpoints) is None


def test_folder_denoise_killed_midway_resumes_without_partial_outputs(tmp_path, rng, capsys):
    model_path = tmp_path / "tiny.keras"
    Speckle2Void(S2VConfig.from_preset("cpu", filters=8, depth=3)).save(model_path)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(10):
        np.save(inputs / f"img{k}.npy", rng.gamma(1.0, 1.0, (301, 297)).astype(np.float32))
    out = tmp_path / "out"
    command = ["denoise", str(inputs), "--out", str(out), "--model", str(model_path), "--domain", "intensity"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen([sys.executable, "-m", "s2v.cli", *command], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: out.is_dir() and any(out.glob("*_despeckled.npy")), child)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    done_before = sorted(p.name for p in out.glob("*_despeckled.npy"))
    assert 1 <= len(done_before) < 10, "killed in the middle of the folder"

    assert main(command) == 0
    report = capsys.readouterr().out
    assert f"{10 - len(done_before)} despeckled, {len(done_before)} already done" in report
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert visible == sorted(f"img{k}_despeckled.npy" for k in range(10))
    # Every output, those written before the kill included, is complete and correct.
    model = keras.saving.load_model(model_path, safe_mode=True)
    for k in range(10):
        expected = model.predict_maps(np.load(inputs / f"img{k}.npy"), outputs=("posterior_mean",),
                                      progress=False)["posterior_mean"]
        np.testing.assert_allclose(np.load(out / f"img{k}_despeckled.npy"), expected, rtol=1e-6)
