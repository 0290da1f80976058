"""Self-supervised adaptation of a trained model to the user's own noisy images.

Speckle2Void needs no clean image: the blind-spot loss trains on the noisy data itself. A
shipped model, trained on simulated phantoms and a few real frames, therefore adapts to a new
probe, preset or organ by a short training on that probe's own images, which is what
:func:`fine_tune` does (a warm start, a cosine-decayed learning rate, the checkpoints and
exact resume of :func:`s2v.train`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["fine_tune", "FINE_TUNE_STEPS"]

#: Default length of a fine-tuning run: about two minutes of the ``cpu`` preset on 2 cores.
FINE_TUNE_STEPS = 300


def _folder_intensities(folder: Path, domain, pattern: str) -> list[np.ndarray]:
    """Every frame of every readable file of ``folder`` as intensity (the pipeline's conversion)."""
    from .pipeline import folder_files, prepare_intensity, read_frames_domain
    from .utils import check_intensity

    images = []
    for path in folder_files(folder, pattern, "fine-tune on"):
        try:
            frames, file_domain, _ = read_frames_domain(path, domain)
            for index, frame in enumerate(frames):
                images.append(check_intensity(prepare_intensity(frame, file_domain),
                                              name=f"{path.name} frame {index}"))
        except (ValueError, OSError) as exc:
            raise ValueError(f"{path}: {exc}") from None
    return images


def fine_tune(images, model="ultrasound", *, out_dir, steps: int = FINE_TUNE_STEPS,
              learning_rate: float | None = None, domain: str | None = None, pattern: str = "*",
              resume: bool = True, verbose: int = 1):
    """Fine-tune a trained Speckle2Void model on the user's own noisy images (self-supervised).

    Parameters
    ----------
    images : path or sequence
        A folder (every file matching ``pattern``, every frame of a cine, read with
        :func:`s2v.io.read_frames`) or a sequence of **intensity** arrays (H, W) and/or
        file paths. Files are converted as :func:`s2v.despeckle` converts them: B-mode
        (8-bit grey levels or dB) is expanded to intensity, complex IQ becomes ``|z|**2``.
    model : Speckle2Void, str or Path
        The starting point: a loaded model, a checkpoint or a shipped name (default the
        B-mode/intensity model ``"ultrasound"``). Its configuration is kept (architecture,
        stride rule, normalisation), so its weights are the initialisation.
    out_dir : path
        Training folder (``config.json``, checkpoints, ``model.keras``): run again with the
        same folder to resume (``resume=True``) or train longer (a larger ``steps``).
    steps : int
        Steps of the fine-tuning run, > 0 (default :data:`FINE_TUNE_STEPS`).
    learning_rate : float, optional
        Initial learning rate, decayed by a cosine to 1 % over ``steps`` (default: a third
        of the model's own, so that a short run does not undo what it learnt).
    domain : str, optional
        Domain of the files (``"bmode"``, ``"intensity"``, ``"complex"``, ...); default
        each file's own.
    pattern : str
        Glob pattern of the files of a folder.
    resume : bool
        Continue from the newest checkpoint in ``out_dir`` when there is one (the same
        ``model`` and ``learning_rate`` as the run that wrote it; the cosine keeps the
        length of the first call). False starts again from ``model``'s weights.
    verbose : int
        Keras progress bar (1), one line per epoch (2) or none (0).

    Returns
    -------
    Speckle2Void
        The fine-tuned model, also saved as ``out_dir/model.keras``: pass it, or that path,
        to :func:`s2v.despeckle` or :func:`s2v.despeckle_folder`.

    Raises
    ------
    ValueError
        A bad option, an empty folder, or a file that is not a valid image of its domain
        (naming the file).
    FileNotFoundError
        ``images`` names a folder or file that does not exist.

    Examples
    --------
    >>> tuned = s2v.fine_tune("my_scans/", out_dir="my_model", domain="bmode")  # doctest: +SKIP
    >>> s2v.despeckle_folder("my_scans/", "my_scans_despeckled", model=tuned)  # doctest: +SKIP
    """
    from .model import Speckle2Void
    from .pipeline import load_model
    from .training import _load_intensities, latest_checkpoint, train, write_start_checkpoint
    from .utils import check_intensity, check_number

    steps = check_number(steps, "steps", integer=True)
    if learning_rate is not None:
        learning_rate = check_number(learning_rate, "learning_rate")
    if isinstance(images, (str, Path)) and Path(images).is_dir():
        intensities = _folder_intensities(Path(images), domain, pattern)  # checked, naming the file
    else:
        if isinstance(images, (str, Path)) and not Path(images).exists():
            raise FileNotFoundError(f"{images}: no such folder or file")
        items = [images] if isinstance(images, (str, Path)) else list(images)
        if not items:
            raise ValueError("fine_tune: no image was given")
        # Checked before anything is written (train would check too, after the start checkpoint).
        intensities = [check_intensity(image, name=f"image {index}")
                       for index, image in enumerate(_load_intensities(items, domain))]
    base = load_model(model) if isinstance(model, (str, Path)) else model
    if not isinstance(base, Speckle2Void):
        raise ValueError(f"model must be a Speckle2Void model, a checkpoint path or a shipped name, got "
                         f"{type(base).__name__}")
    config = base.s2v_config.replace(
        total_steps=steps, learning_rate=learning_rate or base.s2v_config.learning_rate / 3,
        lr_schedule="cosine", steps_per_epoch=min(base.s2v_config.steps_per_epoch, 50),
        checkpoint_every=min(base.s2v_config.checkpoint_every, 100))  # not from steps: resumable
    checkpoints = Path(out_dir) / "checkpoints"
    if not (resume and latest_checkpoint(checkpoints) is not None):
        write_start_checkpoint(config, checkpoints, base.get_weights())  # the base weights, step 0
    return train(intensities, config, out_dir=out_dir, resume=True, total_steps=steps, domain=domain,
                 tensorboard=False, verbose=verbose)
