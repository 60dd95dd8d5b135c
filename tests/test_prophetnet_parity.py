"""ProphetNet against `transformers` (PyTorch): every class and output, the n-gram loss, `generate()`,
and `save_pretrained` loaded back by `transformers`.

One tiny odd config (hidden 36, encoder 3 layers / 4 heads / ffn 31, decoder 2 layers / 3 heads /
ffn 29, `ngram=3`, 8 buckets with `relative_max_distance=12` so that the log buckets are used)
shared by every class. Decoder inputs are right-padded (`decoder_attention_mask`), encoder inputs
too. Fewer decoder than encoder layers: the reference's cache is sized by the encoder's layer count
(`num_hidden_layers`) and breaks on more decoder layers.

Generation is compared with the reference's cached `generate()` (its default): the reference's
uncached full pass reads the predict streams' relative-position values through a reshape that mixes
positions, streams and heads when the target has more than one token (our full forward reproduces
that, see `NgramSelfAttention._relative_bias`), so its uncached generate differs from its cached
one; a cached step has one token per stream, where both agree.
"""

import numpy as np
import pytest

import tfmodels
from tests.helpers import (
    assert_parity,
    assert_save_round_trip,
    compare_outputs,
    hf_checkpoint,
    random_inputs,
    torch_outputs,
)

VOCAB = 41
CONFIG = dict(vocab_size=VOCAB, hidden_size=36, encoder_ffn_dim=31, decoder_ffn_dim=29, num_encoder_layers=3,
              num_decoder_layers=2, num_encoder_attention_heads=4, num_decoder_attention_heads=3,
              max_position_embeddings=40, ngram=3, num_buckets=8, relative_max_distance=12, init_std=0.1,
              dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, use_cache=False)
CLASSES = ("ProphetNetModel", "ProphetNetForConditionalGeneration", "ProphetNetForCausalLM", "ProphetNetEncoder",
           "ProphetNetDecoder")
# The decoder alone, without encoder states: the reference returns `cross_attentions` as a tuple of `None`s.
NO_CROSS = ("cross_attentions",)
# Loss variants, one per LM head so the parity test covers both: `eps` label smoothing over all
# n-gram streams, and the next-token stream alone (`disable_ngram_loss`) without smoothing.
LOSS_OPTIONS = {"ProphetNetForConditionalGeneration": dict(eps=0.1),
                "ProphetNetForCausalLM": dict(disable_ngram_loss=True)}


def prophetnet_config(**overrides):
    import transformers

    return transformers.ProphetNetConfig(**{**CONFIG, **overrides})


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return {name: hf_checkpoint(name, prophetnet_config(**LOSS_OPTIONS.get(name, {})), tmp_path_factory.mktemp(name))
            for name in CLASSES}


def decoder_inputs():
    return random_inputs(seq_len=7, vocab_size=VOCAB, seed=1, pad_lengths=(4, 6))


def labels_of(inputs):
    return np.where(inputs["attention_mask"] == 1, inputs["input_ids"], -100)


def class_inputs(name, with_labels=True):
    source, target = random_inputs(vocab_size=VOCAB), decoder_inputs()
    if name in ("ProphetNetModel", "ProphetNetForConditionalGeneration"):
        inputs = {**source, "decoder_input_ids": target["input_ids"],
                  "decoder_attention_mask": target["attention_mask"]}
    elif name == "ProphetNetEncoder":
        return source
    else:
        inputs = dict(target)
    if with_labels and name.startswith("ProphetNetFor"):
        inputs["labels"] = labels_of(target)
    return inputs


@pytest.mark.parametrize("name", CLASSES)
def test_every_output_matches_transformers(checkpoints, name):
    skip = NO_CROSS if name in ("ProphetNetDecoder", "ProphetNetForCausalLM") else ()
    diffs = assert_parity(name, checkpoints[name], class_inputs(name), skip=skip)
    if name.startswith("ProphetNetFor"):
        assert {"loss", "logits", "logits_ngram"} <= set(diffs)
    if name != "ProphetNetEncoder":
        ngram_attentions = "ngram_attentions" if "Decoder" in name or "Causal" in name else "decoder_ngram_attentions"
        assert ngram_attentions in diffs


@pytest.mark.slow
def test_decoder_with_encoder_states_matches_transformers(checkpoints):
    """The decoder alone with `encoder_hidden_states` (cross-attention) and a padded encoder mask."""
    rng = np.random.RandomState(3)
    source = random_inputs(vocab_size=VOCAB)
    inputs = {**decoder_inputs(), "encoder_hidden_states": rng.randn(3, 9, 36).astype("float32"),
              "encoder_attention_mask": source["attention_mask"]}
    diffs = assert_parity("ProphetNetDecoder", checkpoints["ProphetNetDecoder"], inputs)
    assert "cross_attentions" in diffs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ProphetNetForConditionalGeneration", "ProphetNetForCausalLM"])
