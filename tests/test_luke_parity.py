"""LUKE against `transformers` PyTorch on tiny random configs: every class, losses, round trip, XLA, fit().

Words are right-padded (rows of 9, 5, 2 tokens), entities too (3, 2, 1
entities), mentions have 1-3 word positions padded with -1, and entity token
types vary; `entity_emb_size` (17) differs from `hidden_size` (32), so the
entity projection is exercised.
"""

import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs
from tests.layer_checks import check_config_round_trip, check_fit_step, check_xla_matches_eager
from tfmodels.layers.attention.entity_aware_attention import EntityAwareAttention, EntityAwareEncoderBlock

PAD, VOCAB, ENTITY_VOCAB = 1, 99, 37
HEADS = ["Model", "ForMaskedLM", "ForEntityClassification", "ForEntityPairClassification",
         "ForEntitySpanClassification", "ForSequenceClassification", "ForTokenClassification",
         "ForQuestionAnswering"]


def tiny_config(**overrides):
    fields = dict(
        vocab_size=VOCAB, entity_vocab_size=ENTITY_VOCAB, hidden_size=32, entity_emb_size=17, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=37, max_position_embeddings=30, type_vocab_size=2,
        hidden_act="gelu_new", num_labels=3, pad_token_id=PAD,
    )
    fields.update(overrides)
    return transformers.LukeConfig(**fields)


def luke_inputs(batch_size=3, seed=0, pad_lengths=(5, 2)):
    """Padded words (RoBERTa positions: padding = `pad_token_id`) and padded entities with mentions."""
    inputs = random_inputs(batch_size=batch_size, vocab_size=VOCAB, type_vocab_size=2, seed=seed,
                           pad_lengths=pad_lengths)
    ids = np.where(inputs["input_ids"] == PAD, 2, inputs["input_ids"])
    inputs["input_ids"] = np.where(inputs["attention_mask"] == 1, ids, PAD)
    rng = np.random.RandomState(seed + 1)
    inputs["entity_ids"] = rng.randint(1, ENTITY_VOCAB, (batch_size, 3))
    inputs["entity_attention_mask"] = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]] * batch_size)[:batch_size]
    inputs["entity_token_type_ids"] = rng.randint(0, 2, (batch_size, 3))
    positions = -np.ones((batch_size, 3, 4), dtype="int64")
    positions[:, 0, :2] = [0, 1]
    positions[:, 1, :3] = [1, 2, 3]
    positions[:, 2, :1] = [4]
    inputs["entity_position_ids"] = positions
    return inputs


def labelled_inputs(head, batch_size=3):
    """`luke_inputs` plus the head's extra inputs and labels (so `loss` is compared too)."""
    inputs = luke_inputs(batch_size)
    rng = np.random.RandomState(7)
    if head == "ForEntitySpanClassification":
        inputs["entity_start_positions"] = np.tile([0, 1, 4], (batch_size, 1))
        inputs["entity_end_positions"] = np.tile([1, 3, 4], (batch_size, 1))
        inputs["labels"] = rng.randint(0, 3, (batch_size, 3))
    elif head == "ForMaskedLM":
        labels = np.where(rng.rand(batch_size, 9) < 0.4, rng.randint(0, VOCAB, (batch_size, 9)), -100)
        inputs["labels"] = np.where(inputs["attention_mask"] == 1, labels, -100)
        inputs["entity_labels"] = np.where(inputs["entity_attention_mask"] == 1,
                                           rng.randint(0, ENTITY_VOCAB, (batch_size, 3)), -100)
    elif head == "ForTokenClassification":
        inputs["labels"] = np.where(inputs["attention_mask"] == 1, rng.randint(0, 3, (batch_size, 9)), -100)
    elif head == "ForQuestionAnswering":
        inputs["start_positions"], inputs["end_positions"] = np.array([1, 3, 0]), np.array([4, 4, 1])
    elif head != "Model":
        inputs["labels"] = rng.randint(0, 3, (batch_size,))
    return inputs


@pytest.mark.parametrize("head", HEADS)
def test_parity(head, tmp_path):
    class_name = "Luke" + head
    config = tiny_config(num_labels=2 if head == "ForQuestionAnswering" else 3)
    path = hf_checkpoint(class_name, config, tmp_path)
    diffs = assert_parity(class_name, path, labelled_inputs(head))
    print(class_name, diffs)


def test_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("LukeForMultipleChoice", tiny_config(), tmp_path)
    flat = luke_inputs(batch_size=4)
    flat["attention_mask"][3, 7:] = 0
    inputs = {k: v.reshape(2, 2, *v.shape[1:]) for k, v in flat.items()}
    inputs["labels"] = np.array([1, 0])
    print(assert_parity("LukeForMultipleChoice", path, inputs))


def test_words_only_and_plain_attention(tmp_path):
    """No entity inputs, `use_entity_aware_attention=False`, `entity_emb_size == hidden_size`, no token types.

    Without entities the reference returns `entity_hidden_states` as a tuple of `None`s (nothing to compare).
    """
    config = tiny_config(use_entity_aware_attention=False, entity_emb_size=32)
    path = hf_checkpoint("LukeModel", config, tmp_path)
    inputs = luke_inputs()
    words = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    assert_parity("LukeModel", path, words, skip=("entity_hidden_states",))
    entities = {k: v for k, v in inputs.items() if k != "entity_token_type_ids"}
    print(assert_parity("LukeModel", path, entities))
    model = tfmodels.LukeModel.from_pretrained(path)
    assert not hasattr(model.encoder_layers[0].self_attention, "w2e_query_dense")
    assert model.entity_embeddings.embedding_transformation is None


