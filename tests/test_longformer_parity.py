"""Longformer against `transformers` PyTorch on tiny random configs, XLA, and the O(n * w) memory claim.

Windows differ per layer (4 and 8), the length (11) is not a multiple of
either, rows are padded, and examples have different numbers of global
tokens (3, 1, 2), so `attentions` carry global columns padded per example.
"""

import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import _to_numpy, assert_save_round_trip, compare_outputs, hf_checkpoint, torch_outputs
from tests.layer_checks import check_config_round_trip, check_fit_step, check_mixed_precision, check_xla_matches_eager
from tfmodels.layers.attention import LongformerEncoderBlock, LongformerSelfAttention, MultiHeadAttention

PAD, SEP = 1, 2
HEADS = ["Model", "ForMaskedLM", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering",
         "ForMultipleChoice"]


def tiny_config(**overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=40, type_vocab_size=2, hidden_act="gelu_new", num_labels=3, pad_token_id=PAD,
        sep_token_id=SEP, attention_window=[4, 8],
    )
    fields.update(overrides)
    return transformers.LongformerConfig(**fields)


def question_inputs(seed=0):
    """`<s> question </s></s> context </s>` rows of lengths 11, 7, 9 (padded to 11), ids > 2 elsewhere."""
    rng = np.random.RandomState(seed)
    rows = [(4, 11), (2, 7), (3, 9)]  # (first sep position, length)
    ids = np.full((3, 11), PAD, dtype="int64")
    mask = np.zeros((3, 11), dtype="int64")
    for r, (sep, length) in enumerate(rows):
        ids[r, :length] = rng.randint(3, 99, length)
        ids[r, 0] = 0
        ids[r, [sep, sep + 1, length - 1]] = SEP
        mask[r, :length] = 1
    token_types = rng.randint(0, 2, ids.shape) * mask
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types}


def global_inputs():
    """`question_inputs` plus a `global_attention_mask` with 3, 1 and 2 global tokens (one on padding: ignored)."""
    inputs = question_inputs()
    glob = np.zeros_like(inputs["input_ids"])
    glob[0, [0, 3, 9]] = 1
    glob[1, [2, 9]] = 1  # position 9 is padding
    glob[2, [0, 1]] = 1
    return {**inputs, "global_attention_mask": glob}


def as_choices(inputs):
    """Four rows `(batch=2, num_choices=2, seq_len)` from three (the first repeated)."""
    return {k: v[[0, 1, 2, 0]].reshape(2, 2, -1) for k, v in inputs.items()}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    paths = {}
    for head in HEADS:
        num_labels = 2 if head == "ForQuestionAnswering" else 3
        paths[head] = hf_checkpoint("Longformer" + head, tiny_config(num_labels=num_labels),
                                    tmp_path_factory.mktemp(head))
    return paths


@pytest.fixture(scope="module")
def models(checkpoints):
    """tfmodels models loaded once per head (`from_pretrained` of the checkpoints), shared by the tests."""
    cache = {}

    def get(head):
        if head not in cache:
            cache[head] = getattr(tfmodels, "Longformer" + head).from_pretrained(checkpoints[head])
        return cache[head]

    return get


def assert_parity(head, checkpoints, models, inputs):
    """Every output (hidden states and attentions asked for) against the reference; returns the diffs."""
    kwargs = dict(output_hidden_states=True, output_attentions=True)
    reference = torch_outputs("Longformer" + head, checkpoints[head], inputs, **kwargs)
    ours = {k: _to_numpy(v) for k, v in models(head)(inputs, training=False, **kwargs).items()}
    return compare_outputs(ours, reference)


@pytest.mark.parametrize("head", HEADS)
def test_parity(head, checkpoints, models):
    inputs = global_inputs()
    if head == "ForMultipleChoice":
        inputs = as_choices(inputs)
    diffs = assert_parity(head, checkpoints, models, inputs)
    assert "global_attentions" in diffs
    print("Longformer" + head, diffs)


@pytest.mark.parametrize("head", [pytest.param("ForSequenceClassification", marks=pytest.mark.slow),
                                  "ForQuestionAnswering", pytest.param("ForMultipleChoice", marks=pytest.mark.slow)])
