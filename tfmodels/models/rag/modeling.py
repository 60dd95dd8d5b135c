"""RAG: a DPR question encoder, retrieved documents, and a seq2seq generator marginalised over them.

`RagModel` runs the generator (BART or T5, any registered seq2seq LM) on each
`(question, document)` context, `n_docs` rows per question; `RagTokenForGeneration`
marginalises the documents per token, `RagSequenceForGeneration` per sequence.
The documents come either from the caller (`context_input_ids`,
`context_attention_mask`, `doc_scores`, as `transformers.RagRetriever` returns
them) or from a `tfmodels.models.rag.retrieval.RagRetriever` given to the model
(retrieval runs eagerly, in Python: tokenizers and the passage index).

Size glossary: B questions, n `n_docs`, S context length, T target length,
V the generator's vocabulary, D the retrieval vector size, K beams.

References:
    Lewis et al., "Retrieval-Augmented Generation for Knowledge-Intensive NLP
    Tasks", NeurIPS 2020. Parity reference: `transformers.models.rag.modeling_rag`
    (PyTorch) and `retrieval_rag.py`.
"""

import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.generation.seq2seq import MarginalizedDecoderStep, Seq2SeqGenerationMixin, _DecoderStep
from tfmodels.layers.losses import rag_sequence_nll, rag_token_nll
from tfmodels.models.base import PreTrainedModel, to_int_tensor
from tfmodels.models.heads import HeadModelMixin

# Fields of a nested config that describe the PyTorch side, not the sub-model.
_SUBCONFIG_DROP = ("architectures", "transformers_version", "dtype", "torch_dtype", "_name_or_path")
_DOC_INPUTS = ("context_input_ids", "context_attention_mask", "doc_scores")


def _family_class(task, model_type):
    """The tfmodels class the Auto registry of `task` holds for `model_type` (the reference's `AutoModel*`)."""
    from tfmodels.models import catalogue

    for family in catalogue.families():
        for entry_task, entry_type, cls in family.auto_entries():
            if entry_task == task and entry_type == model_type:
                return cls
    raise ValueError(f"RAG has no {task} model for the sub-config model_type={model_type!r}; tfmodels implements "
                     "question encoders such as 'dpr' and generators such as 'bart' and 't5'.")


def _sub_model(fields, default_type, task, dtype, name):
    fields = dict(fields or {})
    model_type = fields.get("model_type") or default_type
    fields = {k: v for k, v in fields.items() if k not in _SUBCONFIG_DROP}
    return _family_class(task, model_type)(**fields, dtype=dtype, name=name)


def _sub_config(model):
    config = model.hf_config()
    config.pop("architectures", None)
    return config


def marginalize(seq_logits, doc_scores, n_docs):
    """RAG-token marginalisation: `logsumexp_z(log_softmax(doc_scores)_z + log_softmax(seq_logits)_z)`.

    Args:
        seq_logits: float `(B * n, T, V)`, the generator's logits per (question, document) row.
        doc_scores: float `(B, n)`.
        n_docs: int, `n`.

    Returns:
        float32 `(B, T, V)` log-probabilities.

    References: `transformers.RagTokenForGeneration.marginalize`.
    """
    seq_logprobs = tf.nn.log_softmax(tf.cast(seq_logits, tf.float32), axis=-1)
    seq_logprobs = tf.reshape(seq_logprobs, (-1, n_docs, *seq_logprobs.shape[1:]))  # (B, n, T, V)
    doc_logprobs = tf.nn.log_softmax(tf.cast(doc_scores, tf.float32), axis=1)
    return tf.reduce_logsumexp(seq_logprobs + doc_logprobs[:, :, None, None], axis=1)


