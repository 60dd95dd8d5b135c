"""Task-head mixins shared by every encoder architecture.

A head model owns a backbone (`self.<base_model_prefix>`) that returns
`last_hidden_state` and, when it has a pooler, `pooler_output`; the mixins
here add the Hugging Face task heads on top. An architecture declares its
heads in a few lines, e.g.::

    class BertForSequenceClassification(SequenceClassificationMixin, BertPreTrainedModel):
        pass
"""

import keras
from keras import ops

from tfmodels.layers.heads import ClassificationHead, MaskedLMHead
from tfmodels.layers.losses import (
    masked_sparse_categorical_crossentropy,
    sequence_classification_loss,
    span_loss,
)
from tfmodels.layers.utils import hf_initializer


def resolve_labels(num_labels=None, id2label=None, label2id=None):
    """Normalises Hugging Face label fields; `id2label` wins over `num_labels`.

    Returns:
        `(num_labels, id2label, label2id)` with string keys in `id2label`.
    """
    if id2label:
        id2label = {str(k): v for k, v in id2label.items()}
        if num_labels is not None and num_labels != len(id2label):
            id2label = None
    if not id2label:
        num_labels = 2 if num_labels is None else int(num_labels)
        id2label = {str(i): f"LABEL_{i}" for i in range(num_labels)}
    num_labels = len(id2label)
    if not label2id or len(label2id) != num_labels:
        label2id = {v: int(k) for k, v in id2label.items()}
    return num_labels, id2label, label2id


class HeadModelMixin:
    """Builds the backbone of a head model and merges the configs.

    Subclasses set `backbone_class` (through the architecture's base class)
    and implement `_build_head()` and `_head_outputs()`.
    """

    head_config_fields = ()

    def _init_backbone(self, kwargs):
        from tfmodels.models.base import split_keras_kwargs

        keras_kwargs, backbone_config = split_keras_kwargs(kwargs)
        super().__init__(**keras_kwargs)
        backbone = self.backbone_class(
            **backbone_config, **self.backbone_kwargs, dtype=self.dtype_policy, name=self.base_model_prefix
        )
        setattr(self, self.base_model_prefix, backbone)
        self.extra_config = dict(backbone.extra_config)
        return backbone

    @property
    def backbone(self):
        return getattr(self, self.base_model_prefix)

    def hf_config(self):
        config = {**self.backbone.hf_config(), **self.config}
        config["architectures"] = [type(self).__name__]
        return config

    def get_config(self):
        config = {**self.backbone.get_config(), **self.config}
        config.update(name=self.name, trainable=self.trainable)
        config.pop("add_pooling_layer", None)
        for key in self.backbone_kwargs:  # set by the head again in `_init_backbone`
            config.pop(key, None)
        return config

    @property
    def backbone_arch(self):
        """Normalised sizes of the backbone (`hidden_size`, `initializer_range`,
        `hidden_dropout`, ...): `EncoderModel.arch`, or read from the config
        fields of backbones with other names (`d_model`, `emb_dim`, `n_embd`,
        `init_std`, `dropout`)."""
        arch = getattr(self.backbone, "arch", None)
        if arch is not None:
            return arch
        config = {**self.backbone.extra_config, **self.backbone.config}

        def first(*names, default=None):
            return next((config[n] for n in names if config.get(n) is not None), default)

        hidden_size = first("hidden_size", "d_model", "emb_dim", "dim", "n_embd")
        return {
            "hidden_size": hidden_size,
            "embedding_size": first("embedding_size", default=hidden_size),
            "initializer_range": first("initializer_range", "init_std", default=0.02),
            "hidden_dropout": first("hidden_dropout_prob", "dropout", "resid_pdrop", default=0.0),
            "vocab_size": config.get("vocab_size"),
            "hidden_act": first("hidden_act", "activation_function", "ff_activation", default="gelu"),
            "layer_norm_eps": first("layer_norm_eps", "layer_norm_epsilon", default=1e-12),
        }

    @property
    def classifier_dropout_rate(self):
        rate = self.config.get("classifier_dropout")
        if rate is None:  # the backbone's default head dropout (ALBERT: classifier_dropout_prob)
            rate = self.backbone_arch.get("classifier_dropout", self.backbone_arch["hidden_dropout"])
        return rate

    def _dense(self, units, name):
        init = hf_initializer(self.backbone_arch["initializer_range"])
        return keras.layers.Dense(units, kernel_initializer=init, dtype=self.dtype_policy, name=name)

    # Sentence-level heads: BERT's dropout + linear layer on `pooler_output`
    # (`classifier_activation = None`), or a `ClassificationHead` on the first
    # token's state (RoBERTa: "tanh", ELECTRA: "gelu", DistilBERT: "relu" with
    # `classifier_input_dropout = False`).
    classifier_activation = None
    classifier_input_dropout = True
    classifier_pool_first = True  # False: `_sentence_logits` hands the head a pooled `(batch, hidden)` (T5: eos)

    @property
    def backbone_kwargs(self):
        return {"add_pooling_layer": self.classifier_activation is None}

    def _make_sentence_classifier(self, num_outputs):
        self.dropout = keras.layers.Dropout(self.classifier_dropout_rate, dtype=self.dtype_policy)
        if self.classifier_activation is None:
            self.classifier = self._dense(num_outputs, "classifier")
            return
        self.classifier = ClassificationHead(
            self.backbone_arch["hidden_size"], num_outputs, activation=self.classifier_activation,
            dropout=self.classifier_dropout_rate, input_dropout=self.classifier_input_dropout,
            pool_first=self.classifier_pool_first, kernel_initializer=hf_initializer(self.backbone_arch["initializer_range"]),
            dtype=self.dtype_policy, name="classifier",
        )

    def _sentence_logits(self, backbone_outputs, training):
        if self.classifier_activation is None:
            return self.classifier(self.dropout(backbone_outputs["pooler_output"], training=training))
        return self.classifier(backbone_outputs["last_hidden_state"], training=training)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        return self._call_head(inputs, training, output_attentions, output_hidden_states)

    def _call_head(self, inputs, training, output_attentions, output_hidden_states, **backbone_options):
        """The head's forward pass and loss; `backbone_options` are extra call options of the
        backbone, passed on unchanged (vision heads: `interpolate_pos_encoding`)."""
        inputs = self._prepare_inputs(inputs)
        labels = self.pop_labels(inputs)
        outputs = self._head_outputs(inputs, training, output_attentions, output_hidden_states, **backbone_options)
        return self.with_task_loss(outputs, labels)

    def _backbone_outputs(self, inputs, training, output_attentions, output_hidden_states, **backbone_options):
        return self.backbone(
            inputs, training=training,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, **backbone_options,
        )

    @staticmethod
    def _passthrough(outputs, backbone_outputs):
        # global: Longformer; cross: decoders with `add_cross_attention=True`; entity: LUKE
        for key in ("hidden_states", "attentions", "global_attentions", "cross_attentions", "entity_hidden_states"):
            if key in backbone_outputs:
                outputs[key] = backbone_outputs[key]
        return outputs


