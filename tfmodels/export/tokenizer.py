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
Sentence pairs (`encode_pair`) get the post-processor's pair template
(`[CLS] a [SEP] b [SEP]` with type ids 0 then 1, RoBERTa's
`<s> a </s></s> b </s>`, `TemplateProcessing` `pair`) and are truncated
with `tokenizers`' `longest_first` strategy.
`tfmodels.export.detokenizer.InGraphDetokenizer` maps ids back to text.

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


def clean_up_tokenization_spaces(tokenizer, config):
    """`clean_up_tokenization_spaces` as `transformers` reads it: the tokenizer object's attribute, else the
    `tokenizer_config.json` beside a `tokenizer.json` path, else False (its default); never for BPE models."""
    if config["model"].get("type") == "BPE":  # transformers skips it for BPE (it corrupts the text)
        return False
    if hasattr(tokenizer, "clean_up_tokenization_spaces"):
        return bool(tokenizer.clean_up_tokenization_spaces)
    if isinstance(tokenizer, (str, Path)):
        path = Path(tokenizer)
        tokenizer_config = (path if path.is_dir() else path.parent) / "tokenizer_config.json"
        if tokenizer_config.is_file():
            return bool(json.loads(tokenizer_config.read_text(encoding="utf-8")).get("clean_up_tokenization_spaces"))
    return False


def _special_tokens(post_processor, pair=False):
    """The post-processor's template: `(specials, sequence_type_ids)`, with `specials` the lists of
    `(id, type_id)` before, between and after the sequences (2 lists for a single sequence, 3 for a
    pair) and `sequence_type_ids` the type id of each sequence (`tokenizers`: 0, and 1 for the second
    of a pair without a template)."""
    sequences = 2 if pair else 1
    if post_processor is None:
        return [[] for _ in range(sequences + 1)], [0, 1][:sequences]
    kind = post_processor.get("type")
    if kind == "Sequence":  # e.g. ByteLevel (offsets only) then TemplateProcessing
        parts = [p for p in post_processor["processors"] if p.get("type") != "ByteLevel"]
        if len(parts) > 1:
            raise ValueError(f"Unsupported post_processor Sequence for in-graph tokenization: "
                             f"{[p.get('type') for p in post_processor['processors']]}")
        return _special_tokens(parts[0] if parts else None, pair)
    if kind == "ByteLevel":
        return _special_tokens(None, pair)
    if kind in ("BertProcessing", "RobertaProcessing"):
        cls, sep = post_processor["cls"][1], post_processor["sep"][1]
        if not pair:
            return [[(cls, 0)], [(sep, 0)]], [0]
        if kind == "BertProcessing":  # [CLS] a [SEP] b [SEP], type ids 0 then 1
            return [[(cls, 0)], [(sep, 0)], [(sep, 1)]], [0, 1]
        return [[(cls, 0)], [(sep, 0), (sep, 0)], [(sep, 0)]], [0, 0]  # <s> a </s></s> b </s>, all type 0
    if kind == "TemplateProcessing":
        template = post_processor["pair" if pair else "single"]
        specials, sequence_types, order = [[]], [], []
        for piece in template:
            if "Sequence" in piece:
                order.append(piece["Sequence"]["id"])
                sequence_types.append(piece["Sequence"].get("type_id", 0))
                specials.append([])
                continue
            token = piece["SpecialToken"]
            ids = post_processor["special_tokens"][token["id"]]["ids"]
            specials[-1].extend((i, token.get("type_id", 0)) for i in ids)
        if order != ["A", "B"][:sequences]:
            raise ValueError(f"In-graph tokenization supports {'pair' if pair else 'single'} templates with "
                             f"the sequences {['A', 'B'][:sequences]} once each, in order. Received: {order}")
        return specials, sequence_types
    raise ValueError(f"Unsupported post_processor type for in-graph tokenization. Received: {kind!r}")


