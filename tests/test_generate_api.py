"""`generate()`'s transformers-style API against `transformers` on tiny random checkpoints.

`return_dict_in_generate` with `output_scores` / `output_logits` (greedy and
beam search, GPT-2 and BART, left-padded prompts / padded sources), user
`logits_processor` and `stopping_criteria` callables (each compared with the
equivalent PyTorch processor / criterion given to the reference), `streamer`
(the same `put` calls as the reference's), `max_time`, and
`generation_config.json` written by `save_pretrained`.
"""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tfmodels
from tests.helpers import hf_checkpoint
from tests.test_generation import EOS, EOS_IDS, PROMPT_LEN, checkpoint, left_padded_prompts, models  # noqa: F401
from tfmodels.generation import TRACE_COUNTS, StopOnTokenSequences

TOLERANCE = 1e-5
DICT = dict(return_dict_in_generate=True, output_scores=True, output_logits=True)


def reference_output(reference, ids, mask, **kwargs):
    with torch.no_grad():
        return reference.generate(torch.tensor(ids), attention_mask=torch.tensor(mask), do_sample=False, **kwargs)


def assert_same_steps(got, expected):
    """Same number of steps; per step, the same `-inf` entries and the finite ones within `TOLERANCE`."""
    assert len(got) == len(expected), (len(got), len(expected))
    worst = 0.0
    for ours, theirs in zip(got, expected):
        ours, theirs = np.asarray(ours), theirs.numpy()
        assert ours.shape == theirs.shape and ours.dtype == np.float32
        np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs))
        finite = np.isfinite(theirs)
        worst = max(worst, float(np.abs(ours[finite] - theirs[finite]).max()))
    assert worst <= TOLERANCE, worst
    return worst


def assert_same_output(got, expected):
    """Every field the reference returns (but its cache) equal, scores and logits within `TOLERANCE`."""
    assert sorted(got) == sorted(k for k in expected if k not in ("past_key_values", "cache")), (got.keys(),
                                                                                               expected.keys())
    np.testing.assert_array_equal(got.sequences.numpy(), expected.sequences.numpy())
    diffs = {k: assert_same_steps(got[k], expected[k]) for k in ("scores", "logits") if k in expected}
    if "beam_indices" in expected:
        np.testing.assert_array_equal(got.beam_indices.numpy(), expected.beam_indices.numpy())
    if "sequences_scores" in expected:
        diffs["sequences_scores"] = float(np.abs(got.sequences_scores.numpy()
                                                 - expected.sequences_scores.numpy()).max())
        assert diffs["sequences_scores"] <= TOLERANCE
    return diffs


# Greedy search with `return_dict_in_generate` is compared in `test_user_logits_processor_matches_transformers`.
@pytest.mark.slow
@pytest.mark.parametrize("options", [dict(eos_token_id=EOS_IDS), dict(num_beams=3, num_return_sequences=2)])
def test_return_dict_scores_and_logits_match_transformers(models, options):
    reference, ours = models
    ids, mask = left_padded_prompts()
    kwargs = {"eos_token_id": EOS, "pad_token_id": 0, "max_new_tokens": 8, **DICT, **options}
    got = ours.generate(ids, attention_mask=mask, **kwargs)
    assert_same_output(got, reference_output(reference, ids, mask, **kwargs))
    plain = ours.generate(ids, attention_mask=mask, **{k: v for k, v in kwargs.items() if k not in DICT})
    np.testing.assert_array_equal(plain.numpy(), got.sequences.numpy())


@pytest.mark.slow
def test_return_dict_without_scores_has_only_sequences(models):
    _, ours = models
    ids, mask = left_padded_prompts()
    got = ours.generate(ids, attention_mask=mask, max_new_tokens=4, return_dict_in_generate=True)
    assert list(got) == ["sequences"]
    tensor = ours.generate(ids, attention_mask=mask, max_new_tokens=4, output_scores=True)  # no dict: no scores
    np.testing.assert_array_equal(tensor.numpy(), got.sequences.numpy())


