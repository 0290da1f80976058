"""Shared fixtures: seeded random generators and the optional real-data folder."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from s2v._shared import shared_data_dir


@pytest.fixture
def rng():
    """A seeded generator: every test is reproducible."""
    return np.random.default_rng(20221)


@pytest.fixture
def shared_data():
    """The ``../shared/data`` folder; the test is skipped when it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent (set S2V_SHARED_DATA to point at it)")
    return path
