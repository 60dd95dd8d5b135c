"""In-graph detokenization: token ids back to text, as the Hugging Face tokenizer decodes them.

`InGraphDetokenizer` rebuilds the decode path of a `tokenizer.json` from
TensorFlow ops:

    int32 ids (batch, seq_len) -> string text (batch,)

equal to `tokenizers.Tokenizer.decode(ids, skip_special_tokens=True)`, and
to `transformers`' `tokenizer.decode(ids, skip_special_tokens=True)` (the
pinned 5.x, which applies its `clean_up_tokenization` replacements after
the `tokenizers` decoder when the checkpoint's `tokenizer_config.json` sets
`clean_up_tokenization_spaces`, except for BPE models; its default is off).

Steps, as `tokenizers` runs them: ids become tokens (`id_to_token`; unknown
ids are dropped), special added tokens are dropped, then the decoder:

- `WordPiece` (BERT): a token starting with `##` joins the previous one,
  any other gets a space before it; with `cleanup`, each token loses the
  space before `.`, `?`, `!`, `,` (and the other `tokenizers` cleanup
  replacements);
- `ByteLevel` (GPT-2, RoBERTa, BART): each token's symbols map back to
  bytes (a token with symbols outside the byte alphabet, such as an added
  token, keeps its own UTF-8 bytes) and the bytes are read as UTF-8, with
  U+FFFD for each maximal invalid subsequence (Rust's `from_utf8_lossy`);
- `Metaspace` (SentencePiece: T5, ALBERT, XLM-R, ...): `▁` becomes a space,
  and in the first token it is removed (unless `prepend_scheme="never"`);
- a `Sequence` of these; no decoder: the tokens joined with spaces.

Other decoders (`ByteFallback`, `Fuse`, `Strip`, `Replace`, `CTC`, `BPEDecoder`)
are refused with a `ValueError` naming them.

Reference: Hugging Face `tokenizers` (decoders, `TokenizerImpl::decode`),
`transformers` `TokenizersBackend._decode`.
"""

import json
import re

import tensorflow as tf

from tfmodels.export.tokenizer import InGraphTokenizer, read_tokenizer_json
from tfmodels.export.tokenizer import clean_up_tokenization_spaces as _default_clean_up

# `transformers`' `clean_up_tokenization`, in its order.
_CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
            (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))
# The `tokenizers` WordPiece decoder's `cleanup`, in its order (it also has " do not" -> " don't").
_WORDPIECE_CLEANUP = _CLEANUP[:7] + ((" do not", " don't"),) + _CLEANUP[7:]


def _replace_all(texts, replacements):
    """Python's chained `str.replace` (non-overlapping, left to right) on a string tensor."""
    for old, new in replacements:
        texts = tf.strings.regex_replace(texts, re.escape(old), new.replace("\\", "\\\\"))
    return texts


def _positions(tokens):
    """Each token's index in its row, ragged int32 like `tokens`."""
    return tf.ragged.range(tf.cast(tokens.row_lengths(), tf.int32))


class _WordPieceDecoder:
    def __init__(self, step):
        self.prefix, self.cleanup = step.get("prefix", "##"), bool(step.get("cleanup", True))

    def __call__(self, tokens):
        flat, first = tokens.flat_values, _positions(tokens).flat_values == 0
        joins = tf.strings.regex_full_match(flat, f"(?s){re.escape(self.prefix)}.*")
        stripped = tf.strings.regex_replace(flat, f"^{re.escape(self.prefix)}", "", replace_global=False)
        flat = tf.where(first, flat, tf.where(joins, stripped, tf.strings.join([" ", flat])))
        if self.cleanup:
            flat = _replace_all(flat, _WORDPIECE_CLEANUP)
        return tokens.with_flat_values(flat)


