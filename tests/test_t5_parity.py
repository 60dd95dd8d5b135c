"""T5 / mT5 parity against `transformers` PyTorch, save round trips, fit (XLA and
`generate()`: tests/test_t5_generation.py).

Tiny odd configs: unequal encoder/decoder depths (`num_decoder_layers`), 3
heads of width 7 on `d_model=20` (inner width 21 != d_model), odd `d_ff`,
few buckets with a short `max_distance` (so the log buckets are exercised),
`relu`, `gated-gelu` and `gated-silu` feed-forwards, tied (rescaled) and
untied heads. Inputs are padded on the right and on the left, in both the
encoder and the decoder; labels hold -100.

The reference runs with `use_cache=False`: otherwise transformers 5 returns
its `cache` object (the renamed `past_key_values`), which no parity test
compares (see `tests/helpers.NOT_COMPARED`).

The reference runs in float64 (`torch_outputs(exact=True)`), so each check measures
our float32 error alone. On `t5-gated-gelu-unscaled` (a head with transformers'
std-1 init and no rescale, logits up to 17) float32 PyTorch is itself several 1e-6
from the exact result. Against float64, every output of every checkpoint here is
within 6.7e-6 (measured on an AVX2 CPU, seeds 0, 1 and 4; float32 reference: 7.6e-6).
"""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.helpers import _to_numpy, compare_outputs, hf_checkpoint, max_abs_diff, torch_outputs

VOCAB = 61


def t5_config(feed_forward_proj="relu", tie_word_embeddings=True, model_type="t5"):
    import transformers

    config_class = transformers.MT5Config if model_type == "mt5" else transformers.T5Config
    return config_class(
        vocab_size=VOCAB, d_model=20, d_kv=7, d_ff=23, num_layers=2, num_decoder_layers=3, num_heads=3,
        relative_attention_num_buckets=8, relative_attention_max_distance=12, feed_forward_proj=feed_forward_proj,
        tie_word_embeddings=tie_word_embeddings, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        dropout_rate=0.1,
    )


def untie_checkpoint(path):
    """Rewrites a checkpoint as original T5 v1.1 ones are: `tie_word_embeddings=False`
    and an `lm_head.weight` of its own (transformers then leaves the head untied).

    The head is drawn with std `d_model**-0.5`, so its logits have the scale the tied
    head's rescale gives (order 1). Drawn with std 1 (transformers' init), logits reach
    17 and any float32 evaluation of this 20-wide head is off by up to ~1e-5 from the
    exact result: per-dimension rounding of 1e-6 in the final hidden state, summed over
    a weight row of norm 4.5. Measured: float32 PyTorch 9.2e-6 from float64, our XLA
    path 1.19e-5. The std-1 case stays covered by `t5-gated-gelu-unscaled`."""
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(f"{path}/model.safetensors")
    generator = torch.Generator().manual_seed(7)
    d_model = state["shared.weight"].shape[1]
    state["lm_head.weight"] = torch.randn(state["shared.weight"].shape, generator=generator) * d_model**-0.5
    save_file(state, f"{path}/model.safetensors", metadata={"format": "pt"})
    with open(f"{path}/config.json") as f:
        config = json.load(f)
    config["tie_word_embeddings"] = False
    config.pop("scale_decoder_outputs", None)
    with open(f"{path}/config.json", "w") as f:
        json.dump(config, f)
    return path


def seq2seq_inputs(seed=0, labels_only=True):
    rng = np.random.RandomState(seed)
    input_ids = rng.randint(2, VOCAB, (3, 9)).astype("int64")
    attention_mask = np.ones_like(input_ids)
    attention_mask[1, 6:] = 0  # right padding
    attention_mask[2, :3] = 0  # left padding
    labels = rng.randint(2, VOCAB, (3, 7)).astype("int64")
    labels[1, 5:] = -100
    decoder_attention_mask = np.ones_like(labels)
    decoder_attention_mask[1, 5:] = 0
    decoder_attention_mask[2, :2] = 0
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask, decoder_attention_mask=decoder_attention_mask)
    if labels_only:
        inputs["labels"] = labels
    else:
        inputs["decoder_input_ids"] = np.where(labels == -100, 0, labels)
    return inputs


