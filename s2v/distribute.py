"""Multi-device and multi-worker training with TensorFlow's own engine (``tf.distribute``).

``s2v train --strategy mirrored`` trains on every local GPU (or every logical CPU device)
with :class:`tf.distribute.MirroredStrategy`; ``--strategy multiworker`` trains on several
machines with :class:`tf.distribute.MultiWorkerMirroredStrategy`, whose cluster is described
by the ``TF_CONFIG`` environment variable.

Semantics (the same model as single-device training, see ``docs/distributed.md``):

* ``config.batch_size`` is the GLOBAL batch: each step draws the same batch of patches as a
  single-device run (patches are keyed by ``(seed, step)``), and each of the ``N`` replicas
  takes a contiguous ``batch_size / N`` slice of it. The learning rate is unchanged: the
  replicas' gradients are summed after each one has scaled its loss by ``1 / N``
  (:func:`scale_loss_for_replicas`, in :meth:`s2v.model.Speckle2Void.compute_loss`), which is
  the gradient of the global batch -- exactly so when the replicas' slices hold as many valid
  pixels each: a replica's loss is the mean over its own valid pixels, so point targets split
  unevenly weight the slices slightly differently from the single-device mean.
* BatchNorm (the ``paper`` preset) normalises with each replica's own slice of the batch, as
  Keras does by default, so a mirrored run differs slightly from a single-device one when
  ``batch_norm`` is on; without BatchNorm the two follow the same trajectory up to float
  rounding (tested in ``tests/test_distribute.py``).
* Only the chief worker writes the training folder; the other workers save their
  checkpoints (saving may read distributed values collectively, so every worker must save)
  into a scratch folder of their own, :func:`worker_dir`, removed at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ._tensorflow import quiet_import

quiet_import()  # before Keras: TensorFlow's start-up lines dropped

import keras

__all__ = ["STRATEGIES", "make_strategy", "replica_batch_size", "distribute_dataset", "is_chief",
           "worker_dir", "step_logs", "scale_loss_for_replicas"]

#: Strategy names accepted by :func:`make_strategy` (and ``s2v train --strategy``).
STRATEGIES = ("mirrored", "multiworker")


def _check_tf_config() -> dict:
    """Parse ``TF_CONFIG`` and say clearly what is wrong with it."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return {}
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"TF_CONFIG is not valid JSON ({exc}); expected e.g. "
                         '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                         '"task": {"type": "worker", "index": 0}}') from None
    cluster, task = spec.get("cluster") if isinstance(spec, dict) else None, spec.get("task", {})
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError("TF_CONFIG has no 'cluster' (job name -> list of 'host:port')")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ValueError(f"TF_CONFIG task {task!r} must have a 'type' among the cluster's jobs "
                         f"{sorted(cluster)} and an 'index'")
    index = task.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG task index {index!r} is out of range for the "
                         f"{len(cluster[task['type']])} {task['type']!r} address(es)")
    return spec


def make_strategy(kind: str = "mirrored", *, devices=None):
    """Return a ``tf.distribute`` strategy for training.

    Parameters
    ----------
    kind : {"mirrored", "multiworker"}
        ``"mirrored"``: one machine, several devices
        (:class:`tf.distribute.MirroredStrategy`). ``"multiworker"``: several machines, each
        with its local devices (:class:`tf.distribute.MultiWorkerMirroredStrategy`); every
        worker runs the same command with its own ``TF_CONFIG``.
    devices : list of str, optional
        Devices of a mirrored strategy (default: every GPU, or, without GPUs, every logical
        CPU device, e.g. those made by ``tf.config.set_logical_device_configuration``).

    Returns
    -------
    tf.distribute.Strategy
        Pass it to :func:`s2v.train` (``strategy=``).

    Raises
    ------
    ValueError
        Unknown ``kind`` or a malformed ``TF_CONFIG``.
    """
    if kind not in STRATEGIES:
        raise ValueError(f"unknown strategy {kind!r}; choose among {STRATEGIES}")
    import tensorflow as tf

    if kind == "mirrored":
        if devices is None:
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=list(devices))
    if devices is not None:
        raise ValueError("devices= applies to the mirrored strategy only; multiworker uses each "
                         "worker's local devices")
    _check_tf_config()
    return tf.distribute.MultiWorkerMirroredStrategy()