class SequenceClassificationMixin(HeadModelMixin):
    """`logits (batch, num_labels)` from the pooled output; loss by `problem_type`."""

    label_names = ("labels",)
    serving_outputs = ("logits",)

    def __init__(self, num_labels=None, id2label=None, label2id=None, problem_type=None,
                 classifier_dropout=None, **kwargs):
        self._init_backbone(kwargs)
        num_labels, id2label, label2id = resolve_labels(num_labels, id2label, label2id)
        self.config = {"id2label": id2label, "label2id": label2id,
                       "problem_type": problem_type, "classifier_dropout": classifier_dropout}
        self.num_labels = num_labels
        self._make_sentence_classifier(num_labels)

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        return self._passthrough({"logits": self._sentence_logits(backbone_outputs, training)}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return sequence_classification_loss(labels["labels"], outputs["logits"], self.config["problem_type"],
                                            sample_weight)


class ImageClassificationMixin(SequenceClassificationMixin):
    """`logits (batch, num_labels)`: a linear classifier on the final state of the first token ([CLS]).

    Vision Transformers (ViT, DeiT) classify from `last_hidden_state[:, 0]`
    without a pooler or dropout; the loss follows `problem_type` as for
    sequence classification (`transformers`' `ForImageClassification` loss).
    Call options of the backbone (`interpolate_pos_encoding=True`) pass through.
    """

    backbone_kwargs = {"add_pooling_layer": False}

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             interpolate_pos_encoding=False):
        return self._call_head(inputs, training, output_attentions, output_hidden_states,
                               interpolate_pos_encoding=interpolate_pos_encoding)

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states, **backbone_options):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states,
                                                  **backbone_options)
        logits = self.classifier(backbone_outputs["last_hidden_state"][:, 0])
        return self._passthrough({"logits": logits}, backbone_outputs)