# name -> (class, feed_forward_proj, tie_word_embeddings, untied v1.1-style checkpoint)
CHECKPOINTS = {
    "t5-relu-tied": ("T5ForConditionalGeneration", "relu", True, False, "t5"),
    "t5-gated-gelu-unscaled": ("T5ForConditionalGeneration", "gated-gelu", False, False, "t5"),
    "t5-gated-gelu-untied": ("T5ForConditionalGeneration", "gated-gelu", False, True, "t5"),
    "mt5-gated-silu-untied": ("MT5ForConditionalGeneration", "gated-silu", False, True, "mt5"),
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    paths = {}
    for name, (class_name, ff, tie, untie, model_type) in CHECKPOINTS.items():
        path = hf_checkpoint(class_name, t5_config(ff, tie, model_type), tmp_path_factory.mktemp(name))
        paths[name] = untie_checkpoint(path) if untie else path
    return paths


def parity(class_name, path, inputs, decoder=True):
    flags = dict(output_hidden_states=True, output_attentions=True)
    reference = torch_outputs(class_name, path, inputs, exact=True, **flags, **({"use_cache": False} if decoder else {}))
    model = getattr(tfmodels, class_name).from_pretrained(path)
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False, **flags).items()}
    return compare_outputs(ours, reference)


@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_conditional_generation_parity_with_labels(checkpoints, name):
    class_name = CHECKPOINTS[name][0]
    diffs = parity(class_name, checkpoints[name], seq2seq_inputs())
    assert {"loss", "logits", "cross_attentions", "decoder_hidden_states", "encoder_attentions"} <= set(diffs)


def test_conditional_generation_parity_with_decoder_inputs(checkpoints):
    parity("T5ForConditionalGeneration", checkpoints["t5-gated-gelu-untied"], seq2seq_inputs(1, labels_only=False))


@pytest.mark.parametrize("class_name,name", [("T5Model", "t5-relu-tied"), ("MT5Model", "mt5-gated-silu-untied")])
def test_model_parity(checkpoints, class_name, name):
    diffs = parity(class_name, checkpoints[name], seq2seq_inputs(2, labels_only=False))
    assert "last_hidden_state" in diffs and "encoder_last_hidden_state" in diffs


@pytest.mark.parametrize("class_name,name", [("T5EncoderModel", "t5-gated-gelu-untied"),
                                             ("MT5EncoderModel", "mt5-gated-silu-untied")])
def test_encoder_model_parity(checkpoints, class_name, name):
    inputs = seq2seq_inputs(3)
    inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    diffs = parity(class_name, checkpoints[name], inputs, decoder=False)
    assert set(diffs) == {"last_hidden_state", "hidden_states", "attentions"}


@pytest.mark.parametrize("class_name,name", [("T5ForConditionalGeneration", "t5-gated-gelu-untied"),
                                             ("T5EncoderModel", "t5-relu-tied"),
                                             ("MT5Model", "mt5-gated-silu-untied")])
def test_save_pretrained_loads_in_transformers(checkpoints, tmp_path, class_name, name):
    model = getattr(tfmodels, class_name).from_pretrained(checkpoints[name])
    model.save_pretrained(tmp_path)
    inputs = seq2seq_inputs(4, labels_only=class_name != "MT5Model")
    if class_name == "T5EncoderModel":
        inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False).items()}
    kwargs = {} if class_name == "T5EncoderModel" else {"use_cache": False}
    compare_outputs(ours, torch_outputs(class_name, str(tmp_path), inputs, exact=True, **kwargs))
    assert type(getattr(tfmodels, class_name).from_pretrained(tmp_path)) is type(model)
    if name.endswith("untied") and class_name.endswith("ForConditionalGeneration"):  # its own head was written
        from safetensors.numpy import load_file

        saved, original = load_file(f"{tmp_path}/model.safetensors"), load_file(f"{checkpoints[name]}/model.safetensors")
        assert not np.array_equal(saved["lm_head.weight"], saved["shared.weight"])
        np.testing.assert_array_equal(saved["lm_head.weight"], original["lm_head.weight"])


