"""The full train step (forward, task loss, gradients, optimizer) compiles with XLA.

`jit_compile=True` makes `fit()` compile the whole step with XLA and fail on
any op XLA cannot compile, so a passing run means nothing falls back to the
host inside the step: what TPUs need. Inputs come from `prepare_tf_dataset`
with fixed lengths and `drop_remainder=True`, so every batch has one static shape.
"""

import keras
import numpy as np
import pytest

import tfmodels
from tfmodels.training.data import prepare_tf_dataset

TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _features(task, num_examples=8, seed=0):
    rng = np.random.RandomState(seed)
    lengths = rng.randint(3, 12, num_examples)
    features = {"input_ids": [list(rng.randint(1, 99, n)) for n in lengths],
                "attention_mask": [[1] * n for n in lengths]}
    if task == "sequence":
        features["labels"] = list(rng.randint(0, 3, num_examples))
    elif task == "token":
        features["labels"] = [[int(v) if v < 3 else -100 for v in rng.randint(0, 4, n)] for n in lengths]
    else:
        features["start_positions"] = list(rng.randint(0, 3, num_examples))
        features["end_positions"] = list(rng.randint(3, 6, num_examples))
    return features


CLASSES = {"sequence": tfmodels.BertForSequenceClassification, "token": tfmodels.BertForTokenClassification,
           "qa": tfmodels.BertForQuestionAnswering}


def _train(task, weights, jit_compile, optimizer=None, **config):
    keras.utils.set_random_seed(0)
    model = CLASSES[task](**{**TINY, **config}, **({} if task == "qa" else {"num_labels": 3}))
    model.build_from_dummy_inputs()
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=optimizer or keras.optimizers.SGD(0.5), jit_compile=jit_compile)
    dataset = prepare_tf_dataset(_features(task), batch_size=4, pad_to_multiple_of=16, drop_remainder=True)
    history = model.fit(dataset, epochs=2, verbose=0)
    return model, history.history["loss"]


def test_dataset_has_static_shapes():
    dataset = prepare_tf_dataset(_features("token"), batch_size=4, pad_to_multiple_of=16, drop_remainder=True)
    inputs, labels = dataset.element_spec
    assert inputs["input_ids"].shape.as_list() == [4, 16]
    assert labels["labels"].shape.as_list() == [4, 16]


@pytest.mark.parametrize("task", ["sequence", "token"])
def test_xla_train_step_matches_graph_mode(task):
    initial = _initial_weights(task)
    graph_model, graph_losses = _train(task, initial, jit_compile=False)
    xla_model, xla_losses = _train(task, initial, jit_compile=True)
    assert xla_model.jit_compile is True
    np.testing.assert_allclose(xla_losses, graph_losses, atol=1e-5)
    for a, b in zip(xla_model.get_weights(), graph_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _initial_weights(task):
    keras.utils.set_random_seed(1)
    model = CLASSES[task](**TINY, **({} if task == "qa" else {"num_labels": 3}))
    model.build_from_dummy_inputs()
    return model.get_weights()


def test_xla_train_step_with_dropout_and_adamw():
    keras.utils.set_random_seed(0)
    initial = CLASSES["qa"](**TINY).build_from_dummy_inputs()  # the same variables, whatever the dropout
    model, losses = _train("qa", initial.get_weights(), jit_compile=True, optimizer=keras.optimizers.AdamW(1e-3),
                           hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    assert np.all(np.isfinite(losses))
    assert model.optimizer.iterations.numpy() == 4
    # Adam moves every weight that has a dense gradient by ~lr on the first step and by at most lr per step
    # (embedding tables get sparse gradients whose repeated rows' squares are summed: they may move further).
    moves = [float(np.max(np.abs(np.asarray(v) - w))) for v, w in zip(model.weights, initial.get_weights())
             if not v.path.endswith("embeddings")]
    assert 0.5e-3 <= max(moves) <= 4 * 1e-3 * 1.01, moves