def test_loss_options_change_the_loss_as_in_transformers(checkpoints, name):
    """The checkpoints' loss options (`LOSS_OPTIONS`) switched back to the defaults, in both frameworks."""
    import torch
    import transformers

    inputs = class_inputs(name)
    overrides = dict(eps=0.0, disable_ngram_loss=False)
    reference = getattr(transformers, name).from_pretrained(checkpoints[name], **overrides).eval()
    with torch.no_grad():
        expected = reference(**{k: torch.as_tensor(v) for k, v in inputs.items()}).loss.numpy()
    ours = getattr(tfmodels, name).from_pretrained(checkpoints[name], **overrides)(inputs, training=False)["loss"]
    options = getattr(tfmodels, name).from_pretrained(checkpoints[name])(inputs, training=False)["loss"]
    assert abs(float(ours) - float(expected)) <= 1e-5
    assert abs(float(options) - float(ours)) > 1e-3  # the options change the loss


@pytest.mark.slow
def test_labels_alone_are_shifted_into_decoder_inputs(checkpoints):
    name = "ProphetNetForConditionalGeneration"
    inputs = {**random_inputs(vocab_size=VOCAB), "labels": labels_of(decoder_inputs())}
    reference = torch_outputs(name, checkpoints[name], inputs)
    ours = tfmodels.ProphetNetForConditionalGeneration.from_pretrained(checkpoints[name])(inputs, training=False)
    compare_outputs(dict(ours), reference)


@pytest.fixture(scope="module")
def generator(checkpoints):
    return tfmodels.ProphetNetForConditionalGeneration.from_pretrained(
        checkpoints["ProphetNetForConditionalGeneration"])


# Beam search is opt-in (`-m slow`): each option set traces its own loop (~15 s on 2 cores).
@pytest.mark.parametrize("options", [dict(num_beams=1), pytest.param(dict(num_beams=3, num_return_sequences=2),
                                                                    marks=pytest.mark.slow)],
                         ids=["greedy", "beam"])
def test_generate_is_token_identical_to_transformers(checkpoints, generator, options):
    import torch
    import transformers

    path = checkpoints["ProphetNetForConditionalGeneration"]
    inputs = random_inputs(vocab_size=VOCAB)
    reference = transformers.ProphetNetForConditionalGeneration.from_pretrained(path).eval()
    with torch.no_grad():
        expected = reference.generate(input_ids=torch.as_tensor(inputs["input_ids"]),
                                      attention_mask=torch.as_tensor(inputs["attention_mask"]), do_sample=False,
                                      use_cache=True, max_new_tokens=8, **options).numpy()
    assert len({tuple(row) for row in expected[:, 1:]}) > 2  # varied rows: a wrong row would show
    ours = generator.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=8,
                              jit_compile=False, **options)
    np.testing.assert_array_equal(ours.numpy(), expected)


def test_cached_step_matches_the_reference_cached_pass(checkpoints, generator):
    """Logits of every stream at a cached step equal the reference's cached forward (its `cache`)."""
    import torch
    import transformers

    path = checkpoints["ProphetNetForConditionalGeneration"]
    source, target = random_inputs(vocab_size=VOCAB), decoder_inputs()["input_ids"][:, :4]
    reference = transformers.ProphetNetForConditionalGeneration.from_pretrained(path).eval()
    tensors = {k: torch.as_tensor(v) for k, v in source.items()}
    with torch.no_grad():
        first = reference(**tensors, decoder_input_ids=torch.as_tensor(target[:, :3]), use_cache=True)
        step = reference(**tensors, decoder_input_ids=torch.as_tensor(target[:, 3:]), cache=first.cache,
                         use_cache=True)
    backbone = generator.backbone
    encoder = backbone.encode(source["input_ids"], source["attention_mask"])["last_hidden_state"]
    cache, cross = generator.init_cache(3, 6), generator.cross_key_values(encoder)
    for index in range(4):
        outputs = backbone.decode(target[:, index:index + 1], attention_mask=source["attention_mask"], cache=cache,
                                  cache_update_index=index, cross_key_values=cross)
        cache = outputs["past_key_values"]
    logits = generator.ngram_logits(backbone, outputs["last_hidden_state_ngram"])
    np.testing.assert_allclose(logits["logits"], step.logits.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(logits["logits_ngram"], step.logits_ngram.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["ProphetNetForConditionalGeneration",
                                  pytest.param("ProphetNetForCausalLM", marks=pytest.mark.slow)])
def test_save_pretrained_is_loaded_by_transformers(checkpoints, name, tmp_path):
    assert_save_round_trip(name, checkpoints[name], class_inputs(name, with_labels=False), tmp_path)


def test_bad_inputs_raise_clear_errors():
    model = tfmodels.ProphetNetModel(**CONFIG)
    with pytest.raises(ValueError, match="decoder_input_ids"):
        model(random_inputs(vocab_size=VOCAB))
    with pytest.raises(ValueError, match="at most"):
        model({"input_ids": np.ones((1, 40), "int32"), "decoder_input_ids": np.ones((1, 3), "int32")})
    with pytest.raises(ValueError, match="divisible"):
        tfmodels.ProphetNetModel(**{**CONFIG, "num_decoder_attention_heads": 5})


@pytest.mark.slow
def test_xla_generate_and_fit_step(checkpoints, generator):
    """The compiled `generate()` equals the graph one; one `fit()` step runs with the n-gram loss."""
    inputs = random_inputs(vocab_size=VOCAB)
    eager = generator.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=6,
                               jit_compile=False)
    compiled = generator.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=6,
                                  jit_compile=True)
    np.testing.assert_array_equal(eager.numpy(), compiled.numpy())
    import keras

    model = tfmodels.ProphetNetForConditionalGeneration.from_pretrained(
        checkpoints["ProphetNetForConditionalGeneration"])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    batch = {**inputs, "labels": labels_of(decoder_inputs())}
    history = model.fit(batch, epochs=2, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][1] < history.history["loss"][0]


