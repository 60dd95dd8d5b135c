"""tf.distribute: MirroredStrategy over logical CPUs and two local workers.

Both need TensorFlow configured before it initialises, so the training runs
in subprocesses (tests/distributed_job.py), bounded in time.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfmodels
from tfmodels.training.distribute import free_local_ports, multi_worker_tf_config

JOB = str(Path(__file__).with_name("distributed_job.py"))
ROOT = str(Path(__file__).resolve().parents[1])


def tiny_checkpoint(directory, cls=tfmodels.BertForSequenceClassification):
    """A tiny BERT classifier without dropout (replicas must compute the same thing)."""
    model = cls(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=64, num_labels=3,
    )
    model.build_from_dummy_inputs()
    model.save_pretrained(directory)
    return str(directory)


def _env():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TF_CONFIG", None)
    return env


@pytest.mark.parametrize("task", [
    "sequence",
    pytest.param("token", marks=pytest.mark.slow),  # uneven -100 labels per replica: global label count
])
def test_mirrored_matches_single_device(tmp_path, task):
    cls = tfmodels.BertForTokenClassification if task == "token" else tfmodels.BertForSequenceClassification
    checkpoint = tiny_checkpoint(tmp_path / "ckpt", cls)
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, JOB, "mirrored", checkpoint, str(out), "2", task],
                   env=_env(), check=True, timeout=240)
    result = json.loads(out.read_text())
    assert result["num_replicas"] == 2
    assert result["same_names"]
    assert len(result["single_losses"]) == 4  # 2 epochs x 2 global batches
    assert result["loss_diff"] <= 1e-5, result
    assert result["weight_diff"] <= 1e-5, result


def test_multi_worker_two_local_workers(tmp_path):
    checkpoint = tiny_checkpoint(tmp_path / "ckpt")
    addresses = [f"127.0.0.1:{port}" for port in free_local_ports(2)]
    outs = [tmp_path / f"worker{i}.npz" for i in range(2)]
    procs = []
    for index, out in enumerate(outs):
        env = dict(_env(), TF_CONFIG=multi_worker_tf_config(addresses, index))
        procs.append(subprocess.Popen([sys.executable, JOB, "worker", checkpoint, str(out)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    try:
        logs = [proc.communicate(timeout=240)[0].decode(errors="replace") for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, log in zip(procs, logs):
        assert proc.returncode == 0, log[-3000:]
    first, second = (np.load(out) for out in outs)
    assert int(first["__replicas__"]) == 2
    assert sorted(first.files) == sorted(second.files)
    initial = tfmodels.BertForSequenceClassification.from_pretrained(checkpoint)
    before = {v.path.split("/", 1)[1].replace("/", "|"): v.numpy() for v in initial.weights}
    changed = 0
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
        if key in before:
            changed += int(not np.allclose(first[key], before[key]))
    assert changed > 0, "training did not change any weight"
    # Same losses and weights as one device on the same global batches.
    import tensorflow as tf

    from tests.distributed_job import train

    single_losses, single_weights = train(checkpoint, tf.distribute.get_strategy())
    np.testing.assert_allclose(first["__losses__"], single_losses, atol=1e-5)
    for key, value in single_weights.items():
        np.testing.assert_allclose(first[key.replace("/", "|")], value, atol=1e-5, err_msg=key)


# Head families of tests/loss_cases.py: every head family with a loss (token cross-entropy with uneven -100
# counts, the span loss with ignored positions, MLM + sentence pair, the ELECTRA/Funnel BCE over attention_mask,
# Transformer-XL's adaptive log-probabilities, ...), about 4 s of CPU each, in one subprocess.
FAMILIES = ["token_classification", "question_answering", "bert_pretraining", "electra_pretraining",
            "funnel_pretraining", "transfo_xl_adaptive", "sequence_classification", "masked_lm", "causal_lm",
            "albert_pretraining", "mobilebert_pretraining", "xlnet_lm"]


def _family_diffs(tmp_path, families):
    out = tmp_path / "families.json"
    subprocess.run([sys.executable, JOB, "families", str(out), *families], env=_env(), check=True, timeout=600)
    return json.loads(out.read_text())


def _assert_same_as_single_device(results, families):
    assert sorted(results) == sorted(families)
    for family, result in results.items():
        assert result["num_replicas"] == 2, family
        assert result["max_update"] > 1e-3, f"{family}: the step did not move the weights ({result})"
    bad = {f: r for f, r in results.items() if not (r["loss_diff"] <= 1e-6 and r["weight_diff"] <= 1e-6)}
    assert not bad, f"MirroredStrategy differs from one device: {bad}"


# One of each loss shape in the default suite (per-token with ignored labels, shifted causal, a sum of two
# heads, adaptive softmax); the other head families run in the slow suite (the whole list took 70 s on 2 cores).
DEFAULT_FAMILIES = ["token_classification", "causal_lm", "bert_pretraining", "transfo_xl_adaptive"]


@pytest.mark.parametrize("families", [
    pytest.param(DEFAULT_FAMILIES, id="default"),
    pytest.param([f for f in FAMILIES if f not in DEFAULT_FAMILIES], id="others", marks=pytest.mark.slow),
])
def test_task_losses_are_global_means_under_mirrored_strategy(tmp_path, families):
    """One weighted SGD step per head family over 2 logical CPUs whose halves of the batch hold different numbers
    of valid labels: same loss and same updated weights as one device (<= 1e-6)."""
    results = _family_diffs(tmp_path, families)
    print({family: (r["loss_diff"], r["weight_diff"]) for family, r in results.items()})
    _assert_same_as_single_device(results, families)
