"""Training Speckle2Void with ``keras.Model.fit``: checkpoints, exact resume, TensorBoard.

Layout of a training folder::

    out_dir/
      config.json              the S2VConfig (validated, JSON)
      checkpoints/ckpt-00005000.keras   model + optimizer state, written atomically
      checkpoints/latest.txt   name of the newest complete checkpoint
      logs/                    TensorBoard (loss, nll, tv, validation ENL and images)
      model.keras              the final model

A run resumes from the newest checkpoint (or a given one): the step counter
(``optimizer.iterations``), the optimizer's moments and the data order (patches
are drawn by a generator keyed by ``(seed, step)``) all continue, so a run
killed at any moment and resumed follows the same trajectory.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .config import S2VConfig
from .model import Speckle2Void
from .patches import PatchSampler, make_dataset
from .utils import atomic_write_text

__all__ = ["train", "latest_checkpoint", "CheckpointEvery", "ValidationMonitor"]

_KEEP_CHECKPOINTS = 3


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """Newest complete checkpoint of a folder, or None."""
    checkpoint_dir = Path(checkpoint_dir)
    pointer = checkpoint_dir / "latest.txt"
    if pointer.is_file():
        candidate = checkpoint_dir / pointer.read_text().strip()
        if candidate.is_file():
            return candidate
    found = sorted(checkpoint_dir.glob("ckpt-*.keras"))
    return found[-1] if found else None


def save_model_atomic(model: keras.Model, path: Path) -> Path:
    """``model.save`` to a temporary name in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class CheckpointEvery(keras.callbacks.Callback):
    """Save model + optimizer every ``every`` steps (and at the end), atomically.

    Keeps the newest few checkpoints and points ``latest.txt`` at the newest.
    """

    def __init__(self, checkpoint_dir: Path, every: int, last_step: int):
        super().__init__()
        self.checkpoint_dir = Path(checkpoint_dir)
        self.every, self.last_step = int(every), int(last_step)

    def save_now(self) -> Path:
        step = int(self.model.optimizer.iterations.numpy())
        path = save_model_atomic(self.model, self.checkpoint_dir / f"ckpt-{step:08d}.keras")
        atomic_write_text(self.checkpoint_dir / "latest.txt", path.name + "\n")
        for old in sorted(self.checkpoint_dir.glob("ckpt-*.keras"))[:-_KEEP_CHECKPOINTS]:
            old.unlink(missing_ok=True)
        return path

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0 or step == self.last_step:
            self.save_now()


class ValidationMonitor(keras.callbacks.Callback):
    """At each epoch end, despeckle a validation crop and log ENL and images to TensorBoard.

    ENL (:func:`s2v.metrics.enl`) is measured on the estimate in the
    homogeneous windows that :func:`s2v.compare.propose_regions` finds in the
    noisy crop (the whole crop when none fits): it should rise during training
    while the loss falls.
    """

    def __init__(self, intensity: np.ndarray, log_dir: Path):
        super().__init__()
        from .compare import propose_regions, region_mask

        self.intensity = np.asarray(intensity, np.float32)
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "validation"))
        windows = propose_regions(self.intensity)["homogeneous"]
        self.regions = [region_mask(w, self.intensity.shape) for w in windows] or \
            [np.ones(self.intensity.shape, bool)]

    def on_epoch_end(self, epoch, logs=None):
        from .metrics import enl

        estimate = self.model.predict_maps(self.intensity, progress=False,
                                           outputs=("posterior_mean",))["posterior_mean"]
        values = [enl(estimate[region]) for region in self.regions if estimate[region].mean() > 0]
        finite = [v for v in values if np.isfinite(v)]
        value = float(np.mean(finite)) if finite else 0.0
        step = int(self.model.optimizer.iterations.numpy())
        scale = np.percentile(self.intensity, 99) or 1.0
        with self.writer.as_default():
            tf.summary.scalar("enl", value, step=step)
            for name, image in (("noisy", self.intensity), ("estimate", estimate)):
                tf.summary.image(name, np.clip(image / scale, 0, 1)[None, ..., None] ** 0.5, step=step)
        if logs is not None:
            logs["val_enl"] = value


def _as_config(config) -> S2VConfig:
    if config is None:
        return S2VConfig.from_preset("cpu")
    if isinstance(config, str):
        return S2VConfig.from_preset(config)
    if isinstance(config, dict):
        return S2VConfig.from_dict(config)
    return config


def _load_intensities(images) -> list[np.ndarray]:
    """Arrays pass through; paths are read with s2v.io and prepared as at prediction.

    Complex IQ/SLC files are decorrelated, as :func:`s2v.despeckle` does with
    ``domain="complex"`` (see :func:`s2v.pipeline.prepare_intensity`).
    """
    out = []
    for item in images:
        if isinstance(item, (str, Path)):
            from .io import read_image
            from .pipeline import prepare_intensity

            array, meta = read_image(item)
            domain = meta["domain"] if meta["domain"] != "unknown" else "intensity"
            out.append(prepare_intensity(array, domain))
        else:
            out.append(np.asarray(item))
    return out


