"""Typed, validated configuration of a Speckle2Void model and its training.

A configuration is saved as ``config.json`` next to the weights, so a model
folder always says how it was built and trained.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
import re
import types
import typing
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

__all__ = ["S2VConfig", "PRESETS", "ConfigError", "ValidatedConfig"]


class ConfigError(ValueError):
    """Raised when a configuration has one or more invalid fields (all listed)."""


class _WrongKindError(ConfigError, TypeError):
    """A configuration that is neither the configuration class, a dict nor a preset name."""


class _Mismatch(Exception):
    """A value that does not have the type of its field (message: the problem)."""


def _describe(hint) -> str:
    """The expected type in words, for error messages (JSON vocabulary)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        words = [_describe(a) for a in args if a is not type(None)]
        return " or ".join(words) + (" or null" if type(None) in args else "")
    if origin is typing.Literal:
        return f"one of {list(args)}"
    if origin in (tuple, list):
        item = args[0] if args else Any
        return f"a list of {_describe(item).removeprefix('a ').removeprefix('an ')}s"
    return {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _coerce(value, hint, where: str):
    """``value`` checked against the annotation ``hint`` (and normalised), or :class:`_Mismatch`.

    Understood: ``bool`` (True/False only), ``int`` (integers, not bools, not 8.0), ``float``
    (any real number but bools, finite), ``str``, ``tuple[X, ...]`` / ``tuple[X, Y]`` (lists
    too), ``Literal[...]``, ``X | None``; any other annotation is not checked.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)

    def fail():
        raise _Mismatch(f"{where} must be {_describe(hint)}, got {value!r}")

    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            fail()
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except _Mismatch:
                pass
        fail()
    if origin is typing.Literal:
        if value in args and not (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            return value
        fail()
    if hint is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        fail()
    if hint is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
            return int(value)
        fail()
    if hint is float:
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            if not math.isfinite(float(value)):
                raise _Mismatch(f"{where} must be a finite number, got {value!r}")
            return float(value)
        fail()
    if hint is str:
        if isinstance(value, str):
            return value
        fail()
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            fail()
        if len(args) == 2 and args[1] is Ellipsis or origin is list:
            item = args[0] if args else Any
            return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(value) != len(args):
            raise _Mismatch(f"{where} must have {len(args)} values, got {list(value)!r}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args))) \
            if args else tuple(value)
    return value


class ValidatedConfig:
    """Behaviour shared by the frozen-dataclass configurations (CSBDeep-style).

    Subclasses are frozen dataclasses that implement :meth:`validate` (the rules on values)
    and set ``PRESETS``. On construction every field is first checked against its
    annotation (``int``, ``float`` -- finite --, ``bool``, ``str``, ``tuple[X, ...]``,
    ``Literal``, ``X | None``; one generic check, so a new field is covered by its
    annotation alone) and normalised (lists become tuples, numpy scalars Python ones);
    then :meth:`validate` runs on the well-typed fields. Every problem is reported at once;
    unknown keys get "did you mean" hints; JSON round trip.
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self):
        problems, badly_typed = self._type_problems()
        problems += self._value_problems(badly_typed)
        if problems:
            raise ConfigError(f"invalid {type(self).__name__}:\n  - " + "\n  - ".join(problems))

    @classmethod
    def _annotations(cls) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}

    def _type_problems(self) -> tuple[list[str], set[str]]:
        """Check (and normalise in place) every field against its annotation."""
        problems, bad = [], set()
        for name, hint in self._annotations().items():
            try:
                value = _coerce(getattr(self, name), hint, name)
            except _Mismatch as exc:
                problems.append(str(exc))
                bad.add(name)
            else:
                object.__setattr__(self, name, value)
        return problems, bad

    def _value_problems(self, badly_typed: set[str]) -> list[str]:
        """:meth:`validate` on the well-typed fields (the badly typed ones are reported already).

        The rules run on a copy whose badly typed fields hold their defaults; the problems
        that name one of those fields are dropped (they would be about the default).
        """
        if not badly_typed:
            return self.validate()
        probe = object.__new__(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in badly_typed:
                if field.default is not dataclasses.MISSING:
                    value = field.default
                elif field.default_factory is not dataclasses.MISSING:
                    value = field.default_factory()
                else:
                    return []  # no well-typed stand-in: the type problems are enough
            object.__setattr__(probe, field.name, value)
        try:
            problems = probe.validate()
        except Exception:  # noqa: BLE001 -- the type problems are reported anyway
            return []
        words = [re.compile(rf"\b{re.escape(name)}\b") for name in badly_typed]
        return [p for p in problems if not any(w.search(p) for w in words)]

    def validate(self) -> list[str]:
        """Return every problem of the values of this configuration (empty when valid).

        Called after the generic type check: every field has the type of its annotation.
        """
        raise NotImplementedError

    # Rules shared by the configurations' validate(); each returns a list of problems.
    def _positive(self, *names: str) -> list[str]:
        """A problem for each field of ``names`` that is not > 0."""
        return [f"{name} must be positive, got {getattr(self, name)!r}" for name in names
                if not getattr(self, name) > 0]

    def _at_least(self, **minimums) -> list[str]:
        """A problem for each field below its minimum (``name=minimum``)."""
        return [f"{name} must be >= {minimum}, got {getattr(self, name)!r}"
                for name, minimum in minimums.items() if getattr(self, name) < minimum]

    def _one_of(self, name: str, choices) -> list[str]:
        """A problem, with a "did you mean" hint, when the field is not one of ``choices``."""
        value = getattr(self, name)
        if value in choices:
            return []
        hint = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        return [f"{name} must be one of {list(choices)}, got {value!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")]

    def _seed_in_range(self) -> list[str]:
        """A problem when ``seed`` does not fit numpy's and Keras' 32-bit seeds."""
        return [] if 0 <= self.seed < 2**32 else [f"seed must be in [0, 2**32), got {self.seed!r}"]

    @classmethod
    def coerce(cls, config, default: str):
        """``config`` as an instance: itself, a preset name, a dict of fields, or ``None``.

        ``None`` gives the preset ``default``. Anything else raises a :class:`ConfigError`
        that is also a ``TypeError``.
        """
        if config is None:
            return cls.from_preset(default)
        if isinstance(config, str):
            return cls.from_preset(config)
        if isinstance(config, dict):
            return cls.from_dict(config)
        if not isinstance(config, cls):
            raise _WrongKindError(f"config must be an {cls.__name__}, a dict or a preset name, "
                                  f"got {type(config).__name__}")
        return config

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
        """Build from a dict, rejecting unknown keys (with 'did you mean' hints) and bad types."""
        if not isinstance(values, dict):
            raise ConfigError(f"invalid {cls.__name__}: expected an object of fields, got "
                              f"{type(values).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in values if k not in known]
        if unknown:
            lines = []
            for key in unknown:
                hint = difflib.get_close_matches(str(key), known, n=1)
                lines.append(f"unknown field {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
            try:  # the problems of the known fields too: everything at once
                cls(**{k: v for k, v in values.items() if k in known})
            except ConfigError as exc:
                lines += str(exc).split("\n  - ")[1:]
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
        try:
            return cls.from_dict(values)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


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
    dilations : tuple of int
        Dilation of each of the ``depth`` convolutions of a branch; empty (paper) means
        all 1. Dilated causal convolutions (rows ``i-2d .. i`` only, so the blind spot
        is unchanged) widen the context at the same cost: e.g. ``(1, 2, 4, 8, ...)``
        reaches ``2 * sum(dilations) + 1`` pixels instead of ``2 * depth + 1``. An
        improvement over the paper for the small CPU network, measured on a held-out
        curve (``training/``).
    shift_list, prob : tuple
        Blind-spot shifts of the vertical branches during training and their
        probabilities, in the reference's units (``1`` shifts by one row,
        ``3`` by two rows, hiding the vertical neighbours too).
    looks : float
        Number of looks ``L`` of the speckle (``L_noise``; 1 = single look).
    looks_range : tuple of float
        Training on synthetic speckle only (:func:`s2v.training.train_synthetic`): each
        patch's speckle has a number of looks drawn uniformly from these values, and the
        loss uses it, so that one network serves every ``L`` of the range (the data's ``L``
        is then given, or estimated, at prediction). Empty (the reference): every patch
        has ``looks``. An improvement over the paper for multi-look data, measured in
        ``training/``.
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
    stride_from_correlation : bool
        Measure the stride on each image instead of using ``pixel_shuffle``, at training
        and at prediction (:func:`s2v.strides.stride_from_correlation`: the smallest
        stride at which the image's log-speckle correlation is at most
        ``stride_threshold`` along both axes), so that each probe, with its own
        point-spread function, gets its own stride. An improvement over a constant stride
        for data from many probes, measured in ``training/``.
    stride_threshold : float
        Threshold of that rule at training, in (0, 1).
    predict_pixel_shuffle : int
        Fixed stride at prediction; 0 (the reference) = ``pixel_shuffle``. AP-BSN's
        asymmetric PD trains with a large stride, where the speckle is independent, and
        predicts with a smaller one, where the sub-images keep more detail. Must be 0 with
        ``stride_from_correlation``.
    predict_stride_threshold : float
        Threshold of the rule at prediction (``stride_from_correlation`` only), in [0, 1);
        0 = ``stride_threshold``. A larger one gives the asymmetric PD's smaller
        prediction strides.
    predict_offsets : bool
        Average the prediction over all ``s x s`` offsets of the mosaic grid (``s`` the
        prediction stride): each offset denoises the sub-images of a shifted grid, and the
        mean removes the period-``s`` mosaic a single grid leaves (AP-BSN's random-replacing
        refinement, made deterministic). ``s**2`` times the cost.
    predict_mosaic_notch : float
        Width ``w`` (in units of ``1 / s``) of the log-domain notches that
        :func:`s2v.strides.remove_mosaic` puts at the mosaic frequencies of a prediction
        stride ``s`` >= 2, in [0, 0.5]; 0 (the reference) = off. Removes the grid texture of
        a pixel-shuffle prediction (measured: mosaic peak from 9-19 to under 1, B-mode PSNR
        +0.03 to +0.1 dB at ``w = 0.25`` on validation phantoms).
    predict_ratio_calibration : bool
        Scale the intensity maps of a prediction by one gain, the mean of the ratio image
        ``y / estimate`` over the pixels that are not point targets, so that the ratio image
        has mean 1, as it has for the true intensity (unit-mean speckle): a method-of-moments
        correction of a global bias of the network. False (the reference) = off. Measured on
        validation phantoms: the log-input ``ultrasound`` model estimates 3-16 % low without
        it, and gains 0.1-0.9 dB of B-mode PSNR with it.
    predict_point_target_share : float
        Largest share of an image's pixels that prediction treats as point targets (those
        above ``clip``, copied back unfiltered), in [0, 0.5); 0 (the reference) = no cap.
        With a cap ``q`` the threshold is raised to the image's ``1 - q`` quantile when
        more pixels exceed it. A point target is a rare isolated reflector, but 8-bit
        scanner B-modes expanded at 60 dB put 3-10 % of their pixels above 50 times the
        median (the liver, ALOKA and GE examples; under 0.1 % in the simulations), and
        those are left as speckled white specks. Not used by the shipped models: the
        pixels it lets through reach the network far above the values it trained on
        (README, "point-target cap").
    predict_point_targets : {'global', 'local'}
        Which pixels prediction treats as point targets (replaced for the network, copied
        back unfiltered): ``'global'`` (the reference) those above ``clip`` times the image
        median; ``'local'`` those above ``clip`` times the LOCAL median of the speckle
        (:func:`s2v.batches.local_level`, a 40-pixel log mean), with the local median as
        their replacement. A scanner's depth-dependent gain (time-gain compensation, a
        bright near field) puts whole regions above 50 times the image median, and the
        global rule copies their speckle back unfiltered; the local rule keeps only what is
        bright against its surroundings. Needs ``normalization='median'`` and no
        ``predict_point_target_share``. Not used by the shipped models: on validation
        phantoms the shipped ``ultrasound`` model loses 0.10 dB of B-mode PSNR with it
        (randomised probes, 30.27 against 30.37) and 0.27 dB on simulated scanner B-modes
        (27.73 against 28.00; amplitude PSNR -1.0 dB), where it sends bright reflectors
        through the network instead of copying them back.
    point_targets : {'global', 'local'}
        Which pixels TRAINING treats as point targets (replaced for the network, excluded
        from the loss): ``'global'`` (the reference) those above ``clip`` times the image
        median; ``'local'`` those above ``clip`` times the local median of the speckle
        (:func:`s2v.batches.local_level`), replaced by it, as ``predict_point_targets='local'``
        does at prediction. Under the global rule a scanner's depth-dependent gain (a bright
        near field) hides whole regions of tissue from training, so the network never
        learns them; the local rule trains on them. Needs ``normalization='median'``;
        training on fixed noisy images or simulated phantoms (not on synthetic speckle of
        clean images). An option over the paper for B-mode, measured in ``training/``.
    predict_flips : {1, 2, 4}
        Self-ensemble at prediction: the mean of the maps predicted on the image and on its
        mirror images, unflipped (2: left-right; 4: also up-down and both), the flips the
        network trained with (``flips``). 1 (the reference) = off; ``predict_flips`` times
        the cost. Every view keeps the blind spot, so the mean does too.
    k_penalty_tv : float
        Weight of the total-variation penalty on the posterior mean.
    learning_rate, batch_size, patch_size, steps_per_epoch, total_steps :
        Adam learning rate, batch, square patch side, steps per epoch and
        total training steps.
    lr_schedule : {'constant', 'cosine'}
        ``'constant'`` (the reference) keeps ``learning_rate``; ``'cosine'``
        decays it from ``learning_rate`` to 1 % of it over ``total_steps``
        (the schedule is stored with the optimizer, so a resumed run keeps the
        length it started with and stays at 1 % after it). An improvement
        for the short CPU budgets, measured on a held-out curve.
    supervised_loss : {'mse_intensity', 'mse_log', 'mse_amplitude'}
        Loss of supervised training only (clean targets given to
        :func:`s2v.train`; ignored self-supervised): ``'mse_intensity'`` is the
        squared error of the posterior mean on intensity (the first twin's);
        ``'mse_log'`` the squared error of its logarithm, the usual choice for
        heavy-tailed single-look intensity (SAR-CNN's log-domain loss), so
        that bright pixels do not dominate the gradient; ``'mse_amplitude'`` the
        squared error of its square root (amplitude: the domain of the synthetic
        protocol's PSNR, so the twin optimises what the table measures).
    complex_input : {'intensity', 'whitened'}
        What :func:`s2v.despeckle` does with complex (SLC, IQ) or RF input for this model:
        ``'intensity'`` feeds ``|z|**2`` as it is (the models trained on un-whitened
        speckle); ``'whitened'`` first decorrelates it on the input grid
        (:func:`s2v.decorrelation.decorrelate`, automatic parameters: the paper's route for
        SAR SLCs, and the preparation the ``sar`` model was trained on).
    network_input : {'intensity', 'log'}
        What the blind-spot network sees and how it outputs ``beta``. ``'intensity'`` (the
        reference): the normalised intensity, and ``beta = relu(.)``. ``'log'``: the
        natural log of the normalised intensity (floored at :data:`LOG_INPUT_FLOOR`) and
        ``beta = exp(.)``, so that one network resolves and predicts intensities over the
        60 dB of a B-mode image (anechoic cysts and vessels 40 dB below tissue), which a
        linear input and output squeeze against 0. Both maps are pointwise: the blind
        spot and the Bayesian loss are unchanged. An improvement over the paper for
        ultrasound, measured in ``training/``.
    checkpoint_every : int
        Steps between checkpoints.
    seed : int
        Seed of patch sampling, shifts and weight initialisation.
    flips : bool
        Random horizontal and vertical flips of the training patches. The
        reference samples patches with ``augment=False``, so the ``paper``
        preset sets False; the field defaults to True because every
        checkpoint written before it existed was trained with flips.
    """

    filters: int = 64
    depth: int = 17
    batch_norm: bool = True
    dilations: tuple[int, ...] = ()
    shift_list: tuple[int, ...] = (3, 1)
    prob: tuple[float, ...] = (0.9, 0.1)
    looks: float = 1.0
    looks_range: tuple[float, ...] = ()
    normalization: str = "fixed"
    clip: float = 5e5
    norm: float = 1e5
    pixel_shuffle: int = 1
    stride_from_correlation: bool = False
    stride_threshold: float = 0.3
    predict_pixel_shuffle: int = 0
    predict_stride_threshold: float = 0.0
    predict_offsets: bool = False
    predict_mosaic_notch: float = 0.0
    predict_ratio_calibration: bool = False
    predict_point_target_share: float = 0.0
    predict_flips: int = 1
    predict_point_targets: str = "global"
    point_targets: str = "global"
    k_penalty_tv: float = 5e-5
    learning_rate: float = 1e-4
    batch_size: int = 16
    patch_size: int = 64
    steps_per_epoch: int = 2000
    total_steps: int = 300_000
    checkpoint_every: int = 5000
    seed: int = 0
    flips: bool = True
    lr_schedule: str = "constant"
    supervised_loss: str = "mse_intensity"
    complex_input: str = "intensity"
    network_input: str = "intensity"

    # -- validation -----------------------------------------------------------
    def validate(self) -> list[str]:
        """Return every problem of the values of this configuration (empty when valid).

        Types are checked before, from the annotations (:class:`ValidatedConfig`): here
        every integer field is an ``int``, every float a finite ``float``.
        """
        problems = self._positive("filters", "batch_size", "steps_per_epoch", "total_steps",
                                  "checkpoint_every", "pixel_shuffle", "looks", "clip", "norm",
                                  "learning_rate")
        problems += self._seed_in_range()
        if any(not value > 0 for value in self.looks_range):
            problems.append(f"looks_range values must be > 0, got {list(self.looks_range)}")
        if self.predict_pixel_shuffle < 0:
            problems.append(f"predict_pixel_shuffle must be >= 0 (0: pixel_shuffle), got "
                            f"{self.predict_pixel_shuffle!r}")
        if self.stride_from_correlation and self.predict_pixel_shuffle:
            problems.append("stride_from_correlation measures the prediction stride: "
                            f"predict_pixel_shuffle must be 0, got {self.predict_pixel_shuffle!r}")
        if not 0.0 <= self.predict_point_target_share < 0.5:
            problems.append(f"predict_point_target_share must lie in [0, 0.5) (0: no cap), got "
                            f"{self.predict_point_target_share!r}")
        if not 0.0 <= self.predict_mosaic_notch <= 0.5:
            problems.append(f"predict_mosaic_notch must lie in [0, 0.5] (0: off), got {self.predict_mosaic_notch!r}")
        if not 0.0 < self.stride_threshold < 1.0:
            problems.append(f"stride_threshold must lie in (0, 1), got {self.stride_threshold!r}")
        if not 0.0 <= self.predict_stride_threshold < 1.0:
            problems.append(f"predict_stride_threshold must lie in [0, 1) (0: stride_threshold), got "
                            f"{self.predict_stride_threshold!r}")
        if self.depth < 2:
            problems.append(f"depth must be >= 2 (conv_0 and conv_last), got {self.depth!r}")
        if self.dilations and (len(self.dilations) != self.depth or min(self.dilations) < 1):
            problems.append(f"dilations must be empty or {self.depth} (depth) integers >= 1, got "
                            f"{list(self.dilations)}")
        if self.patch_size < 8:
            problems.append(f"patch_size must be at least 8, got {self.patch_size!r}")
        if self.k_penalty_tv < 0:
            problems.append(f"k_penalty_tv must be >= 0, got {self.k_penalty_tv!r}")
        if len(self.shift_list) == 0 or len(self.shift_list) != len(self.prob):
            problems.append(
                f"shift_list and prob must be non-empty and of equal length, got "
                f"{list(self.shift_list)} and {list(self.prob)}")
        if any(s not in (1, 3) for s in self.shift_list):
            problems.append(f"shift_list values must be 1 or 3 (reference units), got {list(self.shift_list)}")
        if self.prob and (any(p < 0 for p in self.prob) or abs(sum(self.prob) - 1.0) > 1e-6):
            problems.append(f"prob must be non-negative and sum to 1, got {list(self.prob)}")
        problems += self._one_of("normalization", ("fixed", "median"))
        problems += self._one_of("lr_schedule", LR_SCHEDULES)
        problems += self._one_of("supervised_loss", SUPERVISED_LOSSES)
        problems += self._one_of("complex_input", COMPLEX_INPUTS)
        problems += self._one_of("network_input", NETWORK_INPUTS)
        problems += self._one_of("predict_flips", (1, 2, 4))
        problems += self._one_of("predict_point_targets", POINT_TARGET_RULES)
        problems += self._one_of("point_targets", POINT_TARGET_RULES)
        if self.point_targets == "local" and self.normalization != "median":
            problems.append("point_targets='local' scales clip by the local median: it needs "
                            f"normalization='median', got {self.normalization!r}")
        if self.predict_point_targets == "local" and self.normalization != "median":
            problems.append("predict_point_targets='local' scales clip by the local median: it needs "
                            f"normalization='median', got {self.normalization!r}")
        if self.predict_point_targets == "local" and self.predict_point_target_share:
            problems.append("predict_point_targets='local' and predict_point_target_share are two rules "
                            "for the same pixels: set one of them")
        return problems

    # -- geometry ---------------------------------------------------------------
    @property
    def max_shift_rows(self) -> int:
        """Largest blind-spot shift in rows (reference ``3`` means 2 rows)."""
        return max(shift_rows(s) for s in self.shift_list)

    @property
    def receptive_field_radius(self) -> int:
        """Pixels of context the network uses on each side at prediction.

        Each causal 3x3 convolution of dilation ``d`` extends the field by
        ``2d`` rows upward (the reference's ``d = 1``: pad one row on top, SAME
        conv, drop the last row), and the final shift adds one more row; the
        rotations make it symmetric.
        """
        return 2 * sum(self.branch_dilations) + 1

    @property
    def branch_dilations(self) -> tuple[int, ...]:
        """Dilation of each convolution of a branch (``dilations``, or all 1)."""
        return tuple(self.dilations) if self.dilations else (1,) * self.depth


LR_SCHEDULES = ("constant", "cosine")
COSINE_FINAL_FRACTION = 0.01
SUPERVISED_LOSSES = ("mse_intensity", "mse_log", "mse_amplitude")
COMPLEX_INPUTS = ("intensity", "whitened")
NETWORK_INPUTS = ("intensity", "log")
POINT_TARGET_RULES = ("global", "local")
#: Floor of the normalised intensity before the log of ``network_input="log"`` (the image
#: median is 1 there: 120 dB below it, under any B-mode's dynamic range).
LOG_INPUT_FLOOR = 1e-12
#: Floor added inside the logarithm of the ``'mse_log'`` loss and the square root of
#: ``'mse_amplitude'`` (normalised intensity units,
#: where the image median is 1): far below the darkest clean pixel of 8-bit data.
LOG_LOSS_FLOOR = 1e-6


def shift_rows(shift: int) -> int:
    """Rows of the blind-spot shift for a reference shift value (1 -> 1, 3 -> 2)."""
    return (int(shift) + 1) // 2


PRESETS: dict[str, dict[str, Any]] = {
    # The reference implementation (TerraSAR-X digital numbers for clip/norm; no flips).
    "paper": {"flips": False},
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