def longest_first(length_a, length_b, budget):
    """The lengths `tokenizers` truncates a pair to with the `longest_first` strategy (`stride=0`).

    Nothing is cut when both fit in `budget`; otherwise the longer sequence is
    cut to what the shorter leaves, or, when the shorter alone takes more than
    half, both to half the budget (the longer one gets the odd token; the
    second one when they are equally long).

    Args:
        length_a: int32 tensor `(batch,)`, the first sequence's length before truncation.
        length_b: int32 tensor `(batch,)`, the second's.
        budget: int, the tokens left for text after the pair's special tokens.

    Returns:
        `(length_a, length_b)` int32 tensors `(batch,)`.
    """
    short = tf.minimum(length_a, length_b)
    cut_long = tf.where(short > budget, short, tf.maximum(short, budget - short))
    halve = short + cut_long > budget
    short = tf.where(halve, budget // 2, short)
    cut_long = tf.where(halve, budget // 2 + budget % 2, cut_long)
    fits = length_a + length_b <= budget
    a_longer = length_a > length_b
    return (tf.where(fits, length_a, tf.where(a_longer, cut_long, short)),
            tf.where(fits, length_b, tf.where(a_longer, short, cut_long)))


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
        self.tokenizer_json = json.dumps(config)  # for `InGraphDetokenizer`
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces(tokenizer, config)
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
        specials, (self.sequence_type_id,) = _special_tokens(config.get("post_processor"))
        (self.start_ids, self.start_type_ids), (self.end_ids, self.end_type_ids) = [_split(s) for s in specials]
        if self.max_length <= len(self.start_ids) + len(self.end_ids):
            raise ValueError(f"max_length must leave room for text after the special tokens. "
                             f"Received: max_length={self.max_length}")
        try:  # a pair template that cannot run in-graph only refuses pairs (`check_pairs`)
            self.pair_template, self.pair_error = _special_tokens(config.get("post_processor"), pair=True), None
        except ValueError as error:
            self.pair_template, self.pair_error = None, str(error)
        self.pair_strategy = truncation.get("strategy", "LongestFirst")
        padding = config.get("padding") or {}
        self.pad_id = _pad_id(config)
        self.pad_left = padding.get("direction", "Right") == "Left"

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def __call__(self, texts):
        return self.encode(texts)

    def check_pairs(self):
        """Raises `ValueError` when sentence pairs cannot be tokenized as `tokenizers` does: a truncation
        strategy other than `longest_first`, or `max_length` not above the pair's special tokens."""
        if self.pair_error is not None:
            raise ValueError(self.pair_error)
        if self.pair_strategy != "LongestFirst":
            raise ValueError("In-graph sentence pairs are truncated with the longest_first strategy. Received: "
                             f"truncation strategy {self.pair_strategy!r} in tokenizer.json")
        specials = sum(len(s) for s in self.pair_template[0])
        if self.max_length <= specials:
            raise ValueError(f"max_length must leave room for text after the {specials} special tokens of a pair. "
                             f"Received: max_length={self.max_length}")

    def encode(self, texts, pad_left=None):
        """`__call__` in the caller's graph; `pad_left` overrides the tokenizer's padding side
        (generation signatures of causal LMs take left-padded prompts)."""
        pieces = self.added_tokens(texts, self.model)  # ragged (batch, None)
        budget = self.max_length - len(self.start_ids) - len(self.end_ids)
        specials = [list(zip(self.start_ids, self.start_type_ids)), list(zip(self.end_ids, self.end_type_ids))]
        return self._assemble([pieces[:, :budget]], specials, [self.sequence_type_id], pad_left)

    def encode_pair(self, texts, text_pairs, pad_left=None):
        """Sentence pairs, as `tokenizers.Tokenizer.encode(text, pair)` (and `transformers`' tokenizer with
        `truncation=True, max_length=max_length`): each text tokenized, the pair truncated with the
        `longest_first` strategy to leave room for the post-processor's pair template
        (`[CLS] a [SEP] b [SEP]`, `<s> a </s></s> b </s>`, ...), padded to `max_length`.

        Args:
            texts: string tensor `(batch,)`, the first texts.
            text_pairs: string tensor `(batch,)`, the texts paired with them.
            pad_left: as in `encode`.

        Returns:
            dict of int32 tensors `(batch, max_length)`: `input_ids`, `attention_mask`, `token_type_ids`.

        Raises:
            ValueError: see `check_pairs`.
        """
        self.check_pairs()
        specials, types = self.pair_template
        first, second = self.added_tokens(texts, self.model), self.added_tokens(text_pairs, self.model)
        budget = self.max_length - sum(len(s) for s in specials)
        lengths = [tf.cast(ids.row_lengths(), tf.int32) for ids in (first, second)]
        keep = longest_first(*lengths, budget)
        first, second = [tf.ragged.boolean_mask(ids, tf.ragged.range(length) < n[:, None])
                         for ids, length, n in zip((first, second), lengths, keep)]
        return self._assemble([first, second], specials, types, pad_left)

    def _assemble(self, sequences, specials, sequence_types, pad_left):
        """`specials[0] sequences[0] specials[1] ... specials[-1]` with their type ids, padded to `max_length`."""
        pad_left = self.pad_left if pad_left is None else pad_left
        batch = sequences[0].nrows(out_type=tf.int32)

        def constant_rows(values):
            return tf.RaggedTensor.from_tensor(tf.fill([batch, len(values)], 0) + tf.constant(values, tf.int32))

        special_ids, special_types = zip(*[_split(s) for s in specials])
        ids, types = [constant_rows(special_ids[0])], [constant_rows(special_types[0])]
        for index, (pieces, type_id) in enumerate(zip(sequences, sequence_types), 1):
            pieces = tf.cast(pieces, tf.int32)
            ids += [pieces, constant_rows(special_ids[index])]
            types += [tf.ones_like(pieces) * type_id, constant_rows(special_types[index])]
        ids, types = tf.concat(ids, axis=1), tf.concat(types, axis=1)
        shape = [None, self.max_length]
        features = {"input_ids": ids.to_tensor(default_value=self.pad_id, shape=shape),
                    "attention_mask": tf.ones_like(ids).to_tensor(default_value=0, shape=shape),
                    "token_type_ids": types.to_tensor(default_value=0, shape=shape)}
        if pad_left:  # rotate each row so the padding comes first
            shift = self.max_length - tf.cast(ids.row_lengths(), tf.int32)  # (batch,)
            index = (tf.range(self.max_length)[None, :] - shift[:, None]) % self.max_length
            features = {key: tf.gather(value, index, batch_dims=1) for key, value in features.items()}
        return features


def _split(pairs):
    """`[(id, type_id), ...]` -> `([id, ...], [type_id, ...])`."""
    return [i for i, _ in pairs], [t for _, t in pairs]
