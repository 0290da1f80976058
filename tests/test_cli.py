"""The `s2v` command end to end: train on files, denoise a folder, one-line errors."""

import re

import numpy as np

from s2v.cli import main


def test_train_then_denoise_a_folder(tmp_path, rng, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for k in range(2):
        np.save(data / f"img{k}.npy", rng.gamma(1.0, 1.0, (41, 37)).astype(np.float32))
    config = tmp_path / "config.json"
    from s2v.config import S2VConfig

    S2VConfig.from_preset("cpu", filters=4, depth=2, batch_size=2, patch_size=16,
                          steps_per_epoch=2, total_steps=2, checkpoint_every=2).save(config)
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--config", str(config),
                 "--domain", "intensity"]) == 0
    model = tmp_path / "run" / "model.keras"
    assert model.is_file()

    out = tmp_path / "out"
    args = ["denoise", str(data), "--out", str(out), "--model", str(model), "--domain", "intensity"]
    assert main(args) == 0
    results = sorted(out.glob("*.npy"))
    assert [p.name for p in results] == ["img0_despeckled.npy", "img1_despeckled.npy"]
    assert all(np.all(np.isfinite(np.load(p))) for p in results)
    assert main(args) == 0  # second run: nothing redone
    assert "0 despeckled, 2 already done" in capsys.readouterr().out


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["denoise", str(tmp_path / "missing.png"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "missing.png" in err and "Traceback" not in err


def _child_env():
    """The environment of a user's shell: no TF_CPP_MIN_LOG_LEVEL set by the tests."""
    import os

    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def test_two_trainings_into_one_folder_the_second_refuses(tmp_path, rng):
    """Two real `s2v train` processes into one --out: the second refuses clearly, the first goes on.

    Also: the first one's stderr has none of TensorFlow's CPU start-up lines (CUDA, absl), and
    after it is killed (SIGKILL) its lock file is stale and taken over.
    """
    import signal
    import subprocess
    import sys
    import time

    from s2v.config import S2VConfig
    from s2v.utils import FolderLock

    np.save(tmp_path / "image.npy", rng.gamma(1.0, 1.0, (40, 40)).astype(np.float32))
    config = tmp_path / "long.json"  # a run that outlasts the test
    S2VConfig.from_preset("cpu", filters=4, depth=2, batch_size=2, patch_size=16, steps_per_epoch=1000,
                          total_steps=10**6, checkpoint_every=10**5).save(config)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "s2v.cli", "train", str(tmp_path / "image.npy"), "--out", str(run),
               "--config", str(config), "--domain", "intensity"]
    with open(tmp_path / "a.out", "w") as a_out, open(tmp_path / "a.err", "w") as a_err:
        first = subprocess.Popen(command, stdout=a_out, stderr=a_err, env=_child_env())
        try:
            lock, start = run / ".s2v.lock", time.monotonic()
            while not (lock.is_file() and lock.read_text().strip() == str(first.pid)):
                assert first.poll() is None, (tmp_path / "a.err").read_text()
                assert time.monotonic() - start < 300, "the first training never took its lock"
                time.sleep(0.1)
            second = subprocess.run(command, capture_output=True, text=True, env=_child_env(), timeout=300)
            assert first.poll() is None, "the first training is still running"
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"s2v train: error: {run}: another s2v train process (pid {first.pid}) is using this folder; "
        "wait for it to finish, or use another --out"]
    assert not (run / "model.keras").exists()
    noise = [line for line in (tmp_path / "a.err").read_text().splitlines()
             if re.search(r"cudart|cuInit|absl|cuda|cpu_feature_guard|rebuild TensorFlow", line)]
    assert noise == [], "TensorFlow's start-up lines are dropped"
    assert lock.read_text().strip() == str(first.pid), "SIGKILL leaves the lock file behind"
    with FolderLock(run):  # ... stale: its flock died with the process
        assert lock.read_text().strip() != str(first.pid)


def test_the_tensorflow_filter_keeps_real_errors():
    from s2v._tensorflow import TF_NOISE as _TF_NOISE

    dropped = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796190988.194804    8625 cudart_stub.cc:31] Could not find cuda drivers on your "
        "machine, GPU will not be used.",
        "E0000 00:00:1796191006.524881    8625 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA "
        "error: Failed call to cuInit: UNKNOWN ERROR (303)",
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
        "appropriate compiler flags.",
    ]
    kept = ["E0000 00:00:1796191006.524881    8625 op_kernel.cc:1830] OP_REQUIRES failed: out of memory",
            "ImportError: libcudnn.so.9: cannot open shared object file", "s2v train: error: x"]
    assert all(_TF_NOISE.match(line) for line in dropped)
    assert not any(_TF_NOISE.match(line) for line in kept)


