"""The ``inspect_spectrum.m`` view: periodogram and profiles, before and after whitening."""

from __future__ import annotations

import numpy as np

from .spectra import _complex_input, _demodulate, _frequencies, spectrum_profiles


def inspect_spectrum(slc, *, report=None, whitened=None, domain=None):
    """Figure for choosing and checking the whitening (``inspect_spectrum.m``, extended).

    Parameters
    ----------
    slc : ndarray, shape (H, W), complex
        SLC / IQ image (or real RF with ``domain='rf'``).
    report : DecorrelationReport, optional
        Adds the shift (the profiles are shown demodulated), the band edges
        and the in-band fits.
    whitened : ndarray, complex, optional
        Output of :func:`decorrelate`: its profiles are overlaid (on the
        band's frequencies when it was resampled).
    domain : {None, 'complex', 'rf'}

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: the centred periodogram in dB, and the amplitude
        profiles along axis 0 and axis 1 against the normalised frequency
        (units of pi rad/sample, as the shifts).

    Notes
    -----
    Read the profiles like the reference's plots: the shift is where the
    profile is centred, the cut-off is where it drops to the floor. Built on
    :class:`matplotlib.figure.Figure` (no pyplot state); save it with
    ``fig.savefig(path)``.
    """
    from matplotlib.figure import Figure

    shift = report.shift if report is not None else (0.0, 0.0)
    z, _ = _complex_input(slc, domain)
    z = _demodulate(z, shift)
    power = np.fft.fftshift(np.abs(np.fft.fft2(z)) ** 2)
    fig = Figure(figsize=(13, 4), layout="constrained")
    ax_img, ax_y, ax_x = fig.subplots(1, 3)
    freq_y, freq_x = _frequencies(power.shape[0]), _frequencies(power.shape[1])
    extent = (freq_x[0], freq_x[-1], freq_y[-1], freq_y[0])
    shown = ax_img.imshow(10 * np.log10(power / power.max() + 1e-12), cmap="viridis",
                          vmin=-60, vmax=0, extent=extent, aspect="auto")
    fig.colorbar(shown, ax=ax_img, label="dB")
    ax_img.set(title="periodogram" + (" (demodulated)" if report is not None else ""),
               xlabel="axis 1 frequency", ylabel="axis 0 frequency")
    _, prof_y, _, prof_x = spectrum_profiles(z)
    white = None
    if whitened is not None:
        white = spectrum_profiles(np.asarray(whitened))
    for axis, (ax, freq, prof) in enumerate(((ax_y, freq_y, prof_y), (ax_x, freq_x, prof_x))):
        ax.plot(freq, prof, ".", ms=3, label="input")
        if report is not None:
            n = freq.size
            cut = (n - report.band_bins[axis]) // 2
            band = freq[cut:n - cut]
            ax.plot(band, report.fits[axis], "-", label=f"fit (degree {report.degree[axis]})")
            for edge in (band[0], band[-1]):
                ax.axvline(edge, color="grey", ls="--", lw=0.8)
            ax.set_title(f"axis {axis}: shift {shift[axis]:+.3f}, cut-off {report.cutoff[axis]:.3f}")
        else:
            ax.set_title(f"axis {axis}")
        if white is not None:
            freq_w, prof_w = white[2 * axis], white[2 * axis + 1]
            scale = prof_w.size / freq.size if report is not None and report.resampled else 1.0
            ax.plot(freq_w * scale, prof_w, ".", ms=3, label="whitened")
        ax.set(xlabel="normalised frequency (x pi rad/sample)", ylabel="sqrt(mean |FFT|^2), peak 1",
               yscale="log", ylim=(1e-3, 1.5))
        ax.legend(fontsize=8)
    return fig
