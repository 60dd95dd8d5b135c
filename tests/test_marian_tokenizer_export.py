"""Marian's in-graph tokenizer (`MarianInGraphTokenizer`) against `transformers.MarianTokenizer`, and an
exported `MarianMTModel` translating raw text in a fresh process.

No network: two different SentencePiece Unigram models are trained here (`source.spm` on English
sentences, `target.spm` on a transformed corpus), and `vocab.json` is their pieces in a shuffled order
(so the model's ids are not the SentencePiece ids), with language codes (`>>fra<<`), SentencePiece's
`<s>`, and one frequent source piece left out (encoded as `<unk>`; its id stays a hole, which the
reference decodes through the SentencePiece model). `transformers.MarianTokenizer` is built from those
files and saved with `save_pretrained`, beside a tiny random `MarianMTModel`.
"""

import io
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import hf_checkpoint, reference_generate
from tests.test_tokenizer_export import real_texts
from tests.test_tokenizer_export_families import EXTRA_TEXTS

spm = pytest.importorskip("sentencepiece")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tensorflow_text")

MAX_LENGTH = 24
# Added tokens and language codes inside the text, codes that are not in vocab.json, codes without text.
MARIAN_TEXTS = [">>fra<< Hello world", ">>deu<<the weather", ">>xyz<< unknown code", ">>fra<<", ">> not <<a code",
                "a >>fra<< inside", "a</s>b <unk> c", "</s>>>deu<< after eos", "x<pad>y", "<s>spm control</s>",
                ">>fra<<\n>>deu<< two codes", "  spaced   out  ", "漢字 ☃ unknown characters"]


def _train(lines, vocab_size):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size,
                                   model_type="unigram", character_coverage=0.995, minloglevel=2, num_threads=1)
    return model.getvalue()


def write_marian_tokenizer(directory, separate_vocabs=False, seed=0):
    """Writes source.spm, target.spm, vocab.json (and target_vocab.json) and saves
    `transformers.MarianTokenizer` over them to `directory`; returns the tokenizer and its vocab."""
    directory.mkdir(parents=True, exist_ok=True)
    english = real_texts()[:300]
    target = [" ".join(reversed(text.lower().split())) for text in english]
    (directory / "source.spm").write_bytes(_train(english, 400))
    (directory / "target.spm").write_bytes(_train(target, 300))
    source = spm.SentencePieceProcessor(model_file=str(directory / "source.spm"))
    target_spm = spm.SentencePieceProcessor(model_file=str(directory / "target.spm"))

    def vocab_of(processors, drop):
        pieces = sorted({p.id_to_piece(i) for p in processors for i in range(p.get_piece_size())} - {"</s>", "<unk>"})
        random.Random(seed).shuffle(pieces)
        vocab = {"</s>": 0, "<unk>": 1, ">>fra<<": 2, ">>deu<<": 3}
        vocab.update({piece: len(vocab) + i for i, piece in enumerate(pieces)})
        vocab["<pad>"] = len(vocab)
        del vocab[drop]  # a missing piece (<unk> when encoded) and a hole in the ids
        return vocab

    frequent = max((source.get_score(i), source.id_to_piece(i)) for i in range(3, source.get_piece_size()))[1]
    vocab = vocab_of([source, target_spm] if not separate_vocabs else [source], frequent)
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    extra = {}
    if separate_vocabs:
        target_vocab = vocab_of([target_spm], max((target_spm.get_score(i), target_spm.id_to_piece(i))
                                                  for i in range(3, target_spm.get_piece_size()))[1])
        (directory / "target_vocab.json").write_text(json.dumps(target_vocab, ensure_ascii=False), encoding="utf-8")
        extra = dict(target_vocab_file=str(directory / "target_vocab.json"), separate_vocabs=True)
    tokenizer = transformers.MarianTokenizer(str(directory / "source.spm"), str(directory / "target.spm"),
                                             str(directory / "vocab.json"), **extra)
    tokenizer.save_pretrained(str(directory))
    return transformers.MarianTokenizer.from_pretrained(str(directory)), vocab, frequent


