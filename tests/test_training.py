"""compile() without a loss trains on the head's standard loss; fit() on tf.data and dicts."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

import tfmodels
from tests.helpers import hf_checkpoint, random_inputs, torch_outputs
from tests.test_bert_parity import tiny_bert_config


def _model(class_name, **overrides):
    config = tiny_bert_config(**overrides).to_dict()
    return getattr(tfmodels, class_name).from_config(config)


def _labels(class_name, inputs, rng):
    batch, seq = inputs["input_ids"].shape
    if class_name == "BertForSequenceClassification":
        return {"labels": rng.randint(0, 3, (batch,))}
    if class_name in ("BertForTokenClassification", "BertForMaskedLM"):
        high = 3 if class_name == "BertForTokenClassification" else 99
        labels = rng.randint(0, high, (batch, seq))
        labels[inputs["attention_mask"] == 0] = -100
        return {"labels": labels}
    return {"start_positions": rng.randint(0, seq, (batch,)), "end_positions": rng.randint(0, seq + 3, (batch,))}


@pytest.mark.parametrize("class_name", ["BertForSequenceClassification", "BertForTokenClassification",
                                        "BertForQuestionAnswering", "BertForMaskedLM"])
def test_loss_matches_transformers(class_name, tmp_path):
    num_labels = 2 if "Question" in class_name else 3
    path = hf_checkpoint(class_name, tiny_bert_config(num_labels=num_labels), tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    batch = {**inputs, **_labels(class_name, inputs, np.random.RandomState(1))}
    reference = torch_outputs(class_name, path, batch)["loss"]
    ours = getattr(tfmodels, class_name).from_pretrained(path)(batch)["loss"]
    assert abs(float(ours) - float(reference)) <= 1e-5


@pytest.mark.parametrize("problem_type,labels", [
    ("regression", np.array([0.5, -1.0, 2.0], dtype="float32")),
    ("multi_label_classification", np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0]], dtype="float32")),
])
def test_sequence_classification_problem_types(problem_type, labels, tmp_path):
    num_labels = 1 if problem_type == "regression" else 3
    config = tiny_bert_config(num_labels=num_labels, problem_type=problem_type)
    path = hf_checkpoint("BertForSequenceClassification", config, tmp_path)
    batch = {**random_inputs(type_vocab_size=3), "labels": labels}
    reference = torch_outputs("BertForSequenceClassification", path, {**batch, "labels": torch.tensor(labels)})
    ours = tfmodels.BertForSequenceClassification.from_pretrained(path)(batch)["loss"]
    assert abs(float(ours) - float(reference["loss"])) <= 1e-5


def test_fit_on_tf_data_dataset_reduces_loss():
    model = _model("BertForSequenceClassification", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    inputs = random_inputs(batch_size=16, type_vocab_size=3, pad_lengths=(5, 2, 7, 3))
    labels = (inputs["input_ids"][:, 0] % 3).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices({**inputs, "labels": labels}).batch(8)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    history = model.fit(dataset, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.5
    assert "accuracy" in history.history


def _count_train_step_traces(model):
    traces = []
    train_step = model.train_step

    def counted(*args, **kwargs):
        traces.append(1)
        return train_step(*args, **kwargs)

    model.train_step = counted
    return traces


@pytest.mark.parametrize("entry", ["fit", "train_on_batch"])
def test_first_training_call_traces_the_train_step_once(entry):
    """Keras builds the optimizer inside the first trace without a strategy, and a `tf.function` that creates
    variables is traced twice; tfmodels builds it first. `evaluate` leaves it unbuilt (no slot variables)."""
    model = _model("BertForSequenceClassification")
    inputs = random_inputs(batch_size=4, type_vocab_size=3)
    labels = np.array([0, 1, 2, 0])
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), metrics=["accuracy"])
    model.evaluate({**inputs, "labels": labels}, batch_size=4, verbose=0)
    assert not model.optimizer.built
    traces = _count_train_step_traces(model)
    if entry == "fit":
        history = model.fit({**inputs, "labels": labels}, batch_size=4, epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
    else:
        assert np.isfinite(model.train_on_batch({**inputs, "labels": labels}, return_dict=True)["loss"])
    assert len(traces) == 1
    assert model.optimizer.built and model.optimizer.iterations.numpy() == (1 if entry == "train_on_batch" else 2)


NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _trained_one_step(class_name, batch, tmp_path, y=None, **compile_kwargs):
    """One full-batch SGD `fit()` step of a dropout-free checkpoint on `batch` (labels inside, or
    passed as `y`); returns the loss fit() reports, the transformers loss on the same weights and
    batch, and the largest weight change."""
    num_labels = 2 if "Question" in class_name else 3
    path = hf_checkpoint(class_name, tiny_bert_config(num_labels=num_labels, **NO_DROPOUT), tmp_path)
    reference = float(torch_outputs(class_name, path, batch)["loss"])
    model = getattr(tfmodels, class_name).from_pretrained(path)
    before = [np.array(w) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), **compile_kwargs)
    x = batch if y is None else {k: v for k, v in batch.items() if k not in model.label_names}
    history = model.fit(x, y, batch_size=len(batch["input_ids"]), epochs=1, verbose=0)
    moved = max(float(np.max(np.abs(np.asarray(w) - b))) for w, b in zip(model.trainable_weights, before))
    return history.history["loss"][0], reference, moved


def test_fit_on_numpy_dicts_with_labels_as_y(tmp_path):
    inputs = random_inputs(batch_size=6, type_vocab_size=3)
    labels = _labels("BertForTokenClassification", inputs, np.random.RandomState(0))["labels"]
    loss, reference, moved = _trained_one_step("BertForTokenClassification", {**inputs, "labels": labels}, tmp_path,
                                               y=labels, metrics=["accuracy"])
    assert abs(loss - reference) <= 1e-5 and moved > 1e-4, (loss, reference, moved)


def test_question_answering_fit_with_dict_labels(tmp_path):
    inputs = random_inputs(batch_size=4, type_vocab_size=3)
    batch = {**inputs, **_labels("BertForQuestionAnswering", inputs, np.random.RandomState(0))}
    loss, reference, moved = _trained_one_step("BertForQuestionAnswering", batch, tmp_path)
    assert abs(loss - reference) <= 1e-5 and moved > 1e-4, (loss, reference, moved)


def test_padding_labels_do_not_contribute():
    model = _model("BertForTokenClassification")
    inputs = random_inputs(type_vocab_size=3)
    labels = _labels("BertForTokenClassification", inputs, np.random.RandomState(0))["labels"]
    loss = float(model({**inputs, "labels": labels})["loss"])
    logits = model(inputs)["logits"].numpy()
    valid = labels != -100
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_probs, np.where(valid, labels, 0)[..., None], -1)[..., 0][valid].mean()
    assert abs(loss - expected) <= 1e-5


def test_compile_with_explicit_loss_still_works(tmp_path):
    inputs = random_inputs(batch_size=4, type_vocab_size=3)
    labels = np.array([0, 1, 2, 0])
    loss, reference, moved = _trained_one_step(
        "BertForSequenceClassification", {**inputs, "labels": labels}, tmp_path, y={"logits": labels},
        loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    assert abs(loss - reference) <= 1e-5 and moved > 1e-4, (loss, reference, moved)


def test_fit_without_labels_explains():
    model = _model("BertForSequenceClassification")
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="needs labels \\['labels'\\]"):
        model.fit(random_inputs(type_vocab_size=3), epochs=1, verbose=0)
