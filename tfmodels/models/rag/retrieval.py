"""A retriever for RAG on one machine: an in-memory passage index searched by maximum inner product.

    passages = PassageIndex.load_passages("passages.jsonl")          # [{"title": ..., "text": ...}, ...]
    index = PassageIndex.from_passages(passages, ctx_encoder, ctx_tokenizer)  # DPRContextEncoder embeddings
    retriever = RagRetriever(index, question_tokenizer, generator_tokenizer, config=model.config)
    model.set_retriever(retriever)
    model.generate(input_ids=question_ids, attention_mask=question_mask)

`PassageIndex` keeps the passage embeddings `(num_passages, D)` in memory and
searches them exactly: with `faiss` (`IndexFlatIP`, the `rag` extra:
`pip install tfmodels[rag]`) when it is installed, else with a TensorFlow
matrix product and `top_k`. `RagRetriever` turns the top documents into the
generator's inputs as `transformers.RagRetriever` does: for each question and
document, `prefix + title + title_sep + text + doc_sep + question`, tokenized by
the generator's tokenizer to `max_combined_length` (padded, truncated).

References:
    Lewis et al., "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks", NeurIPS 2020;
    `transformers.models.rag.retrieval_rag` (`RagRetriever`, `CustomHFIndex`).
"""

import csv
import json
import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

logger = logging.getLogger("tfmodels")

try:  # optional: the `rag` extra
    import faiss
except ImportError:  # exact search in TensorFlow instead
    faiss = None


def _check_passages(passages):
    if not isinstance(passages, (list, tuple)) or not passages:
        raise ValueError("passages must be a non-empty list of {'title': str, 'text': str} dicts (or (title, text) "
                         f"pairs). Received: {type(passages).__name__} of length {len(passages or ())}.")
    out = []
    for i, p in enumerate(passages):
        if isinstance(p, dict) and "text" in p:
            out.append({"title": str(p.get("title") or ""), "text": str(p["text"])})
        elif isinstance(p, (list, tuple)) and len(p) == 2:
            out.append({"title": str(p[0]), "text": str(p[1])})
        else:
            raise ValueError(f"passage {i} must be a dict with 'text' (and 'title') or a (title, text) pair. "
                             f"Received: {p!r}")
    return out