class RagPreTrainedModel(PreTrainedModel):
    """What the RAG classes share: input preparation, dummy inputs, the generation config."""

    model_type = "rag"
    input_names = ("input_ids", "attention_mask", "context_input_ids", "context_attention_mask", "doc_scores",
                   "decoder_input_ids", "decoder_attention_mask")
    float_input_names = ("doc_scores",)

    def _rag_model(self):
        return self

    @property
    def question_encoder_model(self):
        return self._rag_model().question_encoder

    @property
    def generator_model(self):
        return self._rag_model().generator

    @property
    def retriever(self):
        """The `RagRetriever` used when a call gives no documents, or `None`."""
        return self._rag_model().__dict__.get("_retriever")

    def set_retriever(self, retriever):
        """Sets (or with `None`, removes) the retriever used when a call gives no documents."""
        object.__setattr__(self._rag_model(), "_retriever", retriever)

    def _n_docs(self, n_docs):
        return int(n_docs if n_docs is not None else self._rag_model().config["n_docs"])

    def dummy_inputs(self, batch_size=1, seq_len=4):
        n = self._n_docs(None)
        return {
            "context_input_ids": np.ones((batch_size * n, seq_len), "int32"),
            "context_attention_mask": np.ones((batch_size * n, seq_len), "int32"),
            "doc_scores": np.zeros((batch_size, n), "float32"),
            "decoder_input_ids": np.ones((batch_size, 2), "int32"),
        }

    def build(self, *args, **kwargs):
        """Nothing to make here: the sub-models make their variables in their first calls (`build_from_dummy_inputs`).

        Defined so that Keras does not warn about the sub-models still unbuilt when it marks the model built.
        """
        self.built = True

    def build_from_dummy_inputs(self):
        """Builds the question encoder (a call with documents does not run it), then the rest with a call."""
        self.question_encoder_model.build_from_dummy_inputs()
        return super().build_from_dummy_inputs()

    def _prepare_inputs(self, inputs, kwargs=None, cached=False):
        """Merges the inputs into a dict of tensors (ids and masks int32, `doc_scores` float).

        Raises:
            TypeError: unknown input names, float ids, integer `doc_scores`.
            ValueError: neither `input_ids` nor the documents are given.
        """
        merged = {k: v for k, v in self._merge_inputs(inputs, kwargs).items() if v is not None}
        if "input_ids" not in merged and "context_input_ids" not in merged:
            raise ValueError(f"{type(self).__name__} needs `input_ids` (with a retriever) or the retrieved documents "
                             f"`context_input_ids`, `context_attention_mask`, `doc_scores`. Received: {sorted(merged)}.")
        prepared = {}
        for key, value in merged.items():
            if key == "doc_scores":
                tensor = tf.convert_to_tensor(value)
                if not tensor.dtype.is_floating:
                    raise TypeError(f"`doc_scores` must be floating point (batch, n_docs). Received dtype "
                                    f"{tensor.dtype.name}.")
                prepared[key] = tensor
            else:
                prepared[key] = to_int_tensor(value, key)
        return prepared


