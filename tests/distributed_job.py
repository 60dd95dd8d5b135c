"""Subprocess entry point for the distribution tests (tests/test_distribute.py).

Logical CPU devices and multi-worker clusters must be configured before
TensorFlow initialises, so these jobs run in fresh processes:

    python tests/distributed_job.py mirrored CHECKPOINT OUT.json NUM_DEVICES sequence|token
    TF_CONFIG=... python tests/distributed_job.py worker CHECKPOINT OUT.npz
    python tests/distributed_job.py families OUT.json FAMILY [FAMILY ...]

`mirrored` trains the same model on the same global batches with one device
and with `MirroredStrategy` over NUM_DEVICES logical CPUs and writes the
max differences of losses and weights. `worker` trains under
`MultiWorkerMirroredStrategy` and saves its final weights and losses.
`families` runs one weighted `fit()` step per head family of
tests/loss_cases.py on one device and under `MirroredStrategy` over 2
logical CPUs, from the same weights, and writes the loss and weight
differences per family.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GLOBAL_BATCH = 8
NUM_EXAMPLES = 16


def make_data(seed=0, vocab_size=99, seq_len=12, num_labels=3, token_labels=False):
    import numpy as np

    rng = np.random.RandomState(seed)
    lengths = rng.randint(4, seq_len + 1, NUM_EXAMPLES)
    features = {"input_ids": [list(rng.randint(1, vocab_size, n)) for n in lengths],
                "labels": list(rng.randint(0, num_labels, NUM_EXAMPLES))}
    if token_labels:  # uneven numbers of -100 per example, so replicas hold different label counts
        features["labels"] = [[int(v) if v < num_labels else -100 for v in rng.randint(0, num_labels + 2, n)]
                              for n in lengths]
    features["attention_mask"] = [[1] * n for n in lengths]
    return features


def train(checkpoint, strategy, steps_per_execution=1, task="sequence"):
    import keras
    import numpy as np
    import tensorflow as tf

    import tfmodels
    from tfmodels.training.data import prepare_tf_dataset

    keras.utils.set_random_seed(0)
    keras.config.disable_traceback_filtering()
    with strategy.scope():
        cls = tfmodels.BertForTokenClassification if task == "token" else tfmodels.BertForSequenceClassification
        model = cls.from_pretrained(checkpoint)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), steps_per_execution=steps_per_execution)
    dataset = prepare_tf_dataset(make_data(token_labels=task == "token"), batch_size=GLOBAL_BATCH, pad_to_multiple_of=8, drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)
    losses = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(logs["loss"]))
    model.fit(dataset, epochs=2, verbose=0, callbacks=[callback])
    weights = {v.path.split("/", 1)[1]: np.asarray(v.numpy()) for v in model.weights}
    return np.asarray(losses, dtype="float64"), weights


def run_mirrored(checkpoint, out_path, num_devices, task):
    import numpy as np

    from tfmodels.training.distribute import configure_logical_cpus

    devices = configure_logical_cpus(num_devices)
    import tensorflow as tf

    single_losses, single_weights = train(checkpoint, tf.distribute.get_strategy(), task=task)
    strategy = tf.distribute.MirroredStrategy(devices)
    mirrored_losses, mirrored_weights = train(checkpoint, strategy, task=task)
    result = {
        "num_replicas": strategy.num_replicas_in_sync,
        "single_losses": single_losses.tolist(),
        "mirrored_losses": mirrored_losses.tolist(),
        "loss_diff": float(np.max(np.abs(single_losses - mirrored_losses))),
        "weight_diff": max(float(np.max(np.abs(single_weights[k] - mirrored_weights[k]))) for k in single_weights),
        "same_names": sorted(single_weights) == sorted(mirrored_weights),
    }
    with open(out_path, "w") as handle:
        json.dump(result, handle)


def run_worker(checkpoint, out_path):
    import numpy as np
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    losses, weights = train(checkpoint, strategy)
    np.savez(out_path, __losses__=losses, __replicas__=strategy.num_replicas_in_sync,
             **{k.replace("/", "|"): v for k, v in weights.items()})


def _one_step(family, strategy, initial_weights=None):
    """One SGD `fit()` step on the family's batch with per-example weights; `(loss, weights, initial)`."""
    import keras
    import numpy as np

    from tests import loss_cases

    inputs, labels = loss_cases.batch(family)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = loss_cases.build(family)
        if initial_weights is not None:
            model.set_weights(initial_weights)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5))
    initial = [np.asarray(w) for w in model.get_weights()]
    first = model({**inputs, **labels}, training=True)
    again = model({**inputs, **labels}, training=True)
    if not np.array_equal(np.asarray(first["loss"]), np.asarray(again["loss"])):
        raise RuntimeError(f"{family}: the training-mode loss is not deterministic (dropout left on?)")
    sample_weight = np.array([1.0, 0.5, 2.0, 1.5], dtype="float32")
    history = model.fit(inputs, labels, sample_weight=sample_weight, batch_size=loss_cases.BATCH,
                        epochs=1, shuffle=False, verbose=0)
    return float(history.history["loss"][0]), [np.asarray(w) for w in model.get_weights()], initial


def run_families(out_path, families):
    import numpy as np

    from tfmodels.training.distribute import configure_logical_cpus

    devices = configure_logical_cpus(2)
    import tensorflow as tf

    results = {}
    strategy = tf.distribute.MirroredStrategy(devices)  # one for all: a new one per model mixes up collectives
    for family in families:
        single_loss, single_weights, initial = _one_step(family, tf.distribute.get_strategy())
        mirrored_loss, mirrored_weights, _ = _one_step(family, strategy, initial)
        results[family] = {
            "num_replicas": strategy.num_replicas_in_sync,
            "single_loss": single_loss,
            "loss_diff": abs(single_loss - mirrored_loss),
            "weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(single_weights, mirrored_weights)),
            "max_update": max(float(np.max(np.abs(a - b))) for a, b in zip(single_weights, initial)),
        }
    with open(out_path, "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    mode, checkpoint, out = sys.argv[1:4]
    if mode == "families":
        run_families(checkpoint, sys.argv[3:])
    elif mode == "mirrored":
        run_mirrored(checkpoint, out, int(sys.argv[4]), sys.argv[5])
    elif mode == "worker":
        run_worker(checkpoint, out)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