@pytest.fixture(scope="module")
def bart(tmp_path_factory):
    from tests.test_bart_parity import bart_config, bart_inputs, randomize_final_logits_bias

    # init_std=0.3: larger scales (the token tests' 1.0) make even the plain forward pass differ by ~2e-4
    path = hf_checkpoint("BartForConditionalGeneration", bart_config("bart", init_std=0.3),
                         tmp_path_factory.mktemp("bart"))
    path = randomize_final_logits_bias(path, scale=0.1)
    reference = transformers.BartForConditionalGeneration.from_pretrained(path).eval()
    return reference, tfmodels.BartForConditionalGeneration.from_pretrained(path), bart_inputs(6)


@pytest.mark.parametrize("options", [
    dict(num_beams=2, num_return_sequences=2),
    pytest.param(dict(num_beams=1), marks=pytest.mark.slow),
])
def test_encoder_decoder_return_dict_matches_transformers(bart, options):
    reference, ours, inputs = bart
    kwargs = dict(max_new_tokens=5, **DICT, **options)
    got = ours.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], **kwargs)
    expected = reference_output(reference, inputs["input_ids"], inputs["attention_mask"], use_cache=False, **kwargs)
    assert_same_output(got, expected)


# -- user logits processors and stopping criteria -----------------------------------------------------------

BOOST = (17, 23)


def boost_tf(input_ids, scores, cur_len):
    """Adds 2 to the tokens `BOOST` and bans the last token of each row (reads the buffer at `cur_len - 1`)."""
    last = tf.gather(input_ids, cur_len - 1, axis=1)  # (rows,)
    bonus = tf.reduce_sum(tf.one_hot(BOOST, scores.shape[-1]), axis=0) * 2.0
    banned = tf.one_hot(last, scores.shape[-1], on_value=True, off_value=False, dtype=tf.bool)
    return tf.where(banned, float("-inf"), scores + bonus)


class BoostTorch(transformers.LogitsProcessor):
    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, list(BOOST)] += 2.0
        return scores.scatter(1, input_ids[:, -1:], float("-inf"))


@pytest.mark.parametrize("options", [
    dict(no_repeat_ngram_size=2),
    pytest.param(dict(num_beams=3, repetition_penalty=1.3), marks=pytest.mark.slow),
])
def test_user_logits_processor_matches_transformers(models, options):
    reference, ours = models
    ids, mask = left_padded_prompts()
    kwargs = {"eos_token_id": EOS, "pad_token_id": 0, "max_new_tokens": 8, **DICT, **options}
    got = ours.generate(ids, attention_mask=mask, logits_processor=[boost_tf], **kwargs)
    expected = reference_output(reference, ids, mask, logits_processor=transformers.LogitsProcessorList(
        [BoostTorch()]), **kwargs)
    plain = reference_output(reference, ids, mask, **kwargs).sequences.numpy()
    assert not np.array_equal(expected.sequences.numpy(), plain)  # the processor changes the output
    assert_same_output(got, expected)
    before = TRACE_COUNTS[ours]
    ours.generate(*left_padded_prompts(seed=4), logits_processor=[boost_tf], **kwargs)  # same shapes and processor
    assert TRACE_COUNTS[ours] == before


def boost_late_tf(input_ids, scores, cur_len):
    """`boost_tf` from the third new token on, with a Python `if` on a tensor (needs autograph's conversion)."""
    if cur_len >= PROMPT_LEN + 2:
        scores = boost_tf(input_ids, scores, cur_len)
    return scores


class BoostLateTorch(BoostTorch):
    def __call__(self, input_ids, scores):
        return super().__call__(input_ids, scores) if input_ids.shape[1] >= PROMPT_LEN + 2 else scores


def test_user_logits_processor_with_python_control_flow_matches_transformers(models):
    """The generation programs trace without autograph; user processors are still converted."""
    reference, ours = models
    ids, mask = left_padded_prompts()
    kwargs = {"eos_token_id": EOS, "pad_token_id": 0, "max_new_tokens": 6, **DICT}
    got = ours.generate(ids, attention_mask=mask, logits_processor=[boost_late_tf], **kwargs)
    expected = reference_output(reference, ids, mask, logits_processor=transformers.LogitsProcessorList(
        [BoostLateTorch()]), **kwargs)
    plain = reference_output(reference, ids, mask, **kwargs)
    # The processor leaves the first two steps' scores alone and changes the third's (all compared below).
    np.testing.assert_array_equal(expected.scores[1].numpy(), plain.scores[1].numpy())
    assert not np.array_equal(expected.scores[2].numpy(), plain.scores[2].numpy())
    assert_same_output(got, expected)