def test_default_global_attention_parity(head, checkpoints, models):
    """Without `global_attention_mask`: `<s>`, the question, the tokens after the question (as the reference)."""
    inputs = question_inputs()
    if head == "ForMultipleChoice":
        inputs = as_choices(inputs)
    diffs = assert_parity(head, checkpoints, models, inputs)
    assert "global_attentions" in diffs
    print("Longformer" + head, "default global attention", diffs)


def test_local_only_parity(checkpoints, models):
    """No global token: `attentions` are the window alone and no `global_attentions` (as the reference);
    explicit `position_ids` are padded with `pad_token_id`."""
    inputs = question_inputs()
    diffs = assert_parity("Model", checkpoints, models, inputs)
    assert "global_attentions" not in diffs
    inputs["position_ids"] = np.tile(np.arange(2, 13), (3, 1))
    assert_parity("Model", checkpoints, models, inputs)


def test_xla_equals_eager(checkpoints):
    """`jit_compile=True` gives the eager outputs, every one, with `max_global_tokens` (static slots)."""
    inputs = {k: tf.constant(v, tf.int32) for k, v in global_inputs().items()}
    model = tfmodels.LongformerForTokenClassification.from_pretrained(
        checkpoints["ForTokenClassification"], max_global_tokens=4)
    eager = model(inputs, training=False, output_attentions=True, output_hidden_states=True)
    compiled = tf.function(lambda x: model(x, training=False, output_attentions=True, output_hidden_states=True),
                           jit_compile=True)(inputs)
    assert eager["attentions"][1].shape == (3, 4, 11, 4 + 8 + 1)
    for name in ("logits", "hidden_states", "attentions", "global_attentions"):
        for ours, reference in zip(tf.nest.flatten(compiled[name]), tf.nest.flatten(eager[name]), strict=True):
            np.testing.assert_allclose(ours, reference, atol=1e-5)


@pytest.mark.slow
def test_xla_without_max_global_tokens(checkpoints):
    """Without `max_global_tokens` a compiled graph makes a slot for every token; the outputs agree."""
    inputs = {k: tf.constant(v, tf.int32) for k, v in global_inputs().items()}
    model = tfmodels.LongformerForTokenClassification.from_pretrained(checkpoints["ForTokenClassification"])
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)(inputs)
    np.testing.assert_allclose(compiled["logits"], model(inputs, training=False)["logits"], atol=1e-5)


def _intermediate_shapes(layer, seq_len, **call_kwargs):
    """Traces `layer` on `(1, seq_len, 32)`; the static shapes of every op output in its graph."""
    x = tf.random.normal((1, seq_len, 32))
    layer(x, **call_kwargs)  # build
    graph = tf.function(lambda h: layer(h, **call_kwargs)).get_concrete_function(x).graph
    return [tuple(t.shape) for op in graph.get_operations() for t in op.outputs if t.shape.rank]


def test_attention_memory_is_linear_in_length():
    """No intermediate of the Longformer attention has two axes as long as the sequence, and the largest
    one grows linearly with the length; the same probe finds full attention's `(seq_len, seq_len)` scores."""
    window, slots = 8, 2

    def probe(length):
        glob = np.zeros((1, length), bool)
        glob[0, [0, 100]] = True
        layer = LongformerSelfAttention(num_heads=4, key_dim=8, attention_window=window)
        return _intermediate_shapes(layer, length, global_attention_mask=glob, num_global_slots=slots,
                                    return_attention_scores=True)

    def quadratic(shapes, length):
        return [s for s in shapes if sum(d is not None and d >= length for d in s) >= 2]

    def largest(shapes):
        return max(int(np.prod(s)) for s in shapes)

    shapes = {n: probe(n) for n in (256, 512)}
    assert not quadratic(shapes[256], 256) and not quadratic(shapes[512], 512)
    assert largest(shapes[512]) <= 2 * largest(shapes[256]), (largest(shapes[256]), largest(shapes[512]))
    assert largest(shapes[512]) <= 3 * 512 * 32  # three shifted copies of the keys: (seq_len, 3w chunk keys)
    full = _intermediate_shapes(MultiHeadAttention(num_heads=4, key_dim=8), 512)
    assert quadratic(full, 512) and largest(full) >= 4 * 512 * 512  # the probe does fail on quadratic attention


def test_save_pretrained_round_trip(checkpoints, tmp_path):
    assert_save_round_trip("LongformerForQuestionAnswering", checkpoints["ForQuestionAnswering"], global_inputs(),
                           tmp_path / "ours")


