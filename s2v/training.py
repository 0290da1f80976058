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

Safety: every input, option and the checkpoint to resume from are validated before
anything is written to the folder; one process at a time trains into a folder (a lock,
``.s2v.lock``, see :class:`s2v.utils.FolderLock`); a loss that becomes NaN or Inf stops
the run with :class:`TrainingDivergedError`, keeping the last checkpoint whose weights are
finite and writing no ``model.keras``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ._tensorflow import quiet_import

quiet_import()  # before Keras: TensorFlow's start-up lines dropped

import keras

from .config import S2VConfig
from .model import Speckle2Void
from .patches import PatchSampler, make_dataset
from .utils import FolderLock, atomic_write_text, check_intensity, check_number, domain_of

__all__ = ["train", "train_synthetic", "latest_checkpoint", "write_start_checkpoint", "CheckpointEvery", "EverySteps", "ValidationMonitor",
           "StopOnNonFiniteLoss", "TrainingDivergedError"]

_KEEP_CHECKPOINTS = 3


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or Inf: the run stopped, its last good checkpoint kept.

    Attributes ``step`` (the step whose loss was not finite, or whose weights were not) and
    ``value`` (that loss, or None).
    """

    def __init__(self, message: str, step: int | None = None, value: float | None = None):
        super().__init__(message)
        self.step, self.value = step, value


def _step_of(checkpoint: Path) -> int:
    try:
        return int(checkpoint.stem.split("-")[1])
    except (IndexError, ValueError):
        return -1


def _weights_finite(model: keras.Model) -> bool:
    return all(np.all(np.isfinite(w)) for w in model.get_weights())


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop ``fit`` at the first batch whose loss is NaN or Inf, and remember why.

    ``keras.callbacks.TerminateOnNaN`` stops ``fit`` too, which then returns normally and
    the diverged model would be saved as a result; :func:`train` raises
    :class:`TrainingDivergedError` from :attr:`diverged` instead. It runs before the
    checkpoint callback, which saves nothing once :attr:`diverged` is set.
    """

    def __init__(self):
        super().__init__()
        self.diverged: TrainingDivergedError | None = None

    def on_train_batch_end(self, batch, logs=None):
        value = (logs or {}).get("loss")
        if value is None or self.diverged is not None:
            return
        value = float(np.asarray(value))
        if not math.isfinite(value):
            step = int(self.model.optimizer.iterations.numpy())
            self.diverged = TrainingDivergedError(f"the loss became {value} at step {step}", step, value)
            self.model.stop_training = True


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


def write_start_checkpoint(config: S2VConfig, checkpoint_dir, weights=None) -> Path:
    """Write step 0 of a run: a model of ``config`` with a fresh optimizer, and mark it latest.

    ``weights`` (a list from ``get_weights()``) warm-starts it (fine-tuning, continuing a shipped
    model); None keeps the initialisation seeded by ``config.seed``. :func:`train` with
    ``resume=True`` then starts from it.
    """
    checkpoint_dir = Path(checkpoint_dir)
    keras.utils.set_random_seed(config.seed)
    model = Speckle2Void(config)
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=make_optimizer(config))
    path = save_model_atomic(model, checkpoint_dir / "ckpt-00000000.keras")
    (checkpoint_dir / "latest.txt").write_text("ckpt-00000000.keras\n")
    return path


class CheckpointEvery(keras.callbacks.Callback):
    """Save model + optimizer every ``every`` steps (and at the end), atomically.

    Keeps the newest few checkpoints and points ``latest.txt`` at the newest.
    """

    def __init__(self, checkpoint_dir: Path, every: int, last_step: int,
                 guard: StopOnNonFiniteLoss | None = None):
        super().__init__()
        self.checkpoint_dir = Path(checkpoint_dir)
        self.every, self.last_step = int(every), int(last_step)
        self.guard = guard

    def save_now(self) -> Path:
        step = int(self.model.optimizer.iterations.numpy())
        if not _weights_finite(self.model):  # never checkpoint a diverged model
            raise TrainingDivergedError(f"the weights became NaN/Inf by step {step}", step)
        path = save_model_atomic(self.model, self.checkpoint_dir / f"ckpt-{step:08d}.keras")
        atomic_write_text(self.checkpoint_dir / "latest.txt", path.name + "\n")
        # The newest few of this run; checkpoints numbered beyond it (an earlier run in this
        # folder, restarted with resume=False) are not this run's to delete.
        ours = [p for p in sorted(self.checkpoint_dir.glob("ckpt-*.keras")) if _step_of(p) <= step]
        for old in ours[:-_KEEP_CHECKPOINTS]:
            old.unlink(missing_ok=True)
        return path

    def on_train_batch_end(self, batch, logs=None):
        if self.guard is not None and self.guard.diverged is not None:
            return
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0 or step == self.last_step:
            self.save_now()