@pytest.mark.slow
def test_multi_label_entity_losses(tmp_path):
    """Float `(batch, num_labels)` / `(batch, entities, num_labels)` labels: binary cross-entropy, as the reference."""
    rng = np.random.RandomState(3)
    for head, shape in [("ForEntityClassification", (3, 3)), ("ForEntitySpanClassification", (3, 3, 3))]:
        path = hf_checkpoint("Luke" + head, tiny_config(), tmp_path / head)
        inputs = labelled_inputs(head)
        inputs["labels"] = rng.randint(0, 2, shape).astype("float32")
        assert_parity("Luke" + head, path, inputs, hidden_and_attentions=False)


@pytest.mark.parametrize("class_name,tie", [
    ("LukeForMaskedLM", True),
    pytest.param("LukeForMaskedLM", False, marks=pytest.mark.slow),
    pytest.param("LukeForEntityPairClassification", True, marks=pytest.mark.slow),
])
def test_save_pretrained_round_trip(class_name, tie, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(tie_word_embeddings=tie), tmp_path / "hf")
    head = class_name[len("Luke"):]
    inputs = {k: v for k, v in labelled_inputs(head).items() if "label" not in k}
    assert_save_round_trip(class_name, path, inputs, tmp_path / "ours")


def test_auto_classes(tmp_path):
    path = hf_checkpoint("LukeForMaskedLM", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)).__name__ == "LukeModel"
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)).__name__ == "LukeForMaskedLM"
    for task, suffix in [("sequence-classification", "ForSequenceClassification"),
                         ("token-classification", "ForTokenClassification"),
                         ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice")]:
        assert tfmodels.auto.MODEL_REGISTRIES[task]["luke"].__name__ == "Luke" + suffix


def test_xla_matches_eager():
    """`jit_compile=True` gives the eager outputs, every one."""
    model = tfmodels.LukeModel(**tiny_config().to_dict())
    inputs = luke_inputs()
    eager = model(inputs, training=False, output_hidden_states=True, output_attentions=True)
    compiled = tf.function(lambda x: model(x, training=False, output_hidden_states=True, output_attentions=True),
                           jit_compile=True)(inputs)
    assert sorted(eager) == sorted(compiled)
    for key in eager:
        np.testing.assert_allclose(np.asarray(compiled[key]), np.asarray(eager[key]), atol=1e-5, err_msg=key)


@pytest.mark.parametrize("head", ["ForEntitySpanClassification", pytest.param("ForMaskedLM", marks=pytest.mark.slow)])
def test_fit(head):
    """`fit()` trains the head's built-in loss on its labels (the masked LM: `labels` + `entity_labels`)."""
    import keras

    model = getattr(tfmodels, "Luke" + head)(**tiny_config().to_dict())
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    losses = model.fit(labelled_inputs(head), epochs=2, batch_size=3, verbose=0).history["loss"]
    assert all(np.isfinite(losses)) and losses[1] < losses[0], losses


@pytest.mark.slow
def test_export_saved_model(tmp_path):
    """A SavedModel with dynamic word and entity lengths gives the Keras model's outputs."""
    model = tfmodels.LukeForEntitySpanClassification(**tiny_config().to_dict())
    inputs = {k: v for k, v in labelled_inputs("ForEntitySpanClassification").items() if k != "labels"}
    expected = model(inputs, training=False)["logits"].numpy()
    tfmodels.export_saved_model(model, str(tmp_path / "saved"))
    serve = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    names = serve.structured_input_signature[1]
    assert "entity_position_ids" in names and "entity_start_positions" in names
    assert sorted(names) == sorted(inputs)
    served = serve(**{k: tf.constant(inputs[k], tf.int32) for k in names})
    np.testing.assert_allclose(served["logits"].numpy(), expected, atol=1e-5)


def test_entity_aware_layer_checks():
    """Config round trip, XLA == eager and a `fit()` step of the attention layer and the block."""
    hidden = np.random.RandomState(0).randn(2, 7, 16).astype("float32")
    kwargs = {"word_length": 4}
    check_config_round_trip(EntityAwareAttention(num_heads=2, key_dim=8), [hidden], kwargs)
    check_xla_matches_eager(EntityAwareAttention(num_heads=2, key_dim=8), [hidden], kwargs)
    block = lambda dtype="float32": EntityAwareEncoderBlock(num_heads=2, intermediate_size=24, dtype=dtype)  # noqa: E731
    check_config_round_trip(block(), [hidden], kwargs)
    check_fit_step(block, [hidden], kwargs)


def test_bad_inputs(tmp_path):
    model = tfmodels.LukeModel(**tiny_config().to_dict()).build_from_dummy_inputs()
    span = tfmodels.LukeForEntitySpanClassification(**tiny_config().to_dict()).build_from_dummy_inputs()
    inputs = luke_inputs()
    with pytest.raises(ValueError, match="needs `entity_position_ids`"):
        model({k: v for k, v in inputs.items() if k != "entity_position_ids"})
    with pytest.raises(ValueError, match="without `entity_ids`"):
        model({k: v for k, v in inputs.items() if k != "entity_ids"})
    with pytest.raises(ValueError, match="entity_start_positions"):
        span(inputs)
    with pytest.raises(ValueError, match="at most 28 tokens"):
        model({"input_ids": np.full((1, 29), 5)})
