"""BART-family parity against `transformers` PyTorch, save round trips and a fit step
(`generate()`: tests/test_bart_generation.py).

Tiny odd configs: unequal encoder/decoder depths and FFN widths, 3 encoder
heads and 5 decoder heads on `d_model=30`, `scale_embedding` on and off.
`final_logits_bias` (a zero buffer the random init leaves alone) is given
random values so a missing bias shows. Inputs are padded on the right and on
the left in both stacks; every row holds one eos (the classification head
reads the last one); labels hold -100.

The reference runs with `use_cache=False`: otherwise transformers 5 returns
its `cache` object, which no parity test compares (`tests/helpers.NOT_COMPARED`).
"""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.helpers import _to_numpy, compare_outputs, hf_checkpoint, torch_outputs

VOCAB = 61
PAD, EOS, BOS = 1, 2, 0


def bart_config(model_type="bart", scale_embedding=True, **overrides):
    import transformers

    config_class = {"bart": transformers.BartConfig, "mbart": transformers.MBartConfig,
                    "marian": transformers.MarianConfig, "pegasus": transformers.PegasusConfig}[model_type]
    fields = dict(
        vocab_size=VOCAB, max_position_embeddings=40, d_model=30, encoder_layers=2, decoder_layers=3,
        encoder_attention_heads=3, decoder_attention_heads=5, encoder_ffn_dim=37, decoder_ffn_dim=29,
        scale_embedding=scale_embedding, pad_token_id=PAD, eos_token_id=EOS, bos_token_id=BOS,
        decoder_start_token_id=EOS, forced_eos_token_id=None, dropout=0.1, attention_dropout=0.1,
        activation_dropout=0.1, num_labels=3,
    )
    return config_class(**{**fields, **overrides})


def randomize_final_logits_bias(path, seed=3, scale=1.0):
    """Writes random values into the checkpoint's `final_logits_bias` (zeros after `save_pretrained`)."""
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(f"{path}/model.safetensors")
    generator = torch.Generator().manual_seed(seed)
    state["final_logits_bias"] = scale * torch.randn(state["final_logits_bias"].shape, generator=generator)
    save_file(state, f"{path}/model.safetensors", metadata={"format": "pt"})
    return path


def bart_inputs(seed=0, labels=True, batch_size=3, target_vocab=VOCAB):
    """Source `(3, 9)` with one eos per row (right padding in row 1, left padding in row 2);
    target ids below `target_vocab` (Marian's separate `decoder_vocab_size`)."""
    rng = np.random.RandomState(seed)
    input_ids = rng.randint(3, VOCAB, (batch_size, 9)).astype("int64")
    attention_mask = np.ones_like(input_ids)
    input_ids[:, -1] = EOS
    if batch_size > 1:
        input_ids[1, 5], input_ids[1, 6:], attention_mask[1, 6:] = EOS, PAD, 0  # right padding
    if batch_size > 2:
        input_ids[2, :3], attention_mask[2, :3] = PAD, 0  # left padding
    target = rng.randint(3, target_vocab, (batch_size, 7)).astype("int64")
    decoder_attention_mask = np.ones_like(target)
    if batch_size > 1:
        target[1, 5:] = -100
        decoder_attention_mask[1, 5:] = 0
    if batch_size > 2:
        decoder_attention_mask[2, :2] = 0
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask, decoder_attention_mask=decoder_attention_mask)
    if labels:
        inputs["labels"] = target
    else:
        inputs["decoder_input_ids"] = np.where(target == -100, PAD, target)
    return inputs