def test_auto_classes_pick_t5(checkpoints):
    model = tfmodels.AutoModelForSeq2SeqLM.from_pretrained(checkpoints["mt5-gated-silu-untied"])
    assert type(model) is tfmodels.MT5ForConditionalGeneration
    assert tfmodels.AutoModelForSeq2SeqLM.model_class("t5") is tfmodels.T5ForConditionalGeneration
    assert tfmodels.AutoModel.model_class("t5") is tfmodels.T5Model
    assert tfmodels.AutoModel.model_class("mt5") is tfmodels.MT5Model


def test_fit_step_moves_weights(checkpoints):
    import keras

    model = tfmodels.T5ForConditionalGeneration.from_pretrained(checkpoints["t5-gated-gelu-untied"])
    inputs = {k: tf.constant(v) for k, v in seq2seq_inputs(5).items()}
    before = [w.numpy().copy() for w in model.trainable_weights]
    # Eager only to save the ~20 s trace (graph and XLA steps run too: it was never a failure of the compiled
    # step); the XLA step against the graph step, with labels as `y`: tests/test_seq2seq_training.py.
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    history = model.fit(tf.data.Dataset.from_tensor_slices(inputs).batch(3), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
    assert all(changed), [w.path for w, c in zip(model.trainable_weights, changed) if not c]


def test_rms_normalization_matches_t5_layer_norm():
    import torch
    from transformers.models.t5.modeling_t5 import T5LayerNorm

    from tfmodels.layers.normalization import RMSNormalization

    x = np.random.RandomState(0).normal(3.0, 2.0, (2, 5, 11)).astype("float32")
    reference = T5LayerNorm(11, eps=1e-6)
    with torch.no_grad():
        reference.weight.normal_()
        expected = reference(torch.from_numpy(x)).numpy()
    layer = RMSNormalization(epsilon=1e-6)
    layer.build(x.shape)
    layer.gamma.assign(reference.weight.detach().numpy())
    assert max_abs_diff(layer(x), expected) <= 1e-6
    assert RMSNormalization.from_config(layer.get_config()).epsilon == 1e-6


def test_decoder_block_config_round_trip_and_precomputed_cross_key_value():
    from tfmodels.layers.decoder_block import TransformerDecoderBlock
    from tfmodels.layers.masks import causal_mask

    block = TransformerDecoderBlock(num_heads=3, intermediate_size=9, key_dim=5, normalize_first=True,
                                    normalization="rms_norm", feed_forward_kwargs={"gated": True})
    clone = TransformerDecoderBlock.from_config(block.get_config())
    assert clone.get_config() == block.get_config()
    rng = np.random.RandomState(0)
    x, encoder = rng.normal(size=(2, 4, 8)).astype("float32"), rng.normal(size=(2, 6, 8)).astype("float32")
    full = block(x, encoder_hidden_states=encoder, attention_mask=causal_mask(4, 4))
    cached = block(x, cross_key_value=block.cross_attention.project_key_value(encoder),
                   attention_mask=causal_mask(4, 4))
    assert max_abs_diff(cached, np.asarray(full)) <= 1e-6


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="feed_forward_proj"):
        tfmodels.T5Model(vocab_size=11, d_model=8, d_kv=4, d_ff=8, num_layers=1, num_heads=2,
                         feed_forward_proj="gelu-gated")
    model = tfmodels.T5Model(vocab_size=11, d_model=8, d_kv=4, d_ff=8, num_layers=1, num_heads=2)
    with pytest.raises(ValueError, match="decoder_input_ids"):
        model({"input_ids": np.ones((1, 3), "int32")})



def test_missing_checkpoint_key_is_named(checkpoints, tmp_path):
    import shutil

    from safetensors.numpy import load_file, save_file

    from tfmodels.converters import WeightMismatchError

    shutil.copytree(checkpoints["t5-relu-tied"], tmp_path, dirs_exist_ok=True)
    state = load_file(f"{tmp_path}/model.safetensors")
    del state["decoder.block.2.layer.2.DenseReluDense.wo.weight"]
    save_file(state, f"{tmp_path}/model.safetensors", metadata={"format": "pt"})
    with pytest.raises(WeightMismatchError, match=r"decoder\.block\.2\.layer\.2\.DenseReluDense\.wo\.weight"):
        tfmodels.T5ForConditionalGeneration.from_pretrained(tmp_path)