class StopOnSuffixTorch(transformers.StoppingCriteria):
    def __init__(self, suffixes):
        self.suffixes = suffixes

    def __call__(self, input_ids, scores, **kwargs):
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool)
        for suffix in self.suffixes:
            if input_ids.shape[1] >= len(suffix):
                done |= (input_ids[:, -len(suffix):] == torch.tensor(suffix)).all(dim=1)
        return done


def _suffixes(models, **kwargs):
    """Token pairs the model does generate (row 0 at steps 2-3, row 2 at step 4), so rows stop at different steps."""
    plain = reference_output(models[0], *left_padded_prompts(), eos_token_id=EOS, pad_token_id=0,
                             max_new_tokens=10, **kwargs).numpy()[:, PROMPT_LEN:]
    return [[int(t) for t in plain[0, 2:4]], [int(plain[2, 4])]]


@pytest.mark.parametrize("options", [dict(), pytest.param(dict(num_beams=2), marks=pytest.mark.slow)])
def test_user_stopping_criteria_match_transformers(models, options):
    reference, ours = models
    ids, mask = left_padded_prompts()
    suffixes = _suffixes(models, **options)
    kwargs = {"eos_token_id": EOS, "pad_token_id": 0, "max_new_tokens": 10, **options}
    expected = reference_output(reference, ids, mask, stopping_criteria=transformers.StoppingCriteriaList(
        [StopOnSuffixTorch(suffixes)]), **kwargs).numpy()
    got = ours.generate(ids, attention_mask=mask, stopping_criteria=StopOnTokenSequences(suffixes), **kwargs)
    if not options:
        assert expected.shape[1] < PROMPT_LEN + 10  # every row stopped early
    np.testing.assert_array_equal(got.numpy(), expected)


# -- streaming and max_time: the loop in compiled chunks ----------------------------------------------------


class Recorder:
    """A `BaseStreamer` that records every `put` (as int lists) and `end`."""

    def __init__(self):
        self.calls = []

    def put(self, value):
        self.calls.append(np.asarray(value).astype("int64").tolist())

    def end(self):
        self.calls.append("end")


def test_streamer_receives_the_tokens_as_transformers(models):
    reference, ours = models
    ids, mask = left_padded_prompts()
    kwargs = dict(eos_token_id=EOS_IDS, pad_token_id=0, max_new_tokens=9)
    theirs, mine = Recorder(), Recorder()
    expected = reference_output(reference, ids, mask, streamer=theirs, **kwargs).numpy()
    got = ours.generate(ids, attention_mask=mask, streamer=mine, steps_per_chunk=2, **kwargs).numpy()
    np.testing.assert_array_equal(got, expected)
    assert mine.calls == theirs.calls
    assert len(mine.calls) == 1 + (expected.shape[1] - PROMPT_LEN) + 1  # prompt, one put per step, end

    # max_time reuses the same two compiled programs (start, chunk); time runs out within the first chunk
    before = TRACE_COUNTS[ours]
    cut = ours.generate(ids, attention_mask=mask, max_time=1e-9, steps_per_chunk=2, **kwargs).numpy()
    assert TRACE_COUNTS[ours] == before
    np.testing.assert_array_equal(cut, expected[:, :PROMPT_LEN + 2])


@pytest.mark.slow
def test_text_streamer_prints_what_transformers_prints(models, capsys):
    """`transformers.TextStreamer` itself, batch of one: the same text as with the reference."""
    from tokenizers import Tokenizer, models as tokenizer_models

    vocab = {f"w{i}": i for i in range(99)}
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(tokenizer_models.WordLevel(vocab, unk_token="w0")))
    reference, ours = models
    ids, mask = left_padded_prompts(batch_size=1)
    texts = []
    for generate in (lambda s: reference_output(reference, ids, mask, streamer=s, max_new_tokens=6),
                     lambda s: ours.generate(ids, attention_mask=mask, streamer=s, max_new_tokens=6)):
        generate(transformers.TextStreamer(tokenizer, skip_prompt=True))
        texts.append(capsys.readouterr().out)
    assert texts[0].strip() and texts[0] == texts[1]


