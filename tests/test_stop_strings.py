"""`generate(stop_strings=..., tokenizer=...)` against `transformers` (`StopStringCriteria`).

The criterion's vocabulary table must equal the reference's `embedding_vec`
and its in-graph check the reference's `__call__` on every prefix of many
token rows (byte-level BPE, Metaspace BPE and byte-fallback tokenizers
built locally with `tokenizers`). `generate()` must then be token-identical
to the reference's `generate(stop_strings=..., tokenizer=...)` on tiny
random GPT-2 and BART checkpoints with real byte-level BPE tokenizers
(`tests.pipeline_checkpoints`), with stop strings picked from the
reference's own output: strings that span tokens, end inside a token (a
token's prefix) or start inside one (a token's suffix), several at once, in
batches whose rows stop at different steps. Each test first checks that the
stop strings change the reference's output.
"""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers
from transformers.convert_slow_tokenizer import bytes_to_unicode
from transformers.generation.stopping_criteria import StopStringCriteria as ReferenceCriteria

import tfmodels
from tests.pipeline_checkpoints import CORPUS, build
from tfmodels.generation import TRACE_COUNTS, StopStringCriteria

NEW_TOKENS = 12
PROMPTS = ["The cat sat on", "Who lives in the big", "a dog"]
SOURCES = ["The cat sat on the mat", "Who lives in the big house", "a dog ran"]


# -- the criterion itself ------------------------------------------------------------------------------------


