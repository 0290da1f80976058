"""The bad-input matrix (docs/bad_inputs.md): every reader and every command, every kind of bad input.

The rule: correct output, or ONE clear error that names the file and the problem -- on the
command line exit status 2, one line on stderr, no traceback; never NaN/Inf in an output,
never an overwritten input. Also safe model loading: a checkpoint never runs code from the
file, and an incompatible one says why.
"""

import csv
import hashlib
import json
import os
import re
import zipfile

import h5py
import imageio.v3 as iio
import keras
import numpy as np
import pytest
import scipy.io
import tifffile
from pydicom.data import get_testdata_file

import s2v
from s2v.cli import main
from s2v.config import ConfigError, S2VConfig
from s2v.io import S2VInputError, read_image
from s2v.model import Speckle2Void
from s2v.pipeline import despeckle, load_model

SHAPE = (33, 37)


# ---------------------------------------------------------------------------------------------
# building bad files
# ---------------------------------------------------------------------------------------------
def _values(problem, rng):
    """The array of a value problem (None for file-level problems)."""
    base = rng.gamma(1.0, 1.0, SHAPE).astype(np.float32) + 0.01
    holes = rng.random(SHAPE) < 0.02
    return {
        "ok": base,
        "nan": np.where(holes, np.nan, base).astype(np.float32),
        "inf": np.where(holes, np.inf, base).astype(np.float32),
        "negative": base - 0.5,
        "all-zero": np.zeros(SHAPE, np.float32),
        "constant": np.full(SHAPE, 3.0, np.float32),
        "1x1": base[:1, :1],
        "1xN": base[:1],
        "3-D stack": np.stack([base, base * 2, base * 3]),
        "1e12": base * np.float32(1e12),
        "bool": base > 1,
        "int64": np.round(base * 100).astype(np.int64),
        "float16": base.astype(np.float16),
        "string": np.array([["a", "b"], ["c", "d"]]),
    }[problem]


def _write(fmt, array, path):
    if fmt == "npy":
        np.save(path, array)
    elif fmt == "npz":
        np.savez(path, image=array)
    elif fmt == "mat":
        scipy.io.savemat(path, {"image": array})
    elif fmt == "mat73":  # MATLAB v7.3 = HDF5, column-major
        with h5py.File(path, "w") as handle:
            handle["image"] = array.T
    elif fmt == "h5":
        with h5py.File(path, "w") as handle:
            handle["image"] = array
    elif fmt == "tif":
        tifffile.imwrite(path, array)
    elif fmt == "png":
        iio.imwrite(path, array)
    return path


_SUFFIX = {"mat73": ".mat", "npy": ".npy", "npz": ".npz", "mat": ".mat", "h5": ".h5", "tif": ".tif",
           "png": ".png", "dcm": ".dcm"}


def _png_safe(fmt, array):
    """PNG holds 8/16-bit integers (and 1-bit) only: scale other values to uint8."""
    if fmt != "png" or array.dtype in (np.uint8, np.uint16, np.bool_):
        return array
    return np.round(array * 60).astype(np.uint8)


