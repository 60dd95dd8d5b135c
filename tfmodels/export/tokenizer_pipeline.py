"""The stages of a `tokenizer.json` pipeline around the model, as TensorFlow ops, for `InGraphTokenizer`.

Each Hugging Face `tokenizers` stage (added tokens, normalizer,
pre-tokenizer) maps onto TF / TF Text ops that give the same result, or is
refused with a `ValueError` naming it. SentencePiece `Precompiled` charsmaps
run in SentencePiece itself (`tensorflow-text`). The models are in
`tfmodels.export.tokenizer_models`.

References:
    Hugging Face `tokenizers` (normalizers, pre_tokenizers, models);
    Kudo & Richardson, 2018, "SentencePiece" (https://arxiv.org/abs/1808.06226);
    Radford et al., 2019, GPT-2 byte-level BPE (https://github.com/openai/gpt-2/blob/master/src/encoder.py).
"""

import base64
import functools
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


def sentencepiece_tokenizer(proto, out_type):
    """`tf_text.SentencepieceTokenizer` for a model proto, with its model resource under a unique
    `shared_name`. `tensorflow-text` makes it kernel-owned (private to the kernel of its creating op), and
    TF's eager kernel cache, which `tf.random.set_seed` (`keras.utils.set_random_seed`) clears, then took
    the model with it: a tokenizer made before a seed was set failed with "Resource ... does not exist".
    A named resource stays in the resource manager; the name is unique per tokenizer, or a loaded
    SavedModel's tokenizers would all run one model."""
    name = f"sentencepiece_{uuid.uuid4().hex[:16]}"
    tokenizer = tf_text().SentencepieceTokenizer(model=proto.SerializeToString(), out_type=out_type, name=name)
    tokenizer._model_resource = _named_model_resource()(proto.SerializeToString(), name)
    return tokenizer


@functools.lru_cache(maxsize=None)
def _named_model_resource():
    """`tensorflow-text`'s SentencePiece model resource, created with `shared_name` set to its name."""
    from tensorflow_text.python.ops import sentencepiece_tokenizer as ops

    class NamedModelResource(ops._SentencepieceModelResource):
        def _create_resource(self):
            with tf.name_scope(self._name):
                return ops.gen_sentencepiece_tokenizer.sentencepiece_op(model=self._model, shared_name=self._name)

    return NamedModelResource


def tf_text():
    import tensorflow_text as tf_text

    return tf_text


def spm_proto():
    from sentencepiece import sentencepiece_model_pb2

    return sentencepiece_model_pb2


# --------------------------------------------------------------------------------------------- normalizers


def flatten_stages(step, key):
    if not step:
        return []
    if step.get("type") == "Sequence":
        return [inner for item in step[key] for inner in flatten_stages(item, key)]
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
        pb = spm_proto()
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
        self.sentencepiece = sentencepiece_tokenizer(proto, tf.string)

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
        return lambda texts: tf_text().normalize_utf8(texts, kind)
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
        self.steps = [_normalizer_step(step) for step in flatten_stages(config, "normalizers")]
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
    for step in flatten_stages(config, "pretokenizers"):
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
