"""In-graph tokenizers for SavedModels that take raw text.

`InGraphTokenizer` rebuilds a Hugging Face fast tokenizer (`tokenizer.json`)
from TensorFlow ops, with KerasHub's tokenizers (built on `tensorflow-text`),
so a SavedModel can take strings and TF Serving receives text:

    strings (batch,) -> {"input_ids", "attention_mask", "token_type_ids"}: int32 (batch, max_length)

Supported: WordPiece tokenizers with the BERT normalizer and pre-tokenizer
(BERT, DistilBERT, MiniLM, ELECTRA, ... uncased and cased), post-processed as
`[CLS] text [SEP]`, truncated to `max_length` and padded to it (static shape,
so the model behind it compiles once). Token ids equal the `tokenizers`
library's on the test corpus in tests/test_tokenizer_export.py (unicode,
accents, CJK, Hangul, full-width forms, zero-width and control characters,
long inputs truncated). Known difference: a word longer than 100 UTF-8 bytes
becomes `[UNK]` here, while Hugging Face counts 100 characters (differs only
for words of 34-100 non-ASCII characters).

A SavedModel using it needs the `tensorflow-text` ops at load time:
`import tensorflow_text` before `tf.saved_model.load` (TF Serving builds
that link the TF Text ops serve it as is).
"""

import json
from pathlib import Path

import tensorflow as tf


def read_tokenizer_json(tokenizer):
    """The `tokenizer.json` dict of a `tokenizers.Tokenizer`, a
    `transformers` fast tokenizer, a `tokenizer.json` path or a directory."""
    if hasattr(tokenizer, "backend_tokenizer"):  # transformers PreTrainedTokenizerFast
        tokenizer = tokenizer.backend_tokenizer
    if hasattr(tokenizer, "to_str"):  # tokenizers.Tokenizer
        return json.loads(tokenizer.to_str())
    path = Path(tokenizer)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"No tokenizer.json at {path}. Pass a tokenizer, its tokenizer.json or its directory.")
    return json.loads(path.read_text(encoding="utf-8"))


def _special_tokens(post_processor, vocab):
    """`(start_ids, end_ids)` around a single sequence, from the post-processor."""
    if post_processor is None:
        return [], []
    kind = post_processor.get("type")
    if kind == "BertProcessing":
        return [post_processor["cls"][1]], [post_processor["sep"][1]]
    if kind == "TemplateProcessing":
        start, end, seen_sequence = [], [], False
        for piece in post_processor["single"]:
            if "Sequence" in piece:
                seen_sequence = True
                continue
            token = piece["SpecialToken"]["id"]
            ids = post_processor["special_tokens"][token]["ids"]
            (end if seen_sequence else start).extend(ids)
        return start, end
    raise ValueError(f"Unsupported post_processor type for in-graph tokenization. Received: {kind!r}")


def _check_bert_normalization(config):
    normalizer = config.get("normalizer") or {}
    pre_tokenizer = config.get("pre_tokenizer") or {}
    if normalizer.get("type") != "BertNormalizer" or pre_tokenizer.get("type") != "BertPreTokenizer":
        raise ValueError(
            "In-graph WordPiece tokenization supports the BERT normalizer and pre-tokenizer. Received: "
            f"normalizer={normalizer.get('type')!r}, pre_tokenizer={pre_tokenizer.get('type')!r}"
        )
    lowercase = bool(normalizer.get("lowercase", True))
    strip_accents = normalizer.get("strip_accents")
    return {
        "lowercase": lowercase,
        "strip_accents": lowercase if strip_accents is None else bool(strip_accents),
        "split_on_cjk": bool(normalizer.get("handle_chinese_chars", True)),
    }