def train(images, config=None, *, out_dir, targets=None, resume=True, total_steps=None,
          validation=None, tensorboard=True, verbose=1, strategy=None,
          batched_rotations=False, callbacks=()) -> Speckle2Void:
    """Train a Speckle2Void model (self-supervised, or supervised with ``targets``).

    Parameters
    ----------
    images : sequence of (H, W) arrays or paths
        Noisy **intensity** images (paths are read with :func:`s2v.io.read_image`
        and converted with :func:`s2v.domains.to_intensity`).
    config : S2VConfig, dict or preset name, optional
        Default ``"cpu"``.
    out_dir : path
        Training folder (config, checkpoints, logs, final model).
    targets : sequence of (H, W) arrays, optional
        Clean intensities: trains the same network supervised (MSE of the
        posterior mean), for the self-supervised vs supervised comparison.
    resume : bool or path
        True: continue from the newest checkpoint in ``out_dir`` if any;
        a path: continue from that checkpoint; False: start afresh.
    total_steps : int, optional
        Stop at this step (default ``config.total_steps``).
    validation : (H, W) array, optional
        Intensity crop whose despeckled ENL and images go to TensorBoard each
        epoch (default: a central crop of the first image).
    tensorboard : bool
        Write TensorBoard logs to ``out_dir/logs``.
    verbose : int
        Keras progress bar (1) or none (0).
    strategy : tf.distribute.Strategy, optional
        Build and train under this strategy (see :func:`s2v.distribute.make_strategy`);
        the configured batch size is the *global* batch, split over replicas, and
        the learning rate is kept (same effective batch as single-device). Only
        the chief worker writes ``out_dir``; the others write a scratch folder
        (:func:`s2v.distribute.worker_dir`), removed at the end.
    batched_rotations : bool
        See :class:`Speckle2Void`.
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks for ``fit`` (e.g. to record the loss of every step).

    Returns
    -------
    Speckle2Void
        The trained model (also saved as ``out_dir/model.keras``).
    """
    config = _as_config(config)
    total = int(total_steps or config.total_steps)
    out_dir = Path(out_dir)
    checkpoint_dir = out_dir / "checkpoints"
    write_dir = out_dir
    if strategy is not None:
        from .distribute import replica_batch_size, worker_dir

        replica_batch_size(config.batch_size, strategy)  # fails early if the batch does not split
        write_dir = worker_dir(out_dir, strategy)
    intensities = _load_intensities(images)
    sampler = PatchSampler(intensities, config, targets=targets)
    write_dir.mkdir(parents=True, exist_ok=True)
    config.save(write_dir / "config.json")

    start_from = None
    if resume is True:
        start_from = latest_checkpoint(checkpoint_dir)
    elif resume:
        start_from = Path(resume)
        if not start_from.is_file():
            raise FileNotFoundError(f"{start_from}: checkpoint to resume from does not exist")

    scope = strategy.scope() if strategy is not None else _null_scope()
    with scope:
        if start_from is not None:
            model = keras.saving.load_model(start_from, safe_mode=True)
            # total_steps may grow between sessions (train longer); everything else must match
            if model.s2v_config.replace(total_steps=config.total_steps) != config:
                raise ValueError(
                    f"{start_from}: checkpoint configuration differs from the requested one; "
                    "use a new out_dir or the checkpoint's own config.json")
        else:
            keras.utils.set_random_seed(config.seed)
            model = Speckle2Void(config, batched_rotations=batched_rotations)
            model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    step = int(model.optimizer.iterations.numpy())
    if verbose and start_from is not None:
        print(f"resuming from {start_from} at step {step}")

    checkpoint = CheckpointEvery(write_dir / "checkpoints", config.checkpoint_every, total)
    callbacks = [checkpoint, *callbacks]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(write_dir / "logs"), update_freq=50))
        if validation is None:
            first = sampler.items[0].image
            crop = min(128, first.shape[0]), min(128, first.shape[1])
            r, c = (first.shape[0] - crop[0]) // 2, (first.shape[1] - crop[1]) // 2
            validation = intensities[0][r:r + crop[0], c:c + crop[1]]
        callbacks.append(ValidationMonitor(validation, write_dir / "logs"))

    per_epoch = config.steps_per_epoch
    try:
        while step < total:
            # A partial epoch after a mid-epoch resume (or at the end), otherwise whole epochs.
            epoch, offset = divmod(step, per_epoch)
            if offset or total - step < per_epoch:
                n_steps, n_epochs = min(per_epoch - offset, total - step), 1
            else:
                n_steps, n_epochs = per_epoch, (total - step) // per_epoch
            if strategy is None:
                dataset = make_dataset(sampler, step, step + n_steps * n_epochs)
            else:
                from .distribute import distribute_dataset

                dataset = distribute_dataset(strategy, sampler, step, step + n_steps * n_epochs)
            model.fit(dataset, initial_epoch=epoch,
                      epochs=epoch + n_epochs, steps_per_epoch=n_steps, callbacks=callbacks,
                      verbose=verbose, shuffle=False)
            step = int(model.optimizer.iterations.numpy())
            if model.stop_training:
                break
    except KeyboardInterrupt:
        path = checkpoint.save_now()
        print(f"\ninterrupted: checkpoint saved to {path}; run again to resume")
        raise
    save_model_atomic(model, write_dir / "model.keras")
    if write_dir != out_dir:
        import shutil

        shutil.rmtree(write_dir, ignore_errors=True)
    return model


class _null_scope:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
