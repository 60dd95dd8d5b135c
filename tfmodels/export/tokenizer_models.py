"""The tokenizer models of `InGraphTokenizer`: WordPiece, byte-level BPE, Unigram, as TF modules.

Each takes the `tokenizer.json` dict and maps a string tensor `(n,)` to
ragged int32 ids `(n, None)` with the libraries' own algorithms: KerasHub's
`WordPieceTokenizer`, `BytePairTokenizer` and `CLIPTokenizer`, and
SentencePiece (`tensorflow-text`) for Unigram, with a model proto built from
the `tokenizer.json` pieces and scores by the `sentencepiece` package. The
stages before the model (normalizer, pre-tokenizer) are in
`tfmodels.export.tokenizer_pipeline`.

References:
    Schuster & Nakajima, 2012, WordPiece; Radford et al., 2019, GPT-2
    byte-level BPE (https://github.com/openai/gpt-2/blob/master/src/encoder.py);
    Kudo & Richardson, 2018, "SentencePiece" (https://arxiv.org/abs/1808.06226);
    Hugging Face `tokenizers` (models, pre_tokenizers).
"""

import json
import re

import tensorflow as tf

from tfmodels.export.tokenizer_pipeline import (WHITESPACE, Normalizer, build_word_splitter, flatten_stages,
                                                regex_split, sentencepiece_tokenizer, spm_proto, tf_text)


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
            texts = tf.strings.regex_replace(tf_text().normalize_utf8(texts, "NFD"), r"\p{Mn}", "")
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        return texts

    def __call__(self, texts):
        return tf.cast(self.word_piece.tokenize(self.normalize(texts)), tf.int32)


# CLIP's pre-tokenizer (`transformers`' CLIPConverter): a `Split` keeping these matches, dropping the rest.
_CLIP_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _clip_split(pre_tokenizer):
    """True for CLIP's `Sequence([Split(_CLIP_SPLIT, removed, invert), ByteLevel])` pre-tokenizer."""
    steps = flatten_stages(pre_tokenizer, "pretokenizers")
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
            raise ValueError("In-graph byte-level BPE needs every byte symbol in the vocabulary. "
                             f"Missing: {missing[:8]}")
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
    """`Unigram` (T5, ALBERT, XLNet, XLM-R, CamemBERT, mBART, Pegasus, ...), through SentencePiece.

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
        pb = spm_proto()
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
        self.sentencepiece = sentencepiece_tokenizer(proto, tf.int32)

    def __call__(self, texts):
        words = self.split(self.normalize(texts))  # (n, words)
        ids = self.sentencepiece.tokenize(words.flat_values)  # (words, pieces)
        return tf.RaggedTensor.from_row_splits(ids.flat_values, tf.gather(ids.row_splits, words.row_splits))


MODELS = {"WordPiece": WordPieceModel, "BPE": ByteLevelBPEModel, "Unigram": UnigramModel}
