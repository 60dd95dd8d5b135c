"""In-graph sentence pairs and detokenization against `tokenizers` / `transformers`, and the text signatures.

Pairs: text i with text i + 1 of the multilingual corpus of the single-text
tests, encoded by `tokenizers.Tokenizer.encode_batch` on `(text, pair)` with
`longest_first` truncation (what `transformers`' tokenizer does with
`truncation=True, max_length=N`) and fixed padding. Decoding:
`tokenizers.Tokenizer.decode(ids, skip_special_tokens=True)` and
`transformers.AutoTokenizer.decode` (the pinned 5.x) on the same files, on
encoded texts and on random ids (byte-level BPE then cuts UTF-8 characters
apart). SavedModels are served in a fresh process.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.test_tokenizer_export import HARD_TEXTS, TOKENIZER_DIR, real_texts
from tests.test_tokenizer_export_families import byte_level_bpe, spm_model  # noqa: F401  (fixtures)
from tests.test_tokenizer_export_families import _bpe_variant, _converted, _left_padded, texts
from tests.test_tokenizer_export_families import reference as reference_single
from tfmodels.export import InGraphTokenizer
from tfmodels.export.detokenizer import InGraphDetokenizer
from tfmodels.export.tokenizer import longest_first

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")


def _pairs(batch):
    return batch, batch[1:] + batch[:1]


def reference_pairs(tokenizer, first, second, max_length, pad_id):
    tokenizer = tokenizers.Tokenizer.from_str(tokenizer.to_str())
    tokenizer.enable_truncation(max_length)  # strategy longest_first, stride 0
    tokenizer.enable_padding(length=max_length, pad_id=pad_id)
    encodings = tokenizer.encode_batch(list(zip(first, second)))
    return {"input_ids": np.array([e.ids for e in encodings]),
            "attention_mask": np.array([e.attention_mask for e in encodings]),
            "token_type_ids": np.array([e.type_ids for e in encodings])}


def assert_same_pairs(tokenizer, batch, max_length, in_graph=None):
    first, second = _pairs(batch)
    in_graph = in_graph or InGraphTokenizer(tokenizer, max_length=max_length)
    ours = tf.function(in_graph.encode_pair)(tf.constant(first), tf.constant(second))
    expected = reference_pairs(tokenizer, first, second, max_length, in_graph.pad_id)
    for key, value in expected.items():
        differ = np.flatnonzero(np.any(ours[key].numpy() != value, axis=1))
        examples = [(first[i][:30], second[i][:30], ours[key].numpy()[i][:12].tolist(), value[i][:12].tolist())
                    for i in differ[:3]]
        assert not len(differ), f"{key}: {len(differ)} of {len(first)} pairs differ, e.g. {examples}"
    return expected


def test_longest_first_lengths_equal_tokenizers_library():
    """Every pair of lengths 0..9 under budgets 1..11, against `tokenizers` truncating a WordLevel pair."""
    vocab = {"[UNK]": 0, "a": 1, "b": 2}
    reference = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    reference.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    cases = [(budget, a, b) for budget in range(1, 12) for a in range(10) for b in range(10)]
    expected = []
    for budget, a, b in cases:
        reference.enable_truncation(budget)
        ids = reference.encode(" ".join("a" * a), " ".join("b" * b)).ids
        expected.append((ids.count(1), ids.count(2)))
    ours = [longest_first(tf.constant([a]), tf.constant([b]), budget) for budget, a, b in cases]
    assert [(int(x[0]), int(y[0])) for x, y in ours] == expected


# ------------------------------------------------------------------------------------------------ pairs


@pytest.fixture(scope="module")
def bert_tokenizer():
    return tokenizers.Tokenizer.from_file(os.path.join(TOKENIZER_DIR, "tokenizer.json"))


@pytest.mark.parametrize("max_length", [20, pytest.param(128, marks=pytest.mark.slow)])
def test_wordpiece_pairs_equal_tokenizers_library(bert_tokenizer, max_length):
    """BERT's template `[CLS] a [SEP] b [SEP]` with type ids 0 then 1, on the 513 texts."""
    expected = assert_same_pairs(bert_tokenizer, real_texts(), max_length)
    assert expected["token_type_ids"].max() == 1
    assert expected["attention_mask"].sum(1).max() == max_length  # some pairs were truncated


