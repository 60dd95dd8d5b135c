"""The stages of a `tokenizer.json` pipeline as TensorFlow ops, for `InGraphTokenizer`.

Each Hugging Face `tokenizers` stage (added tokens, normalizer,
pre-tokenizer, model) maps onto TF / TF Text ops that give the same result,
or is refused with a `ValueError` naming it. The tokenizer algorithms are the
libraries' own: KerasHub's `WordPieceTokenizer` and `BytePairTokenizer`
(GPT-2 byte-level BPE), and SentencePiece (through `tensorflow-text`'s
`SentencepieceTokenizer`) for Unigram, with a model proto built from the
`tokenizer.json` pieces and scores by the `sentencepiece` package.

References:
    Hugging Face `tokenizers` (normalizers, pre_tokenizers, models);
    Kudo & Richardson, 2018, "SentencePiece" (https://arxiv.org/abs/1808.06226);
    Radford et al., 2019, GPT-2 byte-level BPE (https://github.com/openai/gpt-2/blob/master/src/encoder.py).
"""

import base64
import json
import re
import uuid

import tensorflow as tf

# Rust `char::is_whitespace` (Unicode White_Space), which `tokenizers` uses; RE2's `\s` is ASCII only.
WHITESPACE = r"[\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]"
METASPACE = "\u2581"

# `Replace` regexes whose RE2 form matches the Oniguruma one `tokenizers` runs.
_REGEXES = {" {2,}": " {2,}", r"\s+": WHITESPACE + "+", r"\A +| +\z": r"\A +| +\z", r"\A▁": r"\A▁"}


def regex_split(texts, pattern, keep=False):
    """Splits strings `(n,)` at the matches of `pattern` (kept as pieces with `keep`); ragged `(n, None)`
    without empty pieces. Unlike `tf_text.regex_split`, passes NUL characters through: it marks the cuts
    with byte 0xFF, which UTF-8 text never contains."""
    pieces = tf.strings.split(tf.strings.regex_replace(texts, f"({pattern})", b"\xff\\1\xff" if keep else b"\xff"),
                              sep=b"\xff")
    return tf.ragged.boolean_mask(pieces, pieces != "")


def _sentencepiece(proto, out_type):
    """`tf_text.SentencepieceTokenizer` for a model proto. Its kernel-owned resource is shared by node name,
    so each gets a unique name: otherwise a loaded SavedModel's tokenizers would all run one model."""
    name = f"sentencepiece_{uuid.uuid4().hex[:16]}"
    return _tf_text().SentencepieceTokenizer(model=proto.SerializeToString(), out_type=out_type, name=name)


def _tf_text():
    import tensorflow_text as tf_text

    return tf_text


def _spm_proto():
    from sentencepiece import sentencepiece_model_pb2

    return sentencepiece_model_pb2


# --------------------------------------------------------------------------------------------- normalizers


def _flatten(step, key):
    if not step:
        return []
    if step.get("type") == "Sequence":
        return [inner for item in step[key] for inner in _flatten(item, key)]
    return [step]


class _Precompiled(tf.Module):
    """SentencePiece's own normalization with a precompiled charsmap, on strings.

    `tensorflow-text` does not expose SentencePiece's normalizer, so this runs
    a SentencePiece model with one piece and the charsmap over the text and
    joins the pieces it returns: SentencePiece returns the normalized surface
    of every piece, unknown ones included, so the join is the normalized text.
    """

    def __init__(self, charsmap):
        super().__init__()
        pb = _spm_proto()
        proto = pb.ModelProto()
        proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
        proto.trainer_spec.unk_id, proto.trainer_spec.bos_id, proto.trainer_spec.eos_id = 0, -1, -1
        proto.trainer_spec.pad_id = -1
        for piece, kind in (("<unk>", pb.ModelProto.SentencePiece.UNKNOWN),
                            (METASPACE, pb.ModelProto.SentencePiece.NORMAL)):
            proto.pieces.add(piece=piece, type=kind, score=0.0)
        proto.normalizer_spec.name = "precompiled"
        proto.normalizer_spec.precompiled_charsmap = charsmap
        proto.normalizer_spec.add_dummy_prefix = False
        proto.normalizer_spec.remove_extra_whitespaces = False
        proto.normalizer_spec.escape_whitespaces = False
        self.sentencepiece = _sentencepiece(proto, tf.string)

    def __call__(self, texts):
        return tf.strings.reduce_join(self.sentencepiece.tokenize(texts), axis=-1)


