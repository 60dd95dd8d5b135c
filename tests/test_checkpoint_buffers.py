"""Checkpoint tensors tfmodels recomputes are compared with the checkpoint, never skipped.

Each kind of buffer is taken from `transformers` itself (its `named_buffers()`,
which older versions saved into checkpoints): written into the checkpoint
unchanged it loads, altered it raises `BufferMismatchError` naming the key
and the max |diff|.
"""

import numpy as np
import pytest
import torch
import transformers
from safetensors.numpy import load_file, save_file

import tfmodels
from tests.helpers import TOLERANCE, random_inputs
from tests.test_bert_parity import tiny_bert_config
from tests.test_ctrl_parity import tiny_config as tiny_ctrl_config
from tests.test_gpt_neo_parity import tiny_config as tiny_gpt_neo_config
from tests.test_openai_parity import tiny_config as tiny_openai_config
from tests.test_roformer_parity import tiny_config as tiny_roformer_config
from tfmodels.converters import BufferMismatchError


def _save(class_name, config, directory, with_buffers=True):
    """Saves `transformers.<class_name>(config)` plus its buffers (as older versions did)."""
    torch.manual_seed(0)
    model = getattr(transformers, class_name)(config).eval()
    model.save_pretrained(str(directory))
    if with_buffers:
        _edit(directory, {k: v.numpy() for k, v in model.named_buffers()})
    return model


def _edit(directory, tensors):
    path = directory / "model.safetensors"
    state = load_file(str(path))
    state.update(tensors)
    save_file(state, str(path), metadata={"format": "pt"})


def _tensor(directory, key):
    return load_file(str(directory / "model.safetensors"))[key]


BUFFER_CASES = {
    # kind: (class, config factory, key, how to alter it)
    "position_ids": ("BertModel", tiny_bert_config, "embeddings.position_ids", lambda a: a + 1),
    "token_type_ids": ("BertModel", tiny_bert_config, "embeddings.token_type_ids", lambda a: a + 1),
    "1-D position_ids": ("OpenAIGPTModel", tiny_openai_config, "position_ids", lambda a: a[::-1].copy()),
    "causal mask": ("OpenAIGPTModel", tiny_openai_config, "h.1.attn.bias", np.ones_like),
    "local attention band": ("GPTNeoModel", tiny_gpt_neo_config, "h.1.attn.attention.bias",
                             lambda a: np.tril(np.ones_like(a))),
    "sinusoid table": ("CTRLModel", tiny_ctrl_config, "pos_encoding", lambda a: a * 1.01),
}


