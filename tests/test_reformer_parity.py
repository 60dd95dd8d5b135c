"""Reformer classes against `transformers` PyTorch on tiny random configs.

LSH attention draws random rotations from torch's generator; with `hash_seed`
set the reference re-seeds before every LSH layer (`torch.manual_seed(hash_seed);
torch.randn(shape)`), so the tests draw the same tensor with torch and pass it
as `random_rotations`. Local attention, axial positions, the reversible stack,
chunked feed-forward and the heads need no such help.
"""

import numpy as np
import pytest
import tensorflow as tf
import transformers

import tfmodels
from tests.helpers import (
    _to_numpy,
    compare_outputs,
    hf_checkpoint,
    max_abs_diff,
    random_inputs,
    reference_generate,
    torch_outputs,
)

ENCODER_CLASSES = ["ReformerModel", "ReformerForMaskedLM", "ReformerForSequenceClassification",
                   "ReformerForQuestionAnswering"]


def encoder_config(**overrides):
    # Mixed layers, unequal chunk lengths (lcm 12: a length of 16 runs padded to 24), factorised buckets,
    # two hashing rounds, neighbours on both sides, axial positions with odd widths, chunked feed-forward and LM head.
    return transformers.ReformerConfig(
        vocab_size=99, hidden_size=32, num_attention_heads=2, attention_head_size=7,
        attn_layers=["local", "lsh", "local", "lsh"], axial_pos_shape=[4, 8], axial_pos_embds_dim=[13, 19],
        feed_forward_size=37, lsh_attn_chunk_length=4, local_attn_chunk_length=6, num_buckets=[2, 4],
        num_hashes=2, hash_seed=3, lsh_num_chunks_after=1, local_num_chunks_after=1, local_num_chunks_before=1,
        chunk_size_feed_forward=4, chunk_size_lm_head=8, max_position_embeddings=32, use_cache=False, pad_token_id=0,
        eos_token_id=97,
        **overrides,
    )


def decoder_config():
    # Causal: learned positions, one hashing round, an int bucket count.
    return transformers.ReformerConfig(
        vocab_size=99, hidden_size=32, num_attention_heads=2, attention_head_size=7,
        attn_layers=["lsh", "local"], axial_pos_embds=False, feed_forward_size=37,
        lsh_attn_chunk_length=4, local_attn_chunk_length=4, num_buckets=4, num_hashes=1, hash_seed=5,
        lsh_num_chunks_before=1, local_num_chunks_before=2, max_position_embeddings=48,
        is_decoder=True, use_cache=False, pad_token_id=0, eos_token_id=97,
    )