class TokenClassificationMixin(HeadModelMixin):
    """`logits (batch, seq_len, num_labels)`; cross-entropy ignoring label -100."""

    label_names = ("labels",)
    serving_outputs = ("logits",)
    backbone_kwargs = {"add_pooling_layer": False}

    def __init__(self, num_labels=None, id2label=None, label2id=None, classifier_dropout=None, **kwargs):
        self._init_backbone(kwargs)
        num_labels, id2label, label2id = resolve_labels(num_labels, id2label, label2id)
        self.config = {"id2label": id2label, "label2id": label2id, "classifier_dropout": classifier_dropout}
        self.num_labels = num_labels
        self.dropout = keras.layers.Dropout(self.classifier_dropout_rate, dtype=self.dtype_policy)
        self.classifier = self._dense(num_labels, "classifier")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        hidden = self.dropout(backbone_outputs["last_hidden_state"], training=training)
        return self._passthrough({"logits": self.classifier(hidden)}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return masked_sparse_categorical_crossentropy(labels["labels"], outputs["logits"], sample_weight=sample_weight)


class QuestionAnsweringMixin(HeadModelMixin):
    """`start_logits`, `end_logits (batch, seq_len)`; span loss on start/end positions."""

    label_names = ("start_positions", "end_positions")
    serving_outputs = ("start_logits", "end_logits")
    backbone_kwargs = {"add_pooling_layer": False}

    def __init__(self, num_labels=None, id2label=None, label2id=None, **kwargs):
        self._init_backbone(kwargs)
        num_labels, id2label, label2id = resolve_labels(num_labels or 2, id2label, label2id)
        if num_labels != 2:
            raise ValueError(
                "A question-answering head predicts start and end logits, so it needs num_labels=2. "
                f"Received: num_labels={num_labels}"
            )
        self.config = {"id2label": id2label, "label2id": label2id}
        self._make_span_head(num_labels)

    def _make_span_head(self, num_labels):
        """Creates the span head; the override point for heads other than dropout + `qa_outputs` (BigBird)."""
        self.qa_dropout = keras.layers.Dropout(self.qa_dropout_rate, dtype=self.dtype_policy)
        self.qa_outputs = self._dense(num_labels, "qa_outputs")

    # Dropout before the span head: none in BERT; DistilBERT uses `qa_dropout`.
    qa_dropout_rate = 0.0

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        hidden = self.qa_dropout(backbone_outputs["last_hidden_state"], training=training)
        logits = self.qa_outputs(hidden)  # (batch, seq_len, 2)
        outputs = {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}
        return self._passthrough(outputs, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return span_loss(labels["start_positions"], labels["end_positions"],
                         outputs["start_logits"], outputs["end_logits"], sample_weight)


class MultipleChoiceMixin(HeadModelMixin):
    """Inputs `(batch, num_choices, seq_len)`; `logits (batch, num_choices)`."""

    label_names = ("labels",)
    serving_outputs = ("logits",)

    def __init__(self, classifier_dropout=None, **kwargs):
        self._init_backbone(kwargs)
        self.config = {"classifier_dropout": classifier_dropout}
        self._make_sentence_classifier(1)

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return {key: value.reshape(batch_size, 1, seq_len)
                for key, value in super().dummy_inputs(batch_size, seq_len).items()}

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        num_choices = ops.shape(inputs["input_ids"])[1]
        flat = {k: ops.reshape(v, (-1, ops.shape(v)[-1])) for k, v in inputs.items()}  # (batch * choices, seq)
        backbone_outputs = self._backbone_outputs(flat, training, output_attentions, output_hidden_states)
        logits = ops.reshape(self._sentence_logits(backbone_outputs, training), (-1, num_choices))
        return self._passthrough({"logits": logits}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return masked_sparse_categorical_crossentropy(labels["labels"], outputs["logits"], sample_weight=sample_weight)


class MaskedLMMixin(HeadModelMixin):
    """`logits (batch, seq_len, vocab_size)`; cross-entropy ignoring label -100.

    The default head is a `MaskedLMHead` from the backbone's hidden size to
    its embedding size, tied to the word embeddings when the config says so
    (`tie_word_embeddings`, default true); `lm_head_activation` overrides the
    backbone's `hidden_act` (RoBERTa and ELECTRA's generator use "gelu");
    `lm_head_transform = False` keeps only the projection and its bias
    (BertGeneration's `lm_head`).
    Architectures with another head override `_make_lm_head()` and
    `_lm_logits(hidden)`.
    """

    label_names = ("labels",)
    serving_outputs = ("logits",)
    backbone_kwargs = {"add_pooling_layer": False}
    lm_head_activation = None
    lm_head_transform = True

    def __init__(self, **kwargs):
        self._init_backbone(kwargs)
        self.config = {}
        self._make_lm_head()

    def _make_lm_head(self):
        arch = self.backbone_arch
        self.lm_head = MaskedLMHead(
            vocab_size=arch["vocab_size"],
            hidden_size=arch["embedding_size"],
            hidden_act=self.lm_head_activation or arch["hidden_act"],
            layer_norm_eps=arch["layer_norm_eps"],
            tie_word_embeddings=self._lm_head_tied(),
            kernel_initializer=hf_initializer(arch["initializer_range"]),
            transform=self.lm_head_transform,
            dtype=self.dtype_policy,
            name="lm_head",
        )

    def _lm_head_tied(self):
        """Whether the projection onto the vocabulary reuses the word embeddings."""
        return self.backbone.extra_config.get("tie_word_embeddings", True)

    def _lm_logits(self, hidden_states):
        return self.lm_head(hidden_states, embedding_matrix=self.backbone.embeddings.word_embeddings.embeddings)

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self._lm_logits(backbone_outputs["last_hidden_state"])
        return self._passthrough({"logits": logits}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return masked_sparse_categorical_crossentropy(labels["labels"], outputs["logits"], sample_weight=sample_weight)
