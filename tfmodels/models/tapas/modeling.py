"""TAPAS: BERT over flattened tables, with token types for the table structure and a cell-selection head.

The input is a question followed by a table flattened row by row. Besides
words and positions, each token embeds seven token types (`token_type_ids
(batch, seq_len, 7)`): segment, column, row, previous label, column rank,
inverse column rank and numeric relation. With
`reset_position_index_per_cell`, positions count from the start of each
table cell. The encoder is BERT's (`EncoderModel`).

References:
    Herzig et al., "TaPas: Weakly Supervised Table Parsing via
    Pre-training", ACL 2020. Eisenschlos et al., "Understanding tables with
    intermediate pre-training", EMNLP Findings 2020 (position reset).
    Parity reference: `transformers.models.tapas.modeling_tapas` (PyTorch).
"""

import keras
from keras import ops

from tfmodels.layers import segmented
from tfmodels.layers.cell_selection import CellSelectionHead, TableIndex, average_per_cell, single_column_logits
from tfmodels.layers.losses import TABLE_QA_LOSS_FIELDS, table_question_answering_loss
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.bert.modeling import BertForMaskedLM
from tfmodels.models.encoder import BERT_FIELDS, EncoderModel
from tfmodels.models.heads import HeadModelMixin, SequenceClassificationMixin

# The meaning of each of the seven `token_type_ids` channels, in order.
TOKEN_TYPES = ("segment_ids", "column_ids", "row_ids", "prev_labels", "column_ranks", "inv_column_ranks",
               "numeric_relations")
_COLUMN, _ROW = TOKEN_TYPES.index("column_ids"), TOKEN_TYPES.index("row_ids")


def cell_position_ids(token_type_ids, num_columns, num_rows, max_position_embeddings):
    """Positions counted from the first token of each table cell (`reset_position_index_per_cell`).

    Tokens outside the table (column 0 and row 0: the question, padding) form
    one segment that starts at 0, so they keep their absolute positions.

    Args:
        token_type_ids: int `(batch, seq_len, >= 3)`, column ids in channel 1, row ids in channel 2.
        num_columns, num_rows: ints, `type_vocab_sizes[1]` and `type_vocab_sizes[2]`.
        max_position_embeddings: int; positions are clipped to `max_position_embeddings - 1`.

    Returns:
        int32 `(batch, seq_len)`.
    """
    seq_len = ops.shape(token_type_ids)[1]
    positions = ops.broadcast_to(ops.arange(seq_len, dtype="int32")[None, :], ops.shape(token_type_ids)[:2])
    column_index = segmented.IndexMap(token_type_ids[:, :, _COLUMN], num_columns, batch_dims=1)
    row_index = segmented.IndexMap(token_type_ids[:, :, _ROW], num_rows, batch_dims=1)
    cell_index = segmented.ProductIndexMap(column_index, row_index)
    first_position_per_cell, _ = segmented.reduce_min(positions, cell_index)  # (batch, columns * rows)
    first_position = segmented.gather(first_position_per_cell, cell_index)  # (batch, seq_len)
    return ops.minimum(max_position_embeddings - 1, positions - first_position)


