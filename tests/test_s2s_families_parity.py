"""Blenderbot, BlenderbotSmall, M2M100 and FSMT (flags of the BART-family stack) against
`transformers` PyTorch: parity of every output, save round trips, generation
(tests/test_s2s_families_generation.py).

Tiny odd configs as tests/test_bart_parity.py: `d_model=30`, 3 encoder and 5
decoder heads, 2 encoder and 3 decoder layers (M2M100 the other way round),
FFN widths 37 / 29; FSMT with a source vocabulary of 61 and a target one of
53. Sources are padded on the right (row 1) and on the left (row 2); decoder
inputs hold padding tokens (row 1) and a left-padded `decoder_attention_mask`
(row 2), which the fairseq positions of M2M100 and FSMT read from the ids.
The reference runs with `use_cache=False` (FSMT's reference drops its causal
mask otherwise).
"""

import json

import numpy as np
import pytest

import tfmodels
from tests.helpers import _to_numpy, compare_outputs, hf_checkpoint, torch_outputs
from tests.test_bart_parity import BOS, EOS, PAD, VOCAB, bart_inputs, randomize_final_logits_bias

TGT_VOCAB = 53  # FSMT's target vocabulary

# family -> (model_type, base class, LM class, config overrides)
FAMILIES = {
    "blenderbot": ("BlenderbotModel", "BlenderbotForConditionalGeneration", dict()),
    "blenderbot-small": ("BlenderbotSmallModel", "BlenderbotSmallForConditionalGeneration", dict()),
    "m2m_100": ("M2M100Model", "M2M100ForConditionalGeneration",
                dict(encoder_layers=3, decoder_layers=2, encoder_ffn_dim=29, decoder_ffn_dim=37)),
    "fsmt": ("FSMTModel", "FSMTForConditionalGeneration", dict()),
}


def family_config(model_type, **overrides):
    """A tiny `transformers` config of `model_type` (dropout on: the tests run in inference mode)."""
    import transformers

    fields = dict(
        max_position_embeddings=40, d_model=30, encoder_layers=2, decoder_layers=3, encoder_attention_heads=3,
        decoder_attention_heads=5, encoder_ffn_dim=37, decoder_ffn_dim=29, scale_embedding=True,
        pad_token_id=PAD, eos_token_id=EOS, bos_token_id=BOS, decoder_start_token_id=EOS, forced_eos_token_id=None,
        dropout=0.1, attention_dropout=0.1, activation_dropout=0.1, activation_function="gelu",
    )
    if model_type == "fsmt":
        fields.update(langs=["en", "de"], src_vocab_size=VOCAB, tgt_vocab_size=TGT_VOCAB, num_beams=1)
        return transformers.FSMTConfig(**{**fields, **overrides})
    config_class = {"blenderbot": transformers.BlenderbotConfig, "blenderbot-small": transformers.BlenderbotSmallConfig,
                    "m2m_100": transformers.M2M100Config}[model_type]
    fields.update(vocab_size=VOCAB)
    return config_class(**{**fields, **overrides})


def family_inputs(model_type, seed=0, labels=True):
    """`bart_inputs` with explicit decoder inputs (below FSMT's target vocabulary), plus `labels`."""
    target_vocab = TGT_VOCAB if model_type == "fsmt" else VOCAB
    inputs = bart_inputs(seed, labels=False, target_vocab=target_vocab)
    if labels:
        inputs["labels"] = np.where(inputs["decoder_attention_mask"] == 0, -100, inputs["decoder_input_ids"])
    return inputs


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    paths = {}
    for model_type, (_, lm_class, overrides) in FAMILIES.items():
        path = hf_checkpoint(lm_class, family_config(model_type, **overrides), tmp_path_factory.mktemp(model_type))
        paths[model_type] = randomize_final_logits_bias(path) if model_type.startswith("blenderbot") else path
    return paths


def parity(class_name, path, inputs):
    """Compares every output; returns `(diffs, our model)`."""
    flags = dict(output_hidden_states=True, output_attentions=True)
    reference = torch_outputs(class_name, path, inputs, use_cache=False, **flags)
    model = getattr(tfmodels, class_name).from_pretrained(path)
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False, **flags).items()}
    return compare_outputs(ours, reference), model