class RagModel(RagPreTrainedModel):
    """The question encoder, the retrieval step and the generator run on every (question, document) row.

    Args: the fields of a Hugging Face `RagConfig`: `question_encoder` and `generator` (dicts of the
    sub-models' config fields, with their `model_type`: default `"dpr"` and `"bart"`), `n_docs`,
    `max_combined_length`, `title_sep`, `doc_sep`, `prefix`, `reduce_loss`, `label_smoothing`,
    `exclude_bos_score`, `do_marginalize`, `do_deduplication`, `output_retrieved`, the token ids;
    other fields (`dataset`, `index_name`, ...) are kept and written back. `retriever`: an optional
    `tfmodels.models.rag.retrieval.RagRetriever` (not part of the config; also `set_retriever`).

    Call inputs:
        input_ids, attention_mask: int `(B, L)`, the question for the question encoder (used only
            to retrieve: without a retriever the documents must be given).
        context_input_ids, context_attention_mask: int `(B * n, S)`, each question's `n` documents
            joined with it (rows `b * n + d`), in the generator's vocabulary.
        doc_scores: float `(B, n)`, inner products of question and document embeddings.
        decoder_input_ids, decoder_attention_mask: int `(B, T)`, repeated for each document.
    Call options: `n_docs` (default `config.n_docs`), `output_retrieved`, `output_attentions`,
    `output_hidden_states`.

    Returns:
        dict (the reference's `RetrievAugLMOutput` names) with `logits` `(B * n, T, V)`, `doc_scores`
        `(B, n)`, `generator_enc_last_hidden_state` `(B * n, S, d_model)`; when the model retrieved:
        `question_encoder_last_hidden_state` `(B, D)` (the question embedding) and, with
        `output_retrieved`, `context_input_ids`, `context_attention_mask`, `retrieved_doc_embeds`
        `(B, n, D)`, `retrieved_doc_ids` `(B, n)`; when asked, `generator_enc_hidden_states`,
        `generator_dec_hidden_states`, `generator_enc_attentions`, `generator_dec_attentions`,
        `generator_cross_attentions`, `question_enc_hidden_states`, `question_enc_attentions`.

    Raises:
        ValueError: no documents and no retriever; document shapes that disagree with `n_docs`;
            retrieval inside a `tf.function`.

    References: `transformers.RagModel`.
    """

    def __init__(self, question_encoder=None, generator=None, n_docs=5, max_combined_length=300, title_sep=" / ",
                 doc_sep=" // ", prefix=None, reduce_loss=False, label_smoothing=0.0, exclude_bos_score=False,
                 do_marginalize=False, do_deduplication=True, output_retrieved=False, retrieval_vector_size=768,
                 bos_token_id=None, pad_token_id=None, eos_token_id=None, decoder_start_token_id=None,
                 vocab_size=None, is_encoder_decoder=True, use_cache=True, retriever=None, **kwargs):
        super().__init__(**kwargs)
        self._record_config(locals(), exclude=("question_encoder", "generator", "retriever"))
        self.question_encoder = _sub_model(question_encoder, "dpr", "base", self.dtype_policy, "question_encoder")
        self.generator = _sub_model(generator, "bart", "seq2seq-lm", self.dtype_policy, "generator")
        self.set_retriever(retriever)

    def _sub_configs(self):
        return {"question_encoder": _sub_config(self.question_encoder), "generator": _sub_config(self.generator)}

    def hf_config(self):
        return {**super().hf_config(), **self._sub_configs()}

    def get_config(self):
        return {**super().get_config(), **self._sub_configs()}

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False, output_retrieved=None,
             n_docs=None):
        return self.rag_outputs(self._prepare_inputs(inputs), training, output_attentions, output_hidden_states,
                                output_retrieved, n_docs)

    def retrieve(self, input_ids, attention_mask=None, n_docs=None, training=None, output_attentions=False,
                 output_hidden_states=False):
        """Encodes the questions and retrieves their documents with the model's retriever (eager only).

        Args:
            input_ids, attention_mask: int `(B, L)`, questions in the question encoder's vocabulary.
            n_docs: int, documents per question (default `config.n_docs`).

        Returns:
            dict with `context_input_ids`, `context_attention_mask` `(B * n, S)`, `doc_scores` `(B, n)`
            (`question embedding . document embedding`, as the reference computes them),
            `retrieved_doc_embeds` `(B, n, D)`, `retrieved_doc_ids` `(B, n)`,
            `question_encoder_last_hidden_state` `(B, D)` and, when asked, `question_enc_hidden_states`,
            `question_enc_attentions`.

        Raises:
            ValueError: without a retriever, or inside a `tf.function`.
        """
        if self.retriever is None:
            raise ValueError("RagModel needs `context_input_ids`, `context_attention_mask` and `doc_scores` (the "
                             "retrieved documents), or a retriever: RagModel.from_pretrained(path, retriever=...) "
                             "or model.set_retriever(tfmodels.RagRetriever(...)).")
        if not tf.executing_eagerly():
            raise ValueError("Retrieval runs in Python (tokenizers and the passage index), so a RAG model with a "
                             "retriever must be called eagerly; inside a tf.function pass the documents instead "
                             "(`context_input_ids`, `context_attention_mask`, `doc_scores` from `model.retrieve`).")
        n_docs = self._n_docs(n_docs)
        question_inputs = {"input_ids": input_ids}
        if attention_mask is not None:
            question_inputs["attention_mask"] = attention_mask
        question = self.question_encoder(question_inputs, training=training, output_attentions=output_attentions,
                                         output_hidden_states=output_hidden_states)
        question_states = question["pooler_output"]  # (B, D)
        retrieved = self.retriever(np.asarray(input_ids), np.asarray(question_states, dtype="float32"),
                                   prefix=self.generator_model._generation_model_config().get("prefix"),
                                   n_docs=n_docs)
        doc_embeds = tf.cast(retrieved["retrieved_doc_embeds"], question_states.dtype)  # (B, n, D)
        outputs = {
            "context_input_ids": tf.cast(retrieved["context_input_ids"], tf.int32),
            "context_attention_mask": tf.cast(retrieved["context_attention_mask"], tf.int32),
            "doc_scores": tf.einsum("bd,bnd->bn", question_states, doc_embeds),
            "retrieved_doc_embeds": doc_embeds,
            "retrieved_doc_ids": tf.convert_to_tensor(retrieved["doc_ids"]),
            "question_encoder_last_hidden_state": question_states,
        }
        for ours, theirs in (("question_enc_hidden_states", "hidden_states"), ("question_enc_attentions", "attentions")):
            if theirs in question:
                outputs[ours] = question[theirs]
        return outputs

    def rag_outputs(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
                    output_retrieved=None, n_docs=None):
        """The forward pass on prepared inputs (the heads call it on `model.rag`); see the class docstring."""
        n_docs = self._n_docs(n_docs)
        if output_retrieved is None:
            output_retrieved = self.config["output_retrieved"]
        retrieved = {}
        if any(inputs.get(k) is None for k in _DOC_INPUTS):
            if self.retriever is None or inputs.get("input_ids") is None:
                missing = [k for k in _DOC_INPUTS if inputs.get(k) is None]
                raise ValueError(f"RagModel needs {missing} (the retrieved documents) when it has no retriever, or "
                                 "`input_ids` and a retriever (model.set_retriever(...)).")
            retrieved = self.retrieve(inputs["input_ids"], inputs.get("attention_mask"), n_docs, training,
                                      output_attentions, output_hidden_states)
            inputs = {**inputs, **{k: retrieved.pop(k) for k in _DOC_INPUTS}}
            if not output_retrieved:
                retrieved.pop("retrieved_doc_embeds")
                retrieved.pop("retrieved_doc_ids")
            else:
                retrieved = {"context_input_ids": inputs["context_input_ids"],
                             "context_attention_mask": inputs["context_attention_mask"], **retrieved}
        doc_scores = inputs["doc_scores"]
        context_rows = inputs["context_input_ids"].shape[0]
        if len(doc_scores.shape) != 2 or doc_scores.shape[1] != n_docs or (
                context_rows is not None and doc_scores.shape[0] is not None
                and context_rows != doc_scores.shape[0] * n_docs):
            raise ValueError(f"doc_scores must be (batch, n_docs={n_docs}) and context_input_ids "
                             f"(batch * n_docs, context_len). Received shapes {tuple(doc_scores.shape)} and "
                             f"{tuple(inputs['context_input_ids'].shape)}; pass n_docs= to match.")
        generator_inputs = {"input_ids": inputs["context_input_ids"],
                            "attention_mask": inputs["context_attention_mask"]}
        for key in ("decoder_input_ids", "decoder_attention_mask"):
            if inputs.get(key) is not None:
                generator_inputs[key] = tf.repeat(inputs[key], n_docs, axis=0)  # (B * n, T)
        generated = self.generator(generator_inputs, training=training, output_attentions=output_attentions,
                                   output_hidden_states=output_hidden_states)
        outputs = {"logits": generated["logits"], "doc_scores": doc_scores, **retrieved,
                   "generator_enc_last_hidden_state": generated["encoder_last_hidden_state"]}
        for ours, theirs in (("generator_enc_hidden_states", "encoder_hidden_states"),
                             ("generator_enc_attentions", "encoder_attentions"),
                             ("generator_dec_hidden_states", "decoder_hidden_states"),
                             ("generator_dec_attentions", "decoder_attentions"),
                             ("generator_cross_attentions", "cross_attentions")):
            if theirs in generated:
                outputs[ours] = generated[theirs]
        return outputs


