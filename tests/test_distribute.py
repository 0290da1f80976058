"""Distributed training (tf.distribute): mirrored and multi-worker runs follow single-device training.

The CPU is split into two logical devices, which must happen before TensorFlow initialises,
so the runs happen in fresh Python processes. The reference is a single-device run of the
same configuration in the same process. BatchNorm is off: with it, each replica normalises
with its own half of the batch (Keras' default), a real difference and not the one under test
(measured in docs/distributed.md).

Tolerance: the first step sees identical weights and data, so its loss agrees to float rounding
(1e-5 relative). Later steps drift because Adam divides by sqrt(v): a gradient component
near zero changes sign under a rounding difference. Switching oneDNN off in a single-device run
(another rounding of the same computation) moved the loss of step 10 by 7e-4 relative, so
the trajectory is compared to 1e-2.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from s2v.distribute import make_strategy

_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}

_COMMON = textwrap.dedent("""
    import json, sys, tempfile
    import keras
    import numpy as np
    from s2v.config import S2VConfig
    from s2v.distribute import make_strategy
    from s2v.simulate import gamma_speckle
    from s2v.training import train

    class Record(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    def run(strategy, out_dir, **overrides):
        clean = np.full((61, 67), 1.0, np.float32)
        clean[:, 33:] = 4.0
        clean[15:35, 10:30] = 9.0
        config = S2VConfig.from_preset("cpu", **{
            "filters": 8, "depth": 3, "patch_size": 16, "batch_size": 4, "steps_per_epoch": 5,
            "total_steps": 10, "checkpoint_every": 5, "batch_norm": False, "learning_rate": 1e-3,
            **overrides})
        record = Record()
        model = train([gamma_speckle(clean, 1.0, seed=1)], config, out_dir=out_dir, verbose=0,
                      tensorboard=strategy is not None, strategy=strategy, callbacks=[record])
        return record.losses, model
""")

_MIRRORED = _COMMON + textwrap.dedent("""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = make_strategy("mirrored")
    single, reference = run(None, tempfile.mkdtemp())
    mirrored, model = run(strategy, sys.argv[1])
    try:
        run(strategy, tempfile.mkdtemp(), batch_size=3)
        uneven = ""
    except ValueError as exc:
        uneven = str(exc)
    weights = max(float(np.max(np.abs(a - b))) for a, b in zip(reference.get_weights(), model.get_weights()))
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "single": single, "mirrored": mirrored,
                      "uneven": uneven, "weights": weights}))
""")

_WORKER = _COMMON + textwrap.dedent("""
    import os
    from s2v.distribute import is_chief
    strategy = make_strategy("multiworker")
    losses, model = run(strategy, sys.argv[1])
    print(json.dumps({"chief": is_chief(strategy), "replicas": strategy.num_replicas_in_sync,
                      "losses": losses}))
""")

_SINGLE = _COMMON + "print(json.dumps(run(None, sys.argv[1])[0]))\n"


def _last_json(output: str):
    return json.loads(output.strip().splitlines()[-1])


def _python(script, *args, env=_ENV, timeout=240):
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return _last_json(done.stdout)


def _assert_follows(reference, losses):
    assert len(losses) == len(reference) == 10
    assert losses[0] == pytest.approx(reference[0], rel=1e-5), "first step: same weights, same data"
    np.testing.assert_allclose(losses, reference, rtol=1e-2)
    assert losses[-1] < 0.7 * losses[0], "the loss falls, as in the single-device run"


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="unknown strategy 'horovod'"):
        make_strategy("horovod")


@pytest.mark.parametrize("tf_config, problem", [
    ("{not json", "not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "no 'cluster'"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "must have a 'type'"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "out of range"),
])
def test_malformed_tf_config_is_explained(monkeypatch, tf_config, problem):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=problem):
        make_strategy("multiworker")


def test_mirrored_training_follows_single_device(tmp_path):
    """Two logical CPU devices, global batch 4 = 2 x 2: the same loss trajectory as one device."""
    result = _python(_MIRRORED, tmp_path / "mirrored")
    assert result["replicas"] == 2
    _assert_follows(result["single"], result["mirrored"])
    assert result["weights"] < 1e-2  # Adam steps are ~lr = 1e-3 each: a few at most flip
    assert "does not split evenly over 2 replicas" in result["uneven"]
    assert (tmp_path / "mirrored" / "model.keras").is_file()
    assert any((tmp_path / "mirrored" / "logs").rglob("events.out.tfevents.*"))


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_follow_single_device(tmp_path):
    """MultiWorkerMirroredStrategy with two local worker processes (TF_CONFIG), one CPU each."""
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**_ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path / "multi")], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        results.append(_last_json(out))
    reference = _python(_SINGLE, tmp_path / "single")
    assert [r["chief"] for r in results] == [True, False]
    assert all(r["replicas"] == 2 for r in results)
    for r in results:
        _assert_follows(reference, r["losses"])
    written = sorted(p.name for p in (tmp_path / "multi").iterdir())
    assert written == ["checkpoints", "config.json", "logs", "model.keras"], "the worker's scratch folder is removed"
