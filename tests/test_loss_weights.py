"""`sample_weight`, `class_weight` and metrics with the built-in task loss (`compile()` without `loss=`).

Weights apply as in Keras' own losses: the weighted sum of the per-example
(per-token, for token-level heads, where an example's weight covers its
tokens) losses over the number of valid labels. References are per-example
losses of the `transformers` PyTorch model on the same weights, weighted by
hand; metric references are computed with NumPy from logits and labels.
"""

import keras
import numpy as np
import pytest
import torch

import tfmodels
from tests import loss_cases
from tests.helpers import hf_checkpoint, random_inputs
from tests.test_bert_parity import tiny_bert_config

WEIGHTS = np.array([2.0, 0.0, 0.5, 1.0], dtype="float32")


def _checkpoint(class_name, tmp_path):
    config = tiny_bert_config(num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return hf_checkpoint(class_name, config, tmp_path)


def _data(token_level):
    inputs = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7))
    rng = np.random.RandomState(1)
    if not token_level:
        return inputs, rng.randint(0, 3, (4,))
    labels = rng.randint(0, 3, inputs["input_ids"].shape)
    labels[(inputs["attention_mask"] == 0) | (rng.rand(*labels.shape) < 0.3)] = -100
    return inputs, labels


def _torch_losses(class_name, path, inputs, labels):
    """Per-example (or per-token, 0 where ignored) cross-entropies of the PyTorch model, and its logits."""
    import transformers

    model = getattr(transformers, class_name).from_pretrained(path).eval()
    with torch.no_grad():
        logits = model(**{k: torch.as_tensor(v) for k, v in inputs.items()}).logits
    losses = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), torch.as_tensor(labels).reshape(-1), reduction="none",
        ignore_index=-100)
    return losses.reshape(labels.shape).numpy().astype("float64"), logits.numpy()


@pytest.mark.parametrize("family", ["sequence_classification", "token_classification", "electra_pretraining"])
def test_zero_sample_weights_leave_the_weights_unchanged(family):
    model = loss_cases.build(family)
    inputs, labels = loss_cases.batch(family)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5))
    before = [np.array(w) for w in model.get_weights()]
    model.fit(inputs, labels, sample_weight=np.zeros(loss_cases.BATCH), batch_size=2, epochs=1, verbose=0)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    model.fit(inputs, labels, sample_weight=np.ones(loss_cases.BATCH), batch_size=2, epochs=1, verbose=0)
    assert any(not np.array_equal(old, new) for old, new in zip(before, model.get_weights()))


@pytest.mark.parametrize("class_name", ["BertForSequenceClassification", "BertForTokenClassification"])
def test_evaluate_with_sample_weight_matches_weighted_reference(class_name, tmp_path):
    token_level = "Token" in class_name
    path = _checkpoint(class_name, tmp_path)
    inputs, labels = _data(token_level)
    losses, _ = _torch_losses(class_name, path, inputs, labels)
    weights = WEIGHTS[:, None] * np.ones_like(losses) if token_level else WEIGHTS
    expected = float((losses * weights).sum() / (labels != -100).sum())
    model = getattr(tfmodels, class_name).from_pretrained(path)
    model.compile(optimizer="sgd")
    ours = model.evaluate(inputs, labels, sample_weight=WEIGHTS, batch_size=4, verbose=0)
    assert abs(ours - expected) <= 1e-5, (ours, expected)


def test_per_token_sample_weight_matches_weighted_reference(tmp_path):
    path = _checkpoint("BertForTokenClassification", tmp_path)
    inputs, labels = _data(token_level=True)
    losses, _ = _torch_losses("BertForTokenClassification", path, inputs, labels)
    weights = np.random.RandomState(2).rand(*labels.shape).astype("float32")
    expected = float((losses * weights).sum() / (labels != -100).sum())
    model = tfmodels.BertForTokenClassification.from_pretrained(path)
    model.compile(optimizer="sgd")
    ours = model.evaluate(inputs, labels, sample_weight=weights, batch_size=4, verbose=0)
    assert abs(ours - expected) <= 1e-5, (ours, expected)


def test_sample_weight_applies_with_labels_inside_the_inputs(tmp_path):
    """Keras drops `sample_weight` when `y` is None; labels inside the input dict still get weighed."""
    path = _checkpoint("BertForTokenClassification", tmp_path)
    inputs, labels = _data(token_level=True)
    losses, _ = _torch_losses("BertForTokenClassification", path, inputs, labels)
    expected = float((losses * WEIGHTS[:, None]).sum() / (labels != -100).sum())
    model = tfmodels.BertForTokenClassification.from_pretrained(path)
    model.compile(optimizer="sgd")
    ours = model.evaluate({**inputs, "labels": labels}, sample_weight=WEIGHTS, batch_size=4, verbose=0)
    assert abs(ours - expected) <= 1e-5, (ours, expected)