# name -> (transformers class saved, config overrides)
CHECKPOINTS = {
    "bart-scaled": ("BartForConditionalGeneration", dict(scale_embedding=True)),
    "bart-unscaled": ("BartForConditionalGeneration", dict(scale_embedding=False, activation_function="gelu_new")),
    "mbart": ("MBartForConditionalGeneration", dict(scale_embedding=True, encoder_layers=3, decoder_layers=2,
                                                    encoder_ffn_dim=29, decoder_ffn_dim=37)),
    "marian": ("MarianMTModel", dict(scale_embedding=True)),
    "marian-unshared": ("MarianMTModel", dict(share_encoder_decoder_embeddings=False, decoder_vocab_size=53)),
    # d_model=35: an odd width puts one more sine than cosine column in the sinusoid table.
    "pegasus": ("PegasusForConditionalGeneration", dict(scale_embedding=True, d_model=35, encoder_attention_heads=5,
                                                        decoder_attention_heads=7, encoder_layers=3, decoder_layers=2)),
}
TARGET_VOCAB = {"marian-unshared": 53}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    paths = {}
    for name, (class_name, overrides) in CHECKPOINTS.items():
        model_type = name.split("-")[0]
        path = hf_checkpoint(class_name, bart_config(model_type, **overrides), tmp_path_factory.mktemp(name))
        paths[name] = randomize_final_logits_bias(path)
    return paths


def parity(class_name, path, inputs, use_cache=False):
    flags = dict(output_hidden_states=True, output_attentions=True)
    reference = torch_outputs(class_name, path, inputs, **flags,
                              **({"use_cache": False} if use_cache is False else {}))
    model = getattr(tfmodels, class_name).from_pretrained(path)
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False, **flags).items()}
    return compare_outputs(ours, reference)


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_conditional_generation_parity_with_labels(checkpoints, name):
    diffs = parity(CHECKPOINTS[name][0], checkpoints[name], bart_inputs(target_vocab=TARGET_VOCAB.get(name, VOCAB)))
    assert {"loss", "logits", "cross_attentions", "decoder_hidden_states", "encoder_attentions"} <= set(diffs)


@pytest.mark.parametrize("name", ["bart-scaled", "mbart", "marian-unshared", "pegasus"])
def test_conditional_generation_parity_with_decoder_inputs(checkpoints, name):
    parity(CHECKPOINTS[name][0], checkpoints[name], bart_inputs(1, False, target_vocab=TARGET_VOCAB.get(name, VOCAB)))


@pytest.mark.parametrize("class_name,name", [("BartModel", "bart-scaled"), ("MBartModel", "mbart")])
def test_model_parity_shifts_input_ids_without_decoder_inputs(checkpoints, class_name, name):
    inputs = bart_inputs(2)
    inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    diffs = parity(class_name, checkpoints[name], inputs)
    assert "last_hidden_state" in diffs and "encoder_last_hidden_state" in diffs


@pytest.mark.parametrize("class_name,name", [("MarianModel", "marian-unshared"), ("PegasusModel", "pegasus")])
def test_model_parity_with_decoder_inputs(checkpoints, class_name, name):
    diffs = parity(class_name, checkpoints[name], bart_inputs(2, False, target_vocab=TARGET_VOCAB.get(name, VOCAB)))
    assert "last_hidden_state" in diffs and "encoder_last_hidden_state" in diffs
    model = getattr(tfmodels, class_name).from_pretrained(checkpoints[name])
    with pytest.raises(ValueError, match="decoder_input_ids"):  # the reference does not shift input_ids either
        model({"input_ids": bart_inputs(2)["input_ids"]})


@pytest.fixture(scope="module")
def head_checkpoints(tmp_path_factory):
    return {name: hf_checkpoint(name, bart_config(scale_embedding=name.endswith("Classification")),
                                tmp_path_factory.mktemp(name))
            for name in ("BartForSequenceClassification", "BartForQuestionAnswering")}


def test_sequence_classification_parity(head_checkpoints):
    inputs = bart_inputs(3)
    inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    inputs["labels"] = np.array([0, 2, 1])
    diffs = parity("BartForSequenceClassification", head_checkpoints["BartForSequenceClassification"], inputs)
    assert {"loss", "logits", "encoder_last_hidden_state", "cross_attentions"} <= set(diffs)


def test_sequence_classification_rejects_unequal_eos_counts(checkpoints):
    model = tfmodels.BartForSequenceClassification.from_pretrained(checkpoints["bart-scaled"])
    inputs = bart_inputs(3)
    inputs["input_ids"][0, 4] = EOS  # row 0 now holds two eos tokens
    with pytest.raises(ValueError, match="same number"):
        model({k: inputs[k] for k in ("input_ids", "attention_mask")})