class EverySteps(keras.callbacks.Callback):
    """Call ``function(model, step, logs)`` after every ``every``-th optimizer step.

    The step is the optimizer's counter, so a resumed run keeps the same schedule.
    ``last_step`` adds a call at that step; ``at_start`` adds one with step 0 and no logs
    when a run begins from step 0 (e.g. a held-out curve's first point).
    """

    def __init__(self, every: int, function, *, last_step: int | None = None, at_start: bool = False):
        super().__init__()
        self.every, self.function = int(every), function
        self.last_step, self.at_start = last_step, at_start

    def on_train_begin(self, logs=None):
        if self.at_start and int(self.model.optimizer.iterations.numpy()) == 0:
            self.function(self.model, 0, None)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0 or step == self.last_step:
            self.function(self.model, step, logs)


class ValidationMonitor(keras.callbacks.Callback):
    """At each epoch end, despeckle a validation crop and log ENL and images to TensorBoard.

    ENL (:func:`s2v.metrics.enl`) is measured on the estimate in the
    homogeneous windows that :func:`s2v.roi.propose_regions` finds in the
    noisy crop (the whole crop when none fits): it should rise during training
    while the loss falls.
    """

    def __init__(self, intensity: np.ndarray, log_dir: Path):
        super().__init__()
        from .roi import propose_regions, region_mask

        import tensorflow as tf  # TensorBoard's writer: the one TensorFlow need of training

        self._summary = tf.summary
        self.intensity = np.asarray(intensity, np.float32)
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "validation"))
        windows = propose_regions(self.intensity)["homogeneous"]
        self.regions = [region_mask(w, self.intensity.shape) for w in windows] or \
            [np.ones(self.intensity.shape, bool)]

    def on_epoch_end(self, epoch, logs=None):
        from .metrics import enl

        if not _weights_finite(self.model):  # a diverged run (train() raises after fit)
            return
        estimate = self.model.predict_maps(self.intensity, progress=False,
                                           outputs=("posterior_mean",))["posterior_mean"]
        values = [enl(estimate[region]) for region in self.regions if estimate[region].mean() > 0]
        finite = [v for v in values if np.isfinite(v)]
        value = float(np.mean(finite)) if finite else 0.0
        step = int(self.model.optimizer.iterations.numpy())
        scale = np.percentile(self.intensity, 99) or 1.0
        with self.writer.as_default():
            self._summary.scalar("enl", value, step=step)
            for name, image in (("noisy", self.intensity), ("estimate", estimate)):
                self._summary.image(name, np.clip(image / scale, 0, 1)[None, ..., None] ** 0.5, step=step)
        if logs is not None:
            logs["val_enl"] = value


def _load_intensities(images, domain=None) -> list[np.ndarray]:
    """Arrays pass through; paths are read with s2v.io and prepared as at prediction.

    The domain of a file is ``domain`` if given, else the file's own (one that the file does
    not tell is refused, naming ``domain=``; see :func:`s2v.utils.domain_of`); it is
    converted by :func:`s2v.pipeline.prepare_intensity`.
    """
    out = []
    for item in images:
        if isinstance(item, (str, Path)):
            from .io import read_image
            from .pipeline import prepare_intensity

            array, meta = read_image(item)
            try:
                intensity = prepare_intensity(array, domain_of(array, meta, domain))
                out.append(check_intensity(intensity, name=str(item)))
            except ValueError as exc:
                message = str(exc)
                raise ValueError(message if str(item) in message else f"{item}: {message}") from None
        else:
            out.append(np.asarray(item))
    return out


def run_limits(config, total_steps, out_dir) -> tuple[int, Path]:
    """``(total, out_dir)`` of a training call, checked before anything is written.

    ``total`` is ``total_steps`` (an integer) or, when None, ``config.total_steps``;
    ``out_dir`` must not be an existing file.
    """
    total = config.total_steps if total_steps is None else check_number(total_steps, "total_steps",
                                                                         integer=True)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: the training folder is an existing file")
    return total, out_dir