def test_study_refuses_a_missing_folder_before_running(tmp_path, capsys):
    import time

    start = time.monotonic()
    assert main(["study", "--quick", "--out", str(tmp_path / "results"), "--folder", str(tmp_path / "no")]) == 2
    assert time.monotonic() - start < 5, "refused before the study ran"
    assert "--folder must be an existing folder" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_output_paths_never_collide(tmp_path):
    from s2v.cli import _output_paths

    files = [tmp_path / "d1" / "scan.npy", tmp_path / "d1" / "scan.tif", tmp_path / "d1" / "Scan.NPY",
             tmp_path / "d1" / "scan_npy.npy", tmp_path / "d2" / "scan.npy", tmp_path / "d2" / "sub" / "x.mat"]
    targets = _output_paths(files, tmp_path / "out", "npy")
    names = [str(t.relative_to(tmp_path / "out")) for t in targets.values()]
    assert len({n.lower() for n in names}) == len(files), names
    assert names[4] == "d2/scan_despeckled.npy" and names[5] == "d2/sub/x_despeckled.npy"
    assert names[0] == "d1/scan_npy_despeckled.npy" and names[1] == "d1/scan_tif_despeckled.npy"
    one_folder = _output_paths([tmp_path / "d" / "a.npy", tmp_path / "d" / "b.npy"], tmp_path / "out", "tif")
    assert [t.name for t in one_folder.values()] == ["a_despeckled.tif", "b_despeckled.tif"]
    assert all(t.parent == tmp_path / "out" for t in one_folder.values()), "one folder: directly in OUT"


def test_compare_domain_option_reads_files_as_that_domain(tmp_path, capsys):
    import json

    from s2v.simulate import gamma_speckle

    rng = np.random.default_rng(5)
    clean = np.full((63, 71), 0.5, np.float32)
    clean[:, 35:] = 2.0
    data = tmp_path / "data"
    data.mkdir()
    for name in ("a.npy", "b.npy"):  # positive floats: the files do not say their domain
        np.save(data / name, np.sqrt(gamma_speckle(clean, 1.0, seed=rng)).astype(np.float32))
    (data / "notes.txt").write_text("not an image")
    base = ["compare", "--data", str(data), "--methods", "boxcar", "--no-progress", "--no-figures"]

    assert main(base + ["--out", str(tmp_path / "none")]) == 2  # without --domain: nothing readable
    assert "holds no readable image" in capsys.readouterr().err

    noisy_enl = {}
    for domain in ("amplitude", "intensity"):
        out = tmp_path / domain
        assert main(base + ["--out", str(out), "--domain", domain]) == 0
        assert "notes.txt" in capsys.readouterr().err  # skipped, as the library skips it
        payload = json.loads((out / "results.json").read_text())
        assert payload["config"]["images"] == ["a.npy", "b.npy"]
        noisy_enl[domain] = [r["enl"] for r in payload["records"] if r["method"] == "noisy"]
    # Amplitude files are squared into intensity (ENL about 1 for single-look speckle); read as
    # intensity, the same values are the square root of single-look speckle (ENL about 3.6).
    assert all(0.7 < enl < 1.4 for enl in noisy_enl["amplitude"]), noisy_enl
    assert all(enl > 2.5 for enl in noisy_enl["intensity"]), noisy_enl

    assert main(["compare", "--data", str(data / "notes.txt"), "--methods", "boxcar",
                 "--out", str(tmp_path / "bad"), "--domain", "intensity"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "notes.txt" in err[0] and err[0].startswith("s2v compare: error:")


def test_compare_domain_option_scores_every_frame_of_a_cine(tmp_path, capsys):
    """``s2v compare --domain`` reads a cine through the library's reader: one row per frame."""
    import json

    from s2v.io import write_frames
    from s2v.simulate import gamma_speckle

    clean = np.full((3, 41, 37), 0.5, np.float32)
    clean[1] *= 4.0  # frames differ: a frame-0-only reader would repeat frame 0's numbers
    clean[2] *= 9.0
    cine = np.sqrt(np.stack([gamma_speckle(c, 1.0, seed=k) for k, c in enumerate(clean)]))
    path = tmp_path / "cine.tif"
    write_frames(path, cine.astype(np.float32))
    out = tmp_path / "out"
    assert main(["compare", "--data", str(path), "--methods", "boxcar", "--no-progress", "--no-figures",
                 "--out", str(out), "--domain", "amplitude"]) == 0
    payload = json.loads((out / "results.json").read_text())
    assert payload["config"]["images"] == ["cine.tif[0]", "cine.tif[1]", "cine.tif[2]"]
    noisy = {r["image"]: r for r in payload["records"] if r["method"] == "noisy"}
    assert len(noisy) == 3
