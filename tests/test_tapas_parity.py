"""Every TAPAS class against `transformers` PyTorch: flattened tables with padding, the seven token types,
per-cell positions, cell selection and aggregation with their losses (strong and weak supervision)."""

import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import (
    assert_parity,
    assert_save_round_trip,
    compare_outputs,
    hf_checkpoint,
    torch_outputs,
    _to_numpy,
)

TYPE_VOCAB_SIZES = [3, 5, 7, 2, 6, 6, 10]
# Strong supervision of aggregation (WikiSQL-supervised style).
STRONG = dict(num_aggregation_labels=4, use_answer_as_supervision=False, temperature=0.7)
# Weak supervision (WTQ style): the answer alone supervises aggregation.
WEAK = dict(
    num_aggregation_labels=4, use_answer_as_supervision=True, cell_selection_preference=0.7,
    huber_loss_delta=0.4, answer_loss_cutoff=2.5, answer_loss_importance=0.8, aggregation_loss_weight=0.9,
    average_approximation_function="first_order", aggregation_temperature=1.3, allow_empty_column_selection=True,
)
# No column restriction, per-cell averaged logits.
MULTI_COLUMN = dict(select_one_column=False, average_logits_per_cell=True, positive_label_weight=3.0)


def tiny_config(**overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=40, type_vocab_sizes=TYPE_VOCAB_SIZES, num_labels=3,
        max_num_rows=5, max_num_columns=4,
    )
    fields.update(overrides)
    return transformers.TapasConfig(**fields)


def table_inputs(seed=0, batch_size=3, seq_len=17, lengths=(17, 12, 9)):
    """Question tokens, then a table flattened row by row (header row 0, cells of 1-2 tokens), right-padded.

    Row ids run past `max_num_rows` and column ids past `max_num_columns` (both clipped by the QA head).
    """
    rng = np.random.RandomState(seed)
    ids = rng.randint(1, 99, (batch_size, seq_len))
    types = np.zeros((batch_size, seq_len, 7), dtype="int64")
    mask = np.zeros((batch_size, seq_len), dtype="int64")
    for b, length in enumerate(lengths):
        mask[b, :length] = 1
        question = 3 + b
        position, row, column = question, 0, 1
        while position < length:
            width = min(rng.randint(1, 3), length - position)
            cell = slice(position, position + width)
            types[b, cell, 0] = 1
            types[b, cell, 1] = column
            types[b, cell, 2] = row
            types[b, cell, 3] = rng.randint(0, 2)
            types[b, cell, 4] = rng.randint(0, 6) if row else 0
            types[b, cell, 5] = rng.randint(0, 6) if row else 0
            types[b, cell, 6] = rng.randint(0, 10)
            position += width
            column += 1
            if column > 4:
                row, column = row + 1, 1
    ids[mask == 0] = 0
    return {"input_ids": ids.astype("int64"), "attention_mask": mask, "token_type_ids": types}


def qa_labels(inputs, seed=0, weak=False):
    """Answer tokens in one column, aggregation labels (strong) or the weak-supervision values (then the last
    example has no answer cells: a numeric answer found by aggregation only)."""
    rng = np.random.RandomState(seed + 3)
    types = inputs["token_type_ids"]
    batch_size = types.shape[0]
    labels = np.zeros(types.shape[:2], dtype="int64")
    for b in range(batch_size - 1 if weak else batch_size):
        column = 1 + b % 3
        labels[b] = (types[b, :, 1] == column) & (types[b, :, 2] > 0) & (rng.rand(types.shape[1]) < 0.8)
    extra = {"labels": labels}
    if not weak:
        extra["aggregation_labels"] = np.array([0, 2, 1][:batch_size], dtype="int64")
        return extra
    numeric = np.where(types[..., 2] > 0, rng.uniform(-3, 9, labels.shape), np.nan).astype("float32")
    numeric[0, -2:] = np.nan
    extra["numeric_values"] = numeric
    extra["numeric_values_scale"] = rng.uniform(0.5, 2.0, labels.shape).astype("float32")
    extra["float_answer"] = np.array([np.nan, 4.5, 1.25][:batch_size], dtype="float32")
    return extra


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """`{name: path}` of the tiny PyTorch checkpoints, saved once for the module."""
    specs = {
        "TapasModel": ("TapasModel", {}),
        "TapasForMaskedLM": ("TapasForMaskedLM", {}),
        "TapasForSequenceClassification": ("TapasForSequenceClassification", {}),
        "qa_strong": ("TapasForQuestionAnswering", STRONG),
        "qa_weak": ("TapasForQuestionAnswering", WEAK),
        "qa_multi_column": ("TapasForQuestionAnswering", MULTI_COLUMN),
    }
    root = tmp_path_factory.mktemp("tapas")
    return {name: hf_checkpoint(cls, tiny_config(**fields), root / name) for name, (cls, fields) in specs.items()}