def resume_point(resume, checkpoint_dir: Path) -> Path | None:
    """The checkpoint a run resumes from, or None.

    ``resume=True``: the newest in ``checkpoint_dir``; False or None: none; otherwise the
    file ``resume``, which must exist.
    """
    if resume is True:
        return latest_checkpoint(checkpoint_dir)
    if resume is False or resume is None:
        return None
    start_from = Path(resume)
    if not start_from.is_file():
        raise FileNotFoundError(f"{start_from}: checkpoint to resume from does not exist")
    return start_from


def make_optimizer(config: S2VConfig) -> "keras.optimizers.Optimizer":
    """Adam at ``config.learning_rate``, decayed as ``config.lr_schedule`` says."""
    from .config import COSINE_FINAL_FRACTION

    rate = config.learning_rate
    if config.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.total_steps, alpha=COSINE_FINAL_FRACTION)
    return keras.optimizers.Adam(rate)


def _load_checkpoint(path: Path, config: S2VConfig) -> Speckle2Void:
    """The Speckle2Void checkpoint to resume from, refused unless it matches ``config``.

    ``total_steps`` may grow between sessions (train longer); every other field must match.
    """
    import warnings

    from .pipeline import load_model

    with warnings.catch_warnings(record=True) as caught:  # Keras' warnings about a foreign file
        warnings.simplefilter("always")                   # would come before the one error line
        model = load_model(path, compile=True)  # safe mode; a foreign or broken file is refused
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    check_resumable(model, model.s2v_config, config, path)
    return model


def fit_span(step: int, total: int, per_epoch: int) -> tuple[int, int, int]:
    """``(epoch, steps_per_epoch, epochs)`` of the next ``fit`` call, from ``step`` towards ``total``.

    A partial epoch after a mid-epoch resume (or at the end), otherwise every whole epoch
    left, so Keras' epoch numbers stay those of an uninterrupted run.
    """
    epoch, offset = divmod(step, per_epoch)
    if offset or total - step < per_epoch:
        return epoch, min(per_epoch - offset, total - step), 1
    return epoch, per_epoch, (total - step) // per_epoch


def check_resumable(model, saved, config, path) -> None:
    """Refuse a checkpoint without optimizer state, or whose configuration is not ``config``.

    ``saved`` is the checkpoint's configuration (an :class:`S2VConfig` or
    :class:`s2v.apbsn.APBSNConfig`); ``total_steps`` may grow between sessions (train
    longer) and the prediction-only ``predict_*`` fields may differ, every other field must
    match. Raises ``ValueError`` naming ``path`` and every
    differing field.
    """
    if getattr(model, "optimizer", None) is None or not model.optimizer.built:
        raise ValueError(f"{path}: has no optimizer state to resume from (a final or shipped model "
                         "rather than a checkpoint?)")
    # Settings that only act at prediction time (the ``predict_*`` fields) do not change what
    # training computes, so a run may resume under the prediction settings chosen since.
    unchecked = {"total_steps"} | {name for name in config.to_dict() if name.startswith("predict_")}
    saved = saved.replace(**{name: getattr(config, name) for name in unchecked})
    if saved != config:
        ours, theirs = config.to_dict(), saved.to_dict()
        changed = ", ".join(f"{k}: {theirs[k]!r} in the checkpoint, {ours[k]!r} requested"
                            for k in ours if ours[k] != theirs[k])
        raise ValueError(
            f"{path}: checkpoint configuration differs from the requested one ({changed}); train "
            "into a new folder, or resume with the checkpoint's own configuration (the config.json "
            "next to its checkpoints/ folder)")


def diverged_error(exc: "TrainingDivergedError", out_dir, checkpoint_dir, learning_rate: float,
                   what: str = "training") -> "TrainingDivergedError":
    """The error a diverged run raises: what happened, what was kept and what to do next."""
    kept = latest_checkpoint(checkpoint_dir)
    return TrainingDivergedError(
        f"{out_dir}: {what} diverged: {exc} (learning_rate {learning_rate:g} too large?); "
        "model.keras was not written; "
        + (f"the last good checkpoint is {kept}" if kept else "no checkpoint was written")
        + "; train into a new folder with a smaller learning_rate", exc.step, exc.value)


