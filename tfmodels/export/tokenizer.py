"""In-graph tokenizers for SavedModels that take raw text.

`InGraphTokenizer` rebuilds a Hugging Face fast tokenizer (`tokenizer.json`)
from TensorFlow ops, so a SavedModel can take strings and TF Serving
receives text:

    strings (batch,) -> {"input_ids", "attention_mask", "token_type_ids"}: int32 (batch, max_length)

The tokenizer algorithms are the libraries' own (models in
`tfmodels.export.tokenizer_models`, the other stages in `tfmodels.export.tokenizer_pipeline`):

- WordPiece with the BERT normalizer and pre-tokenizer (BERT, DistilBERT,
  MiniLM, ELECTRA, ... uncased and cased): KerasHub's `WordPieceTokenizer`.
  Known difference: a word longer than 100 UTF-8 bytes becomes `[UNK]` here,
  while Hugging Face counts 100 characters (differs only for words of 34-100
  non-ASCII characters).
- Byte-level BPE with the GPT-2 split (GPT-2, RoBERTa, BART, GPT-Neo, OPT,
  Longformer, ...): KerasHub's `BytePairTokenizer`; with CLIP's split and
  `</w>` word ends (CLIP text): KerasHub's `CLIPTokenizer`. Texts containing
  NUL or U+096C are refused at run time (KerasHub's split cannot carry them).
- Unigram (T5, ALBERT, XLNet, XLM-R, CamemBERT, mBART, Pegasus, ...):
  SentencePiece (`tensorflow-text`), with a model proto built from the
  `tokenizer.json` pieces and scores; the normalizer (including
  SentencePiece `Precompiled` charsmaps, NFKD, StripAccents, Lowercase,
  Replace) and the WhitespaceSplit/Metaspace pre-tokenizer run as TF ops.

Added tokens in the text (`</s>`, `<mask>`, ...) are split out as
`tokenizers` does (with their `lstrip`/`rstrip`). The post-processor's
special tokens and type ids (`BertProcessing`, `RobertaProcessing`,
`TemplateProcessing`, e.g. `[CLS] text [SEP]`, `<s> text </s>`,
`text </s>`, XLNet's `text <sep> <cls>`) are added around the text, which is
truncated to `max_length` and padded to it (static shape, so the model
behind it compiles once; left padding where `tokenizer.json` says so).
Single sequences only (no pairs).

Anything else is refused with a `ValueError` naming the stage: other models
(WordLevel, BPE with byte fallback or `ignore_merges`, the SentencePiece BPE
of Llama/Gemma), normalizers (`Nmt`, `BertNormalizer` outside WordPiece,
arbitrary regexes), pre-tokenizers (`Split` with other regexes, as in
Llama 3 and Qwen; `Metaspace` with `prepend_scheme="first"`), added tokens
with `single_word`, or matched after a normalizer (`normalized=True`). Ids are checked
against the `tokenizers` library in tests/test_tokenizer_export.py and
tests/test_tokenizer_export_families.py (unicode, accents, CJK, emoji,
whitespace runs, control characters, long inputs truncated, empty text).

A SavedModel using it needs the `tensorflow-text` ops at load time:
`import tensorflow_text` before `tf.saved_model.load` (TF Serving builds
that link the TF Text ops serve it as is).
"""

import json
from pathlib import Path

import tensorflow as tf

from tfmodels.export.tokenizer_models import MODELS
from tfmodels.export.tokenizer_pipeline import AddedTokens


def read_tokenizer_json(tokenizer):
    """The `tokenizer.json` dict of a `tokenizers.Tokenizer`, a
    `transformers` fast tokenizer, a `tokenizer.json` path or a directory.

    Raises:
        FileNotFoundError: no `tokenizer.json` at the path (the message says
            how to make one from a SentencePiece `.model`).
    """
    if hasattr(tokenizer, "backend_tokenizer"):  # transformers PreTrainedTokenizerFast
        tokenizer = tokenizer.backend_tokenizer
    if hasattr(tokenizer, "to_str"):  # tokenizers.Tokenizer
        return json.loads(tokenizer.to_str())
    path = Path(tokenizer)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        hint = ""
        if path.parent.is_dir() and any(path.parent.glob("*.model")):
            hint = (" The directory has a SentencePiece .model: write its tokenizer.json with "
                    "`transformers.AutoTokenizer.from_pretrained(directory).save_pretrained(directory)`.")
        raise FileNotFoundError(f"No tokenizer.json at {path}. Pass a tokenizer, its tokenizer.json or its "
                                f"directory.{hint}")
    return json.loads(path.read_text(encoding="utf-8"))


def _special_tokens(post_processor):
    """`(start, end, sequence_type_id)` around a single sequence, from the post-processor; `start` and
    `end` are lists of `(id, type_id)`."""
    if post_processor is None:
        return [], [], 0
    kind = post_processor.get("type")
    if kind == "Sequence":  # e.g. ByteLevel (offsets only) then TemplateProcessing
        parts = [p for p in post_processor["processors"] if p.get("type") != "ByteLevel"]
        if len(parts) > 1:
            raise ValueError(f"Unsupported post_processor Sequence for in-graph tokenization: "
                             f"{[p.get('type') for p in post_processor['processors']]}")
        return _special_tokens(parts[0] if parts else None)
    if kind == "ByteLevel":
        return [], [], 0
    if kind in ("BertProcessing", "RobertaProcessing"):
        return [(post_processor["cls"][1], 0)], [(post_processor["sep"][1], 0)], 0
    if kind == "TemplateProcessing":
        start, end, seen_sequence, sequence_type = [], [], False, 0
        for piece in post_processor["single"]:
            if "Sequence" in piece:
                seen_sequence, sequence_type = True, piece["Sequence"].get("type_id", 0)
                continue
            token = piece["SpecialToken"]
            ids = post_processor["special_tokens"][token["id"]]["ids"]
            (end if seen_sequence else start).extend((i, token.get("type_id", 0)) for i in ids)
        return start, end, sequence_type
    raise ValueError(f"Unsupported post_processor type for in-graph tokenization. Received: {kind!r}")