def test_class_weight_weights_the_loss(tmp_path):
    path = _checkpoint("BertForSequenceClassification", tmp_path)
    inputs, labels = _data(token_level=False)
    losses, _ = _torch_losses("BertForSequenceClassification", path, inputs, labels)
    class_weight = {0: 0.25, 1: 2.0, 2: 1.0}
    expected = float((losses * np.array([class_weight[int(c)] for c in labels])).sum() / len(labels))
    model = tfmodels.BertForSequenceClassification.from_pretrained(path)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    history = model.fit(inputs, labels, class_weight=class_weight, batch_size=4, epochs=1, verbose=0)
    assert abs(history.history["loss"][0] - expected) <= 1e-5, (history.history["loss"][0], expected)


def test_class_weight_weights_each_token(tmp_path):
    path = _checkpoint("BertForTokenClassification", tmp_path)
    inputs, labels = _data(token_level=True)
    losses, _ = _torch_losses("BertForTokenClassification", path, inputs, labels)
    class_weight = {0: 0.25, 1: 2.0, 2: 1.0}
    weights = np.vectorize(lambda c: class_weight.get(int(c), 0.0))(labels)
    expected = float((losses * weights).sum() / (labels != -100).sum())
    model = tfmodels.BertForTokenClassification.from_pretrained(path)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    history = model.fit(inputs, labels, class_weight=class_weight, batch_size=4, epochs=1, verbose=0)
    assert abs(history.history["loss"][0] - expected) <= 1e-5, (history.history["loss"][0], expected)


def test_explicit_dict_loss_accepts_sample_weight(tmp_path):
    path = _checkpoint("BertForSequenceClassification", tmp_path)
    inputs, labels = _data(token_level=False)
    losses, _ = _torch_losses("BertForSequenceClassification", path, inputs, labels)
    model = tfmodels.BertForSequenceClassification.from_pretrained(path)
    model.compile(optimizer="sgd", loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  metrics={"logits": ["accuracy"]})
    ours = model.evaluate(inputs, {"logits": labels}, sample_weight=WEIGHTS, batch_size=4, verbose=0)[0]
    assert abs(ours - float((losses * WEIGHTS).sum() / len(labels))) <= 1e-5


def _token_model_and_logits(tmp_path):
    path = _checkpoint("BertForTokenClassification", tmp_path)
    inputs, labels = _data(token_level=True)
    model = tfmodels.BertForTokenClassification.from_pretrained(path)
    return model, inputs, labels, np.asarray(model(inputs)["logits"])


@pytest.mark.parametrize("argument", ["metrics", "weighted_metrics"])
def test_token_accuracy_ignores_ignored_labels(argument, tmp_path):
    model, inputs, labels, logits = _token_model_and_logits(tmp_path)
    valid = labels != -100
    expected = float((logits.argmax(-1) == labels)[valid].mean())
    model.compile(optimizer="sgd", **{argument: ["accuracy"]})
    results = model.evaluate(inputs, labels, batch_size=4, verbose=0, return_dict=True)
    assert abs(results["accuracy"] - expected) <= 1e-6, (results, expected)


def test_weighted_token_accuracy_uses_example_weights(tmp_path):
    model, inputs, labels, logits = _token_model_and_logits(tmp_path)
    weights = WEIGHTS[:, None] * (labels != -100)
    expected = float(((logits.argmax(-1) == labels) * weights).sum() / weights.sum())
    model.compile(optimizer="sgd", weighted_metrics=["accuracy"])
    results = model.evaluate(inputs, labels, sample_weight=WEIGHTS, batch_size=4, verbose=0, return_dict=True)
    assert abs(results["accuracy"] - expected) <= 1e-6, (results, expected)


def test_causal_lm_accuracy_scores_the_next_token():
    model = loss_cases.build("causal_lm")
    inputs, labels = loss_cases.batch("causal_lm")
    logits = np.asarray(model(inputs)["logits"])
    predicted = logits[:, :-1].argmax(-1)
    targets = labels["labels"][:, 1:]
    hit = (targets != -100) & (np.arange(targets.shape[1]) % 2 == 0)
    targets[hit] = predicted[hit]  # half the next tokens are the model's guess: unshifted scoring misses them
    expected = float((predicted == targets)[targets != -100].mean())
    model.compile(optimizer="sgd", metrics=["accuracy"])
    results = model.evaluate(inputs, labels, batch_size=4, verbose=0, return_dict=True)
    assert abs(results["accuracy"] - expected) <= 1e-6, (results, expected)
