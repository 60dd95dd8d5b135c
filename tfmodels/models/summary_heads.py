"""Heads built on `SequenceSummary` and the SQuAD beam head (XLM, FlauBERT, XLNet, RoFormer, ConvBERT).

The XLM-style configs describe their sentence head with `summary_*` fields
(`transformers`' `SequenceSummary`); their full question-answering head is the
beam-search `SquadBeamHead`. The plain task heads are in `tfmodels.models.heads`.
"""

from keras import ops

from tfmodels.layers.losses import binary_crossentropy, span_loss
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.heads import HeadModelMixin, MultipleChoiceMixin, SequenceClassificationMixin, resolve_labels


class SequenceSummaryMixin:
    """Builds the `SequenceSummary` head of XLM-style models from the backbone's
    `summary_*` config fields (no pooler there)."""

    def _make_sequence_summary(self, num_labels):
        from tfmodels.layers.heads import SequenceSummary

        config = {**self.backbone.extra_config, **self.backbone.config}
        num_outputs = None
        if config.get("summary_use_proj"):
            to_labels = config.get("summary_proj_to_labels") and num_labels > 0
            num_outputs = num_labels if to_labels else config.get("emb_dim", config.get("hidden_size"))
        self.sequence_summary = SequenceSummary(
            summary_type=config.get("summary_type", "last"),
            num_outputs=num_outputs,
            activation=config.get("summary_activation"),
            first_dropout=config.get("summary_first_dropout") or 0.0,
            last_dropout=config.get("summary_last_dropout") or 0.0,
            kernel_initializer=hf_initializer(config.get("init_std", config.get("initializer_range", 0.02))),
            dtype=self.dtype_policy,
            name="sequence_summary",
        )


class SummarySequenceClassificationMixin(SequenceSummaryMixin, SequenceClassificationMixin):
    """Sequence classification through `SequenceSummary` (XLM, FlauBERT): the summary's
    projection produces the logits."""

    backbone_kwargs = {}

    def __init__(self, num_labels=None, id2label=None, label2id=None, problem_type=None, **kwargs):
        self._init_backbone(kwargs)
        num_labels, id2label, label2id = resolve_labels(num_labels, id2label, label2id)
        self.config = {"id2label": id2label, "label2id": label2id, "problem_type": problem_type}
        self.num_labels = num_labels
        self._make_sequence_summary(num_labels)

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self.sequence_summary(backbone_outputs["last_hidden_state"], training=training)
        return self._passthrough({"logits": logits}, backbone_outputs)


class SummaryMultipleChoiceMixin(SequenceSummaryMixin, MultipleChoiceMixin):
    """Multiple choice through `SequenceSummary` + a `(summary width -> 1)` projection.

    The projection is the attribute `choice_projection` names: `logits_proj`
    (XLM, FlauBERT) or `classifier` (RoFormer, ConvBERT, whose configs carry
    no `summary_*` fields, so the summary is the last token unchanged).
    """

    backbone_kwargs = {}
    choice_projection = "logits_proj"

    def __init__(self, **kwargs):
        num_labels, _, _ = resolve_labels(kwargs.get("num_labels"), kwargs.get("id2label"), kwargs.get("label2id"))
        self._init_backbone(kwargs)
        self.config = {}
        self._make_sequence_summary(num_labels)
        setattr(self, self.choice_projection, self._dense(1, self.choice_projection))

    def _sentence_logits(self, backbone_outputs, training):
        summary = self.sequence_summary(backbone_outputs["last_hidden_state"], training=training)
        return getattr(self, self.choice_projection)(summary)


class BeamQuestionAnsweringMixin(HeadModelMixin):
    """Beam-search SQuAD head (`SquadBeamHead`) of XLM, FlauBERT and XLNet.

    Without labels: `start_top_log_probs`, `start_top_index`, `end_top_log_probs`,
    `end_top_index`, `cls_logits`. With `start_positions` and `end_positions`:
    only `loss` (span cross-entropy with the gold start feeding the end logits,
    plus half the answerability BCE when `cls_index` and `is_impossible` are
    given), as in `transformers`. `p_mask` (1.0 = not an answer token) and
    `cls_index` are optional inputs.
    """

    head_input_names = ("cls_index", "is_impossible", "p_mask")
    label_names = ("start_positions", "end_positions")
    serving_outputs = ("start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index", "cls_logits")
    backbone_kwargs = {}

    def __init__(self, **kwargs):
        from tfmodels.layers.squad_head import SquadBeamHead

        self._init_backbone(kwargs)
        self.config = {}
        config = {**self.backbone.extra_config, **self.backbone.config}
        self.squad_head = SquadBeamHead(
            config.get("emb_dim", config.get("hidden_size")), start_n_top=config.get("start_n_top", 5),
            end_n_top=config.get("end_n_top", 5), layer_norm_eps=config.get("layer_norm_eps", 1e-12),
            kernel_initializer=hf_initializer(config.get("init_std", config.get("initializer_range", 0.02))),
            dtype=self.dtype_policy, name="squad_head",
        )

    def dummy_inputs(self, batch_size=1, seq_len=4):
        # The beam search takes the top `start_n_top` / `end_n_top` positions: the sequence must be that long.
        seq_len = max(seq_len, self.squad_head.start_n_top, self.squad_head.end_n_top)
        return super().dummy_inputs(batch_size, seq_len)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        extra = {k: inputs.pop(k) for k in self.head_input_names if k in inputs}
        labels = {k: inputs.pop(k) for k in self.label_names if k in inputs}
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        hidden = backbone_outputs["last_hidden_state"]
        if len(labels) < len(self.label_names):
            outputs = self.squad_head(hidden, p_mask=extra.get("p_mask"), cls_index=extra.get("cls_index"))
            return self._passthrough(outputs, backbone_outputs)
        start, end, cls = self.squad_head.teacher_forced(
            hidden, labels["start_positions"], p_mask=extra.get("p_mask"), cls_index=extra.get("cls_index"))
        loss = span_loss(labels["start_positions"], labels["end_positions"], start, end)
        if "cls_index" in extra and "is_impossible" in extra:
            is_impossible = ops.reshape(extra["is_impossible"], ops.shape(cls))
            loss = loss + 0.5 * binary_crossentropy(is_impossible, cls)
        return self._passthrough({"loss": loss}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                f"{type(self).__name__} computes its loss inside call() (teacher-forced end logits), "
                "where Keras' sample weights do not reach; train it without `sample_weight`/`class_weight`."
            )
        return outputs["loss"]
