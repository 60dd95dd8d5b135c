"""wav2vec 2.0 task heads: CTC, utterance classification, self-supervised pre-training.

References:
    Baevski et al., "wav2vec 2.0", 2020. Parity references:
    `transformers.Wav2Vec2ForCTC`, `Wav2Vec2ForSequenceClassification`,
    `Wav2Vec2ForPreTraining` (PyTorch).
"""

import keras
import tensorflow as tf
from keras import ops

from tfmodels.layers.losses import ctc_loss, masked_sparse_categorical_crossentropy, replica_share
from tfmodels.layers.losses import wav2vec2_pretraining_loss
from tfmodels.layers.vector_quantizer import GumbelVectorQuantizer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.heads import HeadModelMixin, resolve_labels
from tfmodels.models.wav2vec2.modeling import AudioModelMixin, Wav2Vec2Model

CTC_REDUCTIONS = ("mean", "sum")


class Wav2Vec2PreTrainedModel(AudioModelMixin, HeadModelMixin, PreTrainedModel):
    """Base of the heads: the backbone in `self.wav2vec2`."""

    model_type = "wav2vec2"
    base_model_prefix = "wav2vec2"
    backbone_class = Wav2Vec2Model
    backbone_kwargs = {}
    input_names = ("input_values", "attention_mask")


