"""`generate()` and the KV cache against `transformers` on a tiny random GPT-2.

Greedy and beam search must be token-identical to `transformers.generate()`
on a batched, left-padded prompt; sampling must be reproducible with a seed
and draw from softmax(processed logits); the cached forward must give the
full forward's logits at every step; repeated calls must not retrace.
"""

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tfmodels
from tests.helpers import hf_checkpoint
from tests.test_gpt2_parity import tiny_gpt2_config
from tfmodels.generation import TRACE_COUNTS
from tfmodels.generation import logits as lp

PROMPT_LEN = 7
EOS = 5
EOS_IDS = [28, 39, 60]  # tokens the tiny model does produce, so rows finish at different steps


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    # A larger init scale than GPT-2's 0.02 makes the tiny model's next-token
    # distributions peaked and varied, so the tests see diverse tokens and EOS.
    config = tiny_gpt2_config(initializer_range=0.4, eos_token_id=EOS)
    return hf_checkpoint("GPT2LMHeadModel", config, tmp_path_factory.mktemp("gpt2"))


@pytest.fixture(scope="module")
def models(checkpoint):
    reference = transformers.GPT2LMHeadModel.from_pretrained(checkpoint).eval()
    return reference, tfmodels.GPT2LMHeadModel.from_pretrained(checkpoint)


def left_padded_prompts(batch_size=3, seed=0):
    rng = np.random.RandomState(seed)
    ids = rng.randint(6, 98, (batch_size, PROMPT_LEN))
    mask = np.ones_like(ids)
    for row, pad in enumerate((0, 3, 5)[:batch_size]):
        mask[row, :pad] = 0
    ids[mask == 0] = 0
    return ids, mask


def assert_same_as_transformers(models, max_new_tokens=10, **kwargs):
    reference, ours = models
    ids, mask = left_padded_prompts()
    kwargs = {"eos_token_id": EOS, "pad_token_id": 0, "max_new_tokens": max_new_tokens, **kwargs}
    expected = reference.generate(torch.tensor(ids), attention_mask=torch.tensor(mask), do_sample=False,
                                  **kwargs).numpy()
    got = ours.generate(ids, attention_mask=mask, **kwargs).numpy()
    assert got.shape == expected.shape, (got, expected)
    np.testing.assert_array_equal(got, expected)
    return got


def test_greedy_matches_transformers(models):
    got = assert_same_as_transformers(models, max_new_tokens=12)
    assert len(np.unique(got[:, PROMPT_LEN:])) > 3  # a non-degenerate continuation


def test_greedy_stops_at_eos_like_transformers(models):
    got = assert_same_as_transformers(models, max_new_tokens=12, eos_token_id=EOS_IDS)
    assert got.shape[1] < PROMPT_LEN + 12 and (got[:, PROMPT_LEN:] == 0).any()  # stopped early, rows padded


def test_greedy_repetition_penalty_matches_transformers(models):
    assert_same_as_transformers(models, repetition_penalty=1.5)


def test_beam_search_matches_transformers(models):
    assert_same_as_transformers(models, num_beams=3)


def test_beam_search_with_eos_matches_transformers(models):
    assert_same_as_transformers(models, num_beams=2, eos_token_id=[28, 60])


@pytest.mark.parametrize("options", [
    dict(num_beams=3, length_penalty=0.5, early_stopping=True),
    dict(num_beams=2, length_penalty=2.0, early_stopping="never", eos_token_id=[28, 60]),
    dict(num_beams=3, length_penalty=0.0, early_stopping=True, eos_token_id=EOS_IDS),
    dict(num_beams=4, repetition_penalty=1.3),
])
def test_beam_search_options_match_transformers(models, options):
    assert_same_as_transformers(models, **options)


def test_kv_cache_matches_full_forward_at_every_step(models):
    _, ours = models
    ids, mask = left_padded_prompts()
    extra = np.random.RandomState(1).randint(1, 98, (3, 5))
    full_ids = np.concatenate([ids, extra], axis=1)
    full_mask = np.concatenate([mask, np.ones_like(extra)], axis=1)
    positions = np.asarray(tfmodels.models.causal.positions_from_attention_mask(full_mask))
    full = ours(input_ids=full_ids, attention_mask=full_mask, position_ids=positions)["logits"].numpy()

    total = full_ids.shape[1]
    cache = ours.init_cache(3, total)
    cache_mask = np.concatenate([mask, np.zeros_like(extra)], axis=1)
    out = ours(input_ids=ids, attention_mask=cache_mask, position_ids=positions[:, :PROMPT_LEN],
               past_key_values=cache, cache_update_index=0)
    real = mask.astype(bool)  # padded queries attend to nothing; their outputs are arbitrary in both paths
    np.testing.assert_allclose(out["logits"].numpy()[real], full[:, :PROMPT_LEN][real], atol=1e-5)
    cache = out["past_key_values"]
    for step in range(extra.shape[1]):
        index = PROMPT_LEN + step
        cache_mask[:, index] = 1
        out = ours(input_ids=full_ids[:, index:index + 1], attention_mask=cache_mask,
                   position_ids=positions[:, index:index + 1], past_key_values=cache, cache_update_index=index)
        np.testing.assert_allclose(out["logits"].numpy()[:, 0], full[:, index], atol=1e-5)
        cache = out["past_key_values"]