@pytest.fixture(scope="module")
def marian(tmp_path_factory):
    """`(directory, MarianTokenizer, vocab, dropped piece)`."""
    directory = tmp_path_factory.mktemp("marian")
    return (directory, *write_marian_tokenizer(directory))


def in_graph(directory):
    """A `MarianInGraphTokenizer` of `MAX_LENGTH` for the checkpoint in `directory`."""
    from tfmodels.export.marian_tokenizer import MarianInGraphTokenizer

    return MarianInGraphTokenizer(str(directory), max_length=MAX_LENGTH)


def texts():
    return real_texts()[300:360] + EXTRA_TEXTS + MARIAN_TEXTS


def decoded(in_graph_tokenizer, ids):
    """The texts of `ids` through the in-graph detokenizer's `__call__`."""
    texts = in_graph_tokenizer.detokenizer(tf.constant(np.asarray(ids), tf.int32))["text"].numpy()
    return [text.decode("utf-8") for text in texts]


def assert_same_ids(in_graph, tokenizer, batch, max_length):
    ours = in_graph(tf.constant(batch))
    expected = tokenizer(batch, padding="max_length", truncation=True, max_length=max_length)
    expected = {key: np.array(value) for key, value in expected.items()}
    ids = ours["input_ids"].numpy()
    differ = np.flatnonzero(np.any(ids != expected["input_ids"], axis=1))
    examples = [(batch[i][:40], ids[i][:12].tolist(), expected["input_ids"][i][:12].tolist()) for i in differ[:4]]
    assert not len(differ), f"{len(differ)} of {len(batch)} texts differ, e.g. {examples}"
    np.testing.assert_array_equal(ours["attention_mask"].numpy(), expected["attention_mask"])
    return expected["input_ids"]


def test_source_ids_equal_marian_tokenizer(marian):
    directory, tokenizer, vocab, dropped = marian
    batch = texts()
    ids = assert_same_ids(in_graph(directory), tokenizer, batch, MAX_LENGTH)
    # The corpus exercises what it claims: unknown pieces, both language codes, truncation, an empty text.
    unk = vocab["<unk>"]
    assert (ids == unk).sum() >= 10 and {2, 3} <= set(ids.ravel().tolist())
    assert any(dropped in tokenizer.tokenize(text) for text in batch)  # a piece vocab.json lacks
    assert (ids[:, -1] == vocab["</s>"]).any() and (ids[:, 1] == vocab["<pad>"]).any()


def test_decode_equals_marian_batch_decode(marian):
    directory, tokenizer, vocab, dropped = marian
    size = max(vocab.values()) + 1
    rng = np.random.RandomState(0)
    ids = rng.randint(0, size, (40, 15))
    ids[:8, :3] = [2, 3, vocab["<s>"]]  # language codes and SentencePiece's <s> (a control piece there)
    ids[8:16, 5] = next(i for i in range(size) if i not in set(vocab.values()))  # the hole
    ids[16:20, 8:] = vocab["<pad>"]
    sources = tokenizer(texts()[:20], padding="max_length", truncation=True, max_length=15)["input_ids"]
    ids = np.concatenate([ids, np.array(sources)])  # real encoded texts
    ours = decoded(in_graph(directory), ids)
    expected = tokenizer.batch_decode(ids.tolist(), skip_special_tokens=True)
    assert ours == expected
    assert any("▁" not in text and " " in text for text in expected) and any(">>fra<<" in t for t in expected)


@pytest.mark.slow
@pytest.mark.parametrize("max_length", [2, 7, 96])
def test_source_ids_sweep(marian, max_length):
    from tfmodels.export.marian_tokenizer import MarianInGraphTokenizer

    directory, tokenizer = marian[:2]
    batch = real_texts() + EXTRA_TEXTS + MARIAN_TEXTS
    assert_same_ids(MarianInGraphTokenizer(directory, max_length=max_length), tokenizer, batch, max_length)