class PassageIndex:
    """Passages with their embeddings, searched by maximum inner product (exact).

    Args:
        embeddings: float array `(num_passages, D)`.
        passages: list of `{"title": str, "text": str}` (or `(title, text)` pairs), one per row.
        use_faiss: `True` (requires `faiss`), `False` (TensorFlow), or `None`: `faiss` when installed.

    Raises:
        ValueError: embeddings that are not 2-D or do not match the passages.
        ImportError: `use_faiss=True` without `faiss` installed.
    """

    def __init__(self, embeddings, passages, use_faiss=None):
        embeddings = np.ascontiguousarray(np.asarray(embeddings, dtype="float32"))
        self.passages = _check_passages(passages)
        if embeddings.ndim != 2 or len(embeddings) != len(self.passages):
            raise ValueError(f"embeddings must be (num_passages={len(self.passages)}, dim). Received shape "
                             f"{embeddings.shape}.")
        if use_faiss and faiss is None:
            raise ImportError("use_faiss=True needs faiss: pip install 'tfmodels[rag]' (faiss-cpu).")
        self.embeddings = embeddings
        self.use_faiss = faiss is not None if use_faiss is None else bool(use_faiss)
        self._faiss_index = None
        if self.use_faiss:
            self._faiss_index = faiss.IndexFlatIP(embeddings.shape[1])
            self._faiss_index.add(embeddings)

    def __len__(self):
        return len(self.passages)

    @property
    def vector_size(self):
        return self.embeddings.shape[1]

    @classmethod
    def from_passages(cls, passages, ctx_encoder, ctx_tokenizer, batch_size=16, max_length=256, use_faiss=None):
        """Embeds passages with a `DPRContextEncoder` (`pooler_output`) and indexes them.

        Args:
            passages: list of `{"title", "text"}` dicts or `(title, text)` pairs (see `load_passages`).
            ctx_encoder: a `tfmodels.DPRContextEncoder` (any model returning `pooler_output`).
            ctx_tokenizer: a Hugging Face tokenizer called as `tokenizer(titles, texts, ...)`, as DPR's
                passages are encoded (`[CLS] title [SEP] text [SEP]`).
            batch_size: passages per encoder call; max_length: tokens per passage (truncated).
            use_faiss: see the class.

        Returns:
            `PassageIndex`.
        """
        passages = _check_passages(passages)
        chunks = []
        for start in range(0, len(passages), batch_size):
            batch = passages[start:start + batch_size]
            encoded = ctx_tokenizer([p["title"] for p in batch], [p["text"] for p in batch], truncation=True,
                                    max_length=max_length, padding="longest", return_tensors="np")
            inputs = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
            chunks.append(np.asarray(ctx_encoder(inputs, training=False)["pooler_output"], dtype="float32"))
        return cls(np.concatenate(chunks), passages, use_faiss=use_faiss)

    @staticmethod
    def load_passages(path):
        """Reads passages from a `datasets`-style file: `.jsonl` (one `{"title", "text"}` object a line),
        `.csv` (a header naming `title` and `text` columns) or `.tsv` (`title<TAB>text` lines, no header:
        the layout of `transformers`' `use_own_knowledge_dataset.py`).

        Raises:
            FileNotFoundError: no such file. ValueError: another extension, or rows without `text`.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No passage file at {path}.")
        suffix = path.suffix.lower()
        with open(path, encoding="utf-8", newline="") as f:
            if suffix == ".jsonl":
                rows = [json.loads(line) for line in f if line.strip()]
            elif suffix == ".csv":
                rows = list(csv.DictReader(f))
            elif suffix == ".tsv":
                rows = [{"title": r[0], "text": r[1]} for r in csv.reader(f, delimiter="\t") if r]
            else:
                raise ValueError(f"Passage files are .jsonl, .csv or .tsv. Received: {path.name}.")
        return _check_passages(rows)

    def search(self, queries, k):
        """The `k` passages of largest inner product with each query.

        Args:
            queries: float array `(B, D)`.
            k: int, `1 <= k <= len(self)`.

        Returns:
            `(scores (B, k) float32, ids (B, k) int64)`, best first.

        Raises:
            ValueError: wrong query shape or `k`.
        """
        queries = np.ascontiguousarray(np.asarray(queries, dtype="float32"))
        if queries.ndim != 2 or queries.shape[1] != self.vector_size:
            raise ValueError(f"queries must be (batch, {self.vector_size}). Received shape {queries.shape}.")
        if not 1 <= int(k) <= len(self):
            raise ValueError(f"Can retrieve 1 to {len(self)} passages per query. Received: n_docs={k}.")
        if self._faiss_index is not None:
            scores, ids = self._faiss_index.search(queries, int(k))
            return scores.astype("float32"), ids.astype("int64")
        scores = tf.matmul(queries, self.embeddings, transpose_b=True)  # (B, num_passages)
        top = tf.math.top_k(scores, k=int(k))
        return top.values.numpy(), top.indices.numpy().astype("int64")

    def get_doc_dicts(self, doc_ids):
        """Per query, `{"title": [...], "text": [...]}` of its documents (the reference's layout)."""
        return [{"title": [self.passages[i]["title"] for i in row], "text": [self.passages[i]["text"] for i in row]}
                for row in np.asarray(doc_ids)]

    def save(self, directory):
        """Writes `passages.jsonl` and `embeddings.npy` into `directory` (`PassageIndex.load` reads them back)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "embeddings.npy", self.embeddings)
        with open(directory / "passages.jsonl", "w", encoding="utf-8") as f:
            for p in self.passages:
                f.write(json.dumps(p, ensure_ascii=False) + "\n")
        return directory

    @classmethod
    def load(cls, directory, use_faiss=None):
        """Reads an index written by `save`."""
        directory = Path(directory)
        return cls(np.load(directory / "embeddings.npy"), cls.load_passages(directory / "passages.jsonl"),
                   use_faiss=use_faiss)


class RagRetriever:
    """Retrieves documents for question embeddings and builds the generator's contextualised inputs.

    Args:
        index: a `PassageIndex`.
        question_encoder_tokenizer: Hugging Face tokenizer of the question encoder (`batch_decode`
            gives back the question strings).
        generator_tokenizer: Hugging Face tokenizer of the generator (called on the joined strings).
        config: optional RAG config (a model's `config` or a dict) supplying `n_docs`,
            `max_combined_length`, `title_sep`, `doc_sep`, `prefix`; keyword arguments win over it.
        n_docs, max_combined_length, title_sep, doc_sep, prefix: as `transformers.RagConfig`.

    Raises:
        ValueError: an index whose embedding size differs from `retrieval_vector_size` in `config`.

    References: `transformers.RagRetriever` (`retrieve`, `postprocess_docs`, `__call__`).
    """

    def __init__(self, index, question_encoder_tokenizer, generator_tokenizer, config=None, n_docs=None,
                 max_combined_length=None, title_sep=None, doc_sep=None, prefix=None):
        fields = dict(config.to_dict() if hasattr(config, "to_dict") else (config or {}))
        self.index = index
        self.question_encoder_tokenizer = question_encoder_tokenizer
        self.generator_tokenizer = generator_tokenizer
        self.n_docs = int(n_docs if n_docs is not None else fields.get("n_docs", 5))
        self.max_combined_length = int(max_combined_length if max_combined_length is not None
                                       else fields.get("max_combined_length", 300))
        self.title_sep = title_sep if title_sep is not None else fields.get("title_sep", " / ")
        self.doc_sep = doc_sep if doc_sep is not None else fields.get("doc_sep", " // ")
        self.prefix = prefix if prefix is not None else fields.get("prefix")

    def retrieve(self, question_hidden_states, n_docs):
        """Returns `(retrieved_doc_embeds (B, n, D), doc_ids (B, n), docs)` for question embeddings `(B, D)`."""
        _, doc_ids = self.index.search(question_hidden_states, n_docs)
        return self.index.embeddings[doc_ids], doc_ids, self.index.get_doc_dicts(doc_ids)

    def postprocess_docs(self, docs, input_strings, prefix, n_docs):
        """Joins each document with its question and tokenizes: `(context_input_ids, context_attention_mask)`
        int32 `(B * n, max_combined_length)`, rows `b * n + d`."""
        prefix = prefix or ""

        def join(title, text, question):
            title = title.removeprefix('"').removesuffix('"')
            return (prefix + title + self.title_sep + text + self.doc_sep + question).replace("  ", " ")

        strings = [join(docs[i]["title"][j], docs[i]["text"][j], input_strings[i])
                   for i in range(len(docs)) for j in range(n_docs)]
        encoded = self.generator_tokenizer(strings, max_length=self.max_combined_length, padding="max_length",
                                           truncation=True, return_tensors="np")
        return encoded["input_ids"].astype("int32"), encoded["attention_mask"].astype("int32")

    def __call__(self, question_input_ids, question_hidden_states, prefix=None, n_docs=None):
        """Retrieves for a batch of questions.

        Args:
            question_input_ids: int array `(B, L)`, the questions in the question encoder's vocabulary.
            question_hidden_states: float array `(B, D)`, their embeddings.
            prefix: str prepended to every context (default: the retriever's `prefix`).
            n_docs: int, documents per question (default: the retriever's `n_docs`).

        Returns:
            dict of numpy arrays: `context_input_ids`, `context_attention_mask` `(B * n, max_combined_length)`,
            `retrieved_doc_embeds` `(B, n, D)`, `doc_ids` `(B, n)`.
        """
        n_docs = int(n_docs if n_docs is not None else self.n_docs)
        prefix = prefix if prefix is not None else self.prefix
        doc_embeds, doc_ids, docs = self.retrieve(question_hidden_states, n_docs)
        questions = self.question_encoder_tokenizer.batch_decode(np.asarray(question_input_ids).tolist(),
                                                                 skip_special_tokens=True)
        context_input_ids, context_attention_mask = self.postprocess_docs(docs, questions, prefix, n_docs)
        return {"context_input_ids": context_input_ids, "context_attention_mask": context_attention_mask,
                "retrieved_doc_embeds": doc_embeds, "doc_ids": doc_ids}
