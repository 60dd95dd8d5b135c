"""`generate()` options against `transformers.generate()` on the tiny random GPT-2 of `test_generation.py`.

Token-identical outputs for `no_repeat_ngram_size`, `bad_words_ids`,
`min_new_tokens` / `min_length`, `forced_eos_token_id`, `num_return_sequences`
(beams, and sampling reduced to its argmax by `top_k=1`), and for defaults
read from `generation_config.json` or `config.json`, with explicit arguments
winning.
"""

import json
import shutil

import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.test_generation import (  # noqa: F401  (fixtures)
    EOS,
    EOS_IDS,
    PROMPT_LEN,
    assert_same_as_transformers,
    checkpoint,
    left_padded_prompts,
    models,
)
from tfmodels.generation import TRACE_COUNTS


def reference_greedy(models, **kwargs):
    ids, mask = left_padded_prompts()
    kwargs = {"eos_token_id": EOS, "pad_token_id": 0, "max_new_tokens": 10, **kwargs}
    return models[0].generate(torch.tensor(ids), attention_mask=torch.tensor(mask), do_sample=False,
                              **kwargs).numpy()


@pytest.mark.parametrize("num_beams", [1, 3])
def test_no_repeat_ngram_size_matches_transformers(models, num_beams):
    plain = reference_greedy(models, num_beams=num_beams)
    got = assert_same_as_transformers(models, num_beams=num_beams, no_repeat_ngram_size=2)
    assert not np.array_equal(got, plain)  # the option changes the output here


def test_bad_words_match_transformers(models):
    plain = reference_greedy(models)[:, PROMPT_LEN:]
    single, pair = int(plain[0, 1]), [int(t) for t in plain[1, 2:4]]  # words the model does produce
    got = assert_same_as_transformers(models, bad_words_ids=[[single], pair, [EOS]])
    assert not np.array_equal(got[:, PROMPT_LEN:], plain)


@pytest.mark.parametrize("options", [dict(min_new_tokens=9), dict(min_length=PROMPT_LEN + 7, num_beams=2)])
def test_min_length_matches_transformers(models, options):
    plain = reference_greedy(models, max_new_tokens=12, eos_token_id=EOS_IDS, num_beams=options.get("num_beams", 1))
    got = assert_same_as_transformers(models, max_new_tokens=12, eos_token_id=EOS_IDS, **options)
    assert got.shape[1] > plain.shape[1]  # without the option, every row stops earlier


def test_forced_eos_matches_transformers(models):
    got = assert_same_as_transformers(models, max_new_tokens=6, forced_eos_token_id=EOS_IDS[1])
    assert (got[:, -1] == EOS_IDS[1]).all()


@pytest.mark.parametrize("options", [
    dict(num_beams=3, num_return_sequences=3, eos_token_id=EOS_IDS),
    dict(num_beams=4, num_return_sequences=2, length_penalty=0.5, no_repeat_ngram_size=3),
    dict(do_sample=True, top_k=1, num_return_sequences=2),  # sampling from one token: deterministic
])
def test_num_return_sequences_matches_transformers(models, options):
    reference, ours = models
    ids, mask = left_padded_prompts()
    kwargs = {"eos_token_id": EOS, "pad_token_id": 0, "max_new_tokens": 9, **options}
    expected = reference.generate(torch.tensor(ids), attention_mask=torch.tensor(mask), **kwargs).numpy()
    got = ours.generate(ids, attention_mask=mask, seed=1, **kwargs).numpy()
    assert got.shape[0] == 3 * options["num_return_sequences"]
    np.testing.assert_array_equal(got, expected)


def test_processors_keep_one_compile_per_shape(models):
    _, ours = models
    kwargs = dict(max_new_tokens=5, no_repeat_ngram_size=2, bad_words_ids=[[11, 12]], min_new_tokens=2)
    ours.generate(*left_padded_prompts(seed=0), **kwargs)
    before = TRACE_COUNTS[ours]
    ids, mask = left_padded_prompts(seed=3)
    ours.generate(ids, attention_mask=mask, **kwargs)
    assert TRACE_COUNTS[ours] == before


def test_greedy_with_several_return_sequences_is_refused(models):
    with pytest.raises(ValueError, match="num_return_sequences"):
        models[1].generate(left_padded_prompts()[0], num_return_sequences=2)
    with pytest.raises(ValueError, match="num_return_sequences"):
        models[1].generate(left_padded_prompts()[0], num_beams=2, num_return_sequences=3)


def _generate_both(path, **kwargs):
    reference = transformers.GPT2LMHeadModel.from_pretrained(path).eval()
    ours = tfmodels.GPT2LMHeadModel.from_pretrained(path)
    ids, mask = left_padded_prompts()
    expected = reference.generate(torch.tensor(ids), attention_mask=torch.tensor(mask), **kwargs).numpy()
    return ours.generate(ids, attention_mask=mask, **kwargs).numpy(), expected


def test_defaults_come_from_generation_config_json(checkpoint, tmp_path):  # noqa: F811
    path = shutil.copytree(checkpoint, tmp_path / "ckpt")
    stored = json.loads((path / "generation_config.json").read_text())
    stored.update(num_beams=3, num_return_sequences=2, no_repeat_ngram_size=2, max_new_tokens=7,
                  eos_token_id=EOS_IDS, pad_token_id=0)
    (path / "generation_config.json").write_text(json.dumps(stored))
    got, expected = _generate_both(str(path))
    assert got.shape[0] == 6
    np.testing.assert_array_equal(got, expected)
    got, expected = _generate_both(str(path), num_beams=2, num_return_sequences=1)  # explicit arguments win
    assert got.shape[0] == 3
    np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
def test_defaults_fall_back_to_config_json(checkpoint, tmp_path):  # noqa: F811
    path = shutil.copytree(checkpoint, tmp_path / "ckpt")
    (path / "generation_config.json").unlink()
    config = json.loads((path / "config.json").read_text())
    config.update(no_repeat_ngram_size=2, max_length=PROMPT_LEN + 8, eos_token_id=EOS_IDS)
    (path / "config.json").write_text(json.dumps(config))
    got, expected = _generate_both(str(path))
    assert got.shape[1] <= PROMPT_LEN + 8
    np.testing.assert_array_equal(got, expected)
