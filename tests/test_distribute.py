"""Distributed training (tf.distribute): mirrored and multi-worker runs follow single-device training.

The CPU is split into two logical devices, which must happen before TensorFlow initialises,
so the runs happen in fresh Python processes. The reference is a single-device run of the
same configuration from the same initial weights. BatchNorm is off: with it, each replica
normalises with its own half of the batch (Keras' default), a real difference and not the one
under test (measured in docs/distributed.md).

What is compared: plain SGD, so that the first step moves the weights by exactly
``-lr x gradient`` and a gradient of the wrong scale (a missing ``1/N`` of the replicas' loss
doubles it with two replicas) moves them by the wrong amount. Adam would hide that: it divides
by ``sqrt(v)``, so a gradient doubled everywhere gives nearly the same step. The first step's
weight change must match the single-device one to 1e-4 relative (measured: 4e-6 at most per
variable, float rounding of the split batch; a 2x error is 100 % off), and so must the losses
of three steps (the later ones see the updated weights). Longer SGD runs drift apart (0.2 %
after six steps at this learning rate, the loss no longer falling monotonically): rounding
differences grow, which says nothing about the gradient's scale.
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
    import contextlib, json, sys, tempfile
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
            if batch == 0:
                self.first = self.model.get_weights()

    def scene():
        clean = np.full((61, 67), 1.0, np.float32)
        clean[:, 33:] = 4.0
        clean[15:35, 10:30] = 9.0
        return gamma_speckle(clean, 1.0, seed=1)

    def configure(**overrides):
        return S2VConfig.from_preset("cpu", **{
            "filters": 8, "depth": 3, "patch_size": 16, "batch_size": 4, "steps_per_epoch": 5,
            "total_steps": 10, "checkpoint_every": 5, "batch_norm": False, "learning_rate": 1e-3,
            **overrides})

    def run(strategy, out_dir, **overrides):
        # s2v.train (Adam) end to end: checkpoints, logs, final model.
        record = Record()
        model = train([scene()], configure(**overrides), out_dir=out_dir, verbose=0,
                      tensorboard=strategy is not None, strategy=strategy, callbacks=[record])
        return record.losses, model

    def sgd_run(strategy, steps=3, learning_rate=1e-3):
        # SGD steps from the seed-0 initial weights: (logged losses, first step's weight change).
        from s2v.distribute import distribute_dataset
        from s2v.model import Speckle2Void
        from s2v.patches import PatchSampler, make_dataset

        # No point targets (clip far above the data): each replica's loss is the mean over its
        # valid pixels, so with uneven counts the mean of the replicas' means is not quite the
        # mean of the global batch, a real (small) difference and not the one under test.
        config = configure(clip=1e6)
        keras.utils.set_random_seed(config.seed)
        reference = Speckle2Void(config)
        # Head bias 1: beta = ReLU(...) starts near 1, not near 0, where the gradient of
        # log(beta) is ill-conditioned (a rounding difference in a tiny beta changes it a lot).
        reference.head.bias.assign(np.ones(2, np.float32))
        start = reference.get_weights()
        sampler = PatchSampler([scene()], config)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = Speckle2Void(config)
            model.set_weights(start)
            model.compile(optimizer=keras.optimizers.SGD(learning_rate))
        dataset = (make_dataset(sampler, 0, steps) if strategy is None
                   else distribute_dataset(strategy, sampler, 0, steps))
        record = Record()
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[record])
        return record.losses, [(w - w0).tolist() for w, w0 in zip(record.first, start)]
""")

_MIRRORED = _COMMON + textwrap.dedent("""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = make_strategy("mirrored")
    single = sgd_run(None)
    mirrored = sgd_run(strategy)
    losses, model = run(strategy, sys.argv[1])
    try:
        run(strategy, tempfile.mkdtemp(), batch_size=3)
        uneven = ""
    except ValueError as exc:
        uneven = str(exc)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "single": single, "mirrored": mirrored,
                      "train_losses": losses, "uneven": uneven}))
""")

_WORKER = _COMMON + textwrap.dedent("""
    import os
    from s2v.distribute import is_chief
    strategy = make_strategy("multiworker")
    sgd = sgd_run(strategy)
    losses, model = run(strategy, sys.argv[1])
    print(json.dumps({"chief": is_chief(strategy), "replicas": strategy.num_replicas_in_sync,
                      "sgd": sgd, "losses": losses}))
""")

_SINGLE = _COMMON + "print(json.dumps(sgd_run(None)))\n"


def _last_json(output: str):
    return json.loads(output.strip().splitlines()[-1])


def _python(script, *args, env=_ENV, timeout=240):
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return _last_json(done.stdout)


def _assert_same_steps(reference, run):
    """Same logged losses (running means of the epoch) and SGD weight change as on one device."""
    (ref_losses, ref_change), (losses, change) = reference, run
    assert len(losses) == len(ref_losses) == 3
    ref_change = np.concatenate([np.ravel(c) for c in ref_change])
    change = np.concatenate([np.ravel(c) for c in change])
    assert np.abs(ref_change).max() > 0, "the weights moved"
    error = np.linalg.norm(change - ref_change) / np.linalg.norm(ref_change)
    assert error < 1e-4, f"first SGD step's weight change off by {error:.3g} (relative): a gradient of the wrong scale"
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4, err_msg="logged loss")


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
    _assert_same_steps(result["single"], result["mirrored"])
    losses = result["train_losses"]
    assert len(losses) == 10 and losses[-1] < 0.7 * losses[0], "s2v.train under the strategy: the loss falls"
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
        _assert_same_steps(reference, r["sgd"])
        assert len(r["losses"]) == 10 and r["losses"][-1] < 0.7 * r["losses"][0]
    written = sorted(p.name for p in (tmp_path / "multi").iterdir())
    assert written == ["checkpoints", "config.json", "logs", "model.keras"], "the worker's scratch folder is removed"
