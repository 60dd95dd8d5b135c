"""I-BERT against `transformers` PyTorch on tiny random configs, in float mode and in integer-only quant mode.

Quant-mode checkpoints are calibrated first: the reference model runs a few
padded batches in training mode (no gradients, dropout 0), which sets every
`QuantAct` range (`x_min`, `x_max`) and `IntLayerNorm.shift`, then is saved.
Parity in quant mode is against the reference's outputs on the same weights
and calibration; it is exact (max |diff| 0.0) for the integer backbone, the
float pooler and heads on top agree within float32 rounding.
"""

import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import _randomize_zero_params, assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs
from tfmodels.layers.integer_encoder import IntegerEncoderBlock
from tfmodels.layers.quantization import IntGELU, IntLayerNorm, IntSoftmax, QuantAct, QuantEmbedding, QuantLinear

PAD = 1
HEADS = ["Model", "ForMaskedLM", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering",
         "ForMultipleChoice"]


def tiny_config(**overrides):
    fields = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  max_position_embeddings=20, type_vocab_size=2, num_labels=3, pad_token_id=PAD)
    fields.update(overrides)
    return transformers.IBertConfig(**fields)


def padded_inputs(batch_size=3, seed=0, pad_lengths=(5, 2)):
    inputs = random_inputs(batch_size=batch_size, vocab_size=99, type_vocab_size=2, seed=seed, pad_lengths=pad_lengths)
    ids = np.where(inputs["input_ids"] == PAD, 2, inputs["input_ids"])
    inputs["input_ids"] = np.where(inputs["attention_mask"] == 1, ids, PAD)
    return inputs


def head_inputs(head, seed=0):
    """Padded inputs (choices for multiple choice) with the head's labels, so `loss` is compared too."""
    if head == "ForMultipleChoice":
        flat = padded_inputs(batch_size=4, seed=seed, pad_lengths=(5, 2, 7))
        inputs = {k: v.reshape(2, 2, -1) for k, v in flat.items()}
        return {**inputs, "labels": np.array([1, 0])}
    inputs = padded_inputs(seed=seed)
    rng = np.random.RandomState(5)
    if head == "ForMaskedLM":
        inputs["labels"] = np.where(inputs["attention_mask"] == 1, rng.randint(0, 99, (3, 9)), -100)
    elif head == "ForTokenClassification":
        inputs["labels"] = np.where(inputs["attention_mask"] == 1, rng.randint(0, 3, (3, 9)), -100)
    elif head == "ForQuestionAnswering":
        inputs["start_positions"], inputs["end_positions"] = np.array([1, 3, 0]), np.array([4, 4, 1])
    elif head == "ForSequenceClassification":
        inputs["labels"] = np.array([0, 2, 1])
    return inputs


def quant_checkpoint(class_name, directory, seed=0, **overrides):
    """A calibrated quant-mode `transformers` checkpoint (see the module docstring)."""
    import torch

    config = tiny_config(quant_mode=True, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **overrides)
    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config)
    _randomize_zero_params(model, seed)
    head = class_name[len("IBert"):]
    model.train()
    with torch.no_grad():
        for batch in range(3):
            inputs = {k: v for k, v in head_inputs(head, seed=10 + batch).items() if "label" not in k
                      and "positions" not in k}
            model(**{k: torch.as_tensor(v) for k, v in inputs.items()})
    model.eval().save_pretrained(str(directory))
    return str(directory)


def _num_labels(head):
    return 2 if head == "ForQuestionAnswering" else 3


@pytest.mark.parametrize("head", HEADS)
def test_float_parity(head, tmp_path):
    class_name = "IBert" + head
    path = hf_checkpoint(class_name, tiny_config(num_labels=_num_labels(head)), tmp_path)
    print(class_name, assert_parity(class_name, path, head_inputs(head)))


# The other heads share the integer backbone checked here; they run with `-m slow`.
QUANT_DEFAULT = ("Model", "ForSequenceClassification")


@pytest.mark.parametrize("head", [h if h in QUANT_DEFAULT else pytest.param(h, marks=pytest.mark.slow) for h in HEADS])
def test_quant_parity(head, tmp_path):
    class_name = "IBert" + head
    path = quant_checkpoint(class_name, tmp_path, num_labels=_num_labels(head))
    diffs = assert_parity(class_name, path, head_inputs(head))
    print(class_name, diffs)
    for name in ("last_hidden_state", "hidden_states", "attentions"):
        if name in diffs:
            assert diffs[name] == 0.0, (name, diffs[name])


