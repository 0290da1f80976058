"""Typed, validated configuration of a Speckle2Void model and its training.

A configuration is saved as ``config.json`` next to the weights, so a model
folder always says how it was built and trained.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["S2VConfig", "PRESETS", "ConfigError", "ValidatedConfig"]


class ConfigError(ValueError):
    """Raised when a configuration has one or more invalid fields (all listed)."""


class ValidatedConfig:
    """Behaviour shared by the frozen-dataclass configurations (CSBDeep-style).

    Subclasses are frozen dataclasses that implement :meth:`validate` and set
    ``PRESETS``. Lists become tuples on construction; every problem is
    reported at once; unknown keys get "did you mean" hints; JSON round trip.
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if isinstance(getattr(self, field.name), list):
                object.__setattr__(self, field.name, tuple(getattr(self, field.name)))
        problems = self.validate()
        if problems:
            raise ConfigError(f"invalid {type(self).__name__}:\n  - " + "\n  - ".join(problems))

    def validate(self) -> list[str]:
        """Return every problem of this configuration (empty when valid)."""
        raise NotImplementedError

    @classmethod
    def from_preset(cls, name: str, **overrides: Any):
        """Return a named preset, optionally with some fields overridden."""
        if name not in cls.PRESETS:
            hint = difflib.get_close_matches(str(name), cls.PRESETS, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"unknown {cls.__name__} preset {name!r}{extra}; "
                              f"available: {sorted(cls.PRESETS)}")
        return cls.from_dict({**cls.PRESETS[name], **overrides})

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """Build from a dict, rejecting unknown keys (with 'did you mean' hints)."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in values if k not in known]
        if unknown:
            lines = []
            for key in unknown:
                hint = difflib.get_close_matches(key, known, n=1)
                lines.append(f"unknown field {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
            raise ConfigError(f"invalid {cls.__name__}:\n  - " + "\n  - ".join(lines))
        return cls(**values)

    def replace(self, **changes: Any):
        """Return a copy with some fields changed (validated again)."""
        return self.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (tuples as lists, for JSON)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def save(self, path: str | Path) -> Path:
        """Write the configuration as JSON (atomically)."""
        from .utils import atomic_write_text

        return atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path):
        """Read a configuration saved by :meth:`save`."""
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read a JSON configuration ({exc})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a JSON object with {cls.__name__} fields")
        return cls.from_dict(values)


@dataclasses.dataclass(frozen=True)
class S2VConfig(ValidatedConfig):
    """Speckle2Void network and training configuration.

    Use :meth:`from_preset` for the named configurations: ``"paper"`` is the
    reference implementation of Bordone Molini et al. (TGRS 2022) exactly;
    ``"cpu"`` is a lighter network and schedule chosen by measurement so that
    a useful model trains in about an hour on two CPU cores.

    Parameters
    ----------
    filters : int
        Feature maps ``F`` of every convolution (paper: 64).
    depth : int
        Convolutions per causal branch, ``conv_0`` and ``conv_last`` included
        (paper: 17, i.e. conv_0 + 15 conv/BN/LeakyReLU + conv_last).
    batch_norm : bool
        BatchNorm after the middle convolutions (paper: True).
    shift_list, prob : tuple
        Blind-spot shifts of the vertical branches during training and their
        probabilities, in the reference's units (``1`` shifts by one row,
        ``3`` by two rows, hiding the vertical neighbours too).
    looks : float
        Number of looks ``L`` of the speckle (``L_noise``; 1 = single look).
    normalization : {"fixed", "median"}
        How intensities are scaled for the network. ``"fixed"`` (paper):
        divide by ``norm``, and ``clip`` is in the data's own units.
        ``"median"``: divide each image by its own median intensity, so the
        estimate is scale-equivariant (any calibration of the input works);
        ``clip`` is then in multiples of that median.
    clip : float
        Intensities above this are point targets: replaced by the image
        median for the network, excluded from the loss, copied back.
    norm : float
        Intensities are divided by ``norm`` before entering the network
        (``normalization="fixed"`` only).
    pixel_shuffle : int
        Stride ``s`` of pixel-shuffle downsampling (AP-BSN's "PD") applied
        before the network, at training and prediction; 1 = off (paper).
        Neighbours in the sub-images are ``s`` pixels apart in the image, so
        spatially correlated speckle (B-mode, IQ without whitening) looks
        independent to the blind spot. An improvement over the paper for
        ultrasound, measured in the study.
    k_penalty_tv : float
        Weight of the total-variation penalty on the posterior mean.
    learning_rate, batch_size, patch_size, steps_per_epoch, total_steps :
        Adam learning rate, batch, square patch side, steps per epoch and
        total training steps.
    checkpoint_every : int
        Steps between checkpoints.
    seed : int
        Seed of patch sampling, shifts and weight initialisation.
    """

    filters: int = 64
    depth: int = 17
    batch_norm: bool = True
    shift_list: tuple[int, ...] = (3, 1)
    prob: tuple[float, ...] = (0.9, 0.1)
    looks: float = 1.0
    normalization: str = "fixed"
    clip: float = 5e5
    norm: float = 1e5
    pixel_shuffle: int = 1
    k_penalty_tv: float = 5e-5
    learning_rate: float = 1e-4
    batch_size: int = 16
    patch_size: int = 64
    steps_per_epoch: int = 2000
    total_steps: int = 300_000
    checkpoint_every: int = 5000
    seed: int = 0

    # -- validation -----------------------------------------------------------
    def validate(self) -> list[str]:
        """Return every problem of this configuration (empty when valid)."""
        problems = []
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in self.shift_list):
            problems.append(f"shift_list values must be integers, got {list(self.shift_list)}")

        def positive(name, integer=False):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
            if integer:
                ok = ok and float(value).is_integer()
            if not ok:
                kind = "a positive integer" if integer else "a positive number"
                problems.append(f"{name} must be {kind}, got {value!r}")

        for name in ("filters", "batch_size", "patch_size", "steps_per_epoch",
                     "total_steps", "checkpoint_every", "pixel_shuffle"):
            positive(name, integer=True)
        for name in ("looks", "clip", "norm", "learning_rate"):
            positive(name)
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 2:
            problems.append(f"depth must be an integer >= 2 (conv_0 and conv_last), got {self.depth!r}")
        if not isinstance(self.k_penalty_tv, (int, float)) or self.k_penalty_tv < 0:
            problems.append(f"k_penalty_tv must be >= 0, got {self.k_penalty_tv!r}")
        if len(self.shift_list) == 0 or len(self.shift_list) != len(self.prob):
            problems.append(
                f"shift_list and prob must be non-empty and of equal length, got "
                f"{list(self.shift_list)} and {list(self.prob)}")
        if any(s not in (1, 3) for s in self.shift_list):
            problems.append(f"shift_list values must be 1 or 3 (reference units), got {list(self.shift_list)}")
        if self.prob and (any(p < 0 for p in self.prob) or abs(sum(self.prob) - 1.0) > 1e-6):
            problems.append(f"prob must be non-negative and sum to 1, got {list(self.prob)}")
        if self.normalization not in ("fixed", "median"):
            problems.append(f"normalization must be 'fixed' or 'median', got {self.normalization!r}")
        if isinstance(self.patch_size, int) and self.patch_size < 8:
            problems.append(f"patch_size must be at least 8, got {self.patch_size}")
        return problems

    # -- geometry ---------------------------------------------------------------
    @property
    def max_shift_rows(self) -> int:
        """Largest blind-spot shift in rows (reference ``3`` means 2 rows)."""
        return max(shift_rows(s) for s in self.shift_list)

    @property
    def receptive_field_radius(self) -> int:
        """Pixels of context the network uses on each side at prediction.

        Each causal 3x3 convolution extends the field by two rows upward
        (pad one row on top, SAME conv, drop the last row), and the final
        shift adds one more row; the rotations make it symmetric.
        """
        return 2 * self.depth + 1


def shift_rows(shift: int) -> int:
    """Rows of the blind-spot shift for a reference shift value (1 -> 1, 3 -> 2)."""
    return (int(shift) + 1) // 2


PRESETS: dict[str, dict[str, Any]] = {
    # The reference implementation (TerraSAR-X digital numbers for clip/norm).
    "paper": {},
    # Chosen by measurement on 2 CPU cores (benchmarks/core_speed.py): a
    # thinner, shallower network keeps the same blind-spot geometry and loss.
    "cpu": {
        "filters": 32,
        "depth": 10,
        "batch_size": 8,
        "patch_size": 48,
        "learning_rate": 3e-4,
        "steps_per_epoch": 200,
        "total_steps": 2000,
        "checkpoint_every": 500,
        "normalization": "median",
        "clip": 50.0,
        "norm": 1.0,
    },
}

S2VConfig.PRESETS = PRESETS
