"""Peak memory and time of despeckling a 10000 x 10000 intensity image (10^8 pixels).

Generates a memory-mapped float32 .npy intensity image (piecewise-constant scene x one-look
Gamma speckle, written block by block), then runs ``s2v denoise`` on it -- which reads the
.npy memory-mapped and calls :func:`s2v.despeckle` with exact overlapping tiles -- under
``/usr/bin/time -v``, and reports the peak resident memory (the issue asks <= 4 GiB) and the
wall time. ``--entry api`` measures a plain ``s2v.despeckle(np.load(path, mmap_mode="r"))``
call instead (no file written).

    python benchmarks/large_image.py [--size 10000] [--model tiny|cpu|paper|NAME|PATH] [--tile-size 512]

The model: the name of a network built untrained with a fixed seed (``tiny`` = the ``cpu``
preset with 4 filters and depth 2, the default and the network of docs/benchmarks.md; ``cpu``;
``paper``), a shipped checkpoint name (``synthetic-L1``: 32 filters x depth 10, about 30 times
the time per pixel of ``tiny``) or a checkpoint path. Speed and memory do not depend on the
weights' values, only on the network's size, which the table prints. (The default used to be
the shipped intensity checkpoint when there was one: once one was shipped, the same command
measured another network.) Besides the wall time, the table gives the CPU time (user +
system) of the command, the less load-dependent of the two on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_GIB = 2 ** 30


def make_image(path: Path, size: int, *, seed: int = 0, rows_per_block: int = 500) -> Path:
    """Write a (size, size) float32 intensity .npy block by block (bounded memory)."""
    image = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(size, size))
    rng = np.random.default_rng(seed)
    cols = np.arange(size)
    for r0 in range(0, size, rows_per_block):
        rows = np.arange(r0, min(r0 + rows_per_block, size))[:, None]
        # Stripes and squares of four reflectivities, so that the estimate is not constant.
        clean = (1.0 + 3.0 * ((cols // 1000) % 2) + 8.0 * (((rows // 700) + (cols // 900)) % 3 == 0))
        image[r0:r0 + len(rows)] = clean * rng.gamma(1.0, 1.0, clean.shape)
    image.flush()
    del image
    return path


def network_of(path: Path) -> str:
    """``filters x depth`` (and the pixel shuffle, when > 1) of a ``.keras`` Speckle2Void file."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            settings = json.loads(archive.read("config.json"))["config"]["config"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return "?"
    shuffle = settings.get("pixel_shuffle", 1) or 1
    return f"{settings['filters']}x{settings['depth']}" + (f", shuffle {shuffle}" if shuffle > 1 else "")


def make_model(name: str, folder: Path) -> tuple[Path, str]:
    """A checkpoint path and a description of it."""
    from s2v.pipeline import list_checkpoints  # no TensorFlow

    shipped = list_checkpoints()
    if Path(name).exists() or name in shipped:
        path = Path(name) if Path(name).exists() else shipped[name]
        if path.is_dir():
            path = path / "model.keras"
        return path, f"checkpoint {path} ({network_of(path)}; time and memory do not depend on the weights)"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from s2v._tensorflow import quiet_import

    quiet_import()  # Keras and TensorFlow without their CPU-machine start-up lines
    import keras

    from s2v.config import S2VConfig
    from s2v.model import Speckle2Void

    presets = {"tiny": ("cpu", {"filters": 4, "depth": 2}), "cpu": ("cpu", {}), "paper": ("paper", {})}
    if name not in presets:
        raise SystemExit(f"--model: {name!r} is neither a file, a shipped checkpoint "
                         f"({sorted(shipped) or 'none'}) nor one of {sorted(presets)}")
    preset, overrides = presets[name]
    config = S2VConfig.from_preset(preset, **overrides)
    keras.utils.set_random_seed(0)
    path = folder / f"untrained-{name}.keras"
    Speckle2Void(config).save(path)
    return path, (f"untrained '{name}' network ({preset} preset, {config.filters} filters, depth "
                  f"{config.depth}; fixed seed: time and memory do not depend on the weights)")


