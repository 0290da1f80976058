"""s2v.patches: the patch sampler is NumPy-only at import (TensorFlow only inside make_dataset)."""

import subprocess
import sys


def test_import_loads_neither_tensorflow_nor_keras():
    code = ("import s2v.patches, sys; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
