"""Marian's tokenizer in-graph: raw source text to ids, generated ids to text.

Marian checkpoints (`Helsinki-NLP/opus-mt-*`) ship no `tokenizer.json`:
`transformers`' `MarianTokenizer` runs two SentencePiece models,
`source.spm` (source text) and `target.spm`, and maps their pieces through
`vocab.json` (the model's ids are `vocab.json` ids, not the SentencePiece
ids). `MarianInGraphTokenizer` rebuilds it from TensorFlow ops, for the text
signatures of `export_saved_model`:

    encode: strings (batch,) -> input_ids, attention_mask: int32 (batch, max_length)
    decode: int ids (batch, length) -> strings (batch,)

Encoding, as `MarianTokenizer(texts, truncation=True, padding="max_length",
max_length=max_length)`: the added tokens (`</s>`, `<unk>`, `<pad>`, ...) are
split out of the text; each text between them loses a leading language code
(`>>fra<<`: the text from a leading `>>` to the first `<<`), which stays one
token; the rest goes through `source.spm` (`tensorflow-text`, out_type
string: the model's own normalization and Unigram search); each piece (and
code) becomes its `vocab.json` id, `<unk>`'s when it has none; the ids are
truncated to `max_length - 1`, `</s>` appended and the row padded on the right
with `<pad>`.

Decoding, as `MarianTokenizer.batch_decode(ids, skip_special_tokens=True)`:
the special tokens' ids (`</s>`, `<unk>`, `<pad>`, other special added
tokens) are dropped, each id becomes its `vocab.json` piece (an id missing from
`vocab.json` the SentencePiece model's piece of that id, as the reference
falls back to), and the pieces are joined by SentencePiece's decoder
(`SentencepieceTokenizer.detokenize`, unknown pieces kept verbatim), `▁`
replaced by spaces and the ends stripped. The decoding model is the
reference's: `source.spm` for a shared vocabulary (`MarianTokenizer.decode`'s
default `use_source_tokenizer=not separate_vocabs`), `target.spm` with
`target_vocab.json` for separate vocabularies. An id the reference cannot
decode (in neither `vocab.json` nor the SentencePiece model: it raises
`IndexError`) decodes to nothing here.

Ids and texts are checked against `transformers.MarianTokenizer` in
tests/test_marian_tokenizer_export.py (unknown characters, missing pieces,
language codes, added tokens in the text, whitespace runs, truncation, empty
text). Not reproduced: target-side encoding (`text_target=`), pairs,
`skip_special_tokens=False`; `sacremoses` punctuation normalization is not
part of the reference's encoding either.

References:
    Junczys-Dowmunt et al., 2018, "Marian: Fast Neural Machine Translation in
    C++" (https://arxiv.org/abs/1804.00344); Kudo & Richardson, 2018,
    "SentencePiece" (https://arxiv.org/abs/1808.06226);
    `transformers.MarianTokenizer` (models/marian/tokenization_marian.py).
"""

import json
import re
import tempfile
from pathlib import Path

import tensorflow as tf

from tfmodels.export.tokenizer import InGraphTokenizer
from tfmodels.export.tokenizer_pipeline import (METASPACE, WHITESPACE, AddedTokens, sentencepiece_tokenizer,
                                                spm_proto)

