"""Training AP-BSN with ``keras.Model.fit``: the checkpoints and exact resume of :mod:`s2v.training`.

Layout of a training folder (the same as Speckle2Void's)::

    out_dir/
      config.json                        the APBSNConfig (written once validation has passed)
      checkpoints/ckpt-00000100.keras    model + optimizer state, written atomically
      checkpoints/latest.txt             name of the newest complete checkpoint
      history.csv                        mean loss per Keras epoch (``checkpoint_every`` steps)
      model.keras                        the final model

A run resumes from the newest checkpoint: the step counter, the optimizer's moments and
the crops (drawn by a generator keyed by ``(seed, step)``, :class:`APBSNPatchSampler`,
fed to ``fit`` as a Python generator, which every Keras backend accepts) all continue, so a
run stopped at a checkpoint and resumed ends with the weights of an uninterrupted run.

As for Speckle2Void: nothing is written before the images, the options and the checkpoint
to resume from are validated; one process at a time trains into a folder
(:class:`s2v.utils.FolderLock`); a NaN/Inf loss stops the run with
:class:`s2v.training.TrainingDivergedError`, the last good checkpoint kept and no
``model.keras`` written.
"""

from __future__ import annotations

import time
from pathlib import Path

from s2v._tensorflow import quiet_import

quiet_import()  # before Keras: TensorFlow's start-up lines dropped

import keras

from s2v.training import (CheckpointEvery, StopOnNonFiniteLoss, TrainingDivergedError, check_resumable,
                          diverged_error, fit_span, resume_point, run_limits, save_model_atomic)
from s2v.utils import FolderLock

from .config import APBSNConfig
from .data import APBSNPatchSampler
from .model import APBSN

__all__ = ["train", "make_optimizer"]


def make_optimizer(config: APBSNConfig) -> keras.optimizers.Optimizer:
    """Adam with the learning rate divided by 10 at the ``decay_at`` fractions of ``total_steps``."""
    boundaries = [int(f * config.total_steps) for f in config.decay_at]
    values = [config.learning_rate * 0.1 ** k for k in range(len(boundaries) + 1)]
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return keras.optimizers.Adam(schedule)


def _load_checkpoint(path: Path, config: APBSNConfig) -> APBSN:
    """The AP-BSN checkpoint to resume from, refused unless it matches ``config`` (but ``total_steps``)."""
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except (ValueError, TypeError, OSError, KeyError) as exc:
        raise ValueError(f"{path}: cannot resume from this file ({exc})") from None
    if not isinstance(model, APBSN):
        raise ValueError(f"{path}: not an AP-BSN checkpoint (a {type(model).__name__})")
    check_resumable(model, model.config, config, path)
    return model


def train(images, config=None, *, out_dir, masks=None, resume=True, total_steps=None, verbose=1,
          callbacks=()) -> tuple[APBSN, dict]:
    """Train AP-BSN self-supervised on noisy intensity images.

    Parameters
    ----------
    images : sequence of ndarray (H, W)
        Noisy **intensity** images (for B-mode pictures, ``s2v.domains.to_intensity(bmode,
        "bmode")`` first).
    config : APBSNConfig, dict or preset name, optional
        Default: the ``"cpu"`` preset.
    out_dir : path
        Training folder (config, checkpoints, history, final model).
    masks : sequence of (bool ndarray or None), optional
        Valid pixels of each image (:class:`APBSNPatchSampler`).
    resume : bool or path
        True: continue from the newest checkpoint in ``out_dir/checkpoints`` if any; a path:
        continue from that checkpoint; False: start afresh.
    total_steps : int, optional
        Stop at this step (default ``config.total_steps``; the learning-rate schedule always
        follows ``config.total_steps``).
    verbose : int
        Keras progress output (0 silent, 1 bar, 2 one line per epoch).
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks for ``fit``.

    Returns
    -------
    model : APBSN
        The trained model (also saved as ``out_dir/model.keras``).
    info : dict
        ``steps`` (the step reached), ``wall_clock_s`` (this call) and ``loss`` (mean loss of
        each Keras epoch of this call).

    Raises
    ------
    s2v.training.TrainingDivergedError
        When the loss becomes NaN or Inf (the newest checkpoint is then the last good one,
        no ``model.keras`` is written).
    s2v.utils.FolderLockedError
        Another process is training into ``out_dir``.
    """
    config = APBSNConfig.coerce(config, "cpu")
    total, out_dir = run_limits(config, total_steps, out_dir)
    sampler = APBSNPatchSampler(images, config, masks=masks)  # checks the images first
    start_from = resume_point(resume, out_dir / "checkpoints")
    with FolderLock(out_dir, purpose="AP-BSN training"):
        if start_from is not None:
            model = _load_checkpoint(start_from, config)
        else:
            keras.utils.set_random_seed(config.seed)
            model = APBSN(config)
            model.compile(optimizer=make_optimizer(config))
        # Everything is validated: from here on the folder is written.
        config.save(out_dir / "config.json")
        return _fit(model, sampler, config, total, out_dir, start_from, verbose, callbacks)


def _fit(model, sampler, config, total, out_dir, start_from, verbose, callbacks):
    step = int(model.optimizer.iterations.numpy())
    if verbose and start_from is not None:
        print(f"resuming from {start_from} at step {step}")
    checkpoint = CheckpointEvery(out_dir / "checkpoints", config.checkpoint_every, total)
    callbacks = [StopOnNonFiniteLoss(), checkpoint,
                 keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=True), *callbacks]
    per_epoch, losses, started = config.checkpoint_every, [], time.perf_counter()
    try:
        while step < total:
            epoch, n_steps, n_epochs = fit_span(step, total, per_epoch)
            batches = (sampler.batch(k) for k in range(step, step + n_steps * n_epochs))
            history = model.fit(batches,
                                initial_epoch=epoch, epochs=epoch + n_epochs, steps_per_epoch=n_steps,
                                callbacks=callbacks, verbose=verbose, shuffle=False)
            losses += [float(v) for v in history.history.get("loss", [])]
            step = int(model.optimizer.iterations.numpy())
            if model.stop_training:
                break
    except TrainingDivergedError as exc:
        raise diverged_error(exc, out_dir, out_dir / "checkpoints", config.learning_rate,
                             what="AP-BSN training") from None
    except KeyboardInterrupt:
        path = checkpoint.save_now()
        print(f"\ninterrupted: checkpoint saved to {path}; run again to resume")
        raise
    save_model_atomic(model, out_dir / "model.keras")
    return model, {"steps": step, "wall_clock_s": round(time.perf_counter() - started, 1), "loss": losses}