@pytest.mark.slow
def test_decode_with_clean_up_tokenization_spaces(marian):
    from tfmodels.export.marian_tokenizer import MarianInGraphTokenizer

    directory = marian[0]
    tokenizer = transformers.MarianTokenizer.from_pretrained(str(directory), clean_up_tokenization_spaces=True)
    batch = ["Is it ? Yes , it is . Don 't stop !", "they 're here , we 've seen it 's fine"] + real_texts()[:50]
    ids = tokenizer(batch, padding=True)["input_ids"]
    expected = tokenizer.batch_decode(ids, skip_special_tokens=True)
    assert expected != transformers.MarianTokenizer.from_pretrained(str(directory)).batch_decode(
        ids, skip_special_tokens=True)  # the clean-up changes something
    assert decoded(MarianInGraphTokenizer(tokenizer), ids) == expected


def test_separate_vocabularies(tmp_path):
    """`separate_vocabs=True`: source ids from vocab.json, decoding with target_vocab.json and target.spm."""
    from tfmodels.export.marian_tokenizer import MarianInGraphTokenizer

    tokenizer, vocab, _ = write_marian_tokenizer(tmp_path, separate_vocabs=True, seed=1)
    in_graph = MarianInGraphTokenizer(tokenizer, max_length=MAX_LENGTH)  # from the tokenizer object
    assert_same_ids(in_graph, tokenizer, texts()[:40], MAX_LENGTH)
    target = json.loads((tmp_path / "target_vocab.json").read_text(encoding="utf-8"))
    ids = np.random.RandomState(1).randint(0, max(target.values()) + 1, (30, 12))
    ours = decoded(in_graph, ids)
    assert ours == tokenizer.batch_decode(ids.tolist(), skip_special_tokens=True)


def test_marian_tokenizer_errors(tmp_path, marian):
    from tfmodels.export.marian_tokenizer import MarianInGraphTokenizer, is_marian_tokenizer, read_marian_files

    directory = marian[0]
    assert is_marian_tokenizer(directory) and is_marian_tokenizer(marian[1]) and not is_marian_tokenizer(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("source.spm", "vocab.json", "tokenizer_config.json"):
        (broken / name).write_bytes((directory / name).read_bytes())
    with pytest.raises(FileNotFoundError, match="Missing: \\['target.spm'\\]"):
        read_marian_files(broken)
    (broken / "target.spm").write_bytes((directory / "target.spm").read_bytes())
    vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
    del vocab["<pad>"]
    (broken / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    with pytest.raises(ValueError, match="pad_token '<pad>'"):
        read_marian_files(broken)
    with pytest.raises(ValueError, match="max_length must leave room"):
        MarianInGraphTokenizer(directory, max_length=1)


def test_older_checkpoint_layout(tmp_path, marian):
    """opus-mt checkpoints saved by older `transformers`: special tokens only named in
    special_tokens_map.json, no added_tokens_decoder."""
    directory = marian[0]
    for name in ("source.spm", "target.spm", "vocab.json"):
        (tmp_path / name).write_bytes((directory / name).read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"source_lang": "en", "target_lang": "de"}))
    (tmp_path / "special_tokens_map.json").write_text(json.dumps(
        {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}))
    tokenizer = transformers.MarianTokenizer.from_pretrained(str(tmp_path))
    tokenizer_graph = in_graph(tmp_path)
    assert_same_ids(tokenizer_graph, tokenizer, MARIAN_TEXTS + real_texts()[:10], MAX_LENGTH)
    ids = tokenizer(MARIAN_TEXTS, padding=True)["input_ids"]
    assert decoded(tokenizer_graph, ids) == tokenizer.batch_decode(ids, skip_special_tokens=True)