EXPECTED = {"logits", "encoder_last_hidden_state", "encoder_hidden_states", "decoder_hidden_states",
            "encoder_attentions", "decoder_attentions", "cross_attentions"}


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_conditional_generation_parity_and_save_round_trip(checkpoints, tmp_path, model_type):
    """Parity of every output, then our weight table read backwards: transformers loads what we save
    (the same keys and tensors as its own checkpoint) and gives our outputs."""
    from safetensors.numpy import load_file

    class_name = FAMILIES[model_type][1]
    diffs, model = parity(class_name, checkpoints[model_type], family_inputs(model_type))
    assert EXPECTED | {"loss"} <= set(diffs)
    model.save_pretrained(tmp_path)
    inputs = family_inputs(model_type, 2)
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, torch_outputs(class_name, str(tmp_path), inputs, use_cache=False))
    with open(f"{tmp_path}/config.json") as f:
        assert json.load(f)["model_type"] == model_type
    saved = load_file(f"{tmp_path}/model.safetensors")
    original = load_file(f"{checkpoints[model_type]}/model.safetensors")
    assert sorted(saved) == sorted(original)  # no key lost or added (tied copies left out, as transformers does)
    for key, value in original.items():
        np.testing.assert_array_equal(saved[key], value, err_msg=key)
    assert type(tfmodels.AutoModelForSeq2SeqLM.from_pretrained(tmp_path)) is type(model)


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_model_parity(checkpoints, model_type):
    diffs, _ = parity(FAMILIES[model_type][0], checkpoints[model_type], family_inputs(model_type, 1, labels=False))
    assert EXPECTED - {"logits"} | {"last_hidden_state"} <= set(diffs)
    assert tfmodels.AutoModel.model_class(model_type) is getattr(tfmodels, FAMILIES[model_type][0])


def test_fsmt_default_decoder_masks_and_inputs(checkpoints):
    """FSMT's own defaults: without `decoder_attention_mask` its padding tokens are masked (the reference's
    `make_padding_mask`); without `decoder_input_ids` they are `input_ids` shifted right, even with
    `labels`, each row starting with its last non-pad token."""
    inputs = family_inputs("fsmt", 3)
    del inputs["decoder_attention_mask"]
    assert (inputs["decoder_input_ids"] == PAD).any()
    diffs, _ = parity("FSMTForConditionalGeneration", checkpoints["fsmt"], inputs)
    assert {"loss", "logits", "decoder_attentions"} <= set(diffs)
    source = {k: inputs[k] for k in ("input_ids", "attention_mask", "labels")}
    source["input_ids"] = np.where(source["input_ids"] >= TGT_VOCAB, 4, source["input_ids"])  # target ids too
    source["labels"] = np.where(source["attention_mask"] == 0, -100, source["input_ids"])  # the source's length
    diffs, _ = parity("FSMTForConditionalGeneration", checkpoints["fsmt"], source)
    assert {"loss", "logits", "cross_attentions"} <= set(diffs)


@pytest.mark.slow
def test_tied_fsmt_parity_and_save_round_trip(tmp_path):
    """`tie_word_embeddings=True`: one table (`decoder.embed_tokens`) for source, target and output."""
    from safetensors.numpy import load_file

    config = family_config("fsmt", tgt_vocab_size=VOCAB, tie_word_embeddings=True)
    path = hf_checkpoint("FSMTForConditionalGeneration", config, tmp_path / "hf")
    inputs = bart_inputs(4, labels=False)
    diffs, model = parity("FSMTForConditionalGeneration", path, inputs)
    assert EXPECTED <= set(diffs)
    assert model.backbone.decoder_embed_tokens is None and model.backbone.output_projection is None
    model.save_pretrained(tmp_path / "ours")
    assert sorted(load_file(f"{tmp_path}/ours/model.safetensors")) == sorted(load_file(f"{path}/model.safetensors"))
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, torch_outputs("FSMTForConditionalGeneration", str(tmp_path / "ours"), inputs,
                                        use_cache=False))
    with pytest.raises(ValueError, match="tie_word_embeddings"):
        tfmodels.FSMTModel(src_vocab_size=61, tgt_vocab_size=53, tie_word_embeddings=True)