class TapasModel(EncoderModel):
    """The TAPAS encoder: BERT with seven token-type tables and per-cell positions.

    Constructor arguments are the fields of a Hugging Face TAPAS `config.json`.

    Args:
        vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
        intermediate_size, hidden_act, hidden_dropout_prob,
        attention_probs_dropout_prob, initializer_range, layer_norm_eps,
        pad_token_id: as `BertModel`.
        max_position_embeddings: int, rows of the position table.
        type_vocab_sizes: sequence of ints, one token-type table per entry
            (default the seven TAPAS types, see `TOKEN_TYPES`).
        reset_position_index_per_cell: bool, default positions restart at
            each table cell (clipped to `max_position_embeddings - 1`, so any
            length is accepted); `False`: `arange(seq_len)`.
        add_pooling_layer: bool, build the tanh pooler.
        **kwargs: other Hugging Face fields (kept in `extra_config`, e.g. the
            question-answering fields) and Keras arguments.

    Call inputs (dict or keywords):
        input_ids: int `(batch, seq_len)`.
        attention_mask: 0/1 `(batch, seq_len)`; all ones if absent.
        token_type_ids: int `(batch, seq_len, len(type_vocab_sizes))`; zeros if absent.
        position_ids: int `(batch, seq_len)`; see `reset_position_index_per_cell` if absent.

    Returns:
        dict with `last_hidden_state (batch, seq_len, hidden_size)`,
        `pooler_output (batch, hidden_size)` (with a pooler) and, when asked,
        `hidden_states` / `attentions` as `BertModel`.

    Raises:
        ValueError: for `token_type_ids` of another shape, fewer than 3
            `type_vocab_sizes` with `reset_position_index_per_cell`, ids
            outside their tables, or a sequence longer than
            `max_position_embeddings` without the position reset.
    """

    model_type = "tapas"
    serving_outputs = ("last_hidden_state", "pooler_output")

    def __init__(
        self,
        vocab_size=30522,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=1024,
        type_vocab_sizes=(3, 256, 256, 2, 256, 256, 10),
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        reset_position_index_per_cell=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        type_vocab_sizes = [int(size) for size in type_vocab_sizes]
        if reset_position_index_per_cell and len(type_vocab_sizes) <= _ROW:
            raise ValueError(
                "reset_position_index_per_cell=True reads the column and row ids (token types 1 and 2), so "
                f"type_vocab_sizes needs at least 3 entries. Received: type_vocab_sizes={type_vocab_sizes}"
            )
        self._record_config(locals())
        fields = {name: self.config[name] for name in BERT_FIELDS if name != "type_vocab_size"}
        self._build_encoder(**fields, type_vocab_size=0, embedding_options={"type_vocab_sizes": type_vocab_sizes})

    @property
    def serving_extra_inputs(self):
        return {"token_type_ids": (len(self.config["type_vocab_sizes"]),)}

    def full_token_type_ids(self, inputs):
        """`inputs["token_type_ids"]` checked, or zeros: int32 `(batch, seq_len, num_token_types)`.

        Raises:
            ValueError: for another rank or number of channels.
        """
        num_types = len(self.config["type_vocab_sizes"])
        token_type_ids = inputs.get("token_type_ids")
        if token_type_ids is None:
            return ops.zeros((*ops.shape(inputs["input_ids"]), num_types), "int32")
        shape = tuple(token_type_ids.shape)
        if len(shape) != 3 or (shape[-1] is not None and shape[-1] != num_types):
            raise ValueError(
                f"{type(self).__name__} expects `token_type_ids` of shape (batch, seq_len, {num_types}): one "
                f"channel per token type {TOKEN_TYPES[:num_types]} (the TAPAS tokenizer's output). "
                f"Received: token_type_ids with shape {shape}."
            )
        return token_type_ids

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        inputs["token_type_ids"] = self.full_token_type_ids(inputs)
        if self.config["reset_position_index_per_cell"] and "position_ids" not in inputs:
            sizes = self.config["type_vocab_sizes"]
            inputs["position_ids"] = cell_position_ids(inputs["token_type_ids"], sizes[_COLUMN], sizes[_ROW],
                                                       self.config["max_position_embeddings"])
        return self._run(inputs, training, output_attentions, output_hidden_states)


class TapasHeadAttributes:
    """Listed first in the bases of the TAPAS heads: the backbone lives in `self.tapas`."""

    model_type = "tapas"
    base_model_prefix = "tapas"
    backbone_class = TapasModel

    @property
    def serving_extra_inputs(self):
        return self.backbone.serving_extra_inputs


class TapasForMaskedLM(TapasHeadAttributes, BertForMaskedLM):
    """TAPAS + BERT's masked-LM head (`cls.predictions`), tied to the word embeddings.

    Returns:
        dict with `logits (batch, seq_len, vocab_size)` and `loss` when
        `labels (batch, seq_len)` is given (-100 entries ignored).

    References: `transformers.TapasForMaskedLM`.
    """


class TapasForSequenceClassification(TapasHeadAttributes, SequenceClassificationMixin, PreTrainedModel):
    """TAPAS + dropout + linear classifier on the pooled output (table entailment, e.g. TabFact).

    Returns:
        dict with `logits (batch, num_labels)` and `loss` when `labels` is given
        (cross-entropy, MSE or BCE by `problem_type`, as `BertForSequenceClassification`).

    References: `transformers.TapasForSequenceClassification`.
    """


# Question-answering config fields besides the loss fields, with `TapasConfig`'s defaults.
_QA_FIELDS = dict(
    max_num_rows=64, max_num_columns=32, average_logits_per_cell=False, allow_empty_column_selection=False,
    init_cell_selection_weights_to_zero=False, aggregation_labels=None, no_aggregation_label_index=None,
)


class TapasForQuestionAnswering(TapasHeadAttributes, HeadModelMixin, PreTrainedModel):
    """TAPAS + the cell-selection head and, with `num_aggregation_labels > 0`, the aggregation head.

    Args: the `TapasModel` fields plus the question-answering fields of
    `TapasConfig`: `temperature`, `select_one_column`,
    `allow_empty_column_selection`, `max_num_rows`, `max_num_columns`,
    `average_logits_per_cell`, `init_cell_selection_weights_to_zero`,
    `num_aggregation_labels`, `aggregation_labels`,
    `no_aggregation_label_index` and the loss fields
    (`tfmodels.layers.losses.TABLE_QA_LOSS_FIELDS`: `positive_label_weight`,
    `use_answer_as_supervision`, `cell_selection_preference`,
    `huber_loss_delta`, `answer_loss_cutoff`, ...).

    Call inputs: those of `TapasModel`, plus
        table_mask: optional 0/1 `(batch, seq_len)`, table-cell tokens
            (default: row id > 0); read by the answer loss.
        labels: optional int `(batch, seq_len)`, 1 for answer tokens.
        aggregation_labels: int `(batch,)` (strong supervision of aggregation).
        float_answer: float `(batch,)`, NaN for cell-selection questions (weak supervision).
        numeric_values, numeric_values_scale: float `(batch, seq_len)` (weak supervision).

    Returns:
        dict with `logits (batch, seq_len)` (cell selection; with
        `select_one_column`, restricted to the most likely column),
        `logits_aggregation (batch, num_aggregation_labels)` (with an
        aggregation head), `loss` (float32 scalar) when `labels` is given,
        and `hidden_states` / `attentions` when asked. Trained with `fit()`,
        the labels go in the input dict (the loss is computed in `call`).

    Raises:
        ValueError: when the configuration's loss needs an input that is
            missing (see `table_question_answering_loss`). Unlike the
            reference, which fails without `labels` when
            `select_one_column=False`, the output is then the per-token logits.

    References: `transformers.TapasForQuestionAnswering`.
    """

    label_names = ("labels", "aggregation_labels", "float_answer", "numeric_values", "numeric_values_scale")
    input_names = PreTrainedModel.input_names + ("table_mask",)
    backbone_kwargs = {"add_pooling_layer": True}

    def __init__(self, num_aggregation_labels=0, positive_label_weight=10.0, aggregation_loss_weight=1.0,
                 use_answer_as_supervision=None, answer_loss_importance=1.0, use_normalized_answer_loss=False,
                 huber_loss_delta=None, temperature=1.0, aggregation_temperature=1.0, use_gumbel_for_cells=False,
                 use_gumbel_for_aggregation=False, average_approximation_function="ratio",
                 cell_selection_preference=None, answer_loss_cutoff=None, max_num_rows=64, max_num_columns=32,
                 average_logits_per_cell=False, select_one_column=True, allow_empty_column_selection=False,
                 init_cell_selection_weights_to_zero=False, disable_per_token_loss=False, aggregation_labels=None,
                 no_aggregation_label_index=None, **kwargs):
        self._init_backbone(kwargs)
        fields = dict(locals())
        self.config = {name: fields[name] for name in (*TABLE_QA_LOSS_FIELDS, *_QA_FIELDS)}
        arch = self.backbone_arch
        self.dropout = keras.layers.Dropout(arch["hidden_dropout"], dtype=self.dtype_policy)
        self.cell_selection = CellSelectionHead(
            temperature=temperature, select_one_column=select_one_column,
            allow_empty_column_selection=allow_empty_column_selection,
            initializer_range=arch["initializer_range"], zero_init=init_cell_selection_weights_to_zero,
            dtype=self.dtype_policy, name="cell_selection",
        )
        self.aggregation_classifier = None
        if num_aggregation_labels > 0:
            self.aggregation_classifier = self._dense(num_aggregation_labels, "aggregation_classifier")

    @property
    def serving_outputs(self):
        return ("logits", "logits_aggregation") if self.aggregation_classifier is not None else ("logits",)

    def pop_labels(self, inputs):
        """The loss inputs (`label_names`) present, or `None` without `labels`; all are removed from `inputs`."""
        labels = {k: inputs.pop(k) for k in self.label_names if k in inputs}
        return labels if "labels" in labels else None

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        labels = self.pop_labels(inputs)
        table_mask = inputs.pop("table_mask", None)
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        sequence_output = self.dropout(backbone_outputs["last_hidden_state"], training=training)
        token_type_ids = self.backbone.full_token_type_ids(inputs)
        row_ids, column_ids = token_type_ids[:, :, _ROW], token_type_ids[:, :, _COLUMN]
        table = TableIndex(row_ids, column_ids, self.config["max_num_rows"], self.config["max_num_columns"])
        attention_mask = inputs.get("attention_mask")
        if attention_mask is None:
            attention_mask = ops.ones(ops.shape(row_ids), "float32")
        token_logits, column_logits, cell_mask = self.cell_selection(
            sequence_output, table=table, attention_mask=attention_mask)
        if labels is not None and self.config["average_logits_per_cell"]:
            token_logits = average_per_cell(token_logits, table)
        if self.config["select_one_column"]:
            logits = single_column_logits(token_logits, column_logits, table, cell_mask)
        else:
            logits = token_logits
        outputs = {"logits": logits}
        if self.aggregation_classifier is not None:
            outputs["logits_aggregation"] = self.aggregation_classifier(backbone_outputs["pooler_output"])
        if labels is not None:
            if table_mask is None:
                table_mask = ops.cast(ops.greater(row_ids, 0), "int32")
            loss = table_question_answering_loss(
                self.config, labels["labels"], token_logits, logits, column_logits, table, cell_mask,
                attention_mask, table_mask, outputs.get("logits_aggregation"),
                **{k: labels.get(k) for k in self.label_names[1:]},
            )
            outputs = {"loss": loss, **outputs}
        return self._passthrough(outputs, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        """The loss `call` computed from the labels in the input dict.

        Raises:
            ValueError: with `sample_weight`/`class_weight`, or when the
                labels were not in the input dict (so `call` had none).
        """
        if sample_weight is not None:
            raise ValueError(
                f"{type(self).__name__} computes its loss inside call() (segment reductions over the table), "
                "where Keras' sample weights do not reach; train it without `sample_weight`/`class_weight`."
            )
        if "loss" not in outputs:
            raise ValueError(
                f"{type(self).__name__} computes its loss inside call(): pass `labels` (and `float_answer`, "
                "`numeric_values`, ... when the config needs them) inside the input dict, not as `y`."
            )
        return outputs["loss"]