LOAD_AND_TRANSLATE = r"""
import json, sys
import tensorflow as tf, tensorflow_text  # noqa: F401  (registers the TF Text ops)
assert "tfmodels" not in sys.modules
loaded = tf.saved_model.load(sys.argv[1])
texts = tf.constant(json.loads(sys.argv[2]))
generated = loaded.signatures["generate_text"](text=texts)
tokenized = loaded.signatures["tokenize"](text=texts)
decoded = loaded.signatures["detokenize"](input_ids=generated["sequences"])
print(json.dumps({"text": [t.decode("utf-8") for t in generated["text"].numpy()],
                  "sequences": generated["sequences"].numpy().tolist(),
                  "detokenized": [t.decode("utf-8") for t in decoded["text"].numpy()],
                  "input_ids": tokenized["input_ids"].numpy().tolist(), "tfmodels": "tfmodels" in sys.modules}))
"""


def test_exported_marian_translates_raw_text_in_a_fresh_process(marian, tmp_path):
    """`tfmodels export --tokenizer auto --generation` on a Marian checkpoint: `generate_text` takes raw
    source text and returns the reference's ids (`MarianMTModel.generate`) and text (`batch_decode`);
    `detokenize` decodes the ids alone."""
    from tfmodels.cli import main

    directory, tokenizer, vocab, _ = marian
    config = transformers.MarianConfig(
        vocab_size=max(vocab.values()) + 1, d_model=24, encoder_layers=2, decoder_layers=1, encoder_attention_heads=3,
        decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=29, max_position_embeddings=64,
        pad_token_id=vocab["<pad>"], eos_token_id=vocab["</s>"], decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=None, init_std=0.5, scale_embedding=True)
    hf_checkpoint("MarianMTModel", config, directory)
    batch, new_tokens = 3, 8
    assert main(["export", str(directory), str(tmp_path / "sm"), "--task", "seq2seq-lm", "--tokenizer", "auto",
                 "--max-length", str(MAX_LENGTH), "--generation", "--max-new-tokens", str(new_tokens),
                 "--batch-size", str(batch), "--prompt-length", str(MAX_LENGTH)]) == 0
    sources = ["The weather is nice today.", ">>fra<< Where is the station?", ""]
    run = subprocess.run([sys.executable, "-c", LOAD_AND_TRANSLATE, str(tmp_path / "sm"), json.dumps(sources)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    served = json.loads(run.stdout.strip().splitlines()[-1])
    assert served["tfmodels"] is False
    inputs = tokenizer(sources, padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="np")
    np.testing.assert_array_equal(served["input_ids"], inputs["input_ids"])
    expected = reference_generate("MarianMTModel", str(directory), inputs, max_new_tokens=new_tokens)
    assert len(np.unique(expected[:, 1:])) > 2, "a model that repeats one token proves little"
    np.testing.assert_array_equal(served["sequences"], expected)
    expected_text = tokenizer.batch_decode(expected.tolist(), skip_special_tokens=True)
    assert served["text"] == expected_text and all(expected_text)
    assert served["detokenized"] == expected_text


def test_in_graph_sentencepiece_outlives_a_random_seed(marian):
    """`tf.random.set_seed` clears TF's eager kernel cache; the SentencePiece models of tokenizers made
    before it stay (they were kernel-owned, and such a tokenizer failed with "Resource ... does not exist")."""
    directory, tokenizer = marian[:2]
    tokenizer_graph = in_graph(directory)
    tf.random.set_seed(1)
    assert_same_ids(tokenizer_graph, tokenizer, MARIAN_TEXTS, MAX_LENGTH)
    ids = tokenizer(MARIAN_TEXTS, padding=True)["input_ids"]
    assert decoded(tokenizer_graph, ids) == tokenizer.batch_decode(ids, skip_special_tokens=True)