def measure(command: list[str], env: dict) -> dict:
    """Run ``command`` under /usr/bin/time -v: peak RSS (bytes), wall and CPU time (s), output."""
    timer = shutil.which("time") or "/usr/bin/time"
    if not Path(timer).is_file():
        raise SystemExit("needs GNU time: apt-get install time")
    done = subprocess.run([timer, "-v", *command], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    seconds = sum(float(part) * 60 ** k for k, part in enumerate(reversed(wall.split(":"))))
    cpu = sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", done.stderr).group(1))
              for kind in ("User", "System"))
    return {"peak_rss": peak_kib * 1024, "wall_s": seconds, "cpu_s": cpu, "stdout": done.stdout}


def check_output(path: Path, size: int, rows_per_block: int = 500) -> dict:
    """Shape, dtype and finiteness of the estimate, read block by block."""
    estimate = np.load(path, mmap_mode="r")
    assert estimate.shape == (size, size) and estimate.dtype == np.float32, (estimate.shape, estimate.dtype)
    finite, mean = True, 0.0
    for r0 in range(0, size, rows_per_block):
        block = np.asarray(estimate[r0:r0 + rows_per_block], dtype=np.float64)
        finite &= bool(np.all(np.isfinite(block)))
        mean += block.sum()
    return {"finite": finite, "mean": mean / size ** 2}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=10000, help="image side (default 10000)")
    parser.add_argument("--model", default="tiny",
                        help="tiny (default), cpu or paper (untrained, fixed seed), a shipped checkpoint "
                             "name (synthetic-L1) or a checkpoint path")
    parser.add_argument("--tile-size", type=int, default=512)
    parser.add_argument("--entry", choices=["cli", "api"], default="cli",
                        help="s2v denoise (reads the file, writes the estimate) or s2v.despeckle")
    parser.add_argument("--workdir", type=Path, help="where the image goes (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="s2v-large-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        image = make_image(workdir / f"intensity_{args.size}.npy", args.size)
        generated = time.perf_counter() - start
        model, described = make_model(args.model, workdir)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}  # its stderr is shown only when it fails
        if args.entry == "cli":
            out = workdir / "out"
            command = [sys.executable, "-m", "s2v.cli", "denoise", str(image), "--domain", "intensity", "--out", str(out),
                       "--model", str(model), "--tile-size", str(args.tile_size), "--overwrite"]
        else:
            code = ("import numpy as np, s2v; x = np.load({!r}, mmap_mode='r'); "
                    "e = s2v.despeckle(x, {!r}, tile_size={}, progress=False); "
                    "assert e.shape == x.shape and np.isfinite(e).all()").format(str(image), str(model),
                                                                              args.tile_size)
            command = [sys.executable, "-c", code]
        result = measure(command, env)
        checked = check_output(out / f"{image.stem}_despeckled.npy", args.size) if args.entry == "cli" else {}

        pixels = args.size ** 2
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"image: {args.size} x {args.size} float32 intensity ({pixels * 4 / _GIB:.2f} GiB on disk, "
              f"generated in {generated:.0f} s)")
        print(f"model: {described}")
        print(f"entry: {'s2v denoise (mmap read, tiled despeckle, atomic .npy write)' if args.entry == 'cli' else 's2v.despeckle'}"
              f", tile {args.tile_size}")
        print()
        print("| pixels | network | entry | tile | peak RSS (GiB) | limit | wall (s) | CPU (s) | MPix/s "
              "| output finite |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        peak = result["peak_rss"] / _GIB
        print(f"| {pixels:.0e} | {network_of(model)} | {args.entry} | {args.tile_size} | {peak:.2f} | "
              f"{'<= 4 GiB: OK' if peak <= 4 else '> 4 GiB: OVER'} | {result['wall_s']:.0f} | "
              f"{result['cpu_s']:.0f} | {pixels / 1e6 / result['wall_s']:.2f} | "
              f"{checked.get('finite', 'checked in-process')} |")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
