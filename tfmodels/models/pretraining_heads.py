"""Pre-training heads: masked LM + a sentence-pair classifier (BERT NSP, ALBERT SOP), and NSP alone."""

import keras

from tfmodels.layers.losses import masked_sparse_categorical_crossentropy
from tfmodels.models.heads import HeadModelMixin, MaskedLMMixin, resolve_labels


class PreTrainingMixin(MaskedLMMixin):
    """Masked-LM logits plus a sentence-pair classifier on the pooled output.

    BERT-style next-sentence prediction (Megatron-BERT) or ALBERT's sentence
    order prediction; the class attributes name the outputs and labels:
    `sentence_logits_name` (`"seq_relationship_logits"` / `"sop_logits"`),
    `sentence_label_name` (`"next_sentence_label"` / `"sentence_order_label"`),
    `sentence_dropout` (dropout before the classifier, ALBERT).

    Returns:
        dict with `prediction_logits` `(batch, seq_len, vocab_size)`, the
        sentence logits `(batch, num_labels)` and, with both labels given,
        `loss` (sum of the two cross-entropies, -100 ignored).
    """

    backbone_kwargs = {"add_pooling_layer": True}
    sentence_logits_name = "seq_relationship_logits"
    sentence_label_name = "next_sentence_label"
    sentence_dropout = False

    @property
    def label_names(self):
        return ("labels", self.sentence_label_name)

    @property
    def serving_outputs(self):
        return ("prediction_logits", self.sentence_logits_name)

    def __init__(self, num_labels=None, id2label=None, label2id=None, **kwargs):
        super().__init__(**kwargs)
        num_labels, id2label, label2id = resolve_labels(num_labels, id2label, label2id)
        self.config = {"id2label": id2label, "label2id": label2id}
        rate = self.classifier_dropout_rate if self.sentence_dropout else 0.0
        self.sentence_dropout_layer = keras.layers.Dropout(rate, dtype=self.dtype_policy)
        self.sentence_classifier = self._dense(num_labels, "sentence_classifier")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        pooled = self.sentence_dropout_layer(backbone_outputs["pooler_output"], training=training)
        outputs = {
            "prediction_logits": self._lm_logits(backbone_outputs["last_hidden_state"]),
            self.sentence_logits_name: self.sentence_classifier(pooled),
        }
        return self._passthrough(outputs, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        mlm = masked_sparse_categorical_crossentropy(labels["labels"], outputs["prediction_logits"],
                                                     sample_weight=sample_weight)
        sentence = masked_sparse_categorical_crossentropy(
            labels[self.sentence_label_name], outputs[self.sentence_logits_name], sample_weight=sample_weight
        )
        return mlm + sentence


class NextSentencePredictionMixin(HeadModelMixin):
    """BERT's next-sentence head alone: `logits (batch, 2)` from the pooled output.

    The Keras layer is `sentence_classifier`, as in `PreTrainingMixin`
    (Hugging Face `cls.seq_relationship`); always 2-way, no dropout
    (`BertOnlyNSPHead`). Label `labels` `(batch,)`: 0 = sentence B follows A.
    """

    label_names = ("labels",)
    serving_outputs = ("logits",)
    backbone_kwargs = {"add_pooling_layer": True}

    def __init__(self, num_labels=None, id2label=None, label2id=None, **kwargs):
        self._init_backbone(kwargs)
        _, id2label, label2id = resolve_labels(2, id2label, label2id)
        self.config = {"id2label": id2label, "label2id": label2id}
        self.sentence_classifier = self._dense(2, "sentence_classifier")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self.sentence_classifier(backbone_outputs["pooler_output"])
        return self._passthrough({"logits": logits}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return masked_sparse_categorical_crossentropy(labels["labels"], outputs["logits"], sample_weight=sample_weight)