@pytest.mark.slow
def test_max_time_with_beams_finishes_the_hypotheses(models):
    _, ours = models
    ids, mask = left_padded_prompts()
    kwargs = dict(eos_token_id=EOS, pad_token_id=0, max_new_tokens=9, num_beams=2)
    got = ours.generate(ids, attention_mask=mask, max_time=1e-9, return_dict_in_generate=True, **kwargs)
    # one chunk of one step, then one step in which every candidate finishes: 2 tokens
    assert got.sequences.shape == (3, PROMPT_LEN + 2) and got.beam_indices.shape == (3, 2)
    assert (got.beam_indices.numpy() >= 0).all()


# -- errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(stop_strings=["\n"]), ValueError, "stop_strings=.*tokenizer=tokenizer"),
    (dict(streamer=Recorder(), num_beams=2), ValueError, "streamer cannot be used with beam search"),
    (dict(streamer=object()), TypeError, "put\\(value\\) and end\\(\\)"),
    (dict(output_attentions=True), ValueError, "output_attentions"),
    (dict(output_hidden_states=True), ValueError, "output_hidden_states"),
    (dict(max_time=0), ValueError, "max_time must be > 0"),
    (dict(max_time=1.0, steps_per_chunk=0), ValueError, "steps_per_chunk"),
    (dict(logits_processor=[transformers.TemperatureLogitsWarper(0.5)]), TypeError, "PyTorch TemperatureLogitsWarper"),
    (dict(stopping_criteria=transformers.MaxTimeCriteria(1.0)), TypeError, "max_time=..."),
    (dict(logits_processor=[3]), TypeError, "logits_processor must be a callable"),
])
def test_unsupported_options_are_refused_clearly(models, kwargs, error, match):
    with pytest.raises(error, match=match):
        models[1].generate(left_padded_prompts()[0], max_new_tokens=3, **kwargs)


def test_a_bad_user_processor_is_named(models):
    with pytest.raises(ValueError, match="must return a tensor of the scores' shape"):
        models[1].generate(left_padded_prompts()[0], max_new_tokens=2, jit_compile=False,
                           logits_processor=lambda ids, scores, cur_len: scores[:, :3])


# -- generation_config.json ------------------------------------------------------------------------------------


def test_save_pretrained_writes_generation_config_transformers_reads(checkpoint, tmp_path):  # noqa: F811
    source = shutil.copytree(checkpoint, tmp_path / "source")
    stored = json.loads((source / "generation_config.json").read_text())
    stored.update(num_beams=3, no_repeat_ngram_size=2, max_new_tokens=7, eos_token_id=EOS_IDS, pad_token_id=0,
                  output_scores=True)
    (source / "generation_config.json").write_text(json.dumps(stored))
    model = tfmodels.GPT2LMHeadModel.from_pretrained(source)
    model.save_pretrained(tmp_path / "saved")
    theirs = transformers.GenerationConfig.from_pretrained(tmp_path / "saved")
    for key, value in dict(num_beams=3, no_repeat_ngram_size=2, max_new_tokens=7, eos_token_id=EOS_IDS,
                           pad_token_id=0, output_scores=True, bos_token_id=stored["bos_token_id"]).items():
        assert getattr(theirs, key) == value, key
    assert tfmodels.GPT2LMHeadModel.from_pretrained(tmp_path / "saved").generation_config == model.generation_config
    written = (tmp_path / "saved" / "generation_config.json").read_text()
    assert written == json.dumps(json.loads(written), indent=2, sort_keys=True) + "\n"  # the reference's layout

    fresh = tfmodels.GPT2LMHeadModel(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, eos_token_id=98)
    fresh.build_from_dummy_inputs()
    fresh.save_pretrained(tmp_path / "fresh")  # no generation_config yet: the config's generation fields
    assert transformers.GenerationConfig.from_pretrained(tmp_path / "fresh").eos_token_id == 98


@pytest.mark.slow
def test_encoder_decoder_streamer_receives_the_tokens_as_transformers(bart):
    reference, ours, inputs = bart
    theirs, mine = Recorder(), Recorder()
    expected = reference_output(reference, inputs["input_ids"], inputs["attention_mask"], use_cache=False,
                                streamer=theirs, max_new_tokens=6).numpy()
    got = ours.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], streamer=mine,
                        max_new_tokens=6, steps_per_chunk=4).numpy()
    np.testing.assert_array_equal(got, expected)
    assert mine.calls == theirs.calls and mine.calls[0] == [[2]] * 3  # the decoder start tokens first