def train(images, config=None, *, out_dir, targets=None, resume=True, total_steps=None,
          validation=None, tensorboard=True, verbose=1, strategy=None,
          batched_rotations=False, callbacks=(), domain=None) -> Speckle2Void:
    """Train a Speckle2Void model (self-supervised, or supervised with ``targets``).

    Parameters
    ----------
    images : sequence of (H, W) arrays or paths
        Noisy **intensity** images (paths are read with :func:`s2v.io.read_image`
        and converted with :func:`s2v.domains.to_intensity`).
    config : S2VConfig, dict or preset name, optional
        Default ``"cpu"``.
    out_dir : path
        Training folder (config, checkpoints, logs, final model). Nothing is written
        to it before the images, the options and the checkpoint to resume from have
        been validated; one process at a time (a lock file, ``.s2v.lock``).
    targets : sequence of (H, W) arrays, optional
        Clean intensities: trains the same network supervised (MSE of the
        posterior mean), for the self-supervised vs supervised comparison.
    resume : bool or path
        True: continue from the newest checkpoint in ``out_dir`` if any;
        a path: continue from that checkpoint; False: start afresh.
    total_steps : int, optional
        Stop at this step, a positive integer (default ``config.total_steps``).
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
    domain : str, optional
        Domain of the images given as paths (default: each file's own; see
        :func:`s2v.utils.domain_of`).

    Returns
    -------
    Speckle2Void
        The trained model (also saved as ``out_dir/model.keras``).

    Raises
    ------
    TrainingDivergedError
        The loss became NaN or Inf (e.g. a learning rate far too large): the newest
        checkpoint with finite weights is kept, ``model.keras`` is not written.
    """
    config = S2VConfig.coerce(config, "cpu")
    total, out_dir = run_limits(config, total_steps, out_dir)
    checkpoint_dir = out_dir / "checkpoints"
    write_dir = out_dir
    if strategy is not None:
        from .distribute import replica_batch_size, worker_dir

        replica_batch_size(config.batch_size, strategy)  # fails early if the batch does not split
        write_dir = worker_dir(out_dir, strategy)
    intensities = _load_intensities(images, domain)
    sampler = PatchSampler(intensities, config, targets=targets, augment=config.flips)
    return _train_from_sampler(sampler, intensities, config, total, out_dir, write_dir, checkpoint_dir,
                               resume, validation, tensorboard, verbose, strategy, batched_rotations,
                               callbacks)


def train_synthetic(clean_images, config=None, *, out_dir, supervised=False, resume=True, total_steps=None,
                    validation=None, tensorboard=True, verbose=1, callbacks=()) -> Speckle2Void:
    """Train on synthetic speckle drawn anew at every step (the synthetic-data experiment).

    Unlike :func:`train`, which learns from fixed noisy images (one realisation
    each, the only regime real data allows), every batch here multiplies clean
    patches by a fresh Gamma speckle of ``config.looks`` looks
    (:class:`s2v.patches.SyntheticSpecklePatchSampler`), the usual regime of
    synthetic despeckling experiments. Self-supervised training (the default)
    still sees only the noisy patches; ``supervised=True`` trains the same network
    against the clean patches (``config.supervised_loss``), for the
    self-supervised vs supervised comparison on the same data.

    Parameters
    ----------
    clean_images : sequence of (H, W) arrays
        Clean **intensity** images (linear, non-negative, finite).
    config : S2VConfig, dict or preset name, optional
        Default ``"cpu"``; ``looks`` sets the speckle.
    supervised : bool
        Train against the clean patches instead of self-supervised.
    out_dir, resume, total_steps, validation, tensorboard, verbose, callbacks
        As for :func:`train` (``validation`` defaults to a crop of one noisy
        realisation of the first image).

    Returns
    -------
    Speckle2Void
        The trained model (also saved as ``out_dir/model.keras``).
    """
    from .patches import SyntheticSpecklePatchSampler
    from .simulate import gamma_speckle

    config = S2VConfig.coerce(config, "cpu")
    total, out_dir = run_limits(config, total_steps, out_dir)
    clean_images = list(clean_images)
    sampler = SyntheticSpecklePatchSampler(clean_images, config, supervised=supervised, augment=config.flips)
    first = [gamma_speckle(check_intensity(clean_images[0], name="clean training image 0"), config.looks,
                           seed=config.seed)]
    return _train_from_sampler(sampler, first, config, total, out_dir, out_dir, out_dir / "checkpoints",
                               resume, validation, tensorboard, verbose, None, False, callbacks)