class Wav2Vec2ForCTC(Wav2Vec2PreTrainedModel):
    """wav2vec 2.0 + dropout + a linear layer to the characters: `logits (batch, frames, vocab_size)`.

    Labels: `labels (batch, max_label_len)` int; `-100` (and `pad_token_id`,
    the CTC blank) entries are padding. The loss is CTC over the frames made
    from the real samples (`attention_mask`, else every frame), reduced by
    `ctc_loss_reduction` (`"sum"` or `"mean"`), with `ctc_zero_infinity`
    (see `tfmodels.layers.losses.ctc_loss`).

    Args: the backbone's fields plus `vocab_size`, `pad_token_id` (the blank),
    `ctc_loss_reduction`, `ctc_zero_infinity`, `final_dropout`.

    Raises:
        ValueError: `vocab_size` is `None`; an unknown `ctc_loss_reduction`;
            (eagerly) a label `>= vocab_size`.

    References: `transformers.Wav2Vec2ForCTC`.
    """

    label_names = ("labels",)
    loss_input_names = ("attention_mask",)
    serving_outputs = ("logits",)

    def __init__(self, vocab_size=32, pad_token_id=0, ctc_loss_reduction="sum", ctc_zero_infinity=False,
                 final_dropout=0.1, **kwargs):
        if vocab_size is None:
            raise ValueError("Wav2Vec2ForCTC needs the vocabulary size of its head: set `vocab_size` in the config "
                             "or pass `from_pretrained(..., vocab_size=...)`.")
        if ctc_loss_reduction not in CTC_REDUCTIONS:
            raise ValueError(f"ctc_loss_reduction must be one of {list(CTC_REDUCTIONS)}. "
                             f"Received: ctc_loss_reduction={ctc_loss_reduction!r}")
        self._init_backbone(kwargs)
        self.config = {"vocab_size": vocab_size, "pad_token_id": pad_token_id, "ctc_loss_reduction": ctc_loss_reduction,
                       "ctc_zero_infinity": ctc_zero_infinity, "final_dropout": final_dropout}
        self.dropout = keras.layers.Dropout(final_dropout, dtype=self.dtype_policy)
        self.lm_head = self._dense(vocab_size, "lm_head")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self.lm_head(self.dropout(outputs["last_hidden_state"], training=training))
        return self._passthrough({"logits": logits}, outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        logits, targets = outputs["logits"], labels["labels"]
        vocab_size = self.config["vocab_size"]
        if tf.executing_eagerly() and int(tf.reduce_max(targets)) >= vocab_size:
            raise ValueError(f"Label values must be < vocab_size ({vocab_size}). "
                             f"Received: max label {int(tf.reduce_max(targets))}")
        mask = labels.get("attention_mask")
        if mask is None:
            lengths = ops.full((ops.shape(logits)[0],), ops.shape(logits)[1], dtype="int32")
        else:
            lengths = self.backbone.feature_lengths(ops.sum(ops.cast(mask, "int32"), axis=-1))
        return ctc_loss(targets, logits, lengths, blank_id=self.config["pad_token_id"],
                        reduction=self.config["ctc_loss_reduction"], zero_infinity=self.config["ctc_zero_infinity"],
                        sample_weight=sample_weight)


class Wav2Vec2ForSequenceClassification(Wav2Vec2PreTrainedModel):
    """wav2vec 2.0 + a projection, mean pooling over the real frames and a classifier: `logits (batch, num_labels)`.

    With `use_weighted_layer_sum` the pooled states are a softmax-weighted sum
    of every hidden state (`layer_weights`) instead of the last one. Labels:
    `labels (batch,)` int, cross-entropy (the reference ignores `problem_type`).

    Args: the backbone's fields plus `num_labels` / `id2label` / `label2id`,
    `use_weighted_layer_sum`, `classifier_proj_size`.

    References: `transformers.Wav2Vec2ForSequenceClassification` (`AutoModelForAudioClassification`).
    """

    label_names = ("labels",)
    serving_outputs = ("logits",)

    def __init__(self, num_labels=None, id2label=None, label2id=None, use_weighted_layer_sum=False,
                 classifier_proj_size=256, **kwargs):
        backbone = self._init_backbone(kwargs)
        num_labels, id2label, label2id = resolve_labels(num_labels, id2label, label2id)
        self.config = {"id2label": id2label, "label2id": label2id, "use_weighted_layer_sum": use_weighted_layer_sum,
                       "classifier_proj_size": classifier_proj_size}
        self.num_labels = num_labels
        if use_weighted_layer_sum:
            count = backbone.config["num_hidden_layers"] + 1  # the blocks' input + every block's output
            self.layer_weights = self.add_weight(name="layer_weights", shape=(count,),
                                                 initializer=keras.initializers.Constant(1.0 / count))
        self.projector = self._dense(classifier_proj_size, "projector")
        self.classifier = self._dense(num_labels, "classifier")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        weighted = self.config["use_weighted_layer_sum"]
        outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states or weighted)
        if weighted:
            states = ops.stack(outputs["hidden_states"], axis=1)  # (batch, layers + 1, frames, hidden)
            weights = ops.softmax(ops.cast(self.layer_weights, "float32"))
            x = ops.sum(states * ops.cast(weights, states.dtype)[None, :, None, None], axis=1)
            if not output_hidden_states:
                outputs = {k: v for k, v in outputs.items() if k != "hidden_states"}
        else:
            x = outputs["last_hidden_state"]
        x = self.projector(x)  # (batch, frames, classifier_proj_size)
        if inputs.get("attention_mask") is None:
            pooled = ops.mean(x, axis=1)
        else:
            mask = ops.cast(self.backbone.frame_mask(inputs["attention_mask"], ops.shape(x)[1]), x.dtype)
            pooled = ops.sum(x * mask[:, :, None], axis=1) / ops.sum(mask, axis=1, keepdims=True)
        return self._passthrough({"logits": self.classifier(pooled)}, outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return masked_sparse_categorical_crossentropy(labels["labels"], outputs["logits"], sample_weight=sample_weight)


class Wav2Vec2ForPreTraining(Wav2Vec2PreTrainedModel):
    """wav2vec 2.0 with its quantizer and projections for the contrastive pre-training objective.

    Outputs `projected_states (batch, frames, proj_codevector_dim)` (the
    Transformer's predictions), `projected_quantized_states` (the quantized
    targets), `codevector_perplexity ()`, and with `sampled_negative_indices`
    `loss`, `contrastive_loss`, `diversity_loss`
    (`tfmodels.layers.losses.wav2vec2_pretraining_loss`). The quantizer takes
    the argmax at inference and a hard Gumbel-softmax sample in training.
    `compile()` without a loss trains on that `loss` output.

    Call inputs: those of `Wav2Vec2Model` plus `sampled_negative_indices`
    int `(batch, frames, num_negatives)` (indices into the flattened
    `(batch * frames)` frames, as `transformers`' `_sample_negative_indices`
    makes them); the loss needs `mask_time_indices` too.

    Args: the backbone's fields plus `num_codevectors_per_group`,
    `num_codevector_groups`, `codevector_dim`, `proj_codevector_dim`,
    `contrastive_logits_temperature`, `num_negatives`,
    `diversity_loss_weight`, `feat_quantizer_dropout`.

    Raises:
        ValueError: `sampled_negative_indices` without `mask_time_indices`;
            `codevector_dim` not a multiple of `num_codevector_groups`.

    References: `transformers.Wav2Vec2ForPreTraining`.
    """

    input_names = ("input_values", "attention_mask", "mask_time_indices", "sampled_negative_indices")
    serving_outputs = ("projected_states", "projected_quantized_states", "codevector_perplexity")

    def __init__(self, num_codevectors_per_group=320, num_codevector_groups=2, codevector_dim=256,
                 proj_codevector_dim=256, contrastive_logits_temperature=0.1, num_negatives=100,
                 diversity_loss_weight=0.1, feat_quantizer_dropout=0.0, **kwargs):
        self._init_backbone(kwargs)
        self.config = {
            "num_codevectors_per_group": num_codevectors_per_group, "num_codevector_groups": num_codevector_groups,
            "codevector_dim": codevector_dim, "proj_codevector_dim": proj_codevector_dim,
            "contrastive_logits_temperature": contrastive_logits_temperature, "num_negatives": num_negatives,
            "diversity_loss_weight": diversity_loss_weight, "feat_quantizer_dropout": feat_quantizer_dropout,
        }
        self.dropout_features = keras.layers.Dropout(feat_quantizer_dropout, dtype=self.dtype_policy)
        self.quantizer = GumbelVectorQuantizer(num_codevector_groups, num_codevectors_per_group, codevector_dim,
                                               dtype=self.dtype_policy, name="quantizer")
        self.project_hid = self._dense(proj_codevector_dim, "project_hid")
        self.project_q = self._dense(proj_codevector_dim, "project_q")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        negatives = inputs.pop("sampled_negative_indices", None)
        masked = inputs.get("mask_time_indices")
        if negatives is not None and masked is None:
            raise ValueError("The pre-training loss needs `mask_time_indices` with `sampled_negative_indices`.")
        outputs = self.backbone(inputs, training=training, output_attentions=output_attentions,
                                output_hidden_states=output_hidden_states)
        projected = self.project_hid(outputs["last_hidden_state"])
        features = self.dropout_features(outputs["extract_features"], training=training)
        quantized, perplexity = self.quantizer(features, mask_time_indices=masked, training=training)
        quantized = self.project_q(quantized)
        result, losses = {}, None
        if negatives is not None:
            config = self.config
            losses = wav2vec2_pretraining_loss(
                projected, quantized, negatives, masked, perplexity,
                config["num_codevectors_per_group"] * config["num_codevector_groups"],
                temperature=config["contrastive_logits_temperature"],
                diversity_loss_weight=config["diversity_loss_weight"],
            )
            result["loss"] = losses[0]
        result.update(projected_states=projected, projected_quantized_states=quantized,
                      codevector_perplexity=perplexity)
        result = self._passthrough(result, outputs)
        if losses is not None:
            result.update(contrastive_loss=losses[1], diversity_loss=losses[2])
        return result

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The pre-training loss output when compiled without `loss=` (inputs need `mask_time_indices` and
        `sampled_negative_indices`)."""
        if self._compile_loss is not None:
            return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if y_pred is None or "loss" not in y_pred:
            raise ValueError("Wav2Vec2ForPreTraining trains on its contrastive loss, which needs "
                             "`mask_time_indices` and `sampled_negative_indices` in the input dict.")
        return replica_share(y_pred["loss"])
