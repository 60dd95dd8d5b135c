"""`tf.distribute` helpers: logical CPU devices, multi-worker `TF_CONFIG`, strategies.

tfmodels models need nothing special under a strategy: build or load them
inside `strategy.scope()` and call `compile()`/`fit()` as usual; the task
losses are scaled for the number of replicas by `PreTrainedModel.compute_loss`.
These helpers set up the strategies the tests and examples use.

XLA: on one device, `compile(jit_compile=True)` compiles the whole train step
(tests/test_xla_train_step.py); `TPUStrategy` XLA-compiles each replica's
step itself. Under `MirroredStrategy`, Keras' `jit_compile=True` wraps the
multi-device step in one XLA cluster, which fails ("Trying to access resource
... located in device CPU:1"); Keras' default `jit_compile="auto"` turns XLA
off under a strategy.
"""

import json
import os
import socket

import tensorflow as tf


def configure_logical_cpus(num_devices):
    """Splits the host CPU into `num_devices` logical devices.

    Must run before TensorFlow initialises its devices (before the first op,
    `tf.config.list_logical_devices()` or model creation).

    Returns:
        list of logical CPU device names, e.g. `["/device:CPU:0", "/device:CPU:1"]`.

    Raises:
        RuntimeError: TensorFlow has already initialised its devices with
            another configuration.
        ValueError: `num_devices < 1`.
    """
    if num_devices < 1:
        raise ValueError(f"num_devices must be >= 1. Received: num_devices={num_devices}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
        )
    except RuntimeError as error:
        existing = tf.config.list_logical_devices("CPU")
        if len(existing) == num_devices:
            return [d.name for d in existing]
        raise RuntimeError(
            f"Cannot split the CPU into {num_devices} logical devices: TensorFlow already initialised "
            f"{len(existing)}. Call configure_logical_cpus() first thing in the process."
        ) from error
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def free_local_ports(count):
    """`count` free TCP ports on 127.0.0.1 (for local multi-worker runs)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def multi_worker_tf_config(worker_addresses, index):
    """The `TF_CONFIG` JSON string for worker `index` of a cluster.

    Args:
        worker_addresses: list of `"host:port"` strings, one per worker.
        index: this worker's position in `worker_addresses`.
    """
    if not 0 <= index < len(worker_addresses):
        raise ValueError(f"index must be in [0, {len(worker_addresses)}). Received: index={index}")
    return json.dumps({"cluster": {"worker": list(worker_addresses)}, "task": {"type": "worker", "index": index}})


def make_strategy(kind="auto", tpu=None):
    """Returns a `tf.distribute.Strategy` by name.

    Args:
        kind: `"mirrored"`, `"multi_worker"` (reads `TF_CONFIG`), `"tpu"`,
            `"default"` (no distribution) or `"auto"`: TPU if `tpu` is given,
            multi-worker if `TF_CONFIG` is set, mirrored with several
            devices, default otherwise.
        tpu: TPU name/address for `TPUClusterResolver` (`""` on a TPU VM).
    """
    if kind == "auto":
        if tpu is not None:
            kind = "tpu"
        elif os.environ.get("TF_CONFIG"):
            kind = "multi_worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            kind = "mirrored"
        else:
            kind = "default"
    if kind == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"kind must be auto, mirrored, multi_worker, tpu or default. Received: kind={kind!r}")