def _metaspace_tokenizer(byte_fallback):
    """A SentencePiece-style BPE (`▁` word marker); with `byte_fallback`, Llama's `<0xNN>` tokens and decoder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    special = ["<unk>", "<s>", "</s>"] + ([f"<0x{b:02X}>" for b in range(256)] if byte_fallback else [])
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=byte_fallback))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    if byte_fallback:
        tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                               decoders.Strip(" ", 1, 0)])
    else:
        tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(CORPUS, trainer=trainers.BpeTrainer(vocab_size=400, special_tokens=special,
                                                                      show_progress=False))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>")


def _byte_level_tokenizer(tmp_path):
    from tests.pipeline_checkpoints import gpt2_tokenizer

    return gpt2_tokenizer(tmp_path)


@pytest.mark.parametrize("kind, mode", [("byte_level", "byte_level"), ("metaspace", None),
                                        ("byte_fallback", "byte_fallback")])
def test_table_and_check_equal_the_reference(kind, mode, tmp_path):
    tokenizer = (_byte_level_tokenizer(tmp_path) if kind == "byte_level"
                 else _metaspace_tokenizer(byte_fallback=kind == "byte_fallback"))
    # several tokens, a token's suffix and prefix, one character, non-ASCII (UTF-8 bytes across tokens)
    strings = ["the dog", "ed", "?", "ho", "use is", "é"]
    reference = ReferenceCriteria(tokenizer, strings)
    assert reference._stop_string_matching_mode == mode
    ours = StopStringCriteria(tokenizer, strings)
    np.testing.assert_array_equal(ours.table, reference.embedding_vec.numpy())
    assert (ours.max_valid_positions, ours.max_valid_end_lens) == (reference.max_valid_positions,
                                                                   reference.max_valid_end_lens)
    texts = ["The cat sat on the dog", "who is there?", "the house is small", "a cat walked", "he ho", "café",
             "the doghouse"]
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    rng = np.random.RandomState(0)
    rows += [list(rng.randint(0, len(tokenizer) + 2, 9)) for _ in range(100)]  # ids past the vocabulary too
    length = max(len(r) for r in rows)
    ids = np.array([(r + [0] * length)[:length] for r in rows])
    check = tf.function(ours.__call__, jit_compile=True)
    hits = 0
    for cur_len in range(1, length + 1):
        expected = reference(torch.tensor(ids[:, :cur_len]), None).numpy()
        np.testing.assert_array_equal(check(tf.constant(ids, tf.int32), None, tf.constant(cur_len)).numpy(), expected)
        hits += int(expected.sum())
    assert 0 < hits < ids.size // 2


def test_bad_stop_strings_are_refused(tmp_path):
    tokenizer = _byte_level_tokenizer(tmp_path)
    for value, error in (([], ValueError), ([""], ValueError), ([3], TypeError)):
        with pytest.raises(error, match="stop_strings"):
            StopStringCriteria(tokenizer, value)
    with pytest.raises(TypeError, match="transformers tokenizer"):
        StopStringCriteria(object(), ["a"])


# -- generate() against the reference ------------------------------------------------------------------------


def _token_bytes(tokenizer, ids):
    """The bytes of each byte-level BPE token (GPT-2's byte <-> character table of the reference)."""
    decoder = {char: byte for byte, char in bytes_to_unicode().items()}
    return [bytes(decoder[c] for c in token) if all(c in decoder for c in token) else b""
            for token in tokenizer.convert_ids_to_tokens([int(i) for i in ids])]


def _text(data):
    try:
        return data.decode("utf-8") or None
    except UnicodeDecodeError:
        return None


def pick_stop_string(tokenizer, generated, kind):
    """A stop string from the generated tokens of one row: `span` two whole tokens, `prefix` one token and the
    first byte of the next (it ends inside a token), `suffix` a token without its first byte (it starts inside)."""
    pieces = _token_bytes(tokenizer, generated)
    for j in range(1, len(pieces)):
        before, token = pieces[j - 1], pieces[j]
        candidate = {"span": before + token if before and token else b"",
                     "prefix": before + token[:1] if before and len(token) >= 2 else b"",
                     "suffix": token[1:]}[kind]
        if _text(candidate):
            return _text(candidate)
    raise AssertionError(f"no {kind} stop string in {pieces}")


def stop_steps(plain, stopped, start):
    """Per row, the generated step whose token stopped it (`None`: it did not stop): the step before the first
    one where `stopped` leaves `plain` (padding), or the last step of a shorter `stopped` (every row was done)."""
    steps = []
    for a, b in zip(plain[:, start:], stopped[:, start:]):
        differ = np.nonzero(a[:len(b)] != b)[0]
        steps.append(int(differ[0]) - 1 if len(differ) else len(b) - 1 if len(b) < len(a) else None)
    return steps


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    directory = build("gpt2", tmp_path_factory.mktemp("gpt2_stop"))
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, padding_side="left")
    encoding = tokenizer(PROMPTS, return_tensors="np", padding=True)
    reference = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
    ids = dict(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return dict(directory=directory, tokenizer=tokenizer, reference=reference, ids=ids,
                ours=tfmodels.GPT2LMHeadModel.from_pretrained(directory),
                inputs=(encoding["input_ids"], encoding["attention_mask"]), start=encoding["input_ids"].shape[1])


@pytest.fixture(scope="module")
def bart(tmp_path_factory):
    directory = build("bart", tmp_path_factory.mktemp("bart_stop"))
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    encoding = tokenizer(SOURCES, return_tensors="np", padding=True)
    return dict(directory=directory, tokenizer=tokenizer, ids={}, start=1,
                reference=transformers.BartForConditionalGeneration.from_pretrained(directory).eval(),
                ours=tfmodels.BartForConditionalGeneration.from_pretrained(directory),
                inputs=(encoding["input_ids"], encoding["attention_mask"]))


def reference_generate(case, **kwargs):
    ids, mask = case["inputs"]
    with torch.no_grad():
        return case["reference"].generate(torch.tensor(ids), attention_mask=torch.tensor(mask), do_sample=False,
                                          max_new_tokens=NEW_TOKENS, **case["ids"], **kwargs).numpy()


def our_generate(case, **kwargs):
    ids, mask = case["inputs"]
    return case["ours"].generate(ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, **case["ids"], **kwargs).numpy()


def reference_with_stop_strings(case, plan, **options):
    """`(stop strings, the reference's output with them, without them, stop steps)`: the strings picked by `plan`
    (`[(row, kind), ...]`) from the reference's plain output, checked to change it."""
    plain = reference_generate(case, **options)
    tokenizer, start = case["tokenizer"], case["start"]
    strings = sorted({pick_stop_string(tokenizer, plain[row, start:], kind) for row, kind in plan})
    expected = reference_generate(case, stop_strings=strings, tokenizer=tokenizer, **options)
    steps = stop_steps(plain, expected, start)
    assert any(step is not None for step in steps) or expected.shape != plain.shape, strings  # not vacuous
    return strings, expected, plain, steps


def assert_same_as_reference(case, plan, jit_compile=True, **options):
    """Our output with the stop strings of `plan` equals the reference's; returns the stop steps of the rows.
    (`jit_compile=False` in some default-suite tests only saves the XLA compile time: the criterion is
    compiled with XLA in `test_table_and_check_equal_the_reference` and the greedy GPT-2 test.)"""
    strings, expected, plain, steps = reference_with_stop_strings(case, plan, **options)
    got = our_generate(case, stop_strings=strings, tokenizer=case["tokenizer"], jit_compile=jit_compile, **options)
    np.testing.assert_array_equal(got, expected)
    return steps, expected, plain


def test_greedy_gpt2_matches_transformers(gpt2):
    steps, expected, plain = assert_same_as_reference(gpt2, [(0, "prefix"), (1, "suffix")])
    assert expected.shape[1] < plain.shape[1]  # the loop ended early, every row done
    stopped = [s for s in steps if s is not None]
    assert len(set(stopped)) >= 2, steps  # rows stop at different steps


def test_beam_gpt2_matches_transformers(gpt2):
    assert_same_as_reference(gpt2, [(0, "span"), (1, "suffix")], jit_compile=False, num_beams=2)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["span", "prefix", "suffix"])
def test_each_kind_of_stop_string_matches_transformers(gpt2, kind):
    assert_same_as_reference(gpt2, [(0, kind)])


@pytest.mark.slow
def test_beam_gpt2_with_returned_sequences_matches_transformers(gpt2):
    assert_same_as_reference(gpt2, [(0, "prefix"), (2, "suffix")], num_beams=3, num_return_sequences=2)