@pytest.fixture(scope="module")
def roberta(byte_level_bpe):  # noqa: F811
    return _bpe_variant(byte_level_bpe, "roberta", add_prefix_space=True)


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_byte_level_bpe_pairs_equal_tokenizers_library(roberta, full):
    """RoBERTa's `<s> a </s></s> b </s>` (all type ids 0)."""
    batch = [t for t in (real_texts() if full else texts(full=False)) if "\x00" not in t]
    expected = assert_same_pairs(roberta, batch, 40)
    assert expected["attention_mask"].sum(1).max() == 40


@pytest.mark.parametrize("class_name", [
    "AlbertTokenizer",  # [CLS] a [SEP] b [SEP], type ids 0 then 1 (a subset here; the 513 texts: XLM-R, T5, XLNet)
    pytest.param("XLMRobertaTokenizer", marks=pytest.mark.slow),  # <s> a </s></s> b </s>
    pytest.param("T5Tokenizer", marks=pytest.mark.slow),  # a </s> b </s>
    pytest.param("XLNetTokenizer", marks=pytest.mark.slow),  # a <sep> b <sep> <cls>, type ids 0, 1, 2
])
def test_unigram_pairs_equal_tokenizers_library(spm_model, class_name):  # noqa: F811
    tokenizer = _converted(spm_model, class_name)
    batch = texts(full=False) if class_name == "AlbertTokenizer" else real_texts()
    expected = assert_same_pairs(tokenizer, batch, 40)
    assert expected["attention_mask"].sum(1).max() == 40


def test_pairs_refused_for_other_truncation_strategies(bert_tokenizer):
    config = json.loads(bert_tokenizer.to_str())
    config["truncation"]["strategy"] = "OnlySecond"
    with pytest.raises(ValueError, match="longest_first"):
        InGraphTokenizer(tokenizers.Tokenizer.from_str(json.dumps(config))).check_pairs()
    with pytest.raises(ValueError, match="special tokens of a pair"):
        InGraphTokenizer(bert_tokenizer, max_length=3).check_pairs()


# ------------------------------------------------------------------------------------------------ decoding


def _auto_tokenizer(tokenizer, directory, **config):
    """`transformers.AutoTokenizer` on `tokenizer` saved with `tokenizer_config.json` entries `config`."""
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", **config}), encoding="utf-8")
    return transformers.AutoTokenizer.from_pretrained(str(directory))


def _id_batches(tokenizer, batch, max_length=48, seed=0):
    """Padded encodings of `batch` (special tokens included) and rows of random ids (unknown ids among them)."""
    reference = tokenizers.Tokenizer.from_str(tokenizer.to_str())
    reference.enable_truncation(max_length)
    reference.enable_padding(length=max_length)
    encoded = np.array([e.ids for e in reference.encode_batch(batch)], np.int32)
    rng = np.random.RandomState(seed)
    size = reference.get_vocab_size(with_added_tokens=True)
    random_ids = rng.randint(-2, size + 3, (64, 12)).astype(np.int32)
    random_ids[:16] = rng.randint(0, 8, (16, 12))  # special tokens, bytes next to each other
    return np.concatenate([encoded, np.pad(random_ids, [[0, 0], [0, max_length - 12]], constant_values=-1)])


def assert_same_text(tokenizer, auto, ids, **kwargs):
    ours = [t.decode("utf-8") for t in InGraphDetokenizer(tokenizer, **kwargs)(tf.constant(ids))["text"].numpy()]
    rows = [[int(i) for i in row if i >= 0] for row in ids]  # transformers refuses negative ids
    expected = auto.batch_decode(rows, skip_special_tokens=True)
    size = auto.backend_tokenizer.get_vocab_size(with_added_tokens=True)
    library = tokenizers.Tokenizer.from_str(tokenizer.to_str() if hasattr(tokenizer, "to_str") else
                                            auto.backend_tokenizer.to_str()).decode_batch(
        [[i for i in row if i < size] for row in rows], skip_special_tokens=True)
    if not kwargs and not auto.clean_up_tokenization_spaces:
        assert expected == library
    differ = [(rows[i][:10], ours[i][:40], expected[i][:40]) for i in range(len(rows)) if ours[i] != expected[i]]
    assert not differ, f"{len(differ)} of {len(rows)} differ, e.g. {differ[:3]}"
    return expected