def _lowercase(texts):
    """`tf.strings.lower` (Unicode), which stops at a NUL character: lowercases the text between NULs."""
    pieces = tf.strings.lower(tf.strings.split(texts, sep="\x00"), encoding="utf-8")
    joined = tf.strings.reduce_join(tf.strings.join([pieces, tf.constant("\x00")]), axis=-1)  # a NUL after each
    length = tf.strings.length(joined)
    return tf.strings.substr(joined, tf.zeros_like(length), length - 1)


def _replace(step):
    pattern = step["pattern"]
    content = step["content"].replace("\\", "\\\\")
    if "String" in pattern:
        regex = re.escape(pattern["String"])
    elif pattern.get("Regex") in _REGEXES:
        regex = _REGEXES[pattern["Regex"]]
    else:
        raise ValueError(f"In-graph tokenization supports Replace normalizers with a literal pattern or one of "
                         f"{sorted(_REGEXES)}. Received: Replace pattern {pattern!r}")
    return lambda texts: tf.strings.regex_replace(texts, regex, content)


def _strip(step):
    left = f"^{WHITESPACE}+" if step.get("strip_left", True) else None
    right = f"{WHITESPACE}+$" if step.get("strip_right", True) else None
    pattern = "|".join(p for p in (left, right) if p)
    return lambda texts: tf.strings.regex_replace(texts, pattern, "") if pattern else texts


def _normalizer_step(step):
    kind = step.get("type")
    if kind in ("NFC", "NFD", "NFKC", "NFKD"):
        return lambda texts: _tf_text().normalize_utf8(texts, kind)
    if kind == "Lowercase":
        return _lowercase
    if kind == "StripAccents":  # `tokenizers` removes every combining mark (Mn, Mc, Me)
        return lambda texts: tf.strings.regex_replace(texts, r"\p{M}", "")
    if kind == "Replace":
        return _replace(step)
    if kind == "Strip":
        return _strip(step)
    if kind == "Prepend":
        prefix = step["prepend"]
        return lambda texts: tf.where(texts == "", texts, tf.strings.join([prefix, texts]))
    if kind == "Precompiled":
        return _Precompiled(base64.b64decode(step["precompiled_charsmap"]))
    raise ValueError(f"The {kind!r} normalizer cannot be reproduced exactly in-graph; export without "
                     "`tokenizer=` and tokenize on the client.")


class Normalizer(tf.Module):
    """The `tokenizer.json` normalizer as a function on string tensors (None: identity).

    Supported: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Prepend,
    Precompiled (SentencePiece charsmaps), Replace (literal patterns and the
    regexes the `transformers` converters use), and Sequences of them.

    Raises:
        ValueError: any other normalizer (named in the message).
    """

    def __init__(self, config):
        super().__init__()
        self.steps = [_normalizer_step(step) for step in _flatten(config, "normalizers")]
        self.resources = [step for step in self.steps if isinstance(step, tf.Module)]  # tracked for SavedModel

    def __call__(self, texts):
        for step in self.steps:
            texts = step(texts)
        return texts


# --------------------------------------------------------------------------------------------- added tokens


