"""Every TAPAS class against `transformers` PyTorch: flattened tables with padding, the seven token types,
per-cell positions, cell selection and aggregation with their losses (strong and weak supervision)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint

TYPE_VOCAB_SIZES = [3, 5, 7, 2, 6, 6, 10]
# Strong supervision of aggregation (WikiSQL-supervised style).
STRONG = dict(num_aggregation_labels=4, use_answer_as_supervision=False, temperature=0.7)
# Weak supervision (WTQ style): the answer alone supervises aggregation.
WEAK = dict(
    num_aggregation_labels=4, use_answer_as_supervision=True, cell_selection_preference=0.79,
    huber_loss_delta=0.4, answer_loss_cutoff=2.5, answer_loss_importance=0.8, aggregation_loss_weight=0.9,
    average_approximation_function="first_order", aggregation_temperature=1.3, allow_empty_column_selection=True,
)
# No column restriction, per-cell averaged logits.
MULTI_COLUMN = dict(select_one_column=False, average_logits_per_cell=True, positive_label_weight=3.0)


def tiny_config(**overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=40, type_vocab_sizes=TYPE_VOCAB_SIZES, num_labels=3,
        max_num_rows=3, max_num_columns=3,
    )
    fields.update(overrides)
    return transformers.TapasConfig(**fields)


def table_inputs(seed=0, batch_size=3, seq_len=17, lengths=(17, 14, 12)):
    """Question tokens, then a table flattened row by row (header row 0, cells of 1-2 tokens), right-padded.

    Row ids run past `max_num_rows` and column ids past `max_num_columns` (both clipped by the QA head).
    """
    rng = np.random.RandomState(seed)
    ids = rng.randint(1, 99, (batch_size, seq_len))
    types = np.zeros((batch_size, seq_len, 7), dtype="int64")
    mask = np.zeros((batch_size, seq_len), dtype="int64")
    for b, length in enumerate(lengths):
        mask[b, :length] = 1
        question = 2 + b
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
            if column > 3:
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
        in_body = types[b, :, 2] > 0
        column = types[b, in_body, 1][-1]  # the column of the last body cell
        labels[b] = (types[b, :, 1] == column) & in_body & (rng.rand(types.shape[1]) < 0.8)
        labels[b, np.flatnonzero(in_body)[-1]] = 1
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


# Slow variants: the other loss options, through the whole model.
VARIANTS = {
    "normalized_ratio_cutoff": dict(WEAK, use_normalized_answer_loss=True, average_approximation_function="ratio",
                                    answer_loss_cutoff=0.05, huber_loss_delta=None),
    "second_order_no_token_loss": dict(WEAK, average_approximation_function="second_order",
                                       disable_per_token_loss=True, reset_position_index_per_cell=False),
    "multi_column_weak": dict(WEAK, **MULTI_COLUMN),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_loss_variants_parity(variant, tmp_path):
    path = hf_checkpoint("TapasForQuestionAnswering", tiny_config(**VARIANTS[variant]), tmp_path)
    inputs = {**table_inputs(seed=4), **qa_labels(table_inputs(seed=4), weak=True)}
    if VARIANTS[variant].get("select_one_column") is False:
        inputs["labels"] = inputs["labels"].astype("float32")
    print(variant, assert_parity("TapasForQuestionAnswering", path, inputs))


@pytest.fixture(scope="module")
def weak_model(checkpoints):
    """The weakly supervised QA checkpoint, loaded once through the table-question-answering Auto class."""
    return tfmodels.AutoModelForTableQuestionAnswering.from_pretrained(checkpoints["qa_weak"])


def test_save_round_trip(checkpoints, tmp_path):
    inputs = {**table_inputs(seed=2), **qa_labels(table_inputs(seed=2), weak=True)}
    print(assert_save_round_trip("TapasForQuestionAnswering", checkpoints["qa_weak"], inputs, tmp_path / "ours"))


def test_xla_matches_eager(weak_model):
    inputs = {**table_inputs(), **qa_labels(table_inputs(), weak=True)}
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    eager = weak_model(tensors, training=False)
    compiled = tf.function(lambda x: weak_model(x, training=False), jit_compile=True)(tensors)
    for key in ("loss", "logits", "logits_aggregation"):
        np.testing.assert_allclose(np.asarray(compiled[key]), np.asarray(eager[key]), atol=1e-5, rtol=0)


def test_fit_step_lowers_the_loss(checkpoints):
    model = tfmodels.TapasForQuestionAnswering.from_pretrained(checkpoints["qa_strong"])
    inputs = {**table_inputs(), **qa_labels(table_inputs())}
    # Eager steps keep the test short; the compiled loss is checked in test_xla_matches_eager.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
    before = float(model(inputs, training=False)["loss"])
    history = model.fit(inputs, batch_size=3, epochs=2, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert float(model(inputs, training=False)["loss"]) < before
    with pytest.raises(ValueError, match="sample weights"):
        model.fit(inputs, sample_weight=np.ones(3), batch_size=3, epochs=1, verbose=0)


def test_auto_classes(weak_model):
    assert type(weak_model) is tfmodels.TapasForQuestionAnswering
    registries = tfmodels.auto.MODEL_REGISTRIES
    assert tfmodels.AutoModel.model_class("tapas") is tfmodels.TapasModel
    assert registries["table-question-answering"]["tapas"] is tfmodels.TapasForQuestionAnswering
    assert registries["masked-lm"]["tapas"] is tfmodels.TapasForMaskedLM
    assert registries["sequence-classification"]["tapas"] is tfmodels.TapasForSequenceClassification
    assert "tapas" not in registries["question-answering"]  # span QA: TAPAS has no such class


def test_bad_token_type_shape_and_missing_supervision(weak_model):
    inputs = table_inputs()
    with pytest.raises(ValueError, match=r"token_type_ids` of shape \(batch, seq_len, 7\)"):
        weak_model({**inputs, "token_type_ids": inputs["token_type_ids"][..., 0]})
    labels = qa_labels(inputs, weak=True)
    with pytest.raises(ValueError, match="float_answer"):
        weak_model({**inputs, "labels": labels["labels"]})
    labels.pop("numeric_values")
    with pytest.raises(ValueError, match="numeric_values"):
        weak_model({**inputs, **labels})


@pytest.mark.parametrize("approximation", ["ratio", "second_order"])
def test_gumbel_expected_result_matches_reference_on_the_same_noise(approximation, monkeypatch):
    # The relaxed Bernoulli / one-hot samples of `use_gumbel_for_cells` / `use_gumbel_for_aggregation`, fed
    # the same uniform noise in both frameworks (torch.rand and tf.random.uniform patched), with the
    # normalised answer loss.
    import torch
    from transformers.models.tapas import modeling_tapas as reference

    from tfmodels.layers import losses

    rng = np.random.RandomState(0)
    shape = (3, 11)
    noise = {shape: rng.uniform(size=shape).astype("float32"), (3, 3): rng.uniform(size=(3, 3)).astype("float32")}
    monkeypatch.setattr(torch, "rand", lambda size, **kw: torch.as_tensor(noise[tuple(size)]))
    monkeypatch.setattr(tf.random, "uniform", lambda size, **kw: tf.constant(noise[tuple(size)]))
    logits = rng.normal(size=shape).astype("float32") * 2
    values = np.where(rng.rand(*shape) < 0.7, rng.uniform(-5, 5, shape), np.nan).astype("float32")
    scale = rng.uniform(0.5, 2, shape).astype("float32")
    table_mask = (rng.rand(*shape) < 0.8).astype("float32")
    logits_aggregation = rng.normal(size=(3, 4)).astype("float32")
    answer = np.array([np.nan, 3.0, -1.5], dtype="float32")
    aggregate_mask = np.array([0.0, 1.0, 1.0], dtype="float32")
    config = transformers.TapasConfig(
        use_gumbel_for_cells=True, use_gumbel_for_aggregation=True, temperature=0.8, aggregation_temperature=1.4,
        average_approximation_function=approximation, use_normalized_answer_loss=True, answer_loss_cutoff=0.3,
        answer_loss_importance=1.2)
    t = torch.as_tensor
    expected, large = reference._calculate_regression_loss(
        t(answer), t(aggregate_mask), torch.distributions.Bernoulli(logits=t(logits)), t(values), t(scale),
        t(table_mask), t(logits_aggregation), config)
    ours, ours_large = losses.tapas_answer_loss(
        answer, aggregate_mask, logits, values, scale, table_mask, logits_aggregation,
        use_normalized_answer_loss=True, answer_loss_cutoff=0.3, answer_loss_importance=1.2, temperature=0.8,
        aggregation_temperature=1.4, average_approximation_function=approximation, use_gumbel_for_cells=True,
        use_gumbel_for_aggregation=True)
    np.testing.assert_allclose(np.asarray(ours), expected.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(np.asarray(ours_large), large.numpy())
    assert expected.numpy()[1:].min() > 0  # the aggregation examples have a loss to compare


def test_segmented_reductions_match_reference():
    # Sum/mean/max/min over a product index with empty segments and vector values, and the gather back.
    import torch
    from transformers.models.tapas import modeling_tapas as reference

    from tfmodels.layers import segmented

    rng = np.random.RandomState(1)
    rows, columns = rng.randint(0, 3, (2, 10)), rng.randint(0, 4, (2, 10))
    values = {"scalar": rng.normal(size=(2, 10)).astype("float32"),
              "vector": rng.normal(size=(2, 10, 3)).astype("float32"),
              "labels": rng.randint(0, 2, (2, 10)).astype("int64")}
    ours_index = segmented.ProductIndexMap(segmented.IndexMap(rows, 3, 1), segmented.IndexMap(columns, 4, 1))
    ref_index = reference.ProductIndexMap(reference.IndexMap(torch.as_tensor(rows), 3, 1),
                                          reference.IndexMap(torch.as_tensor(columns), 4, 1))
    for reduction in ("sum", "mean", "max", "min"):
        for name, value in values.items():
            ours, ours_out = getattr(segmented, f"reduce_{reduction}")(value, ours_index)
            reduce = getattr(reference, f"reduce_{reduction}")
            if name == "vector":  # the reference reduces (and gathers) scalars only: one channel at a time
                ref = torch.stack([reduce(torch.as_tensor(value[..., c]), ref_index)[0] for c in range(3)], -1)
                ref_out = reduce(torch.as_tensor(value[..., 0]), ref_index)[1]
                gathered = torch.stack([reference.gather(ref[..., c], ref_index) for c in range(3)], -1)
            else:
                ref, ref_out = reduce(torch.as_tensor(value), ref_index)
                gathered = reference.gather(ref, ref_index)
            assert ours.dtype.name == str(value.dtype), (reduction, name)
            np.testing.assert_allclose(np.asarray(ours), ref.numpy(), atol=1e-6, err_msg=f"{reduction} {name}")
            inner = ours_index.project_inner(ours_out).indices
            np.testing.assert_array_equal(np.asarray(inner), ref_index.project_inner(ref_out).indices.numpy())
            np.testing.assert_allclose(np.asarray(segmented.gather(ours, ours_index)), gathered.numpy(), atol=1e-6)
    assert (np.asarray(segmented.reduce_sum(values["labels"], ours_index)[0]) == 0).any()  # empty segments


def test_table_layers_config_round_trip():
    from tests.layer_checks import check_config_round_trip, check_xla_matches_eager
    from tfmodels.layers import TransformerEmbeddings

    inputs = table_inputs()
    ids, types = inputs["input_ids"].astype("int32"), inputs["token_type_ids"].astype("int32")
    layer = TransformerEmbeddings(99, 16, max_position_embeddings=20, type_vocab_size=0,
                                  type_vocab_sizes=TYPE_VOCAB_SIZES)
    check_config_round_trip(layer, [ids], {"token_type_ids": types})
    check_xla_matches_eager(layer, [ids], {"token_type_ids": types})
    assert len(layer.token_type_tables) == 7 and layer.token_type_embeddings is None


@pytest.mark.slow
def test_mixed_bfloat16_keeps_the_loss_close(checkpoints):
    inputs = {**table_inputs(), **qa_labels(table_inputs(), weak=True)}
    reference = float(tfmodels.TapasForQuestionAnswering.from_pretrained(checkpoints["qa_weak"])(inputs)["loss"])
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        outputs = tfmodels.TapasForQuestionAnswering.from_pretrained(checkpoints["qa_weak"])(inputs)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert outputs["loss"].dtype == "float32" and outputs["logits"].dtype == "float32"
    assert abs(float(outputs["loss"]) - reference) < 0.05 * abs(reference)


@pytest.mark.slow
def test_saved_model_serves_token_type_channels(checkpoints, tmp_path):
    model = tfmodels.TapasForQuestionAnswering.from_pretrained(checkpoints["qa_weak"])
    tfmodels.export_saved_model(model, str(tmp_path / "sm"))
    serve = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    assert serve.structured_input_signature[1]["token_type_ids"].shape.as_list() == [None, None, 7]
    inputs = table_inputs()
    served = serve(**{k: tf.constant(v, tf.int32) for k, v in inputs.items()})
    np.testing.assert_allclose(served["logits"].numpy(), np.asarray(model(inputs)["logits"]), atol=1e-5)
