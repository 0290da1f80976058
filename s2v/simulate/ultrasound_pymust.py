"""Physics-based ultrasound simulation through the optional package ``pymust`` (MUST).

Plane-wave transmit and delay-and-sum beamforming of a linear array, with the inputs and
outputs of :func:`s2v.simulate.simulate_ultrasound`; ``pymust`` is imported when called.
"""

from __future__ import annotations

import numpy as np

from ._checks import _check_pair
from .ultrasound import _ultrasound_inputs, _ultrasound_outputs

__all__ = ["simulate_ultrasound_pymust"]


def simulate_ultrasound_pymust(
    echogenicity=None,
    *,
    shape=(129, 97),
    probe="L11-5v",
    pixel_size=(0.05e-3, 0.05e-3),
    depth=5e-3,
    sound_speed=1540.0,
    scatterer_density=200e6,
    margin=1e-3,
    point_targets=None,
    dynamic_range=60.0,
    seed=None,
):
    """Physics-based ultrasound simulation through the optional ``pymust`` package (MUST).

    A linear array (``pymust.getparam(probe)``) transmits one 0-degree plane wave into a 2-D
    medium of point scatterers; ``pymust.simus`` computes the element RF signals,
    ``pymust.rf2iq`` demodulates them and a delay-and-sum matrix (``pymust.dasmtx``)
    beamforms the IQ onto the pixel grid. Unlike :func:`simulate_ultrasound`, the PSF then
    varies in space (diffraction, sidelobes) exactly as for a real scanner.

    Scatterers are uniform at ``scatterer_density`` over the image plus ``margin`` on every
    side, with real Gaussian reflection coefficients of variance = echogenicity (nearest
    pixel, edge-replicated outside); point-target pixels get one deterministic scatterer of
    the same expected power instead. RADIOMETRY: the IQ is divided by
    ``sqrt(density * pixel_area * sum|h|^2)``, with ``h`` the beamformed response of one
    scatterer at the image centre (returned as ``psf``), so that ``blurred_echogenicity``
    (echogenicity convolved with ``|h|^2 / sum|h|^2``) is the expected intensity at the
    centre; elsewhere the unfocused transmit field adds a smooth depth/lateral gain
    (within about +-10 % over the default grid; no TGC is applied). Slow: about 2 ms per
    scatterer on one core (the default grid, ~12000 scatterers, takes ~25 s).

    Parameters
    ----------
    echogenicity : array_like, (H, W), optional
        Mean backscattered LINEAR INTENSITY per pixel; ``None``: a :func:`ultrasound_phantom`.
    shape : (int, int), optional
        Image shape when ``echogenicity`` is ``None``.
    probe : str, optional
        Transducer name understood by ``pymust.getparam`` ('L11-5v', 'L12-3v', 'P4-2v', ...).
    pixel_size : (float, float), optional
        (axial, lateral) pixel size in metres (default: a quarter wavelength of the L11-5v);
        the grid is centred laterally on the array.
    depth : float, optional
        Depth of the first row in metres.
    sound_speed : float, optional
        Speed of sound in m/s.
    scatterer_density : float, optional
        Scatterers per square metre (200e6 = 200 per mm^2, about 10 per resolution cell of
        the L11-5v: fully developed speckle).
    margin : float, optional
        Extra scatterer margin around the image in metres (avoids darker borders).
    point_targets, dynamic_range, seed :
        As in :func:`simulate_ultrasound`.

    Returns
    -------
    dict
        The keys of :func:`simulate_ultrasound`; ``psf`` is the beamformed COMPLEX response of
        a unit scatterer at the image centre (odd-sized crop) and ``params`` holds the probe
        settings (``center_frequency``, ``fractional_bandwidth``, ``sampling_frequency``),
        the grid, ``n_scatterers`` and ``pymust_version``.

    Raises
    ------
    ImportError
        When ``pymust`` is not installed (``pip install pymust``; it is not a dependency).
    """
    try:
        import pymust
    except ImportError as error:
        raise ImportError("simulate_ultrasound_pymust needs the optional package pymust (pip install pymust)") from error
    from importlib.metadata import version

    rng = np.random.default_rng(seed)
    echogenicity, points, regions = _ultrasound_inputs(echogenicity, shape, point_targets, dynamic_range, rng)
    dz, dx = _check_pair(pixel_size, "pixel_size")
    for name, value in (("pixel_size[0]", dz), ("pixel_size[1]", dx), ("depth", depth), ("sound_speed", sound_speed),
                        ("scatterer_density", scatterer_density)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value}")
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a non-negative length in metres, got {margin}")
    param = pymust.getparam(probe)
    param.c = float(sound_speed)
    height, width = echogenicity.shape
    x = (np.arange(width) - (width - 1) / 2.0) * dx
    z = depth + np.arange(height) * dz

    # Diffuse scatterers; the point-target pixels are carried by their deterministic scatterer.
    diffuse = echogenicity.copy()
    diffuse[points[:, 0], points[:, 1]] = 0.0
    x_range = (x[0] - dx / 2 - margin, x[-1] + dx / 2 + margin)
    z_range = (max(z[0] - dz / 2 - margin, dz), z[-1] + dz / 2 + margin)
    count = rng.poisson(scatterer_density * (x_range[1] - x_range[0]) * (z_range[1] - z_range[0]))
    xs = rng.uniform(*x_range, size=count)
    zs = rng.uniform(*z_range, size=count)
    rows = np.clip(np.round((zs - z[0]) / dz).astype(int), 0, height - 1)
    cols = np.clip(np.round((xs - x[0]) / dx).astype(int), 0, width - 1)
    rc = np.sqrt(diffuse[rows, cols]) * rng.standard_normal(count)
    point_rc = np.sqrt(echogenicity[points[:, 0], points[:, 1]] * scatterer_density * dz * dx)
    xs = np.concatenate([xs, x[points[:, 1]]])
    zs = np.concatenate([zs, z[points[:, 0]]])
    rc = np.concatenate([rc, point_rc * rng.choice([-1.0, 1.0], size=len(points))])

    delays = np.zeros((1, param.Nelements))

    def beamform(xs, zs, rc, grid_x, grid_z):
        rf, _ = pymust.simus(xs, zs, rc, delays, param)
        iq = pymust.rf2iq(rf, param)
        matrix = pymust.dasmtx(iq, grid_x, grid_z, delays, param)
        # MUST's DAS matrix acts on the column-major (MATLAB) vectorisation of the signals.
        return (matrix @ iq.reshape(-1, order="F")).reshape(grid_x.shape, order="F")

    grid_x, grid_z = np.meshgrid(x, z)
    iq = beamform(xs, zs, rc, grid_x, grid_z)
    # Response of a unit scatterer at the central pixel, on a +-1 mm (axial) x +-2 mm grid.
    kz, kx = int(np.ceil(1e-3 / dz)), int(np.ceil(2e-3 / dx))
    center_x, center_z = x[width // 2], z[height // 2]
    psf = beamform(np.array([center_x]), np.array([center_z]), np.array([1.0]),
                   *np.meshgrid(center_x + np.arange(-kx, kx + 1) * dx, center_z + np.arange(-kz, kz + 1) * dz))
    iq = iq / np.sqrt(scatterer_density * dz * dx * np.sum(np.abs(psf) ** 2))
    params = {
        "probe": probe,
        "center_frequency": float(param.fc),
        "fractional_bandwidth": float(param.bandwidth) / 100.0,
        "sampling_frequency": float(param.fs),
        "pixel_size": (dz, dx),
        "depth": float(depth),
        "sound_speed": float(sound_speed),
        "scatterer_density": float(scatterer_density),
        "n_scatterers": int(len(rc)),
        "transmit": "plane wave, 0 degrees",
        "pymust_version": version("pymust"),
    }
    return _ultrasound_outputs(iq, echogenicity, psf / np.sqrt(np.sum(np.abs(psf) ** 2)), points, regions,
                               params, dynamic_range)
