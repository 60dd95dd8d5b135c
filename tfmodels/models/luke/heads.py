"""LUKE's task heads that read entity states, its two-part masked LM, and multiple choice over entity inputs."""

import keras
import numpy as np
from keras import ops

from tfmodels.layers.heads import MaskedLMHead
from tfmodels.layers.losses import binary_crossentropy, masked_sparse_categorical_crossentropy
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.heads import HeadModelMixin, MaskedLMMixin, MultipleChoiceMixin, resolve_labels


def entity_classification_loss(labels, logits, sample_weight=None):
    """Cross-entropy for class ids `(batch[, entity_len])` one axis shorter than `logits`, else
    binary cross-entropy with logits over every entry (multi-label 0/1 targets), as the reference."""
    labels = ops.convert_to_tensor(labels)
    if len(labels.shape) == len(logits.shape) - 1:
        return masked_sparse_categorical_crossentropy(labels, logits, sample_weight=sample_weight)
    return binary_crossentropy(labels, logits, sample_weight=sample_weight)


class _EntityHeadMixin(HeadModelMixin):
    """Dropout (`hidden_dropout_prob`) + a linear classifier on features made from the entity states.

    Subclasses set `classifier_use_bias`, optionally `head_input_names` (inputs the head reads and the
    backbone does not), and implement `_features(head_inputs, backbone_outputs)`.
    """

    head_input_names = ()

    label_names = ("labels",)
    serving_outputs = ("logits",)
    backbone_kwargs = {"add_pooling_layer": True}
    classifier_use_bias = True

    def __init__(self, num_labels=None, id2label=None, label2id=None, **kwargs):
        self._init_backbone(kwargs)
        num_labels, id2label, label2id = resolve_labels(num_labels, id2label, label2id)
        self.config = {"id2label": id2label, "label2id": label2id}
        self.num_labels = num_labels
        self.dropout = keras.layers.Dropout(self.backbone_arch["hidden_dropout"], dtype=self.dtype_policy)
        self.classifier = keras.layers.Dense(
            num_labels, use_bias=self.classifier_use_bias,
            kernel_initializer=hf_initializer(self.backbone_arch["initializer_range"]),
            dtype=self.dtype_policy, name="classifier",
        )

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        if "entity_ids" not in inputs:
            raise ValueError(f"{type(self).__name__} classifies entities: it needs `entity_ids` and "
                             "`entity_position_ids` (the LUKE tokenizer's `entity_spans=` output).")
        missing = [k for k in self.head_input_names if k not in inputs]
        if missing:
            raise ValueError(f"{type(self).__name__} needs {missing} (batch, entity_len): the word positions "
                             "where each entity span starts and ends.")
        head_inputs = {k: inputs.pop(k) for k in self.head_input_names}
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        features = self.dropout(self._features(head_inputs, backbone_outputs), training=training)
        return self._passthrough({"logits": self.classifier(features)}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return entity_classification_loss(labels["labels"], outputs["logits"], sample_weight)


class EntityClassificationMixin(_EntityHeadMixin):
    """`logits (batch, num_labels)` from the first entity's final state."""

    def _features(self, head_inputs, backbone_outputs):
        return backbone_outputs["entity_last_hidden_state"][:, 0]  # (batch, hidden)


class EntityPairClassificationMixin(_EntityHeadMixin):
    """`logits (batch, num_labels)` from the first two entities' final states, concatenated (no bias)."""

    classifier_use_bias = False

    def _features(self, head_inputs, backbone_outputs):
        entities = backbone_outputs["entity_last_hidden_state"]
        return ops.concatenate([entities[:, 0], entities[:, 1]], axis=-1)  # (batch, 2 * hidden)


class EntitySpanClassificationMixin(_EntityHeadMixin):
    """`logits (batch, entity_len, num_labels)` from `[state at span start; state at span end; entity state]`."""

    head_input_names = ("entity_start_positions", "entity_end_positions")

    def dummy_inputs(self, batch_size=1, seq_len=4):
        inputs = super().dummy_inputs(batch_size, seq_len)
        zeros = np.zeros(inputs["entity_ids"].shape, dtype="int32")
        return {**inputs, "entity_start_positions": zeros, "entity_end_positions": zeros}

    def _features(self, head_inputs, backbone_outputs):
        words = backbone_outputs["last_hidden_state"]  # (batch, seq_len, hidden)
        start, end = head_inputs["entity_start_positions"], head_inputs["entity_end_positions"]
        start_states = ops.take_along_axis(words, ops.cast(start, "int32")[..., None], axis=1)
        end_states = ops.take_along_axis(words, ops.cast(end, "int32")[..., None], axis=1)
        return ops.concatenate([start_states, end_states, backbone_outputs["entity_last_hidden_state"]], axis=-1)


class LukeMultipleChoiceMixin(MultipleChoiceMixin):
    """`MultipleChoiceMixin` whose inputs may carry entity inputs: every input `(batch, num_choices, ...)`
    is flattened to `(batch * num_choices, ...)` (`entity_position_ids` keeps its two last axes)."""

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return {k: v[:, None] for k, v in super(MultipleChoiceMixin, self).dummy_inputs(batch_size, seq_len).items()}

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        num_choices = ops.shape(inputs["input_ids"])[1]
        flat = {k: ops.reshape(v, (-1, *ops.shape(v)[2:])) for k, v in inputs.items()}  # (batch * choices, ...)
        backbone_outputs = self._backbone_outputs(flat, training, output_attentions, output_hidden_states)
        logits = ops.reshape(self._sentence_logits(backbone_outputs, training), (-1, num_choices))
        return self._passthrough({"logits": logits}, backbone_outputs)


class LukeMaskedLMMixin(MaskedLMMixin):
    """RoBERTa's LM head (own decoder; its bias is `lm_head.decoder.bias`) plus the entity prediction
    head `entity_predictions` (dense to `entity_emb_size`, `hidden_act`, LayerNorm, then the entity
    table, tied unless `tie_word_embeddings=False`, + bias).

    Either label set alone gives a loss: `labels` -> `mlm_loss`, `entity_labels` -> `mep_loss`; `loss`
    is their sum, as in the reference.
    """

    label_names = ("labels", "entity_labels")
    serving_outputs = ("logits",)
    backbone_kwargs = {"add_pooling_layer": True}
    lm_head_activation = "gelu"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        config = self.backbone.config
        self.entity_predictions = MaskedLMHead(
            vocab_size=config["entity_vocab_size"],
            hidden_size=config["entity_emb_size"],
            hidden_act=config["hidden_act"],
            layer_norm_eps=config["layer_norm_eps"],
            tie_word_embeddings=self.backbone.extra_config.get("tie_word_embeddings", True),
            kernel_initializer=hf_initializer(config["initializer_range"]),
            dtype=self.dtype_policy,
            name="entity_predictions",
        )

    def _lm_head_tied(self):
        return False  # the reference never ties `lm_head.decoder` to the word embeddings

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        outputs = {"logits": self._lm_logits(backbone_outputs["last_hidden_state"])}
        if "entity_last_hidden_state" in backbone_outputs:
            outputs["entity_logits"] = self.entity_predictions(
                backbone_outputs["entity_last_hidden_state"],
                embedding_matrix=self.backbone.entity_embeddings.word_embeddings.embeddings,
            )
        return self._passthrough(outputs, backbone_outputs)

    def pop_labels(self, inputs):
        labels = {k: inputs.pop(k) for k in self.label_names if k in inputs}
        return labels or None

    def _part_losses(self, labels, outputs, sample_weight=None):
        losses = {}
        if labels.get("labels") is not None:
            losses["mlm_loss"] = masked_sparse_categorical_crossentropy(labels["labels"], outputs["logits"],
                                                                        sample_weight=sample_weight)
        if labels.get("entity_labels") is not None and "entity_logits" in outputs:
            losses["mep_loss"] = masked_sparse_categorical_crossentropy(
                labels["entity_labels"], outputs["entity_logits"], sample_weight=sample_weight)
        if not losses:
            raise ValueError(f"{type(self).__name__} needs `labels` or `entity_labels` (with `entity_ids`) "
                             "for a loss.")
        return losses

    def task_loss(self, labels, outputs, sample_weight=None):
        return sum(self._part_losses(labels, outputs, sample_weight).values())

    def with_task_loss(self, outputs, labels):
        if labels is None:
            return outputs
        losses = self._part_losses(labels, outputs)
        return {"loss": sum(losses.values()), **losses, **outputs}