def _make(fmt, problem, folder, rng):
    """A file of format ``fmt`` with ``problem``; returns its path."""
    path = folder / f"{problem.replace(' ', '_')}-{fmt}{_SUFFIX[fmt]}"
    if problem == "missing":
        return path
    if problem == "unsupported format":
        path = path.with_suffix(".gif")
        path.write_bytes(b"GIF89a" + bytes(64))
        return path
    if problem == "object array":  # a pickle inside .npy: never unpickled
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        return path
    if problem == "wrong extension":  # another format's content under this extension
        donor = (get_testdata_file("MR_small.dcm") if fmt != "dcm"
                 else _write("npy", _values("ok", rng), folder / "donor.npy"))
        path.write_bytes(open(donor, "rb").read())
        return path
    if problem in ("ok", "empty", "truncated"):
        good = (open(get_testdata_file("MR_small.dcm"), "rb").read() if fmt == "dcm"
                else _write(fmt, _png_safe(fmt, _values("ok", rng)), path).read_bytes())
        path.write_bytes({"ok": good, "empty": b"", "truncated": good[: len(good) // 2]}[problem])
        return path
    return _write(fmt, _png_safe(fmt, _values(problem, rng)), path)


# Expected outcome of read_image: a regex the S2VInputError must match, or None for success.
ERR = {
    "missing": "file not found|no such file",
    "empty": "file is empty",
    "truncated": "truncated",
    "wrong extension": "could not be read|not a",
    "unsupported format": "unknown file type",
    "nan": "NaN/Inf",
    "inf": "NaN/Inf",
    "1x1": "at least (2 x 2 pixels|two axes longer than 1)",
    "1xN": "at least (2 x 2 pixels|two axes longer than 1)",
    "bool": "numeric",
    "string": "numeric",
    "object array": "never unpickled",
}
FILE_PROBLEMS = ["missing", "empty", "truncated", "wrong extension", "unsupported format"]
VALUE_PROBLEMS = ["nan", "inf", "negative", "all-zero", "constant", "1x1", "1xN", "3-D stack", "1e12",
                  "bool", "int64", "float16", "string"]


def _reader_cases():
    cases = []
    for fmt in ("npy", "npz", "mat", "mat73", "h5", "tif", "png", "dcm"):
        cases += [(fmt, problem) for problem in FILE_PROBLEMS]
    for fmt in ("npy", "npz", "mat", "mat73", "h5", "tif"):
        for problem in VALUE_PROBLEMS:
            if problem == "string" and fmt in ("h5", "mat73", "tif"):
                continue  # these formats cannot store text pixels at all
            cases.append((fmt, problem))
    cases += [("png", p) for p in ("all-zero", "constant", "1x1", "1xN", "bool")]
    cases += [("npy", "object array"), ("dcm", "ok")]
    return cases


@pytest.mark.parametrize("fmt, problem", _reader_cases(), ids=lambda v: str(v))
def test_reader_matrix(fmt, problem, tmp_path, rng):
    path = _make(fmt, problem, tmp_path, rng)
    expected_error = ERR.get(problem)
    if fmt == "mat" and problem == "bool":
        expected_error = None  # MATLAB stores logicals as uint8: read as a 0/1 uint8 image
    if fmt == "png" and problem == "bool":
        expected_error = None  # a 1-bit PNG: read as 0/255
    if expected_error is not None:
        with pytest.raises(S2VInputError, match=expected_error) as info:
            read_image(path)
        message = str(info.value)
        assert message.startswith(str(path)), "the error names the file first"
        assert "\n" not in message
        return
    array, meta = read_image(path)
    assert array.ndim == 2 and min(array.shape) >= 2
    assert np.all(np.isfinite(array))
    if problem == "3-D stack":
        assert meta["n_frames"] == 3 and any("frame" in note for note in meta["notes"])
    if problem == "1e12":
        assert array.max() > 1e11, "large values are kept as they are"


# ---------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A tiny model (denoise) and a tiny training configuration (train)."""
    folder = tmp_path_factory.mktemp("assets")
    keras.utils.set_random_seed(0)
    Speckle2Void(S2VConfig.from_preset("cpu", filters=4, depth=2)).save(folder / "tiny.keras")
    S2VConfig.from_preset("cpu", filters=4, depth=2, patch_size=16, batch_size=2, steps_per_epoch=2,
                          total_steps=2, checkpoint_every=2).save(folder / "tiny.json")
    return folder


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _assert_one_clear_error(code, err, path, pattern):
    assert code == 2
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, err
    assert str(path) in errors[0], f"the error names the file: {errors[0]}"
    assert re.search(pattern, errors[0]), errors[0]


def _finite_npy_outputs(folder):
    outputs = sorted(folder.rglob("*.npy"))
    for output in outputs:
        assert np.all(np.isfinite(np.load(output))), output
    return outputs


# (command, problem) -> None (success) or the error pattern. Inputs are .npy (the readers are
# covered above); decorrelate gets complex data, the others real data.
CLI = {
    "denoise": {**{p: ERR[p] for p in FILE_PROBLEMS}, "nan": "NaN/Inf", "negative": None, "all-zero": None,
                "constant": None, "1x1": ERR["1x1"], "1xN": ERR["1xN"], "3-D stack": None, "1e12": None,
                "bool": "numeric", "int64": None, "float16": None, "object array": "unpickled"},
    "train": {**{p: ERR[p] for p in FILE_PROBLEMS}, "nan": "NaN/Inf", "negative": "negative",
              "all-zero": None, "constant": None, "1x1": ERR["1x1"], "3-D stack": None, "1e12": None,
              "bool": "numeric", "object array": "unpickled"},
    "decorrelate": {**{p: ERR[p] for p in FILE_PROBLEMS}, "nan": "NaN/Inf", "all-zero": "all zeros",
                    "constant": None, "1x1": ERR["1x1"], "1xN": ERR["1xN"], "3-D stack": None, "1e12": None,
                    "real data": "needs the phase", "bool": "numeric"},
    "compare": {**{p: ERR[p] for p in FILE_PROBLEMS}, "missing": "neither an existing file", "nan": "NaN/Inf", "negative": None, "all-zero": None,
                "constant": "cannot tell what the data is", "1x1": ERR["1x1"], "bool": "numeric"},
}


def _cli_input(command, problem, folder, rng):
    if problem in FILE_PROBLEMS or problem == "object array":
        return _make("npy", problem, folder, rng)
    path = folder / f"{problem.replace(' ', '_')}.npy"
    if command == "decorrelate":
        base = _values("ok", rng)
        slc = (np.sqrt(base) * np.exp(2j * np.pi * rng.random(SHAPE))).astype(np.complex64)
        array = {"nan": np.where(np.isnan(_values("nan", rng)), np.nan, slc).astype(np.complex64),
                 "all-zero": np.zeros_like(slc), "constant": np.full_like(slc, 2 + 1j), "1x1": slc[:1, :1],
                 "1xN": slc[:1], "3-D stack": np.stack([slc] * 3), "1e12": slc * np.float32(1e6),
                 "real data": base, "bool": base > 1}[problem]
    else:
        array = _values(problem, rng)
    np.save(path, array)
    return path


def _argv(command, path, out, assets):
    if command == "denoise":
        return ["denoise", path, "--out", out, "--model", assets / "tiny.keras"]
    if command == "train":
        return ["train", path, "--out", out, "--config", assets / "tiny.json", "--domain", "intensity"]
    if command == "decorrelate":
        return ["decorrelate", path, out / "whitened.npy"]
    return ["compare", "--data", path, "--methods", "boxcar", "--out", out, "--no-figures", "--no-progress"]




# Each successful `s2v train` is a (2-step) training run: one runs by default, the rest are `slow`.
_SLOW = {("train", "constant"), ("train", "3-D stack"), ("train", "1e12")}


@pytest.mark.parametrize("command, problem", [
    pytest.param(c, p, marks=[pytest.mark.slow] if (c, p) in _SLOW else [])
    for c, cases in CLI.items() for p in cases], ids=lambda v: str(v))
def test_command_matrix(command, problem, tmp_path, rng, assets, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    path = _cli_input(command, problem, inputs, rng)
    before = _digest(path)
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, err = _run(_argv(command, path, out, assets), capsys)
    assert _digest(path) == before, "the input is never modified"
    assert "Traceback" not in err
    expected_error = CLI[command][problem]
    if expected_error is not None:
        _assert_one_clear_error(code, err, path, expected_error)
        return
    assert code == 0, err
    if problem == "3-D stack" and command in ("denoise", "train"):
        assert "3 frames, only frame 0 is used" in err
    if command == "denoise":
        (output,) = _finite_npy_outputs(out)
        estimate = np.load(output)
        assert estimate.dtype == np.float32 and estimate.shape == SHAPE
        if problem == "1e12":
            assert 1e10 < np.median(estimate) < 1e14, "the estimate keeps the data's scale"
    elif command == "train":
        model = keras.saving.load_model(out / "model.keras", safe_mode=True)
        assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    elif command == "decorrelate":
        (output,) = _finite_npy_outputs(out)
        assert np.load(output).shape == SHAPE
    else:
        with open(out / "records.csv", newline="") as handle:
            for row in csv.DictReader(handle):
                for key, value in row.items():
                    if key not in ("image", "method") and value:
                        assert np.isfinite(float(value)), (key, value)


def test_denoise_folder_reports_each_bad_file_and_does_the_rest(tmp_path, rng, assets, capsys):
    """A corrupt file in a folder: one error line for it, the other files are despeckled, exit 2."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    np.save(inputs / "a.npy", _values("ok", rng))
    bad = _make("npy", "truncated", inputs, rng)
    np.save(inputs / "c.npy", _values("ok", rng))
    code, stdout, err = _run(["denoise", inputs, "--out", tmp_path / "out", "--model", assets / "tiny.keras"],
                             capsys)
    _assert_one_clear_error(code, err, bad, "truncated")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_despeckled.npy", "c_despeckled.npy"]
    assert "2 despeckled, 0 already done (use --overwrite to redo), 1 failed" in stdout


def test_train_folder_with_a_corrupt_file_stops_before_training(tmp_path, rng, assets, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    np.save(inputs / "a.npy", _values("ok", rng))
    bad = _make("npy", "empty", inputs, rng)
    out = tmp_path / "run"
    code, _, err = _run(["train", inputs, "--out", out, "--config", assets / "tiny.json",
                         "--domain", "intensity"], capsys)
    _assert_one_clear_error(code, err, bad, "file is empty")
    assert not out.exists(), "nothing is written before every input has been read"


def test_outputs_never_overwrite_inputs(tmp_path, rng, assets, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    np.save(folder / "a.npy", _values("ok", rng))
    np.save(folder / "a_despeckled.npy", _values("constant", rng))  # an input named like a's output
    digests = {p: _digest(p) for p in folder.iterdir()}
    code, _, err = _run(["denoise", folder, "--out", folder, "--overwrite", "--model", assets / "tiny.keras"],
                        capsys)
    assert code == 2 and "refusing to overwrite an input file" in err
    assert {p: _digest(p) for p in digests} == digests

    slc = (rng.normal(size=SHAPE) + 1j * rng.normal(size=SHAPE)).astype(np.complex64)
    np.save(folder / "slc.npy", slc)
    before = _digest(folder / "slc.npy")
    code, _, err = _run(["decorrelate", folder / "slc.npy", folder / "slc.npy", "--overwrite"], capsys)
    assert code == 2 and "refusing to overwrite an input file" in err
    assert _digest(folder / "slc.npy") == before


def _outputs_into(kind, tmp_path):
    """An output location that cannot be written: a read-only folder, or an existing file."""
    if kind == "read-only folder":
        if os.geteuid() == 0:
            pytest.skip("permissions do not apply to root; the 'existing file' case covers this path")
        folder = tmp_path / "readonly"
        folder.mkdir()
        folder.chmod(0o555)
        return folder, "not writable|Permission denied"
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    return blocker, "existing file|File exists|Not a directory"


@pytest.mark.parametrize("kind", ["read-only folder", "existing file"])
@pytest.mark.parametrize("command", ["denoise", "train", "decorrelate", "compare"])
def test_output_folder_that_cannot_be_written(command, kind, tmp_path, rng, assets, capsys):
    out, pattern = _outputs_into(kind, tmp_path)
    valid = {"decorrelate": "3-D stack", "train": "constant"}.get(command, "negative")  # inputs it accepts
    path = _cli_input(command, valid, tmp_path, rng)
    code, _, err = _run(_argv(command, path, out, assets), capsys)
    assert code == 2 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if ": error: " in line]
    assert str(out) in line and re.search(pattern, line), line


# ---------------------------------------------------------------------------------------------
# the Python API
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(assets):
    return load_model(assets / "tiny.keras")


@pytest.mark.parametrize("problem", ["1x1", "1xN", "Nx1", "all-zero", "constant", "1e12", "int64", "float16"])
def test_despeckle_handles_odd_but_valid_images(problem, tiny, rng):
    array = _values("ok", rng)[:, :1] if problem == "Nx1" else _values(problem, rng)
    estimate = despeckle(array, tiny, progress=False)
    assert estimate.dtype == np.float32 and estimate.shape == array.shape
    assert np.all(np.isfinite(estimate))
    maps = tiny.predict_maps(array, progress=False)
    assert all(np.all(np.isfinite(m)) for m in maps.values()), "every map is finite"
    if problem == "all-zero":
        np.testing.assert_array_equal(estimate, 0.0)


@pytest.mark.parametrize("problem, message", [
    ("nan", "NaN or Inf"), ("inf", "NaN or Inf"), ("negative", "negative values"), ("bool", "numeric"),
    ("3-D stack", "2-D"), ("string", "numeric"), ("complex", "complex data"), ("empty", "empty"),
])
def test_despeckle_refuses_invalid_arrays(problem, message, tiny, rng):
    array = {"complex": np.ones(SHAPE, np.complex64), "empty": np.ones((0, 5), np.float32)}.get(problem)
    array = _values(problem, rng) if array is None else array
    with pytest.raises(ValueError, match=message):
        despeckle(array, tiny, progress=False)


# ---------------------------------------------------------------------------------------------
# safe model loading
# ---------------------------------------------------------------------------------------------
def _rewrite_config(source, target, change):
    """Copy a .keras archive, editing its config.json with ``change(dict)``."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                change(config)
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return target


def test_a_checkpoint_with_code_is_refused_and_never_run(tmp_path, capsys):
    marker = tmp_path / "code_ran"
    where = str(marker)
    evil = keras.Sequential([keras.Input((4,)),
                             keras.layers.Lambda(lambda x: x + float(open(where, "w").write("x")))])
    evil.save(tmp_path / "evil.keras")
    marker.unlink()  # building the model ran the lambda; loading it must not
    with pytest.raises(ValueError, match="evil.keras: not a loadable s2v checkpoint.*(Lambda|unsafe|safe_mode)"):
        load_model(tmp_path / "evil.keras")
    assert not marker.exists(), "no code from the file was executed"
    np.save(tmp_path / "image.npy", np.ones(SHAPE, np.float32))
    code, _, err = _run(["denoise", tmp_path / "image.npy", "--out", tmp_path / "out",
                         "--model", tmp_path / "evil.keras"], capsys)
    assert code == 2 and "not a loadable s2v checkpoint" in err and "Traceback" not in err
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("s2v.model", "NotAModel"), ("os", "getcwd")])
def test_a_checkpoint_naming_an_unknown_class_is_refused(module, name, tmp_path, assets):
    def swap(config):
        config.update({"module": module, "class_name": name, "registered_name": name})
    path = _rewrite_config(assets / "tiny.keras", tmp_path / "unknown.keras", swap)
    with pytest.raises(ValueError, match=f"unknown.keras: not a loadable s2v checkpoint.*{name}"):
        load_model(path)


def test_an_incompatible_version_says_so(tmp_path, assets):
    def future(config):
        config["config"]["s2v_version"] = "99.0.0"
    path = _rewrite_config(assets / "tiny.keras", tmp_path / "future.keras", future)
    with pytest.raises(ConfigError, match=rf"written by s2v 99\.0\.0, incompatible with s2v {s2v.__version__}"):
        load_model(path)

    def minor(config):
        config["config"]["s2v_version"] = s2v.__version__.split(".")[0] + ".999.0"
    same_major = load_model(_rewrite_config(assets / "tiny.keras", tmp_path / "minor.keras", minor))
    assert isinstance(same_major, Speckle2Void), "a newer minor version of the same major loads"


def test_a_checkpoint_with_an_invalid_configuration_says_so(tmp_path, assets):
    def broken(config):
        config["config"]["config"]["filters"] = -3
    path = _rewrite_config(assets / "tiny.keras", tmp_path / "broken.keras", broken)
    with pytest.raises(ConfigError, match="filters must be a positive integer"):
        load_model(path)


def test_a_truncated_checkpoint_is_refused(tmp_path, assets):
    data = (assets / "tiny.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.keras: not a loadable s2v checkpoint"):
        load_model(tmp_path / "cut.keras")