class InGraphTokenizer(tf.Module):
    """Tokenizes a batch of strings in-graph, as the Hugging Face tokenizer does.

    Args:
        tokenizer: a `tokenizers.Tokenizer`, a `transformers` fast tokenizer,
            or the path of a `tokenizer.json` (or of its directory).
        max_length: int, output length (truncate and pad). Default: the
            tokenizer's truncation `max_length`, else 512.

    Call:
        texts: string tensor `(batch,)`.

    Returns:
        dict of int32 tensors `(batch, max_length)`: `input_ids`,
        `attention_mask`, `token_type_ids` (zeros).

    Raises:
        ValueError: a tokenizer model other than WordPiece with the BERT
            normalizer, or `max_length` too small for the special tokens.
    """

    def __init__(self, tokenizer, max_length=None, name=None):
        super().__init__(name=name)
        import keras_hub  # noqa: F401  (registers the tensorflow-text ops as well)

        config = read_tokenizer_json(tokenizer)
        model = config.get("model") or {}
        if model.get("type") != "WordPiece":
            raise ValueError(
                "In-graph tokenization supports WordPiece tokenizers (BERT family) so far. "
                f"Received: model type {model.get('type')!r}"
            )
        self.normalization = _check_bert_normalization(config)
        vocab = model["vocab"]
        vocabulary = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
        truncation = config.get("truncation") or {}
        self.max_length = int(max_length or truncation.get("max_length") or 512)
        self.start_ids, self.end_ids = _special_tokens(config.get("post_processor"), vocab)
        if self.max_length <= len(self.start_ids) + len(self.end_ids):
            raise ValueError(f"max_length must leave room for text after the special tokens. "
                             f"Received: max_length={self.max_length}")
        padding = config.get("padding") or {}
        self.pad_id = int(padding.get("pad_id", vocab.get("[PAD]", 0)))
        self.word_piece = keras_hub.tokenizers.WordPieceTokenizer(
            vocabulary=vocabulary,
            suffix_indicator=model.get("continuing_subword_prefix", "##"),
            oov_token=model.get("unk_token", "[UNK]"),
            lowercase=False,  # done in `normalize` (KerasHub case-folds with NFKC, Hugging Face does not)
            strip_accents=False,
            split_on_cjk=self.normalization["split_on_cjk"],
            dtype="int32",
        )

    def normalize(self, texts):
        """Hugging Face's `BertNormalizer` on a string tensor, minus the CJK spacing.

        Control and format characters are deleted (not split on), whitespace
        becomes a space, accents are stripped after NFD, then the text is
        lowercased without compatibility folding (so "ß" and full-width
        letters stay as they are, as in Hugging Face). CJK characters are
        split off by the WordPiece pre-tokenizer.
        """
        import tensorflow_text as tf_text

        texts = tf.strings.regex_replace(texts, r"[\t\n\r]", " ")
        texts = tf.strings.regex_replace(texts, r"[\p{Cc}\p{Cf}\p{Co}\x{FFFD}]", "")
        texts = tf.strings.regex_replace(texts, r"\p{Z}", " ")
        if self.normalization["strip_accents"]:
            texts = tf.strings.regex_replace(tf_text.normalize_utf8(texts, "NFD"), r"\p{Mn}", "")
        if self.normalization["lowercase"]:
            texts = tf.strings.lower(texts, encoding="utf-8")
        return texts

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def __call__(self, texts):
        pieces = self.word_piece.tokenize(self.normalize(texts))  # ragged (batch, None)
        budget = self.max_length - len(self.start_ids) - len(self.end_ids)
        pieces = pieces[:, :budget]
        batch = tf.shape(texts)[0]
        parts = [tf.RaggedTensor.from_tensor(tf.fill([batch, len(ids)], 0) + tf.constant(ids, tf.int32))
                 for ids in (self.start_ids,) if ids]
        parts.append(tf.cast(pieces, tf.int32))
        if self.end_ids:
            parts.append(tf.RaggedTensor.from_tensor(tf.fill([batch, len(self.end_ids)], 0)
                                                     + tf.constant(self.end_ids, tf.int32)))
        ids = tf.concat(parts, axis=1)
        shape = [None, self.max_length]
        input_ids = ids.to_tensor(default_value=self.pad_id, shape=shape)
        attention_mask = tf.ones_like(ids).to_tensor(default_value=0, shape=shape)
        return {"input_ids": input_ids, "attention_mask": attention_mask,
                "token_type_ids": tf.zeros_like(input_ids)}