@pytest.mark.parametrize("clean_up", [False, True])
def test_wordpiece_decode_equals_transformers(bert_tokenizer, tmp_path, clean_up):
    """BERT: `##` joins, the decoder's cleanup; `clean_up_tokenization_spaces` from tokenizer_config.json."""
    auto = _auto_tokenizer(bert_tokenizer, tmp_path / "bert", clean_up_tokenization_spaces=clean_up)
    ids = _id_batches(bert_tokenizer, real_texts() + ["don ' t stop , they 're here ! isn't it ?"])
    expected = assert_same_text(str(tmp_path / "bert"), auto, ids)
    assert "pneumonoultramicroscopicsilicovolcanoconiosis" in expected[len(real_texts()) - 13 + 9]  # ## pieces
    assert ("don't stop, they're here! isn't it?" in expected) == clean_up


def test_byte_level_bpe_decode_equals_transformers(roberta, tmp_path):
    """RoBERTa: bytes back to UTF-8 (U+FFFD where random ids cut characters); transformers never cleans BPE."""
    auto = _auto_tokenizer(roberta, tmp_path / "roberta", clean_up_tokenization_spaces=True)
    batch = [t for t in real_texts()[:100] + HARD_TEXTS if "\x00" not in t]
    expected = assert_same_text(roberta, auto, _id_batches(roberta, batch))
    assert any("\ufffd" in t for t in expected) and "Café crème brûlée" in "".join(expected)


@pytest.mark.parametrize("class_name", ["XLMRobertaTokenizer", pytest.param("T5Tokenizer", marks=pytest.mark.slow),
                                        pytest.param("AlbertTokenizer", marks=pytest.mark.slow)])
def test_unigram_decode_equals_transformers(spm_model, tmp_path, class_name):  # noqa: F811
    """SentencePiece (Metaspace): `▁` to spaces, the first one removed."""
    tokenizer = _converted(spm_model, class_name)
    auto = _auto_tokenizer(tokenizer, tmp_path / class_name)
    assert_same_text(tokenizer, auto, _id_batches(tokenizer, real_texts()[:200] + HARD_TEXTS))


def test_unsupported_decoder_is_refused(bert_tokenizer):
    config = json.loads(bert_tokenizer.to_str())
    config["decoder"] = {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]}
    with pytest.raises(ValueError, match="ByteFallback"):
        InGraphDetokenizer(tokenizers.Tokenizer.from_str(json.dumps(config)))


# ------------------------------------------------------------------------------------------------ SavedModels

LOAD_AND_SERVE = r"""
import json, sys
import numpy as np, tensorflow as tf, tensorflow_text  # noqa: F401  (registers the TF Text ops)
assert "tfmodels" not in sys.modules and "keras_hub" not in sys.modules
loaded = tf.saved_model.load(sys.argv[1])
result = {}
for name, inputs in json.loads(sys.argv[2]).items():
    inputs = {key: tf.constant(value, tf.int32 if key == "input_ids" else tf.string) for key, value in inputs.items()}
    result[name] = {key: [s.decode("utf-8") for s in value.numpy()] if value.dtype == tf.string
                    else value.numpy().tolist() for key, value in loaded.signatures[name](**inputs).items()}
print(json.dumps(result))
"""