def train_simulated_ultrasound(simulations, config=None, *, out_dir, images=(), resume=True, total_steps=None,
                               validation=None, tensorboard=True, verbose=1, callbacks=(),
                               scanner: bool = False) -> Speckle2Void:
    """Train self-supervised on ultrasound phantoms re-simulated at every step.

    The ultrasound counterpart of :func:`train_synthetic`: each step draws a new
    scatterer realisation of the phantoms its patches come from
    (:class:`s2v.patches.SimulatedUltrasoundPatchSampler`), so the network never sees the
    same speckle twice; ``images`` (e.g. real IQ frames, which cannot be re-simulated)
    are trained on as fixed noisy images, as by :func:`train`.

    Parameters
    ----------
    simulations : sequence of dict
        Outputs of :func:`s2v.simulate.simulate_ultrasound` (e.g.
        :func:`s2v.datasets.randomised_ultrasound_set`).
    config : S2VConfig, dict or preset name, optional
        Default ``"cpu"``.
    images : sequence of (H, W) arrays
        Fixed noisy **intensity** images trained on alongside.
    out_dir, resume, total_steps, validation, tensorboard, verbose, callbacks
        As for :func:`train` (``validation`` defaults to a crop of the first simulation).
    scanner : bool
        Train on scanner exports of the realisations (8-bit B-modes with random gain and
        display dynamic range, read back at 60 dB; see the sampler's ``scanner``).

    Returns
    -------
    Speckle2Void
        The trained model (also saved as ``out_dir/model.keras``).
    """
    from .patches import SimulatedUltrasoundPatchSampler

    config = S2VConfig.coerce(config, "cpu")
    total, out_dir = run_limits(config, total_steps, out_dir)
    intensities = [check_intensity(image, name=f"training image {index}") for index, image in enumerate(images)]
    sampler = SimulatedUltrasoundPatchSampler(simulations, config, images=intensities, augment=config.flips,
                                              scanner=scanner)
    first = [np.asarray(simulations[0]["intensity"], np.float32)]
    return _train_from_sampler(sampler, first, config, total, out_dir, out_dir, out_dir / "checkpoints",
                               resume, validation, tensorboard, verbose, None, False, callbacks)


def _train_from_sampler(sampler, intensities, config, total, out_dir, write_dir, checkpoint_dir, resume,
                        validation, tensorboard, verbose, strategy, batched_rotations, callbacks):
    """Lock ``write_dir`` and train; remove the folders it created when the run is refused."""
    created = [d for d in (write_dir, *write_dir.parents) if not d.exists()]  # deepest first
    lock = FolderLock(write_dir, purpose="s2v train").acquire()
    try:
        return _train_locked(config, total, sampler, intensities, out_dir, write_dir, checkpoint_dir,
                             resume, validation, tensorboard, verbose, strategy, batched_rotations,
                             callbacks)
    finally:
        lock.release()
        for folder in created:  # a refused run leaves no empty folder behind
            try:
                folder.rmdir()
            except OSError:  # not empty: the run wrote something
                break


def _train_locked(config, total, sampler, intensities, out_dir, write_dir, checkpoint_dir, resume,
                  validation, tensorboard, verbose, strategy, batched_rotations, callbacks):
    start_from = resume_point(resume, checkpoint_dir)
    scope = strategy.scope() if strategy is not None else _null_scope()
    with scope:
        if start_from is not None:
            model = _load_checkpoint(start_from, config)
        else:
            keras.utils.set_random_seed(config.seed)
            model = Speckle2Void(config, batched_rotations=batched_rotations)
            model.compile(optimizer=make_optimizer(config))
    # Everything is validated: from here on the folder is written.
    config.save(write_dir / "config.json")
    step = int(model.optimizer.iterations.numpy())
    if verbose and start_from is not None:
        print(f"resuming from {start_from} at step {step}")

    guard = StopOnNonFiniteLoss()
    checkpoint = CheckpointEvery(write_dir / "checkpoints", config.checkpoint_every, total, guard)
    callbacks = [guard, checkpoint, *callbacks]
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
            epoch, n_steps, n_epochs = fit_span(step, total, per_epoch)
            if strategy is None:
                dataset = make_dataset(sampler, step, step + n_steps * n_epochs)
            else:
                from .distribute import distribute_dataset

                dataset = distribute_dataset(strategy, sampler, step, step + n_steps * n_epochs)
            model.fit(dataset, initial_epoch=epoch,
                      epochs=epoch + n_epochs, steps_per_epoch=n_steps, callbacks=callbacks,
                      verbose=verbose, shuffle=False)
            step = int(model.optimizer.iterations.numpy())
            if guard.diverged is not None:
                raise guard.diverged
            if model.stop_training:
                break
        if not _weights_finite(model):
            raise TrainingDivergedError(f"the weights became NaN/Inf by step {step}", step)
    except TrainingDivergedError as exc:
        if verbose:
            print()  # end the progress bar's line
        raise diverged_error(exc, out_dir, write_dir / "checkpoints", config.learning_rate) from None
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