def test_question_answering_parity(head_checkpoints):
    inputs = bart_inputs(4)
    inputs = {k: inputs[k] for k in ("input_ids", "attention_mask", "decoder_attention_mask")}
    inputs["decoder_attention_mask"] = np.ones_like(inputs["input_ids"])
    inputs.update(start_positions=np.array([1, 3, 20]), end_positions=np.array([4, 5, 7]))  # 20: out of range
    diffs = parity("BartForQuestionAnswering", head_checkpoints["BartForQuestionAnswering"], inputs)
    assert {"loss", "start_logits", "end_logits", "encoder_hidden_states"} <= set(diffs)


def test_causal_lm_parity(tmp_path):
    path = hf_checkpoint("BartForCausalLM", bart_config(), tmp_path)
    inputs = bart_inputs(5)
    labels = inputs["labels"]
    inputs = {"input_ids": inputs["input_ids"][:, :7], "attention_mask": inputs["decoder_attention_mask"],
              "labels": labels}
    diffs = parity("BartForCausalLM", path, inputs)
    assert set(diffs) == {"loss", "logits", "hidden_states", "attentions"}


@pytest.mark.parametrize("class_name", ["BartForConditionalGeneration", "BartForSequenceClassification",
                                        "BartModel", "MBartForConditionalGeneration"])
def test_save_pretrained_loads_in_transformers(checkpoints, head_checkpoints, tmp_path, class_name):
    source = head_checkpoints.get(class_name, checkpoints["mbart" if "MBart" in class_name else "bart-scaled"])
    model = getattr(tfmodels, class_name).from_pretrained(source)
    model.save_pretrained(tmp_path)
    inputs = bart_inputs(6, labels=class_name.endswith("ForConditionalGeneration"))
    if not class_name.endswith("ForConditionalGeneration"):
        inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, torch_outputs(class_name, str(tmp_path), inputs, use_cache=False))
    assert type(getattr(tfmodels, class_name).from_pretrained(tmp_path)) is type(model)
    with open(f"{tmp_path}/config.json") as f:
        assert json.load(f)["model_type"] == model.model_type


def test_causal_lm_save_pretrained_loads_in_transformers(tmp_path):
    path = hf_checkpoint("BartForCausalLM", bart_config(), tmp_path / "hf")
    model = tfmodels.BartForCausalLM.from_pretrained(path)
    model.save_pretrained(tmp_path / "ours")
    inputs = {"input_ids": bart_inputs(7)["input_ids"]}
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, torch_outputs("BartForCausalLM", str(tmp_path / "ours"), inputs, use_cache=False))


def test_auto_classes_pick_bart(checkpoints):
    model = tfmodels.AutoModelForSeq2SeqLM.from_pretrained(checkpoints["bart-scaled"])
    assert type(model) is tfmodels.BartForConditionalGeneration
    assert tfmodels.AutoModel.model_class("bart") is tfmodels.BartModel
    assert tfmodels.AutoModelForSequenceClassification.model_class("bart") is tfmodels.BartForSequenceClassification
    assert tfmodels.AutoModelForQuestionAnswering.model_class("bart") is tfmodels.BartForQuestionAnswering
    assert tfmodels.AutoModelForCausalLM.model_class("bart") is tfmodels.BartForCausalLM
    for model_type, base, lm in (("mbart", "MBartModel", "MBartForConditionalGeneration"),
                                 ("marian", "MarianModel", "MarianMTModel"),
                                 ("pegasus", "PegasusModel", "PegasusForConditionalGeneration")):
        assert tfmodels.AutoModel.model_class(model_type) is getattr(tfmodels, base)
        assert tfmodels.AutoModelForSeq2SeqLM.model_class(model_type) is getattr(tfmodels, lm)