def replica_batch_size(global_batch: int, strategy) -> int:
    """Patches per replica for a global batch; the batch must split evenly.

    Raises
    ------
    ValueError
        When ``global_batch`` is not a multiple of the number of replicas.
    """
    replicas = int(strategy.num_replicas_in_sync)
    if global_batch % replicas:
        raise ValueError(f"batch_size {global_batch} (the global batch) does not split evenly over "
                         f"{replicas} replicas; use a multiple of {replicas}")
    return global_batch // replicas


def distribute_dataset(strategy, sampler, start_step: int, stop_step: int):
    """The batches of steps ``start_step .. stop_step-1``, split over the strategy's replicas.

    Every worker draws the global batch of each step (keyed by ``(seed, step)``, as in
    :func:`s2v.patches.make_dataset`) and keeps its own contiguous part; its local replicas
    receive consecutive slices of ``batch_size / N`` patches. The union of the slices of one
    step is exactly the single-device batch of that step.

    Returns
    -------
    tf.distribute.DistributedDataset
        For ``keras.Model.fit`` (which accepts distributed datasets as they are).
    """
    import tensorflow as tf

    config = sampler.config
    per_replica = replica_batch_size(config.batch_size, strategy)
    p = config.patch_size
    # s2v.batches.TRAINING_PLANES: the looks plane with a looks_range, the target when supervised
    planes = 3 + int(sampler.supervised) + int(bool(config.looks_range))

    def dataset_fn(context):
        local = strategy.num_replicas_in_sync // context.num_input_pipelines
        rows = slice(context.input_pipeline_id * local * per_replica,
                     (context.input_pipeline_id + 1) * local * per_replica)

        def generate():
            for step in range(start_step, stop_step):
                # One tensor, planes on the last axis: see s2v.batches.pack_batch for why.
                yield sampler.training_batch(step)[rows].reshape(local, per_replica, p, p, planes)

        spec = tf.TensorSpec((local, per_replica, p, p, planes), tf.float32)
        # Unbatching the (local replicas, ...) axis hands replica k the k-th slice: the
        # per-worker iterator gives elements to the local devices in turn.
        dataset = tf.data.Dataset.from_generator(generate, output_signature=spec)
        return dataset.unbatch().prefetch(tf.data.AUTOTUNE)

    return strategy.distribute_datasets_from_function(dataset_fn)


def step_logs(logs: dict) -> dict:
    """Make a train/test step's scalar logs reducible by Keras across workers.

    Keras 3 (3.15) reduces each step's outputs across the workers of a multi-worker strategy
    with ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalars
    (tensorflow/tensorflow#72388); shape ``(1,)`` values reduce to the scalar mean. Elsewhere
    the logs are returned unchanged (and always on other Keras backends).
    """
    if keras.backend.backend() != "tensorflow":
        return logs
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    multi_worker = (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                    and strategy.num_replicas_in_sync > len(strategy.extended.worker_devices))
    return {k: tf.reshape(v, [1]) for k, v in logs.items()} if multi_worker else logs


def scale_loss_for_replicas(loss):
    """``loss / N`` inside a ``tf.distribute`` strategy of ``N`` replicas, else ``loss``.

    Each replica computes the mean loss of its own slice of the global batch
    and the optimizer SUMS the replicas' gradients, so each one scales by
    ``1 / N`` for the sum to be the gradient of the global batch. Keras' own
    losses do this inside their reduction (``keras.src.losses.loss.
    scale_loss_for_distribution``), but its TensorFlow ``train_step`` does not
    scale what a custom ``compute_loss`` returns: a model that overrides
    ``compute_loss`` must. On other backends the loss is returned unchanged
    (``keras.distribution`` under JAX shards one global computation: nothing to scale).
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss


def _task(strategy) -> tuple[str | None, int, dict]:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return None, 0, {}
    return resolver.task_type, int(resolver.task_id or 0), resolver.cluster_spec().as_dict()


def is_chief(strategy=None) -> bool:
    """True for the worker that writes the training folder (always True without a cluster).

    The chief is the task of type ``"chief"`` if the cluster has one, otherwise worker 0.
    """
    task_type, task_id, cluster = _task(strategy)
    if not cluster or task_type is None:
        return True
    if task_type == "chief":
        return True
    return "chief" not in cluster and task_type == "worker" and task_id == 0


def worker_dir(out_dir, strategy=None) -> Path:
    """Folder a worker writes: ``out_dir`` for the chief, a scratch folder for the others."""
    out_dir = Path(out_dir)
    if is_chief(strategy):
        return out_dir
    task_type, task_id, _ = _task(strategy)
    return out_dir / f".{task_type}-{task_id}-scratch"