def causal_prompts():
    """`(3, 6)` prompts, rows 1 and 2 left-padded (2 and 1 padding tokens, `pad_token_id` 0)."""
    input_ids = np.random.RandomState(0).randint(4, VOCAB, (3, 6))
    attention_mask = np.ones_like(input_ids)
    attention_mask[1, :2] = attention_mask[2, :1] = 0
    return dict(input_ids=np.where(attention_mask == 0, 0, input_ids), attention_mask=attention_mask)


def test_left_padded_causal_lm_matches_transformers(checkpoints):
    """Left-padding rows (every key masked) weigh their once-masked keys as the reference's summed masks."""
    diffs = assert_parity("ProphetNetForCausalLM", checkpoints["ProphetNetForCausalLM"], causal_prompts(),
                          skip=NO_CROSS)
    assert {"logits", "logits_ngram", "attentions", "ngram_attentions", "hidden_states"} <= set(diffs)


# Beam search on ProphetNetForCausalLM runs by default (its rows read the left padding's cached slots
# most), greedy and XLMProphetNetForCausalLM opt-in.
@pytest.mark.parametrize("class_name,options", [
    ("ProphetNetForCausalLM", dict(num_beams=3, num_return_sequences=2)),
    pytest.param("ProphetNetForCausalLM", dict(num_beams=1), marks=pytest.mark.slow),
    pytest.param("XLMProphetNetForCausalLM", dict(num_beams=1), marks=pytest.mark.slow),
    pytest.param("XLMProphetNetForCausalLM", dict(num_beams=3, num_return_sequences=2), marks=pytest.mark.slow),
], ids=["beam", "greedy", "xlm-greedy", "xlm-beam"])
def test_causal_lm_generate_is_token_identical_to_transformers(checkpoints, class_name, options, tmp_path):
    """Greedy and beam `generate()` of the decoder alone on left-padded prompts == the reference's cached
    `generate()` (its default; see `ProphetNetForCausalLM`). `transformers` 5 has no XLM-ProphetNet:
    `XLMProphetNetForCausalLM` (the same network under another `model_type`) loads the same weights
    with `model_type: xlm-prophetnet` and is compared with `transformers.ProphetNetForCausalLM`."""
    import json
    import shutil

    import torch
    import transformers

    path = checkpoints["ProphetNetForCausalLM"]
    if class_name.startswith("XLM"):
        shutil.copytree(path, tmp_path / "xlm")
        config = json.loads((tmp_path / "xlm" / "config.json").read_text())
        config.update(model_type="xlm-prophetnet", architectures=[class_name])
        (tmp_path / "xlm" / "config.json").write_text(json.dumps(config))
        model = getattr(tfmodels, class_name).from_pretrained(tmp_path / "xlm")
    else:
        model = tfmodels.ProphetNetForCausalLM.from_pretrained(path)
    reference = transformers.ProphetNetForCausalLM.from_pretrained(path).eval()
    inputs = causal_prompts()
    with torch.no_grad():
        expected = reference.generate(**{k: torch.as_tensor(v) for k, v in inputs.items()}, do_sample=False,
                                      use_cache=True, max_new_tokens=8, **options).numpy()
    assert len({tuple(row) for row in expected[:, 6:]}) == len(expected)  # varied rows: a wrong one would show
    ours = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=8,
                          jit_compile=False, **options)
    np.testing.assert_array_equal(ours.numpy(), expected)
