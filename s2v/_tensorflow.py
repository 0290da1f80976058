"""Import Keras, and TensorFlow under its backend, without TensorFlow's start-up chatter.

On a machine without a GPU TensorFlow prints a few lines on every start, whatever
``TF_CPP_MIN_LOG_LEVEL`` says (absl logs them before its log level is set up): "WARNING: All
log messages before absl::InitializeLog() ...", "cudart_stub.cc ... Could not find cuda
drivers", "failed call to cuInit", CPU-instruction hints. :func:`quiet_import` drops those
lines and keeps every other one, so a real error (a broken install, a failing driver) is
still seen. ``TF_CPP_MIN_LOG_LEVEL=0`` or ``1`` turns the filter off.

Every s2v module that imports Keras at module level calls :func:`quiet_import` first. This
module itself imports neither Keras nor TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

__all__ = ["TF_NOISE", "quiet_import"]

#: The lines TensorFlow prints on every start on a machine without a GPU.
TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:. ]+\d+ \S+\.cc:\d+\] .*"
    r"|E\d{4} [\d:. ]+\d+ \S+\.cc:\d+\] (failed call to cuInit|Unable to register cu\w+ factory"
    r"|.*computation placer already registered).*"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)$")

_imported = False


@contextlib.contextmanager
def _dropped_noise():
    """Send file descriptor 2 to a temporary file; on exit, print back what is not noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            kept = [line for line in log.read().decode(errors="replace").splitlines()
                    if line.strip() and not TF_NOISE.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _load(quiet: bool):
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe (cuInit) happens here
    if quiet:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)


def quiet_import() -> None:
    """Import Keras (and TensorFlow when it is the Keras backend) with the start-up lines dropped.

    Only the first call does anything. The device probe does not initialise TensorFlow's
    runtime, so logical devices can still be configured afterwards. With
    ``TF_CPP_MIN_LOG_LEVEL`` set to ``0`` or ``1`` nothing is filtered.
    """
    global _imported
    if _imported:
        return
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") in ("0", "1"):
        _load(quiet=False)
    else:
        with _dropped_noise():
            _load(quiet=True)
    _imported = True
