"""Sentence embeddings at throughput: `SentenceEmbedder`, the tfmodels counterpart of
`sentence_transformers.SentenceTransformer.encode`.

    embedder = tfmodels.SentenceEmbedder.from_pretrained("path/to/all-MiniLM-L6-v2")
    vectors = embedder.encode(sentences, batch_size=32)  # (num_sentences, hidden_size) float32

What makes it fast on a CPU, measured by `benchmarks/embed_sentences.py`:

- sentences are tokenized once, sorted by token count and batched, so each
  batch is padded only to its own longest sentence;
- that length is rounded up to a multiple of `bucket_size`, so a whole corpus
  runs through a handful of shapes;
- the model, the pooling and the normalisation run as one compiled
  `tf.function` per shape: a graph with dynamic `(batch, seq_len)` inputs by
  default (no compilation per shape; TensorFlow's oneDNN kernels, which also
  run `mixed_bfloat16` on AMX/AVX512-BF16 CPUs), or XLA with
  `jit_compile=True` (one compilation per (batch, bucket) shape).

The embeddings equal sentence-transformers' (same checkpoint, same pooling and
normalisation; `tests/test_sentence_embeddings.py` checks the real
all-MiniLM-L6-v2 checkpoint). Padding does not change a sentence's embedding
beyond float32 rounding, since padded positions are masked out of attention
and pooling.
"""

import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfmodels.layers.pooling.masked_mean import POOLING_MODES, l2_normalize, sentence_pooling

# sentence-transformers' Pooling config keys -> our pooling modes.
_POOLING_KEYS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
}
_HUB_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "*/config.json",
              "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def read_sentence_transformers_config(directory):
    """Reads a sentence-transformers checkpoint's pooling, normalisation and length.

    Args:
        directory: a sentence-transformers model directory (`modules.json`,
            `1_Pooling/config.json`, `sentence_bert_config.json`), or a plain
            Hugging Face checkpoint (then: mean pooling, no normalisation).

    Returns:
        dict with `pooling` (one of `POOLING_MODES`), `normalize` (bool),
        `max_length` (int or None) and `transformer_dir` (`pathlib.Path`).

    Raises:
        ValueError: `modules.json` names a module this class does not run
            (e.g. a `Dense` projection), or the pooling config enables several modes.
    """
    directory = Path(directory)
    settings = {"pooling": "mean", "normalize": False, "max_length": None, "transformer_dir": directory}
    modules_file = directory / "modules.json"
    if not modules_file.exists():
        return settings
    modules = json.loads(modules_file.read_text())
    for module in modules:
        kind = module.get("type", "").rsplit(".", 1)[-1]
        path = directory / module.get("path", "")
        if kind == "Transformer":
            settings["transformer_dir"] = path
            config_file = path / "sentence_bert_config.json"
            if config_file.exists():
                settings["max_length"] = json.loads(config_file.read_text()).get("max_seq_length")
        elif kind == "Pooling":
            config = json.loads((path / "config.json").read_text())
            modes = [mode for key, mode in _POOLING_KEYS.items() if config.get(key)]
            if len(modes) != 1:
                raise ValueError(f"{path / 'config.json'} enables pooling modes {modes or 'none'}; SentenceEmbedder "
                                 f"runs exactly one of {sorted(_POOLING_KEYS)}.")
            settings["pooling"] = modes[0]
        elif kind == "Normalize":
            settings["normalize"] = True
        else:
            raise ValueError(f"{modules_file} has a {module.get('type')!r} module; SentenceEmbedder runs Transformer, "
                             "Pooling and Normalize modules only.")
    return settings


def _load_tokenizer(directory, max_length):
    from tokenizers import Tokenizer

    path = Path(directory) / "tokenizer.json"
    if not path.exists():
        raise FileNotFoundError(f"{directory} has no tokenizer.json; pass tokenizer= (a tokenizers.Tokenizer or a "
                                "transformers tokenizer).")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    if max_length:
        tokenizer.enable_truncation(max_length)
    return tokenizer


