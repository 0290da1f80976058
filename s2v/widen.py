"""Warm-start a wider Speckle2Void network from a trained one (Net2WiderNet).

The ``cpu`` networks (32 feature maps) flatten on their validation curves while a supervised
twin of the same size stays below BM3D-log (``training/``): the network's capacity is the
suspect. Training a wider network from scratch costs the thousands of CPU steps the narrow one
already took; :func:`widen_model` instead builds the wider network so that it computes **the
same function** as the trained one (Chen, Goodfellow & Shlens, "Net2Net: accelerating learning
via knowledge transfer", ICLR 2016: every new feature map copies an old one, and the weights
that read a copied map are divided by its number of copies), then training goes on from there
with the extra capacity.

Only the width changes: depth, dilations, blind-spot shifts and every other setting are kept,
so the blind spot is the trained model's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["widen_model"]


def widen_model(model, filters: int, *, noise: float = 1e-3, seed: int = 0):
    """A Speckle2Void network with ``filters`` feature maps that computes what ``model`` computes.

    Parameters
    ----------
    model : Speckle2Void
        The trained network (its ``s2v_config.filters`` feature maps per convolution).
    filters : int
        Feature maps of the wider network, at least the model's.
    noise : float, optional
        Standard deviation, relative to each kernel's own, of the Gaussian noise added to the
        input weights of the copied feature maps, in [0, 1). Copies that stay identical get
        identical gradients and never differ (Net2Net's symmetry); 0 gives the exact function
        of ``model``, the default perturbs it slightly.
    seed : int, optional
        Seed of the noise and of which old map each extra map copies.

    Returns
    -------
    Speckle2Void
        A new, built model with ``s2v_config.filters == filters`` and fresh (untrained) optimizer
        state; its BatchNorm moving statistics are the copied ones.

    Raises
    ------
    ValueError
        ``filters`` smaller than the model's, or ``noise`` outside [0, 1).
    """
    from .model import Speckle2Void
    from .utils import check_number

    if not isinstance(model, Speckle2Void):
        raise ValueError(f"widen_model: model must be a Speckle2Void model, got {type(model).__name__}")
    filters = check_number(filters, "filters", integer=True)
    old = model.s2v_config.filters
    if filters < old:
        raise ValueError(f"widen_model: filters must be at least the model's {old}, got {filters}")
    noise = float(noise)
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"widen_model: noise must lie in [0, 1), got {noise!r}")
    rng = np.random.default_rng(seed)
    # Extra map j copies old map source[j]; each old map then has counts[k] copies (itself included).
    source = np.concatenate([np.arange(old), rng.integers(0, old, size=filters - old)])
    counts = np.bincount(source, minlength=old).astype(np.float32)

    wide = Speckle2Void(model.s2v_config.replace(filters=filters), batched_rotations=model.batched_rotations)
    values = {weight.path.split("/", 1)[1]: np.asarray(weight) for weight in model.weights}

    def widened(path, kernel_inputs=None):
        """The wide value of ``path``: outputs copied by ``source``, inputs split among copies."""
        value = values[path]
        if value.ndim == 1:  # a bias or a BatchNorm vector: one entry per output map
            return value if path.startswith("head/") else value[source]  # the head's 2 outputs stay
        if kernel_inputs is not None:  # input channels that read (groups of) widened maps
            groups = kernel_inputs
            per_group = value.reshape(*value.shape[:2], groups, old, value.shape[-1])
            per_group = per_group[:, :, :, source, :] / counts[source][None, None, None, :, None]
            value = per_group.reshape(*value.shape[:2], groups * filters, value.shape[-1])
        return value

    new_values = {}
    for weight in wide.weights:
        path = weight.path.split("/", 1)[1]
        name = path.rsplit("/", 1)[-1]
        reads_widened = (("conv_0/" not in path) and name == "kernel") if "branch_" in path else name == "kernel"
        groups = 4 if path.startswith("merge/") else 1
        value = widened(path, groups if reads_widened else None)
        if name == "kernel" and not path.startswith("head/"):
            value = value[..., source]  # output maps copied
            if noise > 0 and filters > old:
                extra = value[..., old:]
                extra += rng.normal(0.0, noise * float(np.std(values[path])), size=extra.shape)
        new_values[weight.path] = value.astype(np.float32)
    for weight in wide.weights:
        weight.assign(new_values[weight.path])
    return wide