@pytest.mark.parametrize("force_dequant", ["nonlinear", pytest.param("gelu", marks=pytest.mark.slow),
                                           pytest.param("softmax", marks=pytest.mark.slow),
                                           pytest.param("layernorm", marks=pytest.mark.slow)])
def test_quant_force_dequant(force_dequant, tmp_path):
    path = quant_checkpoint("IBertModel", tmp_path, force_dequant=force_dequant)
    print(force_dequant, assert_parity("IBertModel", path, padded_inputs()))


@pytest.mark.parametrize("quant_mode", [pytest.param(False, marks=pytest.mark.slow), True])
def test_save_pretrained_round_trip(quant_mode, tmp_path):
    class_name = "IBertForSequenceClassification"
    if quant_mode:
        path = quant_checkpoint(class_name, tmp_path / "hf")
    else:
        path = hf_checkpoint(class_name, tiny_config(), tmp_path / "hf")
    assert_save_round_trip(class_name, path, padded_inputs(), tmp_path / "ours")


def test_quant_xla_matches_eager(tmp_path):
    model = tfmodels.IBertModel.from_pretrained(quant_checkpoint("IBertModel", tmp_path))
    inputs = padded_inputs()
    eager = model(inputs, output_hidden_states=True, output_attentions=True)
    compiled = tf.function(lambda x: model(x, output_hidden_states=True, output_attentions=True),
                           jit_compile=True)(inputs)
    assert sorted(eager) == sorted(compiled)
    for key in eager:
        np.testing.assert_allclose(np.asarray(compiled[key]), np.asarray(eager[key]), atol=1e-5, err_msg=key)


def test_fit_and_quant_training_refused(tmp_path):
    """Float mode trains with `fit()`; quant mode is inference-only and says so."""
    import keras

    model = tfmodels.IBertForSequenceClassification(**tiny_config().to_dict())
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    losses = model.fit(head_inputs("ForSequenceClassification"), epochs=2, batch_size=3, verbose=0).history["loss"]
    assert all(np.isfinite(losses)) and losses[1] < losses[0], losses
    quant = tfmodels.IBertModel(**tiny_config(quant_mode=True).to_dict()).build_from_dummy_inputs()
    with pytest.raises(NotImplementedError, match="inference"):
        quant(padded_inputs(), training=True)


def test_config_errors_and_auto(tmp_path):
    with pytest.raises(ValueError, match="only supports hidden_act='gelu'"):
        tfmodels.IBertModel(**tiny_config(hidden_act="relu").to_dict())
    with pytest.raises(ValueError, match="force_dequant must be one of"):
        tfmodels.IBertModel(**tiny_config(quant_mode=True, force_dequant="all").to_dict())
    path = hf_checkpoint("IBertForMaskedLM", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)).__name__ == "IBertModel"
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)).__name__ == "IBertForMaskedLM"
    assert tfmodels.auto.MODEL_REGISTRIES["multiple-choice"]["ibert"].__name__ == "IBertForMultipleChoice"


def test_quant_layer_configs():
    """Every quantization layer round-trips its config and gives the same outputs after `from_config`."""
    x = np.random.RandomState(0).randn(2, 5, 8).astype("float32")
    scale = np.array([0.01], "float32")
    for layer, args in [
        (QuantAct(8, quant_mode=True), (x, scale)),
        (QuantLinear(6, quant_mode=True), (x, scale)),
        (IntGELU(quant_mode=True), (x, scale)),
        (IntSoftmax(8, quant_mode=True), (x, scale)),
        (IntLayerNorm(quant_mode=True), (x, scale)),
        (IntegerEncoderBlock(num_heads=2, intermediate_size=12), (x, scale)),
    ]:
        out = layer(*args)
        clone = type(layer).from_config(layer.get_config())
        clone(*args)
        clone.set_weights(layer.get_weights())
        np.testing.assert_array_equal(np.asarray(clone(*args)[0]), np.asarray(out[0]), err_msg=type(layer).__name__)
    embedding = QuantEmbedding(11, 4, quant_mode=True)
    values, factor = embedding(np.array([[1, 2, 10]]))
    assert values.shape == (1, 3, 4) and factor.shape == (1,)