def test_greedy_bart_matches_transformers(bart):
    steps, _, _ = assert_same_as_reference(bart, [(2, "span"), (1, "suffix")], jit_compile=False)
    assert len({s for s in steps if s is not None}) >= 2, steps


@pytest.mark.slow
def test_beam_bart_matches_transformers(bart):
    assert_same_as_reference(bart, [(2, "span"), (1, "suffix")], num_beams=2)


@pytest.mark.slow
def test_sampling_stops_where_the_reference_criterion_fires(gpt2):
    """Sampling (no seeded comparison with torch): the stopped run is the unstopped run with the same seed, cut
    after the first step at which the reference's criterion holds for each row, then padded."""
    tokenizer, start = gpt2["tokenizer"], gpt2["start"]
    plain = our_generate(gpt2, do_sample=True, seed=3)
    strings = sorted({pick_stop_string(tokenizer, plain[0, start:], "prefix"),
                      pick_stop_string(tokenizer, plain[1, start:], "suffix")})
    reference = ReferenceCriteria(tokenizer, strings)
    expected = plain.copy()
    ends = []
    for row in range(plain.shape[0]):
        fired = [n for n in range(start + 1, plain.shape[1] + 1) if reference(torch.tensor(plain[row:row + 1, :n]),
                                                                              None).item()]
        ends.append(fired[0] if fired else plain.shape[1])
        expected[row, ends[-1]:] = gpt2["ids"]["pad_token_id"]
    assert min(ends) < plain.shape[1] and len(set(ends)) >= 2, ends
    got = our_generate(gpt2, do_sample=True, seed=3, stop_strings=strings, tokenizer=tokenizer)
    np.testing.assert_array_equal(got, expected[:, :max(ends)])


@pytest.mark.slow
def test_streaming_and_the_export_signature_stop_as_transformers(gpt2):
    from tfmodels.export.signatures import make_generation_function

    strings, expected, _, _ = reference_with_stop_strings(gpt2, [(0, "prefix"), (1, "suffix")])
    tokenizer = gpt2["tokenizer"]
    streamed = our_generate(gpt2, stop_strings=strings, tokenizer=tokenizer, streamer=_Sink(), steps_per_chunk=3)
    np.testing.assert_array_equal(streamed, expected)
    ids, mask = gpt2["inputs"]
    signature = make_generation_function(gpt2["ours"], batch_size=3, prompt_length=ids.shape[1],
                                         max_new_tokens=NEW_TOKENS, stop_strings=strings, tokenizer=tokenizer,
                                         **gpt2["ids"])
    exported = signature(tf.constant(ids, tf.int32), tf.constant(mask, tf.int32))["sequences"].numpy()
    np.testing.assert_array_equal(exported, expected)


class _Sink:
    def put(self, value):
        pass

    def end(self):
        pass


def test_stop_strings_from_generation_config_json(gpt2, tmp_path):
    plain = reference_generate(gpt2)
    tokenizer, start = gpt2["tokenizer"], gpt2["start"]
    strings = [pick_stop_string(tokenizer, plain[0, start:], "prefix")]
    directory = shutil.copytree(gpt2["directory"], tmp_path / "checkpoint")
    transformers.GenerationConfig(stop_strings=strings, **gpt2["ids"]).save_pretrained(directory)
    assert json.loads((directory / "generation_config.json").read_text())["stop_strings"] == strings
    case = dict(gpt2, reference=transformers.GPT2LMHeadModel.from_pretrained(directory).eval(),
                ours=tfmodels.GPT2LMHeadModel.from_pretrained(directory))
    expected = reference_generate(case, tokenizer=tokenizer)
    assert expected.shape != plain.shape or (expected != plain).any()
    np.testing.assert_array_equal(our_generate(case, tokenizer=tokenizer), expected)
    before = TRACE_COUNTS[case["ours"]]
    np.testing.assert_array_equal(our_generate(case, tokenizer=tokenizer), expected)
    assert TRACE_COUNTS[case["ours"]] == before  # an equal criterion reuses the compiled loop
    with pytest.raises(ValueError, match="tokenizer=tokenizer"):
        our_generate(case)


@pytest.mark.slow
def test_cli_export_takes_stop_strings_with_the_checkpoint_tokenizer(gpt2, tmp_path):
    from tfmodels.cli import main

    strings, expected, _, _ = reference_with_stop_strings(gpt2, [(0, "prefix"), (1, "suffix")])
    start = gpt2["start"]
    options = json.dumps({"stop_strings": strings, **gpt2["ids"]})
    assert main(["export", gpt2["directory"], str(tmp_path / "sm"), "--task", "causal-lm", "--generation",
                 "--max-new-tokens", str(NEW_TOKENS), "--batch-size", "3", "--prompt-length", str(start),
                 "--generation-config", options]) == 0
    generate = tf.saved_model.load(str(tmp_path / "sm")).signatures["generate"]
    ids, mask = gpt2["inputs"]
    got = generate(input_ids=tf.constant(ids, tf.int32), attention_mask=tf.constant(mask, tf.int32))["sequences"]
    np.testing.assert_array_equal(got.numpy(), expected)