class SentenceEmbedder:
    """Pooled (optionally L2-normalised) sentence embeddings from a tfmodels encoder.

    Args:
        model: a tfmodels backbone (`BertModel`, `RobertaModel`, `MPNetModel`,
            ...) returning `last_hidden_state (batch, seq_len, hidden_size)`.
        tokenizer: a `tokenizers.Tokenizer` (its `encode_batch` is used; padding
            is done here), or a `transformers` tokenizer (called with
            `truncation=True`).
        pooling: one of `POOLING_MODES` (`"mean"`, `"cls"`, `"max"`, `"mean_sqrt_len"`).
        normalize: L2-normalise the pooled vectors (sentence-transformers' `Normalize` module).
        max_length: truncation length in tokens (default: the model's position table).
        bucket_size: padded lengths are rounded up to a multiple of this (capped at `max_length`).
        jit_compile: `False` (default): one graph with dynamic shapes;
            `True`: XLA, compiled once per (batch, padded length).
        packed_tokens: run the encoder's position-wise layers on the real
            tokens only (`PreTrainedModel.use_packed_tokens`; the pooling reads
            real tokens only, so the embeddings are the same to float32
            rounding). `None` (default): on in graph mode where the backbone
            supports it, off with `jit_compile=True` (XLA pads the token count
            back to its bound, so nothing is saved there).

    Raises:
        ValueError: unknown `pooling`, `bucket_size < 1`, or `packed_tokens=True`
            for a backbone that cannot pack.
    """

    def __init__(self, model, tokenizer, pooling="mean", normalize=False, max_length=None, bucket_size=16,
                 jit_compile=False, packed_tokens=None):
        if pooling not in POOLING_MODES:
            raise ValueError(f"Unknown pooling {pooling!r}; expected one of {POOLING_MODES}.")
        if not isinstance(bucket_size, int) or bucket_size < 1:
            raise ValueError(f"bucket_size must be a positive int. Received: bucket_size={bucket_size!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.normalize = normalize
        config = getattr(model, "config", {}) or {}
        limit = config.get("max_position_embeddings")
        if limit and config.get("model_type") in ("roberta", "xlm-roberta", "camembert", "mpnet", "longformer"):
            limit -= config.get("pad_token_id", 1) + 1  # positions start after the padding index
        candidates = [x for x in (max_length, limit) if x]
        self.max_length = min(candidates) if candidates else 512
        self.bucket_size = bucket_size
        self.jit_compile = jit_compile
        reason = (model.packed_tokens_unsupported() if hasattr(model, "packed_tokens_unsupported")
                  else f"{type(model).__name__} has no packing encoder backbone")
        if packed_tokens and reason:
            raise ValueError(f"packed_tokens=True, but {type(model).__name__} cannot run packed tokens: {reason}.")
        self.packed_tokens = bool(not jit_compile and not reason) if packed_tokens is None else bool(packed_tokens)
        self.input_names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
                            if n in getattr(model, "input_names", ("input_ids", "attention_mask"))]
        # `embed_tensors` branches on Python values only, so autograph (which rewrites its source on every
        # trace) is off.
        if jit_compile:
            self._embed = tf.function(self.embed_tensors, jit_compile=True, autograph=False)
        else:
            spec = [tf.TensorSpec([None, None], tf.int32, name=n) for n in self.input_names]
            self._embed = tf.function(self.embed_tensors, input_signature=spec, autograph=False)

    @classmethod
    def from_pretrained(cls, path_or_repo_id, tokenizer=None, **kwargs):
        """Loads a sentence-transformers checkpoint (or a plain Hugging Face encoder checkpoint).

        Reads the model from the Transformer module's directory, the pooling
        mode from `1_Pooling/config.json`, normalisation from a `Normalize`
        module, `max_seq_length` from `sentence_bert_config.json` and the
        tokenizer from `tokenizer.json`; keyword arguments override them (see
        the class arguments). A Hub id is downloaded with `huggingface_hub`
        (or read from its cache offline).

        Raises:
            FileNotFoundError: no such directory / Hub id, or no `tokenizer.json` and no `tokenizer` given.
            ValueError: the checkpoint uses modules this class does not run (see
                `read_sentence_transformers_config`).
        """
        from tfmodels.auto import AutoModel
        from tfmodels.converters.files import resolve_checkpoint_dir

        directory = resolve_checkpoint_dir(path_or_repo_id)
        if not (directory / "modules.json").exists() and not Path(os.fspath(path_or_repo_id)).expanduser().is_dir():
            import huggingface_hub

            directory = Path(huggingface_hub.snapshot_download(repo_id=os.fspath(path_or_repo_id),
                                                               allow_patterns=list(_HUB_FILES)))
        settings = read_sentence_transformers_config(directory)
        model = AutoModel.from_pretrained(settings["transformer_dir"])
        max_length = kwargs.pop("max_length", settings["max_length"])
        if tokenizer is None:
            tokenizer = _load_tokenizer(settings["transformer_dir"], max_length)
        kwargs.setdefault("pooling", settings["pooling"])
        kwargs.setdefault("normalize", settings["normalize"])
        return cls(model, tokenizer, max_length=max_length, **kwargs)

    # -- the compiled computation -----------------------------------------------------

    def embed_tensors(self, *tensors):
        """The embeddings of one padded batch: int32 `(batch, seq_len)` tensors in
        `self.input_names` order -> float32 `(batch, hidden_size)`."""
        inputs = dict(zip(self.input_names, tensors))
        options = {"packed_tokens": True} if self.packed_tokens else {}
        hidden = self.model(inputs, training=False, **options)["last_hidden_state"]
        pooled = tf.cast(sentence_pooling(hidden, inputs["attention_mask"], self.pooling), tf.float32)
        return l2_normalize(pooled) if self.normalize else pooled

    # -- host side ------------------------------------------------------------------

    def tokenize(self, sentences):
        """Token ids (and type ids) of each sentence, truncated to `max_length`, unpadded.

        Returns:
            list of `(ids, type_ids)` pairs of int lists.
        """
        if hasattr(self.tokenizer, "encode_batch"):
            encodings = self.tokenizer.encode_batch(list(sentences))
            return [(e.ids[:self.max_length], e.type_ids[:self.max_length]) for e in encodings]
        batch = self.tokenizer(list(sentences), truncation=True, max_length=self.max_length)
        types = batch.get("token_type_ids") or [[0] * len(ids) for ids in batch["input_ids"]]
        return list(zip(batch["input_ids"], types))

    def padded_length(self, length):
        """`length` rounded up to a multiple of `bucket_size`, at most `max_length`."""
        return min(-(-length // self.bucket_size) * self.bucket_size, self.max_length)

    def encode(self, sentences, batch_size=32, normalize_embeddings=None, show_progress_bar=None,
               convert_to_numpy=True):
        """Embeds sentences, as `SentenceTransformer.encode`.

        Args:
            sentences: a string or a list of strings.
            batch_size: sentences per model call.
            normalize_embeddings: override the checkpoint's normalisation.
            show_progress_bar: a `tqdm` bar over batches (default: more than 16 batches).
            convert_to_numpy: `numpy` array (default) or `tf.Tensor`.

        Returns:
            float32 `(num_sentences, hidden_size)` (`(hidden_size,)` for one string),
            in the input order.

        Raises:
            TypeError: `sentences` is not a string or a list of strings.
            ValueError: `batch_size < 1`.
        """
        single = isinstance(sentences, str)
        sentences = [sentences] if single else list(sentences)
        if not all(isinstance(s, str) for s in sentences):
            raise TypeError("encode() takes a string or a list of strings.")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int. Received: batch_size={batch_size!r}")
        if normalize_embeddings is not None and normalize_embeddings != self.normalize:
            return SentenceEmbedder(self.model, self.tokenizer, self.pooling, normalize_embeddings, self.max_length,
                                    self.bucket_size, self.jit_compile, self.packed_tokens).encode(
                sentences if not single else sentences[0], batch_size, None, show_progress_bar, convert_to_numpy)
        tokens = self.tokenize(sentences)
        order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i][0]))
        starts = range(0, len(order), batch_size)
        if show_progress_bar is None:
            show_progress_bar = len(starts) > 16
        if show_progress_bar:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        pad_id = self._pad_id()
        results = [None] * len(tokens)
        for start in starts:
            rows = order[start:start + batch_size]
            length = self.padded_length(max(len(tokens[i][0]) for i in rows))
            ids = np.full((len(rows), length), pad_id, np.int32)
            mask = np.zeros((len(rows), length), np.int32)
            types = np.zeros((len(rows), length), np.int32)
            for r, i in enumerate(rows):
                n = len(tokens[i][0])
                ids[r, :n], mask[r, :n], types[r, :n] = tokens[i][0], 1, tokens[i][1]
            arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            vectors = self._embed(*(tf.constant(arrays[n]) for n in self.input_names)).numpy()
            for r, i in enumerate(rows):
                results[i] = vectors[r]
        out = np.stack(results) if results else np.zeros((0, self.hidden_size), np.float32)
        out = out[0] if single else out
        return out if convert_to_numpy else tf.constant(out)

    @property
    def hidden_size(self):
        return self.model.config["hidden_size"]

    def _pad_id(self):
        pad = getattr(self.tokenizer, "pad_token_id", None)
        if pad is None and hasattr(self.tokenizer, "padding"):
            pad = (self.tokenizer.padding or {}).get("pad_id")
        if pad is None:
            pad = (getattr(self.model, "config", {}) or {}).get("pad_token_id")
        return 0 if pad is None else pad

    # -- export -----------------------------------------------------------------------

    def export(self, directory, overwrite=False):
        """Writes a SavedModel whose `serving_default` returns `{"sentence_embedding": (batch, hidden_size)}`
        float32 from int32 `(batch, seq_len)` inputs `self.input_names` (dynamic shapes).

        It loads with `tf.saved_model.load` in a process that never imports
        tfmodels. Written to a temporary directory and renamed into place.

        Raises:
            FileExistsError: `directory` is not empty and `overwrite` is False.
        """
        from tfmodels.export.saved_model import export_saved_model

        def postprocess(model, outputs, inputs):
            pooled = tf.cast(sentence_pooling(outputs["last_hidden_state"], inputs["attention_mask"], self.pooling),
                             tf.float32)
            return {"sentence_embedding": l2_normalize(pooled) if self.normalize else pooled}

        previous = getattr(self.model, "packed_tokens", None)
        if self.packed_tokens:  # traced into the serving function
            self.model.packed_tokens = True
        try:
            return export_saved_model(self.model, directory, overwrite=overwrite, task_signatures=False,
                                      serving_postprocess=postprocess)
        finally:
            if previous is not None:
                self.model.packed_tokens = previous