def test_use_cache_returns_past_key_values(models):
    _, ours = models
    ids, mask = left_padded_prompts()
    out = ours(input_ids=ids, attention_mask=mask, use_cache=True)
    assert len(out["past_key_values"]) == 2
    assert tuple(out["past_key_values"][0].shape) == (3, 2, 4, PROMPT_LEN, 8)  # (B, 2, N, L, H)


def test_same_shapes_reuse_the_compiled_loop(models):
    _, ours = models
    ids, mask = left_padded_prompts()
    ours.generate(ids, attention_mask=mask, max_new_tokens=4)
    before = TRACE_COUNTS[ours]
    other_ids, other_mask = left_padded_prompts(seed=5)
    ours.generate(other_ids, attention_mask=other_mask, max_new_tokens=4)
    ours.generate(ids, attention_mask=mask, max_new_tokens=4)
    assert TRACE_COUNTS[ours] == before
    ours.generate(ids[:, 1:], attention_mask=mask[:, 1:], max_new_tokens=4)  # a new prompt length traces once
    assert TRACE_COUNTS[ours] == before + 1


def test_sampling_is_reproducible_with_a_seed(models):
    _, ours = models
    ids, mask = left_padded_prompts()
    kwargs = dict(attention_mask=mask, max_new_tokens=8, do_sample=True, top_k=20, top_p=0.9, temperature=0.8)
    first = ours.generate(ids, seed=3, **kwargs).numpy()
    np.testing.assert_array_equal(first, ours.generate(ids, seed=3, **kwargs).numpy())
    assert not all(np.array_equal(first, ours.generate(ids, seed=s, **kwargs).numpy()) for s in (4, 5, 6))


def test_sampled_tokens_follow_the_processed_distribution(models):
    """Chi-square test of 4000 one-step samples against softmax(warped logits)."""
    from scipy import stats

    _, ours = models
    ids, mask = left_padded_prompts(batch_size=1)
    draws, temperature, top_k = 4000, 1.5, 10
    batch = np.repeat(ids, draws, axis=0)
    samples = ours.generate(batch, attention_mask=np.repeat(mask, draws, axis=0), max_new_tokens=1, do_sample=True,
                            temperature=temperature, top_k=top_k, seed=11, eos_token_id=[]).numpy()[:, -1]
    logits = ours(input_ids=ids, attention_mask=mask)["logits"].numpy()[:, -1].astype("float32")
    probs = tf.nn.softmax(lp.warp_for_sampling(tf.constant(logits), temperature, top_k)).numpy()[0]
    support = np.flatnonzero(probs > 0)
    assert len(support) == top_k and set(samples) <= set(support)
    observed = np.array([(samples == t).sum() for t in support])
    expected = probs[support].astype("float64") * draws
    _, p_value = stats.chisquare(observed, expected / expected.sum() * draws)
    assert p_value > 1e-3, (observed, expected)


def random_scores(seed, batch=4, vocab=50):
    """Random logits with a wide spread, so cumulative probabilities sit far from any cut-off."""
    return np.random.RandomState(seed).randn(batch, vocab).astype("float32") * 3.0


def reference_processed(processor, scores, input_ids=None):
    """`transformers`' own logits processor on the same scores (the oracle)."""
    ids = torch.zeros((scores.shape[0], 1), dtype=torch.long) if input_ids is None else torch.as_tensor(input_ids)
    return processor(ids, torch.tensor(scores)).numpy()