class _RagHeadMixin(HeadModelMixin):
    """A `RagModel` under `rag` (checkpoint keys `rag.question_encoder.*`, `rag.generator.*`)."""

    base_model_prefix = "rag"
    backbone_class = RagModel
    backbone_kwargs = {}
    label_names = ("labels",)

    def __init__(self, **kwargs):
        self._init_backbone(kwargs)
        self.config = {}

    def _rag_model(self):
        return self.rag

    @property
    def question_encoder(self):
        """The question encoder (`rag.question_encoder`), as the reference's property."""
        return self.rag.question_encoder

    @property
    def generator(self):
        """The generator (`rag.generator`), as the reference's property."""
        return self.rag.generator

    def _rag_field(self, name, value):
        return self.rag.config[name] if value is None else value

    def _generation_model_config(self):
        """(Before `GenerationMixin`'s in the heads' MRO.) The generator's config with the RAG config's set fields over it (`vocab_size` is the generator's)."""
        rag = self._rag_model()
        generator = self.generator_model._generation_model_config()
        own = {k: v for k, v in {**rag.extra_config, **rag.config}.items() if v is not None}
        return {**generator, **own, "vocab_size": generator["vocab_size"]}

    def _generation_documents(self, input_ids, attention_mask, context_input_ids, context_attention_mask, doc_scores,
                              n_docs):
        """`generate()`'s documents: given, else retrieved for `input_ids` with the model's retriever.

        Raises:
            ValueError: neither documents nor `input_ids`, or documents without their mask or scores.
        """
        if context_input_ids is None:
            if input_ids is None:
                raise ValueError("generate() needs `input_ids` (with a retriever) or `context_input_ids`, "
                                 "`context_attention_mask` and `doc_scores`.")
            retrieved = self.rag.retrieve(to_int_tensor(input_ids, "input_ids"), attention_mask, n_docs)
            return tuple(retrieved[k] for k in _DOC_INPUTS)
        if context_attention_mask is None or doc_scores is None:
            raise ValueError("generate() with `context_input_ids` needs `context_attention_mask` and `doc_scores` "
                             "(batch, n_docs) too.")
        return context_input_ids, context_attention_mask, doc_scores

    def _pad_token_id(self):
        return self.generator_model._generation_model_config()["pad_token_id"]

    def _forward(self, inputs, training, output_attentions, output_hidden_states, output_retrieved, n_docs):
        inputs = self._prepare_inputs(inputs)
        labels = inputs.pop("labels", None)
        if labels is not None and inputs.get("decoder_input_ids") is None:
            inputs["decoder_input_ids"] = labels  # RAG feeds the labels themselves; the loss shifts them left
        outputs = self.rag.rag_outputs(inputs, training, output_attentions, output_hidden_states, output_retrieved,
                                       n_docs)
        return outputs, labels, inputs.get("decoder_input_ids")