class _ByteLevelDecoder:
    def __init__(self, step):
        from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

        byte_values, symbols = bytes_to_unicode()  # GPT-2's byte <-> symbol table
        size = max(ord(symbol) for symbol in symbols) + 1
        table = [-1] * size
        for value, symbol in zip(byte_values, symbols):
            table[ord(symbol)] = value[0]  # value: a one-byte `bytes`
        self.size = size
        self.byte_of_codepoint = tf.constant(table + [-1], tf.int32)  # the last entry: outside the table
        self.byte_strings = tf.constant([bytes([value]) for value in range(256)])

    def __call__(self, tokens):
        flat = tokens.flat_values
        codepoints = tf.strings.unicode_decode(flat, "UTF-8")  # (tokens, chars)
        values = tf.gather(self.byte_of_codepoint, tf.minimum(codepoints, self.size))
        mapped = tf.reduce_all(values >= 0, axis=1)  # (tokens,): every symbol is a byte symbol
        as_bytes = tf.strings.reduce_join(tf.gather(self.byte_strings, tf.maximum(values, 0)), axis=1)
        joined = tf.strings.reduce_join(tokens.with_flat_values(tf.where(mapped, as_bytes, flat)), axis=1)
        text = tf.strings.unicode_transcode(joined, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        return tf.RaggedTensor.from_tensor(text[:, None])  # one token per row, as `tokenizers` returns


class _MetaspaceDecoder:
    def __init__(self, step):
        self.replacement = step.get("replacement", "\u2581")
        scheme = step.get("prepend_scheme")
        if scheme is None:  # older tokenizer.json files
            scheme = "always" if step.get("add_prefix_space", True) else "never"
        self.strip_first = scheme != "never"

    def __call__(self, tokens):
        flat = tokens.flat_values
        pattern = re.escape(self.replacement)
        spaced = tf.strings.regex_replace(flat, pattern, " ")
        if self.strip_first:
            first = _positions(tokens).flat_values == 0
            spaced = tf.where(first, tf.strings.regex_replace(flat, pattern, ""), spaced)
        return tokens.with_flat_values(spaced)


_DECODERS = {"WordPiece": _WordPieceDecoder, "ByteLevel": _ByteLevelDecoder, "Metaspace": _MetaspaceDecoder}


def _decoder_steps(config):
    if config is None:
        return None
    steps = config["decoders"] if config.get("type") == "Sequence" else [config]
    unsupported = [step.get("type") for step in steps if step.get("type") not in _DECODERS]
    if unsupported:
        raise ValueError(f"In-graph detokenization supports the WordPiece, ByteLevel and Metaspace decoders. "
                         f"Received: {unsupported}")
    return [_DECODERS[step["type"]](step) for step in steps]


class InGraphDetokenizer(tf.Module):
    """Decodes token ids to text in-graph, as `tokenizer.decode(ids, skip_special_tokens=True)` does.

    Supported: the WordPiece, ByteLevel and Metaspace decoders (BERT family;
    GPT-2, RoBERTa, BART; T5, ALBERT, XLM-R and the other SentencePiece
    Unigram tokenizers); see the module docstring.

    Args:
        tokenizer: a `tokenizers.Tokenizer`, a `transformers` fast tokenizer,
            the path of a `tokenizer.json` (or of its directory), or an
            `InGraphTokenizer` (its `tokenizer.json`).
        skip_special_tokens: bool, drop the special added tokens (`[CLS]`,
            `</s>`, `<pad>`, ...). Default True.
        clean_up_tokenization_spaces: bool, apply `transformers`'
            `clean_up_tokenization` after the decoder. Default: as
            `transformers` decides (`tfmodels.export.tokenizer.clean_up_tokenization_spaces`).

    Call:
        input_ids: int32 tensor `(batch, seq_len)`.

    Returns:
        `{"text": string tensor (batch,)}`, UTF-8 (`decode` returns the tensor).

    Raises:
        ValueError: a decoder that cannot run in-graph (named in the message).
    """

    def __init__(self, tokenizer, skip_special_tokens=True, clean_up_tokenization_spaces=None, name=None):
        super().__init__(name=name)
        import tokenizers

        if isinstance(tokenizer, InGraphTokenizer):
            config = json.loads(tokenizer.tokenizer_json)
            default_clean_up = tokenizer.clean_up_tokenization_spaces
        else:
            config = read_tokenizer_json(tokenizer)
            default_clean_up = _default_clean_up(tokenizer, config)
        self.steps = _decoder_steps(config.get("decoder"))
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = default_clean_up
        self.clean_up_tokenization_spaces = bool(clean_up_tokenization_spaces)
        reference = tokenizers.Tokenizer.from_str(json.dumps(config))
        size = reference.get_vocab_size(with_added_tokens=True)
        size = max([size] + [token["id"] + 1 for token in config.get("added_tokens") or []])
        tokens = [reference.id_to_token(index) for index in range(size)]
        special = {token["content"] for token in config.get("added_tokens") or [] if token.get("special")}
        keep = [token is not None and not (skip_special_tokens and token in special) for token in tokens]
        self.vocab_size = size
        self.tokens = tf.constant([token or "" for token in tokens])
        self.keep = tf.constant(keep + [False])  # the last entry: ids outside the vocabulary

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="input_ids")])
    def __call__(self, input_ids):
        return {"text": self.decode(input_ids)}

    def decode(self, input_ids, mask=None):
        """`__call__` in the caller's graph; positions where the optional boolean `mask (batch, seq_len)`
        is False (padding) are left out."""
        input_ids = tf.convert_to_tensor(input_ids, tf.int32)
        valid = (input_ids >= 0) & (input_ids < self.vocab_size)
        index = tf.where(valid, input_ids, self.vocab_size)
        keep = tf.gather(self.keep, index)
        if mask is not None:
            keep &= tf.cast(mask, tf.bool)
        tokens = tf.ragged.boolean_mask(tf.gather(self.tokens, tf.minimum(index, self.vocab_size - 1)), keep)
        if self.steps is None:
            text = tf.strings.reduce_join(tokens, axis=1, separator=" ")
        else:
            for step in self.steps:
                tokens = step(tokens)
            text = tf.strings.reduce_join(tokens, axis=1)
        if self.clean_up_tokenization_spaces:
            text = _replace_all(text, _CLEANUP)
        return text