class AddedTokens(tf.Module):
    """Splits the added tokens (special tokens such as `</s>`, `<mask>`) out of raw text, as `tokenizers` does
    before normalization, honouring their `lstrip`/`rstrip` flags.

    Raises:
        ValueError: an added token with `single_word=True`, or with
            `normalized=True` under a normalizer (matched on normalized text).
    """

    def __init__(self, config):
        super().__init__()
        tokens = config.get("added_tokens") or []
        for token in tokens:
            if token.get("single_word"):
                raise ValueError(f"Added tokens with single_word=True are not supported in-graph. "
                                 f"Received: {token['content']!r}")
            if token.get("normalized") and config.get("normalizer"):
                raise ValueError(f"Added tokens matched after normalization (normalized=True) are not supported "
                                 f"in-graph with a normalizer. Received: {token['content']!r}")
        tokens = sorted(tokens, key=lambda token: -len(token["content"]))  # longest match first
        self.pattern = "|".join((f"{WHITESPACE}*" if t.get("lstrip") else "") + re.escape(t["content"])
                                + (f"{WHITESPACE}*" if t.get("rstrip") else "") for t in tokens)
        self.ids = {t["content"].strip(): t["id"] for t in tokens}
        if self.ids:
            self.table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(list(self.ids), list(self.ids.values()), tf.string, tf.int32), -1)

    def __call__(self, texts, encode):
        """`encode(segments (n,) string) -> ragged int32 (n, None)` on the text between added tokens;
        returns ragged int32 ids `(batch, None)`."""
        if not self.ids:
            return encode(texts)
        segments = regex_split(texts, self.pattern, keep=True)  # (batch, segments)
        flat = segments.flat_values
        added = tf.strings.regex_full_match(flat, self.pattern)
        key = tf.strings.regex_replace(flat, f"^{WHITESPACE}+|{WHITESPACE}+$", "")
        special = tf.RaggedTensor.from_row_lengths(tf.boolean_mask(self.table.lookup(key), added),
                                                   tf.cast(added, tf.int64))  # (segments, 0 or 1)
        text_ids = encode(tf.where(added, "", flat))  # (segments, None)
        per_segment = tf.concat([special, text_ids], axis=1)
        return tf.RaggedTensor.from_row_splits(per_segment.flat_values,
                                               tf.gather(per_segment.row_splits, segments.row_splits))


# --------------------------------------------------------------------------------------------- pre-tokenizers


def _metaspace_settings(step):
    if step.get("replacement", METASPACE) != METASPACE:
        raise ValueError(f"Metaspace pre-tokenizers with replacement {METASPACE!r} are supported in-graph. "
                         f"Received: {step.get('replacement')!r}")
    scheme = step.get("prepend_scheme")
    if scheme is None:  # older tokenizer.json files
        scheme = "always" if step.get("add_prefix_space", True) else "never"
    if scheme not in ("always", "never"):
        raise ValueError("Metaspace pre-tokenizers with prepend_scheme 'always' or 'never' are supported in-graph "
                         f"(prepend_scheme 'first' depends on offsets in the original text). Received: {scheme!r}")
    return scheme == "always", bool(step.get("split", True))


def build_word_splitter(config):
    """`fn(texts (n,)) -> ragged string words (n, None)`: the `tokenizer.json` pre-tokenizer of a
    SentencePiece-style tokenizer (WhitespaceSplit, Metaspace, or a Sequence of them; None: the whole text).

    Raises:
        ValueError: any other pre-tokenizer, or Metaspace with `prepend_scheme="first"`.
    """
    steps = []
    for step in _flatten(config, "pretokenizers"):
        kind = step.get("type")
        if kind == "WhitespaceSplit":
            steps.append(lambda words: regex_split(words, WHITESPACE + "+"))
        elif kind == "Metaspace":
            prepend, split = _metaspace_settings(step)

            def metaspace(words, prepend=prepend, split=split):
                words = tf.strings.regex_replace(words, " ", METASPACE)
                if prepend:
                    words = tf.where(tf.strings.regex_full_match(words, f"{METASPACE}.*|"), words,
                                     tf.strings.join([METASPACE, words]))
                if split:  # split before every metaspace, keeping it with the next piece
                    return regex_split(words, f"{METASPACE}[^{METASPACE}]*", keep=True)
                return tf.RaggedTensor.from_tensor(words[:, None])

            steps.append(metaspace)
        else:
            raise ValueError(f"The {kind!r} pre-tokenizer is not supported in-graph for Unigram tokenizers. "
                             "Supported: WhitespaceSplit, Metaspace.")

    def split(texts):
        words = tf.RaggedTensor.from_tensor(texts[:, None])
        for step in steps:
            inner = step(words.flat_values)
            words = tf.RaggedTensor.from_row_splits(inner.flat_values, tf.gather(inner.row_splits, words.row_splits))
        return tf.ragged.boolean_mask(words, words != "")

    return split