class RagTokenForGeneration(_RagHeadMixin, Seq2SeqGenerationMixin, RagPreTrainedModel):
    """RAG-token: each target token marginalises over the documents; `generate()` decodes that mixture.

    Call inputs: as `RagModel`, plus `labels` `(B, T)`: the decoder inputs when
    `decoder_input_ids` is not given, and the loss's targets shifted left (pad ids ignored).
    Call options: as `RagModel`, plus `do_marginalize` (default `config.do_marginalize`),
    `reduce_loss` (default `config.reduce_loss`); `config.label_smoothing` is the loss's `epsilon`.

    Returns:
        `RagModel`'s dict, with `loss` `(B,)` (a scalar with `reduce_loss`) when `labels` is given
        (`tfmodels.layers.losses.rag_token_nll`), and `logits` marginalised to `(B, T, V)`
        log-probabilities with `do_marginalize`.

    `generate(input_ids=None, attention_mask=None, context_input_ids=None, context_attention_mask=None,
    doc_scores=None, n_docs=None, **options)`: the generator's encoder runs once on every document,
    then greedy or beam search (the options of `tfmodels.generation.utils.GenerationMixin.generate`)
    over the marginal next-token log-probabilities (`tfmodels.generation.seq2seq.MarginalizedDecoderStep`).

    References: `transformers.RagTokenForGeneration`.
    """

    generation_input_names = ("doc_scores",)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False, output_retrieved=None,
             n_docs=None, do_marginalize=None, reduce_loss=None):
        n_docs = self._n_docs(n_docs)
        outputs, labels, _ = self._forward(inputs, training, output_attentions, output_hidden_states,
                                           output_retrieved, n_docs)
        if labels is not None:
            log_probs = marginalize(outputs["logits"], outputs["doc_scores"], n_docs)
            outputs = {"loss": rag_token_nll(log_probs, labels, self._pad_token_id(),
                                             self._rag_field("reduce_loss", reduce_loss),
                                             self.rag.config["label_smoothing"]), **outputs}
        if self._rag_field("do_marginalize", do_marginalize):
            outputs["logits"] = marginalize(outputs["logits"], outputs["doc_scores"], n_docs)
        return outputs

    def generate(self, input_ids=None, attention_mask=None, context_input_ids=None, context_attention_mask=None,
                 doc_scores=None, n_docs=None, **options):
        """RAG-token decoding; returns int32 `(B * num_return_sequences, 1 + generated)` from `decoder_start_token_id`.

        Without documents, retrieves them for `input_ids` with the model's retriever.

        Raises:
            ValueError: no documents and no retriever, shapes that disagree with `n_docs`,
                `num_return_sequences > 1` without beams, and the errors of `GenerationMixin.generate`.
        """
        n_docs = self._n_docs(n_docs)
        context_input_ids, context_attention_mask, doc_scores = self._generation_documents(
            input_ids, attention_mask, context_input_ids, context_attention_mask, doc_scores, n_docs)
        doc_scores = tf.cast(tf.convert_to_tensor(doc_scores), tf.float32)
        rows = tf.convert_to_tensor(context_input_ids).shape[0]
        if len(doc_scores.shape) != 2 or doc_scores.shape[1] != n_docs or rows != doc_scores.shape[0] * n_docs:
            raise ValueError(f"doc_scores must be (batch, n_docs={n_docs}) and context_input_ids (batch * n_docs, "
                             f"context_len). Received shapes {tuple(doc_scores.shape)} and {rows} rows.")
        if int(options.get("num_return_sequences") or 1) > 1 and int(options.get("num_beams") or 1) == 1:
            raise ValueError("RagTokenForGeneration.generate() returns one sequence per question without beams; "
                             "num_return_sequences > 1 needs num_beams >= num_return_sequences.")
        return super().generate(context_input_ids, attention_mask=context_attention_mask, doc_scores=doc_scores,
                                **options)

    def _search_inputs(self, input_ids, attention_mask, num_beams, doc_scores=None):
        generator = self.generator_model
        batch, n_docs = doc_scores.shape
        encoder_hidden_states = generator.encode(input_ids, attention_mask, training=False)["last_hidden_state"]
        cross_key_values = generator.cross_key_values(encoder_hidden_states)  # per layer (B * n, 2, S, N, H)

        def per_beam(t):  # (B * n, ...) -> (B * K * n, ...), rows (b * K + k) * n + d, as the reference
            t = tf.reshape(t, (batch, 1, n_docs, *t.shape[1:]))
            t = tf.repeat(t, num_beams, axis=1)
            return tf.reshape(t, (batch * num_beams * n_docs, *t.shape[3:]))

        if num_beams > 1:
            attention_mask = per_beam(attention_mask)
            cross_key_values = tuple(per_beam(kv) for kv in cross_key_values)
            doc_scores = tf.repeat(doc_scores, num_beams, axis=0)  # (B * K, n)
        doc_log_probs = tf.nn.log_softmax(tf.cast(doc_scores, tf.float32), axis=1)
        step = MarginalizedDecoderStep(_DecoderStep(generator, attention_mask, cross_key_values), doc_log_probs)
        start_id = self._generation_model_config()["decoder_start_token_id"]
        start = tf.fill((batch, 1), tf.constant(start_id, tf.int32))
        return step, start, tf.ones_like(start)