# Python's `str.strip()` whitespace: Unicode White_Space and the separators U+001C-U+001F.
_PYTHON_WHITESPACE = WHITESPACE[:-1] + r"\x{1C}-\x{1F}]"
# `PreTrainedTokenizerBase.clean_up_tokenization`, applied in this order.
_CLEAN_UP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
             (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def is_marian_tokenizer(tokenizer):
    """True for a `transformers.MarianTokenizer` or a directory holding `source.spm` and `vocab.json`."""
    if type(tokenizer).__name__ == "MarianTokenizer":
        return True
    if isinstance(tokenizer, (str, Path)):
        path = Path(tokenizer)
        return path.is_dir() and (path / "source.spm").is_file() and (path / "vocab.json").is_file()
    return False


def _content(token):
    return token["content"] if isinstance(token, dict) else token


def read_marian_files(tokenizer):
    """The files of a Marian tokenizer as a dict: `vocab`, `target_vocab` (None for a shared vocabulary),
    `source_spm`, `target_spm` (serialized model protos), `added_tokens` (`tokenizer.json`-style dicts with
    `content`, `id`, `lstrip`, `rstrip`, `special`), `unk_token`, `eos_token`, `pad_token`,
    `model_max_length`, `clean_up_tokenization_spaces`.

    Args:
        tokenizer: a `transformers.MarianTokenizer` (read through its `save_pretrained` files) or a
            directory with `source.spm`, `target.spm`, `vocab.json` and optionally `tokenizer_config.json`,
            `special_tokens_map.json`, `target_vocab.json`.

    Raises:
        FileNotFoundError: a file the tokenizer needs is missing.
        ValueError: `<unk>`, `</s>` or `<pad>` is not in `vocab.json`.
    """
    if type(tokenizer).__name__ == "MarianTokenizer":
        with tempfile.TemporaryDirectory() as directory:
            tokenizer.save_pretrained(directory)
            return read_marian_files(directory)
    directory = Path(tokenizer)
    config = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):  # the config wins, as in transformers
        if (directory / name).is_file():
            config.update(json.loads((directory / name).read_text(encoding="utf-8")))
    separate = bool(config.get("separate_vocabs", False))
    needed = ["source.spm", "target.spm", "vocab.json"] + (["target_vocab.json"] if separate else [])
    missing = [name for name in needed if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"A Marian tokenizer needs {needed} in {directory}. Missing: {missing}")
    vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
    files = dict(
        vocab=vocab,
        target_vocab=json.loads((directory / "target_vocab.json").read_text(encoding="utf-8")) if separate else None,
        source_spm=(directory / "source.spm").read_bytes(), target_spm=(directory / "target.spm").read_bytes(),
        model_max_length=int(config.get("model_max_length") or 512),
        clean_up_tokenization_spaces=bool(config.get("clean_up_tokenization_spaces", False)),
    )
    for key, default in (("unk_token", "<unk>"), ("eos_token", "</s>"), ("pad_token", "<pad>")):
        files[key] = _content(config.get(key) or default)
        if files[key] not in vocab:
            raise ValueError(f"The Marian vocab.json must hold the {key} {files[key]!r}.")
    added = {int(index): {**token, "id": int(index)} for index, token in (config.get("added_tokens_decoder")
                                                                         or {}).items()}
    named = [files["unk_token"], files["eos_token"], files["pad_token"]]
    extra = config.get("additional_special_tokens") or config.get("extra_special_tokens") or []
    named += [_content(t) for t in (extra.values() if isinstance(extra, dict) else extra)]
    known = {token["content"] for token in added.values()}
    for content in named:  # older checkpoints list their special tokens only by name
        if content not in known:
            if content not in vocab:
                raise ValueError(f"The Marian special token {content!r} is not in vocab.json.")
            added[vocab[content]] = dict(content=content, id=vocab[content], lstrip=False, rstrip=False, special=True)
    files["added_tokens"] = [added[index] for index in sorted(added)]
    return files


class _SourcePieces(tf.Module):
    """`MarianTokenizer._tokenize` + `convert_tokens_to_ids` on text between added tokens: `(n,)` strings
    -> ragged int32 ids `(n, None)`."""

    def __init__(self, source_spm, token_to_id, unk_id):
        super().__init__()
        self.sentencepiece = sentencepiece_tokenizer(spm_proto().ModelProto.FromString(source_spm), tf.string)
        self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            list(token_to_id), list(token_to_id.values()), tf.string, tf.int32), unk_id)

    def __call__(self, texts):
        has_code = tf.strings.regex_full_match(texts, "(?s)>>.*?<<.*")  # `remove_language_code`
        code = tf.strings.regex_replace(texts, r"(?s)\A(>>.*?<<).*\z", r"\1")
        rest = tf.where(has_code, tf.strings.regex_replace(texts, r"(?s)\A>>.*?<<", "", replace_global=False), texts)
        codes = tf.ragged.boolean_mask(code[:, None], has_code[:, None])  # (n, 0 or 1)
        pieces = tf.concat([codes, self.sentencepiece.tokenize(rest)], axis=1)  # (n, pieces)
        return tf.ragged.map_flat_values(self.table.lookup, pieces)