def reference_rotations(config):
    """The rotations every LSH layer of the reference draws: `manual_seed(hash_seed)` then `randn`."""
    import torch

    buckets = config.num_buckets
    rotation_size = buckets if isinstance(buckets, int) else sum(buckets)
    torch.manual_seed(config.hash_seed)
    shape = (config.num_attention_heads, config.attention_head_size, config.num_hashes, rotation_size // 2)
    return torch.randn(shape).numpy()


def inputs_of(seq_len):
    return random_inputs(seq_len=seq_len, pad_lengths=(seq_len - 5, 3))  # right padding in rows 1 and 2


@pytest.fixture(scope="module")
def encoder_checkpoints(tmp_path_factory):
    return {name: hf_checkpoint(name, encoder_config(num_labels=3 if "Classification" in name else 2),
                                tmp_path_factory.mktemp(name)) for name in ENCODER_CLASSES}


@pytest.fixture(scope="module")
def decoder_checkpoint(tmp_path_factory):
    return hf_checkpoint("ReformerModelWithLMHead", decoder_config(), tmp_path_factory.mktemp("lm"))


_LOADED = {}


def load(class_name, path):
    """`tfmodels.<class_name>.from_pretrained(path)`, loaded once per module."""
    if (class_name, path) not in _LOADED:
        _LOADED[class_name, path] = getattr(tfmodels, class_name).from_pretrained(path)
    return _LOADED[class_name, path]


def run_ours(model, inputs, config, **kwargs):
    outputs = model(inputs, training=False, output_hidden_states=True, output_attentions=True,
                    random_rotations=reference_rotations(config), **kwargs)
    return {k: _to_numpy(v) for k, v in outputs.items()}


def check_parity(class_name, path, config, inputs):
    reference = torch_outputs(class_name, path, inputs, output_hidden_states=True, output_attentions=True)
    model = load(class_name, path)
    return compare_outputs(run_ours(model, inputs, config), reference), model


@pytest.mark.parametrize("class_name", ENCODER_CLASSES)
def test_reformer_encoder_parity(class_name, encoder_checkpoints):
    # 16 tokens: padded inside both models to 24 (lcm of the chunk lengths), with padding rows.
    diffs, _ = check_parity(class_name, encoder_checkpoints[class_name], encoder_config(), inputs_of(16))
    print(class_name, diffs)


def test_reformer_lm_head_parity(decoder_checkpoint):
    # 12 tokens: a multiple of the chunk length, no inner padding; the attention mask pads rows 1 and 2.
    diffs, _ = check_parity("ReformerModelWithLMHead", decoder_checkpoint, decoder_config(), inputs_of(12))
    print(diffs)


def test_reformer_short_sequence_is_full_attention(encoder_checkpoints):
    # 4 tokens <= every chunk length: the reference (and we) run plain attention, no hashing, no padding.
    diffs, _ = check_parity("ReformerModel", encoder_checkpoints["ReformerModel"], encoder_config(),
                            random_inputs(seq_len=4, pad_lengths=(2,)))
    print(diffs)


def test_reformer_rotations_matter(encoder_checkpoints):
    # Without the reference's rotations the LSH layers hash differently: the hook is what gives parity.
    path = encoder_checkpoints["ReformerModel"]
    inputs = inputs_of(16)
    reference = torch_outputs("ReformerModel", path, inputs)
    model = load("ReformerModel", path)
    other = np.random.RandomState(1).randn(*reference_rotations(encoder_config()).shape).astype("float32")
    ours = model(inputs, random_rotations=other)
    assert max_abs_diff(ours["last_hidden_state"].numpy(), reference["last_hidden_state"]) > 1e-3
    with pytest.raises(ValueError, match="random_rotations of shape"):
        model(inputs, random_rotations=other[..., :1])


@pytest.mark.parametrize("class_name", ["ReformerModelWithLMHead", "ReformerForMaskedLM"])
def test_reformer_save_round_trip(class_name, decoder_checkpoint, encoder_checkpoints, tmp_path):
    # Our `save_pretrained` loaded by transformers (learned positions; axial positions), which draws its own
    # rotations from `hash_seed`: the same as the ones we pass.
    decoder = class_name == "ReformerModelWithLMHead"
    config = decoder_config() if decoder else encoder_config()
    model = load(class_name, decoder_checkpoint if decoder else encoder_checkpoints[class_name])
    model.save_pretrained(tmp_path)
    inputs = inputs_of(12 if decoder else 16)
    ours = {"logits": model(inputs, random_rotations=reference_rotations(config))["logits"].numpy()}
    print(compare_outputs(ours, torch_outputs(class_name, str(tmp_path), inputs)))


def test_reformer_xla_matches_eager(decoder_checkpoint):
    model = load("ReformerModelWithLMHead", decoder_checkpoint)
    inputs = {k: tf.constant(v, tf.int32) for k, v in inputs_of(12).items()}
    rotations = tf.constant(reference_rotations(decoder_config()))
    eager = model(inputs, random_rotations=rotations)["logits"].numpy()
    compiled = tf.function(lambda x, r: model(x, random_rotations=r)["logits"], jit_compile=True)
    assert max_abs_diff(compiled(inputs, rotations).numpy(), eager) <= 1e-5


def test_reformer_generate_matches_reference_greedy(decoder_checkpoint):
    # Prompt 3 + 4 new tokens: prefixes of 3..7 tokens run at 4 (one chunk: full attention) and 8 (chunked,
    # padded). The loop is the package's, compiled as a plain tf.function (XLA: the slow test below).
    ids = np.random.RandomState(2).randint(1, 97, (2, 3)).astype("int64")
    inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    expected = reference_generate("ReformerModelWithLMHead", decoder_checkpoint, inputs, max_new_tokens=4)
    model = load("ReformerModelWithLMHead", decoder_checkpoint)
    ours = model.generate(ids, max_new_tokens=4, random_rotations=reference_rotations(decoder_config()),
                          jit_compile=False)
    np.testing.assert_array_equal(ours.numpy(), expected)


def test_reformer_generate_padded_prompt_drops_the_mask_as_the_reference(decoder_checkpoint, caplog):
    # The reference pops attention_mask in prepare_inputs_for_generation: a left-padded row attends to its
    # padding, at positions counted from the first (pad) token. Same tokens here, and a warning.
    # (Masking the padding instead changes row 1's last tokens: this prompt tells the two apart.)
    ids = np.random.RandomState(0).randint(1, 97, (2, 6)).astype("int64")
    ids[1, :3] = 0  # pad_token_id
    mask = np.ones_like(ids)
    mask[1, :3] = 0
    expected = reference_generate("ReformerModelWithLMHead", decoder_checkpoint,
                                  {"input_ids": ids, "attention_mask": mask}, max_new_tokens=4)
    unmasked = reference_generate("ReformerModelWithLMHead", decoder_checkpoint,
                                  {"input_ids": ids, "attention_mask": np.ones_like(ids)}, max_new_tokens=4)
    np.testing.assert_array_equal(expected, unmasked)  # the reference's mask has no effect
    model = load("ReformerModelWithLMHead", decoder_checkpoint)
    with caplog.at_level("WARNING", logger="tfmodels"):
        ours = model.generate(ids, attention_mask=mask, max_new_tokens=4,
                              random_rotations=reference_rotations(decoder_config()), jit_compile=False)
    np.testing.assert_array_equal(ours.numpy(), expected)
    assert "ignores attention_mask" in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("options", [{}, {"num_beams": 2}, {"use_cache": True}])
def test_reformer_generate_xla_matches_reference(decoder_checkpoint, options):
    # 3 + 10 tokens: prefixes up to 13 tokens, run at 4, 8, 12 and 16 (four switch_case branches).
    # `use_cache=True`: the reference's own cached loop (buckets and hidden states), same tokens here.
    ids = np.random.RandomState(4).randint(1, 97, (2, 3)).astype("int64")
    inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    expected = reference_generate("ReformerModelWithLMHead", decoder_checkpoint, inputs, max_new_tokens=10,
                                  **options)
    model = load("ReformerModelWithLMHead", decoder_checkpoint)
    ours = model.generate(ids, max_new_tokens=10, random_rotations=reference_rotations(decoder_config()),
                          **{k: v for k, v in options.items() if k != "use_cache"})
    np.testing.assert_array_equal(ours.numpy(), expected)


def test_reformer_bad_configs():
    with pytest.raises(ValueError, match="attn_layers"):
        tfmodels.ReformerModel(attn_layers=["lsh", "global"])
    with pytest.raises(ValueError, match="axial_pos_embds_dim must sum"):
        tfmodels.ReformerModel(hidden_size=32, axial_pos_embds_dim=[16, 8])
    with pytest.raises(ValueError, match="local_num_chunks_after=0"):
        tfmodels.ReformerModelWithLMHead(**{**decoder_config().to_dict(), "local_num_chunks_after": 1})
    with pytest.raises(ValueError, match="is_decoder=False"):
        tfmodels.ReformerForMaskedLM(**{**encoder_config().to_dict(), "is_decoder": True})
    with pytest.raises(ValueError, match="num_buckets"):
        tfmodels.ReformerModel(**{**encoder_config().to_dict(), "num_buckets": 3})


def test_auto_classes_pick_reformer(decoder_checkpoint):
    # (Every Auto task's class: tests/test_catalogue.py.) The causal-LM class is not named `...ForCausalLM`.
    assert type(tfmodels.AutoModelForCausalLM.from_pretrained(decoder_checkpoint)) is tfmodels.ReformerModelWithLMHead


@pytest.mark.slow
def test_reformer_num_buckets_chosen_from_the_length(tmp_path):
    # num_buckets=None: both choose it from the length (32 tokens of chunk 4 -> factorised [4, 4]).
    config = transformers.ReformerConfig(
        vocab_size=99, hidden_size=32, num_attention_heads=2, attention_head_size=7, attn_layers=["lsh", "lsh"],
        axial_pos_embds=False, feed_forward_size=37, lsh_attn_chunk_length=4, num_buckets=None, hash_seed=3,
        max_position_embeddings=64, use_cache=False)
    path = hf_checkpoint("ReformerModel", config, tmp_path)
    model = load("ReformerModel", path)
    assert model.lsh_layers()[0].buckets_for(32) == [4, 4]
    config.num_buckets = [4, 4]  # what the reference sets on its first call
    inputs = random_inputs(seq_len=32, pad_lengths=(20,))
    reference = torch_outputs("ReformerModel", path, inputs, output_hidden_states=True, output_attentions=True)
    print(compare_outputs(run_ours(model, inputs, config), reference))
