"""TensorFlow's start-up chatter is dropped from the Python API (s2v._tensorflow), not the rest.

Each case runs in a fresh Python process: the lines are printed once, when TensorFlow loads.
"""

import os
import subprocess
import sys

from s2v._tensorflow import TF_NOISE

# What TensorFlow prints on a CPU machine (recorded on this project's 2-core machine).
NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796213907.115755    6961 cudart_stub.cc:31] Could not find cuda drivers on your "
    "machine, GPU will not be used.",
    "E0000 00:00:1796213918.089879    6961 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
]


def _run(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=environment)


def test_the_noise_pattern_matches_the_recorded_lines_only():
    assert all(TF_NOISE.match(line) for line in NOISE)
    assert not TF_NOISE.match("E0000 00:00:1.0 1 cuda_driver.cc:1] CUDA_ERROR_OUT_OF_MEMORY")
    assert not TF_NOISE.match("Traceback (most recent call last):")


def test_filter_drops_the_noise_and_keeps_every_other_line():
    """Lines written on file descriptor 2 (as TensorFlow's C++ core does) while filtering."""
    code = ("import os\n"
            "from s2v._tensorflow import _dropped_noise\n"
            "with _dropped_noise():\n"
            f"    os.write(2, {(chr(10).join(NOISE) + chr(10)).encode()!r})\n"
            "    os.write(2, b'a real problem\\n')\n"
            "print('done')\n")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["a real problem"]
    assert result.stdout == "done\n"


def test_loading_a_model_prints_no_start_up_lines():
    result = _run('import s2v; s2v.load_model("synthetic-L1"); print("loaded")')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded"
    for marker in ("absl::InitializeLog", "cudart_stub.cc", "cuInit", "Could not find cuda drivers"):
        assert marker not in result.stderr, result.stderr


def test_the_filter_is_off_when_tensorflow_is_asked_to_log():
    """``TF_CPP_MIN_LOG_LEVEL=0``: TensorFlow's own lines come through (its INFO lines at least)."""
    result = _run("import s2v.model", TF_CPP_MIN_LOG_LEVEL="0")
    assert result.returncode == 0, result.stderr
    assert any(TF_NOISE.match(line) for line in result.stderr.splitlines()), result.stderr