class MarianInGraphDetokenizer(tf.Module):
    """Decodes generated ids in-graph, as `MarianTokenizer.batch_decode(ids, skip_special_tokens=True)`.

    See the module docstring for the steps. The same interface as
    `InGraphDetokenizer` (the `tokenizer.json` decoders).

    Args:
        tokenizer: a `transformers.MarianTokenizer`, a Marian checkpoint
            directory, or the dict of `read_marian_files`.
        sentencepiece: optional `tensorflow-text` `SentencepieceTokenizer` of
            the decoding model to share (`MarianInGraphTokenizer`'s own).

    Call:
        input_ids: int32 tensor `(batch, seq_len)`.

    Returns:
        `{"text": string tensor (batch,)}`, UTF-8 (`decode` returns the tensor).

    Raises:
        FileNotFoundError, ValueError: as `read_marian_files`.
    """

    def __init__(self, tokenizer, sentencepiece=None, name=None):
        super().__init__(name=name)
        import sentencepiece as spm

        files = tokenizer if isinstance(tokenizer, dict) else read_marian_files(tokenizer)
        separate = files["target_vocab"] is not None
        decoder = {index: piece for piece, index in (files["target_vocab"] if separate else files["vocab"]).items()}
        decoder.update({token["id"]: token["content"] for token in files["added_tokens"]})
        model = files["target_spm"] if separate else files["source_spm"]  # the reference's default
        processor = spm.SentencePieceProcessor(model_proto=model)
        pieces = processor.get_piece_size()
        self.vocab_size = max(max(decoder) + 1, pieces)
        # An id missing from the vocabulary falls back to the SentencePiece piece of that id, as in the reference.
        self.pieces = tf.constant([decoder[i] if i in decoder else processor.id_to_piece(i) if i < pieces else ""
                                   for i in range(self.vocab_size)])
        skip = {token["id"] for token in files["added_tokens"] if token.get("special", True)}  # all_special_ids
        self.keep = tf.constant([i not in skip and (i in decoder or i < pieces) for i in range(self.vocab_size)]
                                + [False])  # the last entry: ids outside the table
        self.clean_up_tokenization_spaces = files["clean_up_tokenization_spaces"]
        self.sentencepiece = sentencepiece or sentencepiece_tokenizer(spm_proto().ModelProto.FromString(model),
                                                                      tf.string)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="input_ids")])
    def __call__(self, input_ids):
        return {"text": self.decode(input_ids)}

    def decode(self, input_ids, mask=None):
        """`__call__` in the caller's graph (any int dtype); positions where the optional boolean
        `mask (batch, seq_len)` is False (padding) are left out."""
        input_ids = tf.cast(input_ids, tf.int32)
        index = tf.where((input_ids >= 0) & (input_ids < self.vocab_size), input_ids, self.vocab_size)
        keep = tf.gather(self.keep, index)
        if mask is not None:
            keep &= tf.cast(mask, tf.bool)
        pieces = tf.ragged.boolean_mask(tf.gather(self.pieces, tf.minimum(index, self.vocab_size - 1)), keep)
        text = tf.strings.regex_replace(self.sentencepiece.detokenize(pieces), METASPACE, " ")  # (batch,)
        text = tf.strings.regex_replace(text, f"^{_PYTHON_WHITESPACE}+|{_PYTHON_WHITESPACE}+$", "")
        if self.clean_up_tokenization_spaces:
            for old, new in _CLEAN_UP:
                text = tf.strings.regex_replace(text, re.escape(old), new)
        return text


class MarianInGraphTokenizer(InGraphTokenizer):
    """Marian's tokenizer (`transformers.MarianTokenizer`) in-graph: source text to ids, ids to text.

    See the module docstring for the algorithm and what is not reproduced.
    Shares `InGraphTokenizer.encode` (truncation, `</s>`, padding), so it goes
    wherever an `InGraphTokenizer` does (`export_saved_model(tokenizer=...)`);
    its `detokenizer` (`MarianInGraphDetokenizer`) decodes generated ids.

    Args:
        tokenizer: a `transformers.MarianTokenizer`, or a directory holding
            `source.spm`, `target.spm` and `vocab.json` (a Marian checkpoint).
        max_length: int, output length (truncate and pad). Default: the
            tokenizer's `model_max_length` (512).

    Call:
        texts: string tensor `(batch,)`.

    Returns:
        dict of int32 tensors `(batch, max_length)`: `input_ids`,
        `attention_mask`, `token_type_ids` (zeros; Marian's model takes none).

    Raises:
        FileNotFoundError: a file the tokenizer needs is missing.
        ValueError: a special token missing from `vocab.json`, an added token
            with `single_word=True`, or `max_length < 2`.
    """

    def __init__(self, tokenizer, max_length=None, name=None):
        tf.Module.__init__(self, name=name)
        import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)

        files = read_marian_files(tokenizer)
        vocab = files["vocab"]
        added = {token["content"]: token["id"] for token in files["added_tokens"]}
        self.model = _SourcePieces(files["source_spm"], {**vocab, **added}, vocab[files["unk_token"]])
        self.added_tokens = AddedTokens({"added_tokens": files["added_tokens"]})
        self.model_input_names = ("input_ids", "attention_mask")
        self.max_length = int(max_length or files["model_max_length"])
        if self.max_length < 2:
            raise ValueError(f"max_length must leave room for text before </s>. Received: max_length={max_length}")
        self.start_ids, self.end_ids = [], [vocab[files["eos_token"]]]
        self.start_type_ids, self.end_type_ids, self.sequence_type_id = [], [0], 0
        self.pad_id, self.pad_left = vocab[files["pad_token"]], False
        shared = files["target_vocab"] is None  # decoded with source.spm, as the reference does
        self.detokenizer = MarianInGraphDetokenizer(files, self.model.sentencepiece if shared else None)

    def check_pairs(self):
        """Raises `ValueError`: `MarianTokenizer` takes single sequences (its pair form is not used)."""
        raise ValueError("Marian tokenizers take single sequences in-graph (no sentence pairs).")