def test_auto_classes(checkpoints):
    path = checkpoints["ForMaskedLM"]
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)).__name__ == "LongformerForMaskedLM"
    assert tfmodels.auto.MODEL_REGISTRIES["base"]["longformer"] is tfmodels.LongformerModel
    for task, suffix in [("sequence-classification", "ForSequenceClassification"),
                         ("token-classification", "ForTokenClassification"),
                         ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice")]:
        assert tfmodels.auto.MODEL_REGISTRIES[task]["longformer"].__name__ == "Longformer" + suffix


def test_errors(checkpoints, models):
    with pytest.raises(ValueError, match="positive even"):
        tfmodels.LongformerModel(**tiny_config(attention_window=[4, 5]).to_dict())
    with pytest.raises(ValueError, match="list of num_hidden_layers"):
        tfmodels.LongformerModel(**tiny_config(attention_window=[4, 4, 4]).to_dict())
    bounded = tfmodels.LongformerModel(**tiny_config().to_dict(), max_global_tokens=2)
    with pytest.raises(ValueError, match="max_global_tokens=2, but an example has 3"):
        bounded(global_inputs())
    qa = models("ForQuestionAnswering")
    inputs = question_inputs()
    inputs["input_ids"][0, 4] = 7  # two separators left in the first row
    with pytest.raises(ValueError, match="exactly three"):
        qa(inputs)


def _layer_cases():
    rng = np.random.RandomState(0)
    hidden = rng.normal(size=(2, 10, 16)).astype("float32")
    kwargs = dict(attention_mask=np.array([[1] * 10, [1] * 7 + [0] * 3]),
                  global_attention_mask=np.array([[1, 0, 0, 0, 0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]]),
                  num_global_slots=2)
    return {
        "attention": (lambda dtype="float32": LongformerSelfAttention(num_heads=4, key_dim=4, attention_window=4,
                                                                      dtype=dtype), [hidden], kwargs),
        "block": (lambda dtype="float32": LongformerEncoderBlock(attention_window=6, num_heads=4, intermediate_size=24,
                                                                 dtype=dtype), [hidden], kwargs),
    }


@pytest.mark.parametrize("name", ["attention", pytest.param("block", marks=pytest.mark.slow)])
def test_layer_checks(name):
    """Config round trip, XLA == eager, a `fit()` step and mixed precision (`tests/layer_checks.py`);
    length 10 is a multiple of neither window."""
    make, inputs, kwargs = _layer_cases()[name]
    check_config_round_trip(make(), inputs, kwargs)
    check_xla_matches_eager(make(), inputs, kwargs)
    check_fit_step(make, inputs, kwargs)
    check_mixed_precision(make, inputs, kwargs)


def test_layer_config_round_trip():
    layer = LongformerSelfAttention(num_heads=2, key_dim=4, attention_window=6, dropout=0.1)
    clone = LongformerSelfAttention.from_config(layer.get_config())
    assert clone.attention_window == 6 and clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="positive even"):
        LongformerSelfAttention(num_heads=2, key_dim=4, attention_window=3)
    with pytest.raises(ValueError, match="does not take \\['cache'\\]"):
        layer(np.zeros((1, 4, 8), "float32"), cache=np.zeros((1, 2, 4, 2, 4), "float32"))


@pytest.mark.slow
def test_fit_mixed_precision_and_export(tmp_path):
    """`fit()` (compiled train step, default global attention on `<s>`), mixed_bfloat16 outputs, and a
    SavedModel with dynamic `(batch, seq_len)` inputs giving the Keras model's logits."""
    import keras

    model = tfmodels.LongformerForSequenceClassification(**tiny_config().to_dict())
    inputs = question_inputs()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))  # the task loss on `labels`
    history = model.fit({**inputs, "labels": np.array([0, 1, 2])}, epochs=2, batch_size=3, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    expected = model(inputs, training=False)["logits"].numpy()
    tfmodels.export_saved_model(model, str(tmp_path / "saved"))
    serve = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    served = serve(**{k: tf.constant(inputs[k], tf.int32) for k in serve.structured_input_signature[1]})
    np.testing.assert_allclose(served["logits"].numpy(), expected, atol=1e-5)
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = tfmodels.LongformerModel(**tiny_config().to_dict())(global_inputs(), output_attentions=True)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    assert mixed["last_hidden_state"].dtype == "bfloat16"
    assert np.isfinite(np.asarray(mixed["last_hidden_state"], "float32")).all()
