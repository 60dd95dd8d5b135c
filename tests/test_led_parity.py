"""LED against `transformers` PyTorch: both classes on a tiny odd config, greedy `generate()`, round trip.

Encoder windows differ per layer (4 and 8), the source length (11) is a
multiple of neither, rows are padded, examples have 3, 1 and 2 global
tokens; encoder and decoder depths and head counts differ.
"""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import (
    _to_numpy,
    assert_save_round_trip,
    compare_outputs,
    hf_checkpoint,
    reference_generate,
    torch_outputs,
)
from tests.test_bart_parity import randomize_final_logits_bias

CLASSES = ["LEDModel", "LEDForConditionalGeneration"]


def led_config(**overrides):
    fields = dict(
        vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4,
        decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=29, max_encoder_position_embeddings=40,
        max_decoder_position_embeddings=24, attention_window=[4, 8], forced_eos_token_id=None,
    )
    fields.update(overrides)
    return transformers.LEDConfig(**fields)


def led_inputs(seed=0, global_tokens=True):
    """Source `(3, 11)` (rows 1, 2 right-padded to 7, 3; `<s>` first, eos last), padded targets `(3, 5)`."""
    rng = np.random.RandomState(seed)
    lengths = (11, 7, 3)
    ids = np.full((3, 11), 1, dtype="int64")
    mask = np.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.randint(3, 99, length)
        ids[row, [0, length - 1]] = (0, 2)
        mask[row, :length] = 1
    inputs = {"input_ids": ids, "attention_mask": mask}
    if global_tokens:
        glob = np.zeros_like(ids)
        glob[0, [0, 3, 9]] = 1
        glob[1, [0, 8]] = 1  # position 8 is padding: ignored
        glob[2, [0, 1]] = 1
        inputs["global_attention_mask"] = glob
    targets = rng.randint(3, 99, (3, 5))
    target_mask = np.ones_like(targets)
    target_mask[2, 4:] = 0
    return {**inputs, "decoder_input_ids": targets, "decoder_attention_mask": target_mask}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    paths = {name: hf_checkpoint(name, led_config(), tmp_path_factory.mktemp(name)) for name in CLASSES}
    randomize_final_logits_bias(paths["LEDForConditionalGeneration"], scale=0.1)  # zeros after save_pretrained
    return paths


@pytest.mark.parametrize("class_name", CLASSES)
def test_parity(class_name, checkpoints):
    inputs = led_inputs()
    kwargs = dict(output_hidden_states=True, output_attentions=True)
    reference = torch_outputs(class_name, checkpoints[class_name], inputs, **kwargs)
    model = getattr(tfmodels, class_name).from_pretrained(checkpoints[class_name])
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False, **kwargs).items()}
    diffs = compare_outputs(ours, reference)
    assert "encoder_global_attentions" in diffs
    print(class_name, diffs)


@pytest.mark.parametrize("global_tokens", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_greedy_generate_is_token_identical_to_transformers(global_tokens, tmp_path):
    """Greedy `generate()` equals the reference's, with global tokens (3, 1, 2) in the encoder or without."""
    import torch

    # A large init_std: with 0.02 the random model emits eos at once and the test would compare nothing.
    path = randomize_final_logits_bias(hf_checkpoint("LEDForConditionalGeneration", led_config(init_std=1.0),
                                                     tmp_path), scale=0.1)
    source = led_inputs(4)
    inputs = {k: source[k] for k in ("input_ids", "attention_mask")}
    options = dict(max_new_tokens=8)
    if global_tokens:
        options["global_attention_mask"] = source["global_attention_mask"]
    expected = reference_generate("LEDForConditionalGeneration", path, inputs,
                                  **{k: torch.as_tensor(v) if k == "global_attention_mask" else v
                                     for k, v in options.items()})
    assert expected.shape[1] > 4 and len(np.unique(expected[:, 1:])) > 2  # a real sequence, not eos at once
    model = tfmodels.LEDForConditionalGeneration.from_pretrained(path)
    ours = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], **options)
    np.testing.assert_array_equal(ours.numpy(), expected)


def test_save_pretrained_round_trip(checkpoints, tmp_path):
    assert_save_round_trip("LEDForConditionalGeneration", checkpoints["LEDForConditionalGeneration"], led_inputs(),
                           tmp_path / "ours")


def test_auto_classes_and_errors(checkpoints):
    assert tfmodels.auto.MODEL_REGISTRIES["seq2seq-lm"]["led"] is tfmodels.LEDForConditionalGeneration
    assert tfmodels.auto.MODEL_REGISTRIES["base"]["led"] is tfmodels.LEDModel
    with pytest.raises(ValueError, match="list of encoder_layers"):
        tfmodels.LEDModel(**led_config(attention_window=[4, 4, 4]).to_dict())
    model = tfmodels.LEDModel(**led_config(max_encoder_position_embeddings=8).to_dict())
    with pytest.raises(ValueError, match="max_encoder_position_embeddings=8"):
        model(led_inputs())


@pytest.mark.slow
def test_xla_forward_matches_eager(checkpoints):
    """`jit_compile=True` with global tokens (static slots from `max_global_tokens`) gives the eager outputs."""
    import tensorflow as tf

    model = tfmodels.LEDForConditionalGeneration.from_pretrained(checkpoints["LEDForConditionalGeneration"],
                                                                 max_global_tokens=4)
    inputs = {k: tf.constant(v, tf.int32) for k, v in led_inputs().items()}
    kwargs = dict(training=False, output_attentions=True)
    eager = model(inputs, **kwargs)
    compiled = tf.function(lambda x: model(x, **kwargs), jit_compile=True)(inputs)
    for name in ("logits", "encoder_last_hidden_state", "encoder_attentions", "encoder_global_attentions"):
        for ours, reference in zip(tf.nest.flatten(compiled[name]), tf.nest.flatten(eager[name]), strict=True):
            np.testing.assert_allclose(ours, reference, atol=1e-5)


@pytest.mark.slow  # a second compiled decoding loop (beam search)
def test_beam_generate_is_token_identical_to_transformers(tmp_path):
    """Beam search (3 beams, 2 returned sequences, length penalty) with global tokens equals the reference's."""
    import torch

    path = randomize_final_logits_bias(hf_checkpoint("LEDForConditionalGeneration", led_config(init_std=1.0),
                                                     tmp_path), scale=0.1)
    source = led_inputs(4)
    inputs = {k: source[k] for k in ("input_ids", "attention_mask")}
    options = dict(max_new_tokens=7, num_beams=3, num_return_sequences=2, length_penalty=0.8)
    expected = reference_generate("LEDForConditionalGeneration", path, inputs,
                                  global_attention_mask=torch.as_tensor(source["global_attention_mask"]), **options)
    assert expected.shape[1] > 4 and len(np.unique(expected[:, 1:])) > 2
    model = tfmodels.LEDForConditionalGeneration.from_pretrained(path)
    ours = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"],
                          global_attention_mask=source["global_attention_mask"], **options)
    np.testing.assert_array_equal(ours.numpy(), expected)