class RagSequenceForGeneration(_RagHeadMixin, RagPreTrainedModel):
    """RAG-sequence: each whole target sequence marginalises over the documents.

    Call inputs and options: as `RagTokenForGeneration` (no `do_marginalize`), plus
    `exclude_bos_score` (default `config.exclude_bos_score`).

    Returns:
        `RagModel`'s dict, with `loss` `(B,)` (a scalar with `reduce_loss`) when `labels` is given
        (`tfmodels.layers.losses.rag_sequence_nll` on the decoder inputs).

    `generate(...)`: the reference's "thorough" decoding: per question, beam search on each document
    with the generator (`num_beams` hypotheses per document), duplicates removed
    (`do_deduplication`), every candidate rescored by the RAG-sequence likelihood, the best
    `num_return_sequences` kept.

    References: `transformers.RagSequenceForGeneration`.
    """

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False, output_retrieved=None,
             n_docs=None, exclude_bos_score=None, reduce_loss=None):
        n_docs = self._n_docs(n_docs)
        outputs, labels, decoder_input_ids = self._forward(inputs, training, output_attentions, output_hidden_states,
                                                           output_retrieved, n_docs)
        if labels is not None:
            logits = outputs["logits"]
            seq_log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
            seq_log_probs = tf.reshape(seq_log_probs, (-1, n_docs, *seq_log_probs.shape[1:]))
            doc_log_probs = tf.nn.log_softmax(tf.cast(outputs["doc_scores"], tf.float32), axis=1)
            # As the reference: `config.bos_token_id or config.generator.bos_token_id`.
            bos = self.rag.config["bos_token_id"] or self.generator_model._generation_model_config().get("bos_token_id")
            loss = rag_sequence_nll(seq_log_probs, doc_log_probs, decoder_input_ids, self._pad_token_id(), bos,
                                    self._rag_field("reduce_loss", reduce_loss), self.rag.config["label_smoothing"],
                                    self._rag_field("exclude_bos_score", exclude_bos_score))
            outputs = {"loss": loss, **outputs}
        return outputs

    def generate(self, input_ids=None, attention_mask=None, context_input_ids=None, context_attention_mask=None,
                 doc_scores=None, do_deduplication=None, num_return_sequences=None, num_beams=None, n_docs=None,
                 **options):
        """RAG-sequence decoding; returns int32 `(B * num_return_sequences, length)`, padded with the
        generator's `pad_token_id`.

        Args:
            input_ids, attention_mask: the questions (documents retrieved with the model's retriever).
            context_input_ids, context_attention_mask, doc_scores: or the documents themselves.
            do_deduplication: bool, default `config.do_deduplication`.
            num_return_sequences: int, default 1; num_beams: int, default 1 (the generator's beams per document).
            n_docs: int, default `config.n_docs`.
            **options: passed to the generator's `generate()` (`max_new_tokens`, ...).

        Raises:
            ValueError: no documents and no retriever, or shapes that disagree with `n_docs`.
        """
        n_docs = self._n_docs(n_docs)
        dedup = self.rag.config["do_deduplication"] if do_deduplication is None else do_deduplication
        n_return = int(num_return_sequences or 1)
        num_beams = int(num_beams or 1)
        context_input_ids, context_attention_mask, doc_scores = self._generation_documents(
            input_ids, attention_mask, context_input_ids, context_attention_mask, doc_scores, n_docs)
        context_input_ids = np.asarray(context_input_ids, "int32")
        context_attention_mask = np.asarray(context_attention_mask, "int32")
        doc_scores = np.asarray(doc_scores, "float32")
        if context_input_ids.shape[0] != doc_scores.shape[0] * n_docs or doc_scores.shape[1] != n_docs:
            raise ValueError(f"doc_scores must be (batch, n_docs={n_docs}) and context_input_ids (batch * n_docs, "
                             f"context_len). Received shapes {doc_scores.shape} and {context_input_ids.shape}.")
        hypotheses = []
        for index in range(doc_scores.shape[0]):
            documents = context_input_ids[index * n_docs:(index + 1) * n_docs]  # (n, S)
            # As the reference: the generator attends to every context token (it passes no attention mask).
            candidates = np.asarray(self.generator_model.generate(documents, num_beams=num_beams,
                                                                  num_return_sequences=num_beams, **options))
            if dedup:
                candidates = np.stack(list({tuple(row.tolist()): row for row in candidates}.values()))
            count = len(candidates)
            scored = self({
                "context_input_ids": np.tile(documents, (count, 1)),
                "context_attention_mask": np.tile(context_attention_mask[index * n_docs:(index + 1) * n_docs],
                                                  (count, 1)),
                "doc_scores": np.tile(doc_scores[index:index + 1], (count, 1)),
                "labels": candidates,
            }, training=False, n_docs=n_docs, exclude_bos_score=True, reduce_loss=False)
            best = tf.math.top_k(-scored["loss"], k=min(n_return, count)).indices.numpy()
            hypotheses.append(candidates[best])
        pad = self._pad_token_id()
        length = max(h.shape[1] for h in hypotheses)
        output = np.full((sum(len(h) for h in hypotheses), length), pad, dtype="int32")
        row = 0
        for h in hypotheses:
            output[row:row + len(h), :h.shape[1]] = h
            row += len(h)
        return tf.constant(output)