def serve_in_fresh_process(directory, calls):
    """`{signature: {input: list}}` -> `{signature: {output: list}}`, from a process that imports only TF."""
    run = subprocess.run([sys.executable, "-c", LOAD_AND_SERVE, str(directory), json.dumps(calls)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_pair_and_detokenize_signatures_in_fresh_process(bert_tokenizer, tmp_path):
    import tfmodels
    from tests.test_tokenizer_export import _tiny
    from tfmodels.export import export_saved_model

    model = _tiny(tfmodels.BertForSequenceClassification, num_labels=3)
    directory = export_saved_model(model, tmp_path / "saved", tokenizer=TOKENIZER_DIR, max_length=24, text_pairs=True,
                                   task_signatures=False)  # fewer signatures to trace: classify_text_pair is the same
    first, second = _pairs(real_texts()[:3] + HARD_TEXTS[:4])
    features = reference_pairs(bert_tokenizer, first, second, 24, 0)
    pair_inputs = {"text": first, "text_pair": second}
    served = serve_in_fresh_process(directory, {"tokenize_pair": pair_inputs, "serve_text_pair": pair_inputs,
                                                "detokenize": {"input_ids": features["input_ids"].tolist()}})
    for key, value in features.items():
        np.testing.assert_array_equal(served["tokenize_pair"][key], value, err_msg=key)
    logits = model(features, training=False)["logits"]
    np.testing.assert_allclose(served["serve_text_pair"]["logits"], logits, atol=1e-5)
    auto = transformers.AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    assert served["detokenize"]["text"] == auto.batch_decode(features["input_ids"].tolist(), skip_special_tokens=True)


def _save_tokenizer(tokenizer, directory):
    transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>",
                                         bos_token="<s>", unk_token="<unk>").save_pretrained(str(directory))
    return transformers.AutoTokenizer.from_pretrained(str(directory))


SERVED_PROMPTS = ["Café crème, naïve façade — résumé!", "中文字符和日本語のテキスト", "a b", "Emoji 😀 and\ttabs"]


def test_gpt2_generate_text_out_in_fresh_process(byte_level_bpe, tmp_path):  # noqa: F811
    """Decoder-only: prompts in, the decoded `transformers` generation out (byte-level BPE detokenized)."""
    import tfmodels
    from tests.helpers import hf_checkpoint, reference_generate
    from tfmodels.export import export_saved_model

    tokenizer = _bpe_variant(byte_level_bpe, "gpt2")
    config = transformers.GPT2Config(vocab_size=tokenizer.get_vocab_size(), n_embd=32, n_layer=2, n_head=4,
                                     n_positions=64, bos_token_id=0, eos_token_id=2, pad_token_id=1)
    path = hf_checkpoint("GPT2LMHeadModel", config, tmp_path / "gpt2")
    auto = _save_tokenizer(tokenizer, path)
    model = tfmodels.GPT2LMHeadModel.from_pretrained(path)
    generation = {"batch_size": 4, "prompt_length": 12, "max_new_tokens": 6}
    directory = export_saved_model(model, tmp_path / "saved", tokenizer=path, max_length=12, generation=generation)
    served = serve_in_fresh_process(directory, {"generate_text": {"text": SERVED_PROMPTS}})["generate_text"]
    prompts = _left_padded(reference_single(tokenizer, SERVED_PROMPTS, 12), 1)
    expected = reference_generate("GPT2LMHeadModel", path, prompts, max_new_tokens=6)
    np.testing.assert_array_equal(served["sequences"], expected)
    assert served["text"] == auto.batch_decode(expected.tolist(), skip_special_tokens=True)
    assert served["generated_text"] == auto.batch_decode(expected[:, 12:].tolist(), skip_special_tokens=True)
    assert served["text"][2].startswith("a b") and served["text"][2] == "a b" + served["generated_text"][2]


@pytest.mark.slow
def test_t5_generate_text_out_in_fresh_process(spm_model, tmp_path):  # noqa: F811
    """Encoder-decoder: sources in, the decoded `transformers` generation out (SentencePiece detokenized)."""
    import tfmodels
    from tests.helpers import hf_checkpoint, reference_generate
    from tests.test_t5_parity import t5_config
    from tfmodels.export import export_saved_model

    source = tmp_path / "spm"
    source.mkdir()
    (source / "spiece.model").write_bytes(spm_model["default"].read_bytes())
    auto = transformers.T5Tokenizer.from_pretrained(str(source))
    config = t5_config()
    config.vocab_size = len(auto)
    path = hf_checkpoint("T5ForConditionalGeneration", config, tmp_path / "t5")
    auto.save_pretrained(path)
    auto = transformers.AutoTokenizer.from_pretrained(path)
    model = tfmodels.T5ForConditionalGeneration.from_pretrained(path)
    generation = {"batch_size": 4, "prompt_length": 10, "max_new_tokens": 5}
    directory = export_saved_model(model, tmp_path / "saved", tokenizer=path, max_length=10, generation=generation)
    served = serve_in_fresh_process(directory, {"generate_text": {"text": SERVED_PROMPTS}})["generate_text"]
    features = reference_single(auto.backend_tokenizer, SERVED_PROMPTS, 10)
    expected = reference_generate("T5ForConditionalGeneration", path, features, max_new_tokens=5)
    np.testing.assert_array_equal(served["sequences"], expected)
    assert served["text"] == auto.batch_decode(expected.tolist(), skip_special_tokens=True)
    assert any(served["text"])