def assert_same_processed(got, expected):
    """Same removed tokens (-inf) and the same scores for the kept ones."""
    got = np.asarray(got)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    kept = np.isfinite(expected)
    np.testing.assert_allclose(got[kept], expected[kept], rtol=0, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("top_p, min_tokens_to_keep", [(0.9, 1), (0.5, 1), (0.3, 3), (0.05, 1)])
def test_top_p_matches_transformers_warper(seed, top_p, min_tokens_to_keep):
    scores = random_scores(seed)
    expected = reference_processed(transformers.TopPLogitsWarper(top_p, min_tokens_to_keep=min_tokens_to_keep),
                                   scores)
    assert 0 < np.isfinite(expected).sum() < expected.size  # the filter does remove tokens here
    assert_same_processed(lp.top_p_filter(tf.constant(scores), top_p, min_tokens_to_keep), expected)


@pytest.mark.parametrize("top_k, min_tokens_to_keep", [(1, 1), (7, 1), (3, 5), (60, 1)])
def test_top_k_matches_transformers_warper(top_k, min_tokens_to_keep):
    scores = random_scores(top_k)
    expected = reference_processed(transformers.TopKLogitsWarper(top_k, min_tokens_to_keep=min_tokens_to_keep),
                                   scores)
    assert_same_processed(lp.top_k_filter(tf.constant(scores), top_k, min_tokens_to_keep), expected)


@pytest.mark.parametrize("value", [0.3, 1.7])
def test_temperature_matches_transformers_warper(value):
    scores = random_scores(5)
    expected = reference_processed(transformers.TemperatureLogitsWarper(value), scores)
    assert_same_processed(lp.temperature(tf.constant(scores), value), expected)


@pytest.mark.parametrize("penalty", [1.3, 0.7])
def test_repetition_penalty_matches_transformers_processor(penalty):
    scores = random_scores(6)
    rng = np.random.RandomState(7)
    sequences = rng.randint(0, scores.shape[1], (scores.shape[0], 9))
    expected = reference_processed(transformers.RepetitionPenaltyLogitsProcessor(penalty), scores, sequences)
    presence = lp.token_presence(tf.constant(sequences), tf.ones(sequences.shape, tf.bool), scores.shape[1])
    assert_same_processed(lp.repetition_penalty(tf.constant(scores), presence, penalty), expected)


def test_sampling_warpers_compose_like_transformers():
    """Temperature, top-k, top-p in `transformers`' order (`LogitsProcessorList` as `generate()` builds it)."""
    scores = random_scores(8)
    chain = transformers.LogitsProcessorList([
        transformers.TemperatureLogitsWarper(0.7), transformers.TopKLogitsWarper(12),
        transformers.TopPLogitsWarper(0.8)])
    expected = reference_processed(chain, scores)
    assert_same_processed(lp.warp_for_sampling(tf.constant(scores), 0.7, 12, 0.8), expected)


def test_generate_rejects_bad_arguments(models):
    _, ours = models
    ids, _ = left_padded_prompts()
    with pytest.raises(ValueError, match="max_new_tokens"):
        ours.generate(ids, max_new_tokens=0)
    with pytest.raises(ValueError, match="positions"):
        ours.generate(ids, max_new_tokens=100)
    with pytest.raises(ValueError, match="Beam sampling"):
        ours.generate(ids, num_beams=2, do_sample=True)


OTHER_DECODERS = {
    "OpenAIGPTLMHeadModel": lambda: transformers.OpenAIGPTConfig(
        vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, initializer_range=0.4),
    "CTRLLMHeadModel": lambda: transformers.CTRLConfig(
        vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, dff=37, initializer_range=0.4),
    "GPTNeoForCausalLM": lambda: transformers.GPTNeoConfig(
        vocab_size=99, hidden_size=32, num_layers=2, num_heads=4, max_position_embeddings=64, window_size=4,
        attention_types=[[["global", "local"], 1]], initializer_range=0.4, bos_token_id=98, eos_token_id=98),
}


@pytest.mark.parametrize("num_beams", [1, 3])
@pytest.mark.parametrize("class_name", sorted(OTHER_DECODERS))
def test_other_decoders_generate_like_transformers(class_name, num_beams, tmp_path):
    path = hf_checkpoint(class_name, OTHER_DECODERS[class_name](), tmp_path)
    reference = getattr(transformers, class_name).from_pretrained(path).eval()
    models = (reference, getattr(tfmodels, class_name).from_pretrained(path))
    assert_same_as_transformers(models, max_new_tokens=12, num_beams=num_beams, eos_token_id=EOS_IDS)


def test_generate_without_xla_gives_the_same_tokens(models):
    _, ours = models
    ids, mask = left_padded_prompts()
    kwargs = dict(attention_mask=mask, max_new_tokens=6, eos_token_id=EOS_IDS)
    np.testing.assert_array_equal(ours.generate(ids, jit_compile=False, **kwargs).numpy(),
                                  ours.generate(ids, **kwargs).numpy())
