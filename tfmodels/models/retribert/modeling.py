"""RetriBERT: a BERT bi-encoder for dense retrieval of answers to questions.

References:
    Jernite, "Explain Anything Like I'm Five: A Model for Open Domain Long
    Form Question Answering", 2020 (the ELI5 retriever).
    Parity reference: `transformers.models.deprecated.retribert.modeling_retribert`
    (PyTorch, transformers 4.46.3; removed in transformers 5).
"""

import keras
from keras import ops

from tfmodels.layers.losses import contrastive_loss, replica_share
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.bert.modeling import BertModel
from tfmodels.models.encoder import BERT_FIELDS


class RetriBertModel(PreTrainedModel):
    """Question and answer towers (two BERTs, or one with `share_encoders`) with linear projections.

    A text's embedding is its tower's `pooler_output` projected without bias
    (`project_query` for questions, `project_doc` for answers). Training
    contrasts every question with every answer of the batch: the loss is the
    mean of the two cross-entropies of `scores = question_embeds @
    answer_embeds^T` (question -> answer and answer -> question), the
    matching pairs on the diagonal.

    Args:
        the `BertModel` fields (`vocab_size`, `hidden_size`, `num_hidden_layers`, ...),
        share_encoders: bool, one BERT (`bert_query`) embeds both questions and answers.
        projection_dim: int `P`, width of the embeddings.
        **kwargs: other Hugging Face fields (kept) and Keras arguments.

    Call inputs (dict or keywords; int `(batch, seq_len)`, the two lengths may differ):
        input_ids_query, attention_mask_query: the questions.
        input_ids_doc, attention_mask_doc: the answers (documents), one per question.

    Returns:
        dict with `loss` (float32 scalar), the reference's only output.
        `embed_questions` / `embed_answers` give the embeddings `(batch, P)`.

    Raises:
        ValueError: a missing input, or question and answer batches of different sizes.

    Not supported: the reference's `checkpoint_batch_size` (gradient checkpointing in
    chunks, which changes memory use, not results).
    """

    model_type = "retribert"
    input_names = ("input_ids_query", "attention_mask_query", "input_ids_doc", "attention_mask_doc")
    main_input_name = "input_ids_query"
    serving_outputs = ("loss",)

    def __init__(
        self,
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=8,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        share_encoders=True,
        projection_dim=128,
        pad_token_id=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        bert = {name: self.config[name] for name in BERT_FIELDS}
        self.bert_query = BertModel(**bert, dtype=self.dtype_policy, name="bert_query")
        self.bert_doc = None if share_encoders else BertModel(**bert, dtype=self.dtype_policy, name="bert_doc")
        init = hf_initializer(initializer_range)
        self.project_query = keras.layers.Dense(projection_dim, use_bias=False, kernel_initializer=init,
                                                dtype=self.dtype_policy, name="project_query")
        self.project_doc = keras.layers.Dense(projection_dim, use_bias=False, kernel_initializer=init,
                                              dtype=self.dtype_policy, name="project_doc")

    def dummy_inputs(self, batch_size=1, seq_len=4):
        ids = super().dummy_inputs(batch_size, seq_len)["input_ids"]
        return {"input_ids_query": ids, "input_ids_doc": ids}

    def _embed(self, tower, projection, input_ids, attention_mask, training):
        inputs = {"input_ids": input_ids}
        if attention_mask is not None:
            inputs["attention_mask"] = attention_mask
        return projection(tower(inputs, training=training)["pooler_output"])  # (batch, P)

    def embed_questions(self, input_ids, attention_mask=None, training=False):
        """Question embeddings: `project_query(bert_query(...).pooler_output)`, float `(batch, P)`."""
        return self._embed(self.bert_query, self.project_query, input_ids, attention_mask, training)

    def embed_answers(self, input_ids, attention_mask=None, training=False):
        """Answer embeddings: `project_doc` of the pooled output of `bert_doc` (`bert_query` when shared)."""
        tower = self.bert_query if self.bert_doc is None else self.bert_doc
        return self._embed(tower, self.project_doc, input_ids, attention_mask, training)

    def call(self, inputs, training=None):
        inputs = self._prepare_inputs(inputs)
        if "input_ids_doc" not in inputs:
            raise ValueError(f"{type(self).__name__} needs `input_ids_doc` (the answers) beside `input_ids_query`. "
                             f"Received inputs: {sorted(inputs)}.")
        queries, docs = inputs["input_ids_query"], inputs["input_ids_doc"]
        if None not in (queries.shape[0], docs.shape[0]) and queries.shape[0] != docs.shape[0]:
            raise ValueError("RetriBertModel contrasts each question with its own answer: the batches must have "
                             f"the same size. Received: input_ids_query {tuple(queries.shape)}, "
                             f"input_ids_doc {tuple(docs.shape)}.")
        question_embeds = self.embed_questions(queries, inputs.get("attention_mask_query"), training)
        answer_embeds = self.embed_answers(docs, inputs.get("attention_mask_doc"), training)
        scores = ops.matmul(question_embeds, ops.transpose(answer_embeds))  # (batch, batch)
        return {"loss": contrastive_loss(scores)}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The model's own `loss` output (it needs no labels); Keras' compiled loss if one was given."""
        if self._compile_loss is not None:
            return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        loss = y_pred["loss"]
        if self.losses:
            loss = loss + ops.cast(ops.sum(self.losses), loss.dtype)
        return replica_share(loss)
