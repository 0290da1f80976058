"""Speckle decorrelation on the real shared data: lag-1 correlation before / after whitening.

For each real complex image of ``../shared/data`` (TerraSAR-X and Sentinel-1 SLC crops, the
four frames of the beamformed ultrasound IQ) and for the simulated scenes of
``tests/test_decorrelation.py`` plus one larger simulated SLC (known PSF),
``s2v.decorrelation.decorrelate`` runs with automatic parameters, on the input grid (the
reference) and on the band grid (``resample=True``). The table gives the estimated shift
and cut-off, the output shape, the complex lag-1 correlation ``|R(1)| / R(0)`` along axis 0
and axis 1 before, after as the report predicts it (from the whitened spectrum) and measured
on the output (target: |rho| <= 0.1 after), the relative change of the mean
clutter intensity and the equivalent number of looks of a 5 x 5 boxcar of the intensity
(``s2v.domains.estimate_looks``; about 25 for white single-look speckle, much less for
correlated speckle) on the input-grid outputs. Data are loaded with numpy directly.

    python benchmarks/decorrelation_real.py [--markdown]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from s2v._shared import shared_data_dir
from s2v.baselines import denoise_boxcar
from s2v.decorrelation import decorrelate, lag_correlation
from s2v.domains import estimate_looks
from s2v.simulate import simulate_correlated_slc, simulate_ultrasound


def simulated_cases() -> list[tuple[str, np.ndarray, dict]]:
    """The simulated scenes of tests/test_decorrelation.py (127 x 151, seed 7), and one larger."""
    cases = []
    for shift in ((0.0, 0.0), (0.3, -0.5)):
        sim = simulate_correlated_slc(shape=(127, 151), window_fraction=(1.0, 1.0),
                                      frequency_shift=shift, seed=7)
        cases.append((f"sim SLC, Hamming full band, shift {shift}", sim["slc"], {}))
    # A crop of a scene twice as large: not periodic, as real data are not.
    sim = simulate_correlated_slc(shape=(254, 302), window_fraction=(0.8, 0.7),
                                  frequency_shift=(-0.4, 0.25), seed=7)
    cases.append(("sim SLC crop, band (0.8, 0.7), shift (-0.4, 0.25)", sim["slc"][63:190, 75:226], {}))
    sim = simulate_correlated_slc(shape=(127, 151), window_fraction=(0.8, 0.8), seed=7)
    cases.append(("sim SLC, band 0.8", sim["slc"], {}))
    iq = simulate_ultrasound(np.ones((129, 97), np.float32), seed=3)["iq"]
    cases.append(("sim ultrasound IQ (Gaussian PSF) 129 x 97", iq, {"cf": np.inf}))
    sim = simulate_correlated_slc(shape=(256, 256), window_fraction=(0.8, 0.8),
                                  frequency_shift=(0.3, 0.0), point_targets=5, seed=0)
    cases.append(("sim SLC 256 (Hamming, band 0.8, 5 targets)", sim["slc"], {}))
    return cases


def load_cases() -> list[tuple[str, np.ndarray, dict]]:
    """(name, complex image, decorrelate options) for every case available here."""
    cases = simulated_cases()
    data = shared_data_dir()
    if data is None:
        print("../shared/data is absent: only the simulated case runs", file=sys.stderr)
        return cases
    tsx = np.load(data / "sar" / "terrasarx_slc_256.npy")
    cases.append(("TerraSAR-X SLC 256", tsx[..., 0] + 1j * tsx[..., 1], {}))
    cases.append(("TerraSAR-X SLC 256, grow=1", tsx[..., 0] + 1j * tsx[..., 1], {"grow": 1}))
    s1 = np.load(data / "sar" / "sentinel1_slc_labrador_256.npz")["k"]
    cases.append(("Sentinel-1 SLC 256, channel 0", s1[..., 0], {}))
    cases.append(("Sentinel-1 SLC 256, channel 1", s1[..., 1], {}))
    iq = np.load(data / "ultrasound" / "must_pwi_disk_iq_das_4frames.npy")
    for frame in range(iq.shape[2]):
        # The global median lies in the dark water around the disk: no point-target test.
        cases.append((f"ultrasound IQ (PyMUST disk), frame {frame}", iq[..., frame], {"cf": np.inf}))
    return cases


def boxcar_enl(white: np.ndarray) -> float:
    intensity = (np.abs(white) ** 2).astype(np.float32)
    return estimate_looks(denoise_boxcar(intensity, window_size=5), window=15)


def run_case(name: str, slc: np.ndarray, options: dict) -> list[dict]:
    rows = []
    enl_before = boxcar_enl(slc)
    for resample in (False, True):
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            white, report = decorrelate(slc, resample=resample, seed=0, **options)
        seconds = time.perf_counter() - start
        clutter_in = np.abs(slc[~report.point_targets].astype(np.complex128)) ** 2
        clutter_out = np.abs(white[~report.output_targets].astype(np.complex128)) ** 2
        rows.append({
            "case": name, "grid": "band" if resample else "input",
            "shape": "x".join(map(str, white.shape)),
            "shift": report.shift, "cutoff": report.cutoff, "threshold": report.threshold,
            "targets": int(report.point_targets.sum()),
            "rho_before": report.rho_before, "rho_after": report.rho_after,
            "rho_output": lag_correlation(white),
            "mean_change": clutter_out.mean() / clutter_in.mean() - 1,
            "enl5_before": enl_before, "enl5_after": None if resample else boxcar_enl(white),
            "seconds": seconds, "warning": "; ".join(str(w.message) for w in caught),
        })
    return rows


def format_rows(rows: list[dict], markdown: bool) -> str:
    header = ["case", "grid", "shape", "shift (y, x)", "cut-off (y, x)", "thr", "targets",
              "rho before (y, x)", "rho after (y, x)", "rho output (y, x)", "mean I",
              "ENL 5x5 before/after", "s"]
    lines = []
    for r in rows:
        enl = f"{r['enl5_before']:.1f} / " + ("-" if r["enl5_after"] is None else f"{r['enl5_after']:.1f}")
        lines.append([
            r["case"], r["grid"], r["shape"],
            f"{r['shift'][0]:+.3f}, {r['shift'][1]:+.3f}", f"{r['cutoff'][0]:.3f}, {r['cutoff'][1]:.3f}",
            f"{r['threshold']:g}", str(r["targets"]),
            f"{r['rho_before'][0]:.3f}, {r['rho_before'][1]:.3f}",
            f"{r['rho_after'][0]:.3f}, {r['rho_after'][1]:.3f}",
            f"{r['rho_output'][0]:.3f}, {r['rho_output'][1]:.3f}",
            f"{100 * r['mean_change']:+.1f} %", enl, f"{r['seconds']:.2f}",
        ])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    rows = [row for case in load_cases() for row in run_case(*case)]
    print(format_rows(rows, args.markdown))
    for row in rows:
        if row["warning"]:
            print(f"\nwarning for {row['case']} ({row['grid']} grid): {row['warning']}")
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
