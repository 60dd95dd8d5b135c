"""`MarianForCausalLM` with a target vocabulary of its own (`decoder_vocab_size != vocab_size`).

The reference's decoder (`MarianDecoderWrapper`) always embeds with `decoder_vocab_size` rows
(`model.decoder.embed_tokens`); its logits are that wide with the tied head, and `vocab_size`
wide with an untied `lm_head`. Parity on every output (hidden states and attentions
included; the loss with the untied head, the only one whose reference loss is defined: it
flattens the logits by `vocab_size`), padded inputs, and a `save_pretrained` round trip loaded
by `transformers`.
"""

import numpy as np
import pytest

from tests.helpers import _to_numpy, compare_outputs, hf_checkpoint, torch_outputs

VOCAB, DECODER_VOCAB = 71, 53
CONFIGS = {  # name -> MarianConfig overrides
    "untied-unshared": dict(share_encoder_decoder_embeddings=False, tie_word_embeddings=False),
    "tied-shared": dict(share_encoder_decoder_embeddings=True, tie_word_embeddings=True),
}


def marian_config(**overrides):
    import transformers

    return transformers.MarianConfig(**{**dict(
        vocab_size=VOCAB, decoder_vocab_size=DECODER_VOCAB, d_model=30, encoder_layers=1, decoder_layers=3,
        encoder_attention_heads=3, decoder_attention_heads=5, encoder_ffn_dim=37, decoder_ffn_dim=29,
        max_position_embeddings=40, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2, init_std=0.2,
        dropout=0.1, attention_dropout=0.1, activation_dropout=0.1), **overrides})


def causal_inputs(labels):
    rng = np.random.RandomState(0)
    input_ids = rng.randint(3, DECODER_VOCAB, (3, 8))
    attention_mask = np.ones_like(input_ids)
    attention_mask[1, 5:] = 0  # right padding
    attention_mask[2, :2] = 0  # left padding
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask)
    if labels:
        inputs["labels"] = np.where(attention_mask == 0, -100, rng.randint(0, VOCAB, input_ids.shape))
    return inputs


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return {name: hf_checkpoint("MarianForCausalLM", marian_config(**overrides), tmp_path_factory.mktemp(name))
            for name, overrides in CONFIGS.items()}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_parity_and_save_round_trip(checkpoints, name, tmp_path):
    import tfmodels

    inputs = causal_inputs(labels=name.startswith("untied"))
    flags = dict(output_hidden_states=True, output_attentions=True)
    model = tfmodels.MarianForCausalLM.from_pretrained(checkpoints[name])
    ours = {k: _to_numpy(v) for k, v in model(inputs, training=False, **flags).items()}
    # use_cache=False: with its cache the reference's attentions path fails (an empty cache layer list)
    diffs = compare_outputs(ours, torch_outputs("MarianForCausalLM", checkpoints[name], inputs, use_cache=False,
                                                **flags))
    assert {"logits", "hidden_states", "attentions"} <= set(diffs)
    assert ("loss" in diffs) == name.startswith("untied")
    assert ours["logits"].shape[-1] == (VOCAB if name.startswith("untied") else DECODER_VOCAB)
    assert model.shared.input_dim == DECODER_VOCAB
    model.save_pretrained(tmp_path)
    saved = compare_outputs({k: _to_numpy(v) for k, v in model(inputs, training=False).items()},
                            torch_outputs("MarianForCausalLM", str(tmp_path), inputs, use_cache=False))
    print(name, diffs, saved)