# --------------------------------------------------------------------------------------------- models


class WordPieceModel(tf.Module):
    """`WordPiece` with the BERT normalizer and pre-tokenizer, through KerasHub's `WordPieceTokenizer`."""

    def __init__(self, config):
        super().__init__()
        import keras_hub

        normalizer = config.get("normalizer") or {}
        pre_tokenizer = config.get("pre_tokenizer") or {}
        if normalizer.get("type") != "BertNormalizer" or pre_tokenizer.get("type") != "BertPreTokenizer":
            raise ValueError(
                "In-graph WordPiece tokenization supports the BERT normalizer and pre-tokenizer. Received: "
                f"normalizer={normalizer.get('type')!r}, pre_tokenizer={pre_tokenizer.get('type')!r}"
            )
        lowercase = bool(normalizer.get("lowercase", True))
        strip_accents = normalizer.get("strip_accents")
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else bool(strip_accents)
        model = config["model"]
        self.vocab = model["vocab"]
        self.word_piece = keras_hub.tokenizers.WordPieceTokenizer(
            vocabulary=[token for token, _ in sorted(self.vocab.items(), key=lambda item: item[1])],
            suffix_indicator=model.get("continuing_subword_prefix", "##"),
            oov_token=model.get("unk_token", "[UNK]"),
            lowercase=False,  # done in `normalize` (KerasHub case-folds with NFKC, Hugging Face does not)
            strip_accents=False,
            split_on_cjk=bool(normalizer.get("handle_chinese_chars", True)),
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
        texts = tf.strings.regex_replace(texts, r"[\t\n\r]", " ")
        texts = tf.strings.regex_replace(texts, r"[\p{Cc}\p{Cf}\p{Co}\x{FFFD}]", "")
        texts = tf.strings.regex_replace(texts, r"\p{Z}", " ")
        if self.strip_accents:
            texts = tf.strings.regex_replace(_tf_text().normalize_utf8(texts, "NFD"), r"\p{Mn}", "")
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        return texts

    def __call__(self, texts):
        return tf.cast(self.word_piece.tokenize(self.normalize(texts)), tf.int32)


# CLIP's pre-tokenizer (`transformers`' CLIPConverter): a `Split` keeping these matches, dropping the rest.
_CLIP_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _clip_split(pre_tokenizer):
    """True for CLIP's `Sequence([Split(_CLIP_SPLIT, removed, invert), ByteLevel])` pre-tokenizer."""
    steps = _flatten(pre_tokenizer, "pretokenizers")
    if [step.get("type") for step in steps] != ["Split", "ByteLevel"]:
        return False
    split = steps[0]
    return (split.get("pattern") == {"Regex": _CLIP_SPLIT} and split.get("behavior") == "Removed"
            and split.get("invert") is True and not steps[1].get("add_prefix_space"))


class ByteLevelBPEModel(tf.Module):
    """Byte-level `BPE`, through KerasHub's `BytePairTokenizer` (or `CLIPTokenizer`).

    - GPT-2 layout (GPT-2, RoBERTa, BART, ...): the `ByteLevel` pre-tokenizer
      with the GPT-2 regex (`use_regex`), no continuing-subword prefix or
      end-of-word suffix;
    - CLIP layout: CLIP's `Split` then `ByteLevel`, `end_of_word_suffix="</w>"`
      (each word goes to KerasHub's `CLIPTokenizer` on its own, on which
      KerasHub's GPT-2 split is the identity).

    No byte fallback, dropout or `ignore_merges`. KerasHub's GPT-2 split marks
    spaces with U+096C and cannot pass NUL characters through TF's regex ops:
    texts containing either are refused at run time (`InvalidArgumentError`)
    rather than tokenized differently.
    """

    def __init__(self, config):
        super().__init__()
        import keras_hub

        model = config["model"]
        pre_tokenizer = config.get("pre_tokenizer") or {}
        self.clip = _clip_split(pre_tokenizer) and model.get("end_of_word_suffix") == "</w>"
        gpt2 = pre_tokenizer.get("type") == "ByteLevel" and pre_tokenizer.get("use_regex", True)
        if not (gpt2 or self.clip):
            raise ValueError("In-graph BPE tokenization supports byte-level BPE with the GPT-2 split (the ByteLevel "
                             "pre-tokenizer with use_regex=True) or CLIP's split. Received: pre_tokenizer "
                             f"{json.dumps(pre_tokenizer)[:300]}")
        unsupported = {key: model.get(key) for key in ("continuing_subword_prefix", "end_of_word_suffix", "dropout")
                       if model.get(key) and not (self.clip and key == "end_of_word_suffix")}
        unsupported.update({key: True for key in ("byte_fallback", "ignore_merges") if model.get(key)})
        if unsupported:
            raise ValueError(f"In-graph BPE tokenization does not support BPE models with {unsupported}.")
        merges = [" ".join(m) if isinstance(m, (list, tuple)) else m for m in model["merges"]]
        if any(" " in token for token in model["vocab"]) or any(m.count(" ") != 1 for m in merges):
            raise ValueError("In-graph BPE tokenization needs a byte-level vocabulary (no spaces in tokens).")
        from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

        symbols = bytes_to_unicode()[1]  # KerasHub's byte -> unicode table, as GPT-2's encoder.py
        symbols += [symbol + "</w>" for symbol in symbols] if self.clip else []
        missing = [symbol for symbol in symbols if symbol not in model["vocab"]]
        if missing:  # `tokenizers` would give <unk> or drop them, KerasHub -1
            raise ValueError(f"In-graph byte-level BPE needs every byte symbol in the vocabulary; missing {missing[:8]}")
        self.add_prefix_space = bool(pre_tokenizer.get("add_prefix_space", False))
        self.normalize = Normalizer(config.get("normalizer"))
        if self.clip:
            missing = {"<|startoftext|>", "<|endoftext|>"} - set(model["vocab"])
            if missing:
                raise ValueError(f"In-graph CLIP tokenization needs {sorted(missing)} in the vocabulary.")
            self.bpe = keras_hub.tokenizers.CLIPTokenizer(vocabulary=model["vocab"], merges=merges, dtype="int32")
        else:
            self.bpe = keras_hub.tokenizers.BytePairTokenizer(vocabulary=model["vocab"], merges=merges,
                                                              unsplittable_tokens=[], dtype="int32")

    def __call__(self, texts):
        texts = self.normalize(texts)
        codepoints = tf.strings.unicode_decode(texts, "UTF-8").flat_values
        tf.debugging.assert_equal(
            tf.reduce_any((codepoints == 0) | (codepoints == 0x96C)), False,
            message="In-graph byte-level BPE cannot tokenize texts containing NUL or U+096C (DEVANAGARI DIGIT SIX) "
                    "exactly; tokenize those on the client.")
        if self.clip:
            pattern = _CLIP_SPLIT.replace(r"\s", WHITESPACE[1:-1])
            words = regex_split(texts, pattern, keep=True)  # (n, words); the text between matches is removed
            words = tf.ragged.boolean_mask(words, tf.strings.regex_full_match(words, pattern))
            ids = self.bpe.tokenize(words.flat_values)  # (words, pieces), "</w>" on each word's last piece
            return tf.RaggedTensor.from_row_splits(tf.cast(ids.flat_values, tf.int32),
                                                   tf.gather(ids.row_splits, words.row_splits))
        if self.add_prefix_space:  # `tokenizers` adds it to each text between added tokens that has none
            texts = tf.where(tf.strings.regex_full_match(texts, "(?s) .*|"), texts, tf.strings.join([" ", texts]))
        ids = self.bpe.tokenize(texts)
        return tf.cast(ids, tf.int32)


class UnigramModel(tf.Module):
    """`Unigram` (T5, ALBERT, XLNet, XLM-R, CamemBERT, mBART, Pegasus, Marian, ...), through SentencePiece.

    The `tokenizer.json` pieces and scores become a SentencePiece model proto
    (`sentencepiece_model_pb2`) with no normalization of its own, which
    `tensorflow-text` runs on each pre-tokenized word (SentencePiece's
    Viterbi search is the algorithm `tokenizers` ports). The normalizer and
    pre-tokenizer run before it as TF ops (`Normalizer`,
    `build_word_splitter`).
    """

    def __init__(self, config):
        super().__init__()
        model = config["model"]
        pb = _spm_proto()
        proto = pb.ModelProto()
        proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
        unk_id = model.get("unk_id")
        if unk_id is None:
            raise ValueError("In-graph Unigram tokenization needs a tokenizer with an unk_id.")
        specials = {t["id"] for t in config.get("added_tokens") or [] if t.get("special")} - {unk_id}
        byte_fallback = bool(model.get("byte_fallback"))
        proto.trainer_spec.unk_id, proto.trainer_spec.bos_id, proto.trainer_spec.eos_id = unk_id, -1, -1
        proto.trainer_spec.pad_id = -1
        proto.trainer_spec.byte_fallback = byte_fallback
        kinds = pb.ModelProto.SentencePiece
        last = {piece: index for index, (piece, _) in enumerate(model["vocab"])}
        for index, (piece, score) in enumerate(model["vocab"]):
            if last[piece] != index:  # `tokenizers` matches the last id of a repeated piece (CamemBERT's <unk>)
                piece = f"<unreachable duplicate {index}>"
            if index == unk_id:
                kind = kinds.UNKNOWN
            elif index in specials or piece.startswith("<unreachable duplicate "):
                kind = kinds.CONTROL  # `tokenizers` splits added tokens out before the model sees the text
            elif byte_fallback and re.fullmatch(r"<0x[0-9A-F]{2}>", piece):
                kind = kinds.BYTE
            else:
                kind = kinds.NORMAL
            proto.pieces.add(piece=piece, score=score, type=kind)
        proto.normalizer_spec.name = "identity"
        proto.normalizer_spec.add_dummy_prefix = False
        proto.normalizer_spec.remove_extra_whitespaces = False
        proto.normalizer_spec.escape_whitespaces = False
        self.normalize = Normalizer(config.get("normalizer"))
        self.split = build_word_splitter(config.get("pre_tokenizer"))
        self.sentencepiece = _sentencepiece(proto, tf.int32)

    def __call__(self, texts):
        words = self.split(self.normalize(texts))  # (n, words)
        ids = self.sentencepiece.tokenize(words.flat_values)  # (words, pieces)
        return tf.RaggedTensor.from_row_splits(ids.flat_values, tf.gather(ids.row_splits, words.row_splits))


MODELS = {"WordPiece": WordPieceModel, "BPE": ByteLevelBPEModel, "Unigram": UnigramModel}