@pytest.mark.parametrize("kind", sorted(BUFFER_CASES))
def test_buffer_from_transformers_loads(kind, tmp_path):
    class_name, config, key, _ = BUFFER_CASES[kind]
    _save(class_name, config(), tmp_path)
    assert key in load_file(str(tmp_path / "model.safetensors"))
    _, info = getattr(tfmodels, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert key not in info["unexpected_keys"]  # verified, not reported as unused


@pytest.mark.parametrize("kind", sorted(BUFFER_CASES))
def test_altered_buffer_is_an_error(kind, tmp_path):
    class_name, config, key, alter = BUFFER_CASES[kind]
    _save(class_name, config(), tmp_path)
    original = _tensor(tmp_path, key)
    altered = alter(original)
    _edit(tmp_path, {key: altered})
    expected_diff = np.abs(altered.astype("float64") - original.astype("float64")).max()
    with pytest.raises(BufferMismatchError) as error:
        getattr(tfmodels, class_name).from_pretrained(tmp_path)
    assert f"{key}: max |diff| {expected_diff:.3g}" in str(error.value)
    # The model's table may differ from transformers' in the last bits (CTRL: float32 vs float64 angles).
    assert error.value.differing == [(key, pytest.approx(expected_diff, abs=1e-6))]


def test_table_of_another_shape_is_an_error(tmp_path):
    _save("CTRLModel", tiny_ctrl_config(), tmp_path)
    _edit(tmp_path, {"pos_encoding": _tensor(tmp_path, "pos_encoding")[:10].copy()})
    with pytest.raises(BufferMismatchError, match=r"pos_encoding: checkpoint shape \(10, 32\) vs \(64, 32\) for the "
                                                  r"sinusoid position table"):
        tfmodels.CTRLModel.from_pretrained(tmp_path)


def test_tied_decoder_is_checked_against_the_embeddings(tmp_path):
    """`cls.predictions.decoder.weight` (old checkpoints store the tied copy) must equal the word embeddings."""
    reference = _save("BertForMaskedLM", tiny_bert_config(), tmp_path, with_buffers=False)
    embeddings = reference.bert.embeddings.word_embeddings.weight.detach().numpy()
    _edit(tmp_path, {"cls.predictions.decoder.weight": embeddings.copy()})
    _, info = tfmodels.BertForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["unexpected_keys"] and not info["missing_keys"]
    _edit(tmp_path, {"cls.predictions.decoder.weight": embeddings + 0.5})
    with pytest.raises(BufferMismatchError, match=r"cls\.predictions\.decoder\.weight: max \|diff\| 0\.5 from the "
                                                  r"weight it is tied to, bert\.embeddings\.word_embeddings\.weight"):
        tfmodels.BertForMaskedLM.from_pretrained(tmp_path)


def test_alias_next_to_its_key_is_checked(tmp_path):
    """`cls.predictions.decoder.bias` beside `cls.predictions.bias` (the same tied tensor) must equal it."""
    reference = _save("BertForMaskedLM", tiny_bert_config(), tmp_path, with_buffers=False)
    bias = reference.cls.predictions.bias.detach().numpy()
    _edit(tmp_path, {"cls.predictions.bias": bias, "cls.predictions.decoder.bias": bias.copy()})
    tfmodels.BertForMaskedLM.from_pretrained(tmp_path)
    _edit(tmp_path, {"cls.predictions.decoder.bias": bias - 0.25})
    with pytest.raises(BufferMismatchError, match=r"cls\.predictions\.decoder\.bias: max \|diff\| 0\.25"):
        tfmodels.BertForMaskedLM.from_pretrained(tmp_path)


def test_roformer_sinusoid_table_is_verified(tmp_path):
    """RoFormer's `encoder.embed_positions.weight` is used by transformers after reload: a table that
    differs from the one tfmodels recomputes changes transformers' outputs, so loading refuses it."""
    _save("RoFormerModel", tiny_roformer_config(), tmp_path, with_buffers=False)
    key = "encoder.embed_positions.weight"
    ours = tfmodels.RoFormerModel.from_pretrained(tmp_path)  # the table transformers saved: accepted
    table = _tensor(tmp_path, key)
    altered = table + np.random.RandomState(0).normal(0, 0.05, table.shape).astype("float32")
    _edit(tmp_path, {key: altered})
    inputs = random_inputs(vocab_size=99, type_vocab_size=3)
    reference = transformers.RoFormerModel.from_pretrained(str(tmp_path)).eval()
    with torch.no_grad():
        expected = reference(**{k: torch.as_tensor(v) for k, v in inputs.items()}).last_hidden_state.numpy()
    silent_error = np.abs(ours(inputs)["last_hidden_state"].numpy() - expected).max()
    assert silent_error > TOLERANCE  # the table matters: skipping it would be a silent parity failure
    table_diff = np.abs(altered.astype("float64") - table).max()
    with pytest.raises(BufferMismatchError) as error:
        tfmodels.RoFormerModel.from_pretrained(tmp_path)
    message = str(error.value)
    assert f"{key}: max |diff| {table_diff:.3g} from the rotary sinusoid table the model computes" in message
    assert "config.json" in message  # says what to check


def test_transfo_xl_inv_freq_is_verified(tmp_path):
    """Transformer-XL checkpoints (saved by transformers 4.46, see tests/fixtures) carry `pos_emb.inv_freq`."""
    import os
    import shutil

    source = os.path.join(os.path.dirname(__file__), "fixtures", "transfo_xl", "adaptive_div2")
    for name in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(source, name), tmp_path / name)
    key = "transformer.pos_emb.inv_freq"
    tfmodels.TransfoXLLMHeadModel.from_pretrained(tmp_path)
    inv_freq = _tensor(tmp_path, key)
    _edit(tmp_path, {key: inv_freq * 2})
    expected_diff = np.abs(inv_freq.astype("float64")).max()
    with pytest.raises(BufferMismatchError, match=rf"{key}: max \|diff\| {expected_diff:.3g} from the constant"):
        tfmodels.TransfoXLLMHeadModel.from_pretrained(tmp_path)