def _token_to_id(model):
    vocab = model.get("vocab") or {}
    if isinstance(vocab, list):  # Unigram: [[piece, score], ...]
        return {piece: index for index, (piece, _) in enumerate(vocab)}
    return vocab


def _pad_id(config):
    padding = config.get("padding") or {}
    if "pad_id" in padding:
        return int(padding["pad_id"])
    vocab = _token_to_id(config["model"])
    for token in ("[PAD]", "<pad>"):
        if token in vocab:
            return int(vocab[token])
    return 0


class InGraphTokenizer(tf.Module):
    """Tokenizes a batch of strings in-graph, as the Hugging Face tokenizer does.

    Supported: WordPiece (BERT normalizer), byte-level BPE (GPT-2 split) and
    Unigram (SentencePiece) tokenizers; see the module docstring for the
    families and what is refused.

    Args:
        tokenizer: a `tokenizers.Tokenizer`, a `transformers` fast tokenizer,
            or the path of a `tokenizer.json` (or of its directory).
        max_length: int, output length (truncate and pad). Default: the
            tokenizer's truncation `max_length`, else 512.
        model_input_names: the features the text signatures feed the model
            (`transformers`' tokenizer attribute of that name). Default:
            `("input_ids", "attention_mask")` for byte-level BPE (GPT-2,
            RoBERTa, BART tokenizers return no `token_type_ids`, and GPT-2
            embeds them if given), all three otherwise.

    Call:
        texts: string tensor `(batch,)`.

    Returns:
        dict of int32 tensors `(batch, max_length)`: `input_ids`,
        `attention_mask`, `token_type_ids` (the post-processor's type ids;
        0 for padding).

    Raises:
        ValueError: a tokenizer model, normalizer, pre-tokenizer,
            post-processor or truncation/padding setting that cannot be
            reproduced exactly in-graph (named in the message), or
            `max_length` too small for the special tokens.
    """

    def __init__(self, tokenizer, max_length=None, model_input_names=None, name=None):
        super().__init__(name=name)
        import keras_hub  # noqa: F401  (registers the tensorflow-text ops as well)

        config = read_tokenizer_json(tokenizer)
        kind = (config.get("model") or {}).get("type")
        if kind not in MODELS:
            raise ValueError("In-graph tokenization supports WordPiece, byte-level BPE and Unigram tokenizers. "
                             f"Received: model type {kind!r}")
        self.model = MODELS[kind](config)
        default_names = ("input_ids", "attention_mask") + (() if kind == "BPE" else ("token_type_ids",))
        self.model_input_names = tuple(model_input_names or default_names)
        self.added_tokens = AddedTokens(config)
        truncation = config.get("truncation") or {}
        if truncation.get("direction", "Right") != "Right":
            raise ValueError(f"In-graph tokenization truncates on the right. Received: truncation direction "
                             f"{truncation.get('direction')!r}")
        self.max_length = int(max_length or truncation.get("max_length") or 512)
        start, end, self.sequence_type_id = _special_tokens(config.get("post_processor"))
        self.start_ids, self.end_ids = [i for i, _ in start], [i for i, _ in end]
        self.start_type_ids, self.end_type_ids = [t for _, t in start], [t for _, t in end]
        if self.max_length <= len(self.start_ids) + len(self.end_ids):
            raise ValueError(f"max_length must leave room for text after the special tokens. "
                             f"Received: max_length={self.max_length}")
        padding = config.get("padding") or {}
        self.pad_id = _pad_id(config)
        self.pad_left = padding.get("direction", "Right") == "Left"

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def __call__(self, texts):
        return self.encode(texts)

    def encode(self, texts, pad_left=None):
        """`__call__` in the caller's graph; `pad_left` overrides the tokenizer's padding side
        (generation signatures of causal LMs take left-padded prompts)."""
        pad_left = self.pad_left if pad_left is None else pad_left
        pieces = self.added_tokens(texts, self.model)  # ragged (batch, None)
        budget = self.max_length - len(self.start_ids) - len(self.end_ids)
        pieces = tf.cast(pieces[:, :budget], tf.int32)
        batch = tf.shape(texts)[0]

        def constant_rows(values):
            return tf.RaggedTensor.from_tensor(tf.fill([batch, len(values)], 0) + tf.constant(values, tf.int32))

        ids = tf.concat([constant_rows(self.start_ids), pieces, constant_rows(self.end_ids)], axis=1)
        types = tf.concat([constant_rows(self.start_type_ids), tf.ones_like(pieces) * self.sequence_type_id,
                           constant_rows(self.end_type_ids)], axis=1)
        shape = [None, self.max_length]
        features = {"input_ids": ids.to_tensor(default_value=self.pad_id, shape=shape),
                    "attention_mask": tf.ones_like(ids).to_tensor(default_value=0, shape=shape),
                    "token_type_ids": types.to_tensor(default_value=0, shape=shape)}
        if pad_left:  # rotate each row so the padding comes first
            shift = self.max_length - tf.cast(ids.row_lengths(), tf.int32)  # (batch,)
            index = (tf.range(self.max_length)[None, :] - shift[:, None]) % self.max_length
            features = {key: tf.gather(value, index, batch_dims=1) for key, value in features.items()}
        return features