CASES = [
    ("TapasModel", "TapasModel", None),
    ("TapasForMaskedLM", "TapasForMaskedLM", None),
    ("TapasForSequenceClassification", "TapasForSequenceClassification", None),
    ("qa_strong", "TapasForQuestionAnswering", None),
    ("qa_strong", "TapasForQuestionAnswering", "strong"),
    ("qa_weak", "TapasForQuestionAnswering", "weak"),
    ("qa_multi_column", "TapasForQuestionAnswering", "strong"),
]


def case_inputs(name, supervision):
    inputs = table_inputs()
    if name == "TapasForMaskedLM":
        inputs["labels"] = np.where(inputs["attention_mask"] > 0, inputs["input_ids"], -100)
    if name == "TapasForSequenceClassification":
        inputs["labels"] = np.array([0, 2, 1], dtype="int64")
    if supervision:
        labels = qa_labels(inputs, weak=supervision == "weak")
        if name == "qa_multi_column":
            labels.pop("aggregation_labels")
            # The reference's multi-column Bernoulli loss needs float labels (long ones fail in torch).
            labels["labels"] = labels["labels"].astype("float32")
        inputs.update(labels)
    return inputs


@pytest.mark.parametrize("name,class_name,supervision", CASES, ids=lambda v: str(v))
def test_tapas_parity(name, class_name, supervision, checkpoints):
    diffs = assert_parity(class_name, checkpoints[name], case_inputs(name, supervision))
    print(name, supervision, diffs)
    if supervision:
        assert "loss" in diffs


def test_position_ids_and_no_token_types(checkpoints):
    inputs = table_inputs(seed=1)
    inputs["position_ids"] = np.tile(np.arange(17)[None], (3, 1))
    assert_parity("TapasModel", checkpoints["TapasModel"], inputs)
    del inputs["token_type_ids"], inputs["position_ids"]
    assert_parity("TapasModel", checkpoints["TapasModel"], inputs)


def test_save_round_trip(checkpoints, tmp_path):
    inputs = {**table_inputs(seed=2), **qa_labels(table_inputs(seed=2), weak=True)}
    print(assert_save_round_trip("TapasForQuestionAnswering", checkpoints["qa_weak"], inputs, tmp_path / "ours"))


def test_xla_matches_eager(checkpoints):
    model = tfmodels.TapasForQuestionAnswering.from_pretrained(checkpoints["qa_weak"])
    inputs = {**table_inputs(), **qa_labels(table_inputs(), weak=True)}
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    eager = model(tensors, training=False)
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)(tensors)
    for key in ("loss", "logits", "logits_aggregation"):
        np.testing.assert_allclose(np.asarray(compiled[key]), np.asarray(eager[key]), atol=1e-5, rtol=0)


def test_fit_step_lowers_the_loss(checkpoints):
    model = tfmodels.TapasForQuestionAnswering.from_pretrained(checkpoints["qa_strong"])
    inputs = {**table_inputs(), **qa_labels(table_inputs())}
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3) if hasattr(tf, "keras") else "adam")
    before = float(model(inputs, training=False)["loss"])
    history = model.fit(inputs, batch_size=3, epochs=3, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert float(model(inputs, training=False)["loss"]) < before


def test_auto_classes(checkpoints):
    path = checkpoints["qa_strong"]
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.TapasModel
    assert type(tfmodels.AutoModelForTableQuestionAnswering.from_pretrained(path)) is tfmodels.TapasForQuestionAnswering
    assert tfmodels.auto.MODEL_REGISTRIES["masked-lm"]["tapas"] is tfmodels.TapasForMaskedLM
    assert tfmodels.auto.MODEL_REGISTRIES["sequence-classification"]["tapas"] is tfmodels.TapasForSequenceClassification
    assert "tapas" not in tfmodels.auto.MODEL_REGISTRIES["question-answering"]  # span QA: no TAPAS class


def test_bad_token_type_shape_and_missing_supervision(checkpoints):
    model = tfmodels.TapasForQuestionAnswering.from_pretrained(checkpoints["qa_weak"])
    inputs = table_inputs()
    with pytest.raises(ValueError, match=r"token_type_ids` of shape \(batch, seq_len, 7\)"):
        model({**inputs, "token_type_ids": inputs["token_type_ids"][..., 0]})
    labels = qa_labels(inputs, weak=True)
    with pytest.raises(ValueError, match="float_answer"):
        model({**inputs, "labels": labels["labels"]})
    labels.pop("numeric_values")
    with pytest.raises(ValueError, match="numeric_values"):
        model({**inputs, **labels})
