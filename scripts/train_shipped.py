"""Train the checkpoints shipped in ``s2v_checkpoint/`` (run in the background; resumable).

    python scripts/train_shipped.py synthetic-L1 [--steps N] [--out runs/]
    python scripts/train_shipped.py synthetic-L1-supervised [--steps N]

``synthetic-L1``: self-supervised on BSD68 (``../shared/data/clean/BSD68``,
else the scikit-image gallery) with one fixed single-look Gamma speckle
realisation per image — the network never sees a clean image.
``synthetic-L1-supervised``: the same network, data and budget, trained with
the clean images as targets (the paper's "supervised" reference).
``ultrasound``: self-supervised on ultrasound intensity — 12 simulated
phantoms seen through varied probes (seeds 0-11; the study tests on other
seeds) plus the real IQ and PICMUS envelopes of ``../shared/data`` when
present — with pixel-shuffle stride 4 against the correlated speckle.
``ultrasound-noshuffle``: the same without pixel shuffle (stride 1), to
measure what the shuffle brings.
Each run writes a training folder under ``--out`` (checkpoints, TensorBoard
logs, config.json, model.keras); a killed run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def synthetic_training_set(seed: int = 0):
    """(noisy, clean) single-look intensities of the BSD68 images (or skimage's gallery)."""
    import numpy as np

    from s2v.datasets import clean_training_images
    from s2v.simulate import synthetic_protocol_pair

    pairs = [synthetic_protocol_pair(gray, looks=1.0, seed=seed + i)
             for i, gray in enumerate(clean_training_images())]
    return [noisy for _, noisy in pairs], [np.asarray(clean) for clean, _ in pairs]


#: Pixel-shuffle stride of the ultrasound model: residual lag-s intensity
#: correlation of the simulated speckle is 0.13 axially / 0.28 laterally at
#: s = 4 (0.87 / 0.93 at s = 1), and the shift-"3" blind spot hides the
#: vertical neighbour as well (lag 8: 0.04).
ULTRASOUND_STRIDE = 4


#: The phantom sets a run can train on (``--probes`` of ``continue_training.py``).
ULTRASOUND_PROBE_SETS = ("training", "randomised", "randomised-reflectors", "scanner")


def ultrasound_simulations(count: int, probes: str = "training", *, seed: int = 0) -> list[dict]:
    """The simulations of a phantom set: seeds ``seed .. seed+count-1``.

    ``probes``: ``"training"`` (:func:`s2v.datasets.simulated_ultrasound_set`, the shipped
    model's), ``"randomised"`` (:func:`s2v.datasets.randomised_ultrasound_set`) or
    ``"randomised-reflectors"`` (the same with bright specular interfaces); ``"scanner"``: those
    same phantoms, which training exports as scanner B-modes at every step (and validation
    reads from :func:`s2v.datasets.scanner_ultrasound_set`).
    """
    from s2v.datasets import randomised_ultrasound_set, simulated_ultrasound_set

    if probes not in ULTRASOUND_PROBE_SETS:
        raise ValueError(f"probes must be one of {ULTRASOUND_PROBE_SETS}, got {probes!r}")
    if probes == "training":
        return simulated_ultrasound_set(count, seed=seed)
    return randomised_ultrasound_set(count, seed=seed, reflectors=probes in ("randomised-reflectors", "scanner"))


def ultrasound_validation_simulations(count: int, probes: str, *, seed: int) -> list[dict]:
    """The simulations a run of ``probes`` is validated on, as the model sees them.

    :func:`ultrasound_simulations`, except for ``"scanner"``: the scanner exports of
    :func:`s2v.datasets.scanner_ultrasound_set`, with ``intensity`` the user's reading and
    ``blurred_echogenicity`` its ground truth (mapped the same way).
    """
    if probes != "scanner":
        return ultrasound_simulations(count, probes, seed=seed)
    from s2v.datasets import scanner_ultrasound_set

    return [{**sim, "intensity": sim["scanner"]["intensity"],
             "blurred_echogenicity": sim["scanner"]["reference_intensity"]}
            for sim in scanner_ultrasound_set(count, seed=seed)]


def ultrasound_training_set(simulations: int = 12, probes: str = "training"):
    """Intensities: simulated phantoms (seeds 0..simulations-1) + real IQ/envelopes when present.

    ``probes``: as for :func:`ultrasound_simulations`.
    """
    from s2v.datasets import real_ultrasound_intensities

    images = [sim["intensity"] for sim in ultrasound_simulations(simulations, probes)]
    return images + list(real_ultrasound_intensities().values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=["synthetic-L1", "synthetic-L1-supervised", "ultrasound",
                                         "ultrasound-noshuffle"])
    parser.add_argument("--steps", type=int, default=None, help="total steps (default: the cpu preset's)")
    parser.add_argument("--out", default="runs")
    args = parser.parse_args(argv)

    import s2v

    config = s2v.S2VConfig.from_preset("cpu")
    clean = None
    if args.name.startswith("ultrasound"):
        noisy = ultrasound_training_set()
        config = config.replace(pixel_shuffle=1 if args.name.endswith("noshuffle") else ULTRASOUND_STRIDE)
    else:
        noisy, clean = synthetic_training_set()
    out_dir = Path(args.out) / args.name
    start = time.time()
    s2v.train(noisy, config, out_dir=out_dir, total_steps=args.steps,
              targets=clean if args.name.endswith("supervised") else None, verbose=2)
    (out_dir / "training.json").write_text(json.dumps({
        "name": args.name, "images": len(noisy), "steps": args.steps or config.total_steps,
        "wall_clock_s_last_session": round(time.time() - start, 1),
        "hardware": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
    }, indent=2))


if __name__ == "__main__":
    main()