def test_fit_step_moves_weights(checkpoints):
    import keras

    model = tfmodels.BartForConditionalGeneration.from_pretrained(checkpoints["bart-scaled"])
    inputs = {k: tf.constant(v) for k, v in bart_inputs(8).items()}
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)  # tracing costs ~20 s on 2 cores
    history = model.fit(tf.data.Dataset.from_tensor_slices(inputs).batch(3), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # Key biases get no gradient: a bias added to every key shifts each score row by a constant.
    unchanged = [w.path for b, w in zip(before, model.trainable_weights)
                 if np.array_equal(b, w.numpy()) and not w.path.endswith("/key/bias")]
    assert not unchanged, unchanged


@pytest.mark.parametrize("class_name,name", [("MarianMTModel", "marian-unshared"),
                                             ("PegasusForConditionalGeneration", "pegasus")])
def test_sinusoid_models_save_pretrained_loads_in_transformers(checkpoints, tmp_path, class_name, name):
    from safetensors.numpy import load_file

    model = getattr(tfmodels, class_name).from_pretrained(checkpoints[name])
    model.save_pretrained(tmp_path)
    inputs = bart_inputs(6, target_vocab=TARGET_VOCAB.get(name, VOCAB))
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, torch_outputs(class_name, str(tmp_path), inputs, use_cache=False))
    saved, original = load_file(f"{tmp_path}/model.safetensors"), load_file(f"{checkpoints[name]}/model.safetensors")
    for key in ("model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight"):
        # transformers 5 stores Pegasus' tables, not Marian's (recomputed at load); ours writes both.
        assert (key in original) == (name == "pegasus"), key
        if key in original:
            np.testing.assert_array_equal(saved[key], original[key])


def test_edited_sinusoid_table_is_refused(checkpoints, tmp_path):
    import shutil

    from safetensors.numpy import load_file, save_file

    from tfmodels.converters.errors import BufferMismatchError

    shutil.copytree(checkpoints["pegasus"], tmp_path, dirs_exist_ok=True)
    state = load_file(f"{tmp_path}/model.safetensors")
    state["model.decoder.embed_positions.weight"][3, 0] += 0.5
    save_file(state, f"{tmp_path}/model.safetensors", metadata={"format": "pt"})
    with pytest.raises(BufferMismatchError, match=r"model\.decoder\.embed_positions\.weight"):
        tfmodels.PegasusForConditionalGeneration.from_pretrained(tmp_path)


@pytest.mark.parametrize("source", ["BartModel", "BartForConditionalGeneration"])
def test_causal_lm_loads_the_decoder_of_seq2seq_checkpoints(tmp_path, source):
    """A seq2seq checkpoint's decoder (its token table is `shared`) in `BartForCausalLM`:
    the reference decoder's output times the shared table."""
    import torch
    import transformers

    path = hf_checkpoint(source, bart_config(), tmp_path)
    ids = bart_inputs(1)["input_ids"]
    ours = _to_numpy(tfmodels.BartForCausalLM.from_pretrained(path)({"input_ids": ids}, training=False)["logits"])
    reference = getattr(transformers, source).from_pretrained(path).eval()
    backbone = getattr(reference, "model", reference)
    with torch.no_grad():
        hidden = backbone.decoder(input_ids=torch.as_tensor(ids), use_cache=False).last_hidden_state
        expected = (hidden @ backbone.shared.weight.T).numpy()
    assert np.abs(ours - expected).max() <= 1e-5


def test_mixed_bfloat16_forward_keeps_float32_loss(checkpoints):
    path = checkpoints["bart-scaled"]
    inputs = bart_inputs(8)
    reference = tfmodels.BartForConditionalGeneration.from_pretrained(path)(inputs, training=False)
    model = tfmodels.BartForConditionalGeneration.from_pretrained(path, dtype="mixed_bfloat16")
    outputs = model(inputs, training=False)
    assert outputs["logits"].dtype == "bfloat16" and outputs["loss"].dtype == "float32"
    assert abs(float(outputs["loss"]) - float(reference["loss"])) < 0.05  # bfloat16 keeps ~3 significant digits
