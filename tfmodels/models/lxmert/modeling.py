"""LXMERT: language, object-relationship and cross-modality encoders, and their heads.

Size glossary: B batch, T tokens, S objects (regions), D `hidden_size`,
F `visual_feat_dim`, P `visual_pos_dim` (4: a normalised box).

References:
    Tan & Bansal, "LXMERT: Learning Cross-Modality Encoder Representations
    from Transformers", EMNLP 2019.
    Parity reference: `transformers.models.lxmert.modeling_lxmert` (PyTorch).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.layers import LayerNormalization, MaskedLMHead, Pooler, TransformerEmbeddings, TransformerEncoderBlock
from tfmodels.layers.activations import get_activation
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.cross_modality_block import CrossModalityBlock
from tfmodels.layers.losses import confidence_weighted_loss, masked_sparse_categorical_crossentropy
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.encoder import attention_mask_to_bool
from tfmodels.models.heads import HeadModelMixin

# LXMERT's LayerNorms all use 1e-12 (the config has no `layer_norm_eps`).
LAYER_NORM_EPS = 1e-12
INPUT_NAMES = ("input_ids", "visual_feats", "visual_pos", "attention_mask", "visual_attention_mask", "token_type_ids")
STREAM_OUTPUTS = ("language_hidden_states", "vision_hidden_states", "language_attentions", "vision_attentions",
                  "cross_encoder_attentions")


class _LxmertServing:
    """Serving signature of the LXMERT classes: any number of objects, with their mask."""

    serving_extra_inputs = {"visual_attention_mask": ()}

    @property
    def serving_float_shapes(self):
        config = getattr(self, "backbone", self).config
        return {"visual_feats": (None, None, config["visual_feat_dim"]),
                "visual_pos": (None, None, config["visual_pos_dim"])}


def _dense(units, initializer_range, dtype, name):
    return keras.layers.Dense(units, kernel_initializer=hf_initializer(initializer_range), dtype=dtype, name=name)


@keras.saving.register_keras_serializable(package="tfmodels")
class LxmertVisualFeatureEncoder(keras.layers.Layer):
    """Object features and boxes to `D`: `dropout((LN(fc(feats)) + LN(fc(pos))) / 2)`.

    Call args:
        visual_feats: float `(B, S, F)`; visual_pos: float `(B, S, P)`.

    Returns:
        float `(B, S, D)`.

    References: `transformers.models.lxmert.modeling_lxmert.LxmertVisualFeatureEncoder`.
    """

    def __init__(self, hidden_size, dropout=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.dropout_rate, self.initializer_range = hidden_size, dropout, initializer_range
        self.visn_fc = _dense(hidden_size, initializer_range, self.dtype_policy, "visn_fc")
        self.visn_layer_norm = LayerNormalization(epsilon=LAYER_NORM_EPS, dtype=self.dtype_policy,
                                                  name="visn_layer_norm")
        self.box_fc = _dense(hidden_size, initializer_range, self.dtype_policy, "box_fc")
        self.box_layer_norm = LayerNormalization(epsilon=LAYER_NORM_EPS, dtype=self.dtype_policy,
                                                 name="box_layer_norm")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, visual_feats_shape, visual_pos_shape):
        out_shape = (*visual_feats_shape[:-1], self.hidden_size)
        self.visn_fc.build(visual_feats_shape)
        self.box_fc.build(visual_pos_shape)
        self.visn_layer_norm.build(out_shape)
        self.box_layer_norm.build(out_shape)
        self.built = True

    def call(self, visual_feats, visual_pos, training=None):
        x = self.visn_layer_norm(self.visn_fc(visual_feats))
        y = self.box_layer_norm(self.box_fc(visual_pos))
        return self.dropout((x + y) / 2, training=training)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "dropout": self.dropout_rate,
                "initializer_range": self.initializer_range}


class LxmertModel(_LxmertServing, PreTrainedModel):
    """LXMERT: a language encoder, an object-relationship encoder and a cross-modality encoder.

    Token embeddings run through `l_layers` BERT blocks, the object
    features + boxes (`LxmertVisualFeatureEncoder`) through `r_layers` BERT
    blocks, then both through `x_layers` `CrossModalityBlock`s; the pooler
    reads the first token of the language stream. Constructor arguments are
    the fields of a Hugging Face LXMERT `config.json` (the pre-training task
    fields are read by `LxmertForPreTraining`).

    Args:
        vocab_size, hidden_size, num_attention_heads, intermediate_size,
            hidden_act, hidden_dropout_prob, attention_probs_dropout_prob,
            max_position_embeddings, type_vocab_size, initializer_range: as BERT's.
        l_layers, r_layers, x_layers: int, language, vision (relationship)
            and cross-modality layers.
        visual_feat_dim: int `F`, object feature width.
        visual_pos_dim: int `P`, box features per object.
        num_qa_labels, num_object_labels, num_attr_labels, visual_loss_normalizer,
            task_matched, task_mask_lm, task_obj_predict, task_qa,
            visual_obj_loss, visual_attr_loss, visual_feat_loss: head fields
            (see `LxmertForPreTraining`).
        **kwargs: other Hugging Face fields (kept) and Keras arguments.

    Call inputs (dict or keywords):
        input_ids: int `(B, T)`.
        visual_feats: float `(B, S, F)`, region features (e.g. Faster R-CNN ROI pooled).
        visual_pos: float `(B, S, P)`, normalised boxes.
        attention_mask: optional 0/1 `(B, T)`; all ones if absent.
        visual_attention_mask: optional 0/1 `(B, S)`; no mask if absent.
        token_type_ids: optional int `(B, T)`; zeros if absent.

    Returns:
        dict with `language_output` `(B, T, D)`, `vision_output` `(B, S, D)`,
        `pooled_output` `(B, D)`; with `output_hidden_states`,
        `language_hidden_states` (`l_layers + x_layers` tensors `(B, T, D)`)
        and `vision_hidden_states` (`r_layers + x_layers` tensors `(B, S, D)`),
        the outputs of each layer (no embeddings, as the reference); with
        `output_attentions`, `language_attentions` / `vision_attentions`
        (`(B, N, T, T)` / `(B, N, S, S)` per layer) and
        `cross_encoder_attentions` (language-to-vision, `(B, N, T, S)` per
        cross-modality layer).

    Raises:
        ValueError: missing `visual_feats` / `visual_pos`, or their shapes do
            not fit (`(B, S, F)`, `(B, S, P)`, batch of `input_ids`).
        TypeError: integer `visual_feats` / `visual_pos`, float token ids.
    """

    model_type = "lxmert"
    input_names = INPUT_NAMES
    float_input_names = ("visual_feats", "visual_pos")
    serving_outputs = ("language_output", "vision_output", "pooled_output")

    def __init__(
        self,
        vocab_size=30522,
        hidden_size=768,
        num_attention_heads=12,
        num_qa_labels=9500,
        num_object_labels=1600,
        num_attr_labels=400,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        l_layers=9,
        x_layers=5,
        r_layers=5,
        visual_feat_dim=2048,
        visual_pos_dim=4,
        visual_loss_normalizer=6.67,
        task_matched=True,
        task_mask_lm=True,
        task_obj_predict=True,
        task_qa=True,
        visual_obj_loss=True,
        visual_attr_loss=True,
        visual_feat_loss=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        if hidden_size % num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads. "
                             f"Received: hidden_size={hidden_size}, num_attention_heads={num_attention_heads}")
        self.arch = dict(vocab_size=vocab_size, hidden_size=hidden_size, embedding_size=hidden_size,
                         hidden_act=hidden_act, layer_norm_eps=LAYER_NORM_EPS, initializer_range=initializer_range,
                         hidden_dropout=hidden_dropout_prob)
        init = hf_initializer(initializer_range)
        self.embeddings = TransformerEmbeddings(
            vocab_size, hidden_size, max_position_embeddings=max_position_embeddings, type_vocab_size=type_vocab_size,
            layer_norm_eps=LAYER_NORM_EPS, dropout=hidden_dropout_prob, initializer_range=initializer_range,
            dtype=self.dtype_policy, name="embeddings",
        )
        self.visual_encoder = LxmertVisualFeatureEncoder(hidden_size, hidden_dropout_prob, initializer_range,
                                                         dtype=self.dtype_policy, name="visual_encoder")
        block = dict(num_heads=num_attention_heads, intermediate_size=intermediate_size, hidden_act=hidden_act,
                     hidden_dropout=hidden_dropout_prob, attention_dropout=attention_probs_dropout_prob,
                     layer_norm_eps=LAYER_NORM_EPS, kernel_initializer=init, dtype=self.dtype_policy)
        self.language_layers = [TransformerEncoderBlock(**block, name=f"language_layer_{i}") for i in range(l_layers)]
        self.vision_layers = [TransformerEncoderBlock(**block, name=f"vision_layer_{i}") for i in range(r_layers)]
        self.cross_layers = [CrossModalityBlock(**block, name=f"cross_layer_{i}") for i in range(x_layers)]
        self.pooler = Pooler(hidden_size, kernel_initializer=init, dtype=self.dtype_policy, name="pooler")

    def dummy_inputs(self, batch_size=1, seq_len=4):
        num_objects = 2
        return {
            "input_ids": np.ones((batch_size, seq_len), dtype="int32"),
            "visual_feats": np.zeros((batch_size, num_objects, self.config["visual_feat_dim"]), dtype="float32"),
            "visual_pos": np.zeros((batch_size, num_objects, self.config["visual_pos_dim"]), dtype="float32"),
        }

    def _check_visual_inputs(self, inputs):
        name = type(self).__name__
        for key in ("visual_feats", "visual_pos"):
            if key not in inputs:
                raise ValueError(f"{name} needs `{key}` (batch, objects, features). Received inputs: {sorted(inputs)}.")
        feats, pos = inputs["visual_feats"], inputs["visual_pos"]
        expected = {"visual_feats": self.config["visual_feat_dim"], "visual_pos": self.config["visual_pos_dim"]}
        for key, tensor in (("visual_feats", feats), ("visual_pos", pos)):
            shape = tuple(tensor.shape)
            if len(shape) != 3 or shape[-1] not in (None, expected[key]):
                raise ValueError(f"{name} expects `{key}` of shape (batch, objects, {expected[key]}). "
                                 f"Received: {key} with shape {shape}.")
        batch = inputs["input_ids"].shape[0]
        for key, tensor in (("visual_feats", feats), ("visual_pos", pos), ("visual_attention_mask",
                                                                           inputs.get("visual_attention_mask"))):
            if tensor is None:
                continue
            shape = tuple(tensor.shape)
            bad_batch = None not in (batch, shape[0]) and shape[0] != batch
            bad_objects = None not in (shape[1], feats.shape[1]) and shape[1] != feats.shape[1]
            if bad_batch or bad_objects or (key == "visual_attention_mask" and len(shape) != 2):
                raise ValueError(f"{name} expects `{key}` with the batch of input_ids ({batch}) and the objects of "
                                 f"visual_feats ({feats.shape[1]}). Received: {key} with shape {shape}.")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        self._check_visual_inputs(inputs)
        language_mask = attention_mask_to_bool(inputs.get("attention_mask"))
        vision_mask = attention_mask_to_bool(inputs.get("visual_attention_mask"))
        language = self.embeddings(inputs["input_ids"], token_type_ids=inputs.get("token_type_ids"),
                                   training=training)
        vision = self.visual_encoder(inputs["visual_feats"], inputs["visual_pos"], training=training)

        language_stack = run_block_stack(self.language_layers, language, call_kwargs={"attention_mask": language_mask},
                                         output_attentions=output_attentions, training=training)
        vision_stack = run_block_stack(self.vision_layers, vision, call_kwargs={"attention_mask": vision_mask},
                                       output_attentions=output_attentions, training=training)
        cross_stack = run_block_stack(
            self.cross_layers, (language_stack.x, vision_stack.x),
            call_kwargs={"attention_mask": language_mask, "visual_attention_mask": vision_mask},
            call_block=lambda step, block, x, **kwargs: block(x[0], x[1], **kwargs),
            output_attentions=output_attentions, training=training,
        )
        crossed = cross_stack.hidden_states[1:]  # (language, vision) per cross-modality layer
        language_states = language_stack.hidden_states[1:] + [pair[0] for pair in crossed]
        vision_states = vision_stack.hidden_states[1:] + [pair[1] for pair in crossed]
        outputs = {
            "language_output": language_states[-1],
            "vision_output": vision_states[-1],
            "pooled_output": self.pooler(language_states[-1]),
        }
        if output_hidden_states:
            outputs["language_hidden_states"] = tuple(language_states)
            outputs["vision_hidden_states"] = tuple(vision_states)
        if output_attentions:
            outputs["language_attentions"] = tuple(language_stack.attentions)
            outputs["vision_attentions"] = tuple(vision_stack.attentions)
            outputs["cross_encoder_attentions"] = tuple(cross_stack.attentions)
        return outputs


class LxmertPreTrainedModel(_LxmertServing, PreTrainedModel):
    """Base of the LXMERT heads: the backbone lives in `self.lxmert`."""

    model_type = "lxmert"
    base_model_prefix = "lxmert"
    backbone_class = LxmertModel
    input_names = INPUT_NAMES
    float_input_names = LxmertModel.float_input_names


class _LxmertHeadMixin(HeadModelMixin):
    """What the LXMERT heads share: the backbone's inputs, and its stream outputs passed through."""

    backbone_kwargs = {}

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return self.backbone.dummy_inputs(batch_size, seq_len)

    @staticmethod
    def _passthrough(outputs, backbone_outputs):
        outputs.update({k: backbone_outputs[k] for k in STREAM_OUTPUTS if k in backbone_outputs})
        return outputs


@keras.saving.register_keras_serializable(package="tfmodels")
class LxmertVisualAnswerHead(keras.layers.Layer):
    """`out_proj(LN(gelu(dense(pooled))))`, `dense` of width `2 D` (exact GELU, as the reference's `GeLU`).

    Call args: pooled float `(B, D)`. Returns: float `(B, num_labels)`.

    References: `transformers.models.lxmert.modeling_lxmert.LxmertVisualAnswerHead`.
    """

    def __init__(self, hidden_size, num_labels, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.num_labels, self.initializer_range = hidden_size, num_labels, initializer_range
        self.dense = _dense(2 * hidden_size, initializer_range, self.dtype_policy, "dense")
        self.layer_norm = LayerNormalization(epsilon=LAYER_NORM_EPS, dtype=self.dtype_policy, name="layer_norm")
        self.out_proj = _dense(num_labels, initializer_range, self.dtype_policy, "out_proj")
        self._gelu = get_activation("gelu")

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.layer_norm.build((*input_shape[:-1], 2 * self.hidden_size))
        self.out_proj.build((*input_shape[:-1], 2 * self.hidden_size))
        self.built = True

    def call(self, pooled):
        return self.out_proj(self.layer_norm(self._gelu(self.dense(pooled))))

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "num_labels": self.num_labels,
                "initializer_range": self.initializer_range}


# The object head's decoders: (config flag, key, config field of the decoder's width).
VISUAL_LOSSES = (
    ("visual_obj_loss", "obj", "num_object_labels"),
    ("visual_attr_loss", "attr", "num_attr_labels"),
    ("visual_feat_loss", "feat", "visual_feat_dim"),
)


@keras.saving.register_keras_serializable(package="tfmodels")
class LxmertVisualObjHead(keras.layers.Layer):
    """Per-object predictions from the vision stream: a BERT transform (dense + activation +
    LayerNorm), then one linear decoder per visual loss (`decoder_obj`, `decoder_attr`, `decoder_feat`).

    Args:
        hidden_size: int `D`; hidden_act: str; outputs: `{key: width}` for
            the decoders (keys `obj`, `attr`, `feat`); initializer_range: float.

    Call args: vision float `(B, S, D)`.

    Returns: `{key: (B, S, width)}`.

    References: `transformers.models.lxmert.modeling_lxmert.LxmertVisualObjHead`.
    """

    def __init__(self, hidden_size, hidden_act, outputs, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.hidden_act, self.outputs = hidden_size, hidden_act, dict(outputs)
        self.initializer_range = initializer_range
        self.dense = _dense(hidden_size, initializer_range, self.dtype_policy, "dense")
        self._activation = get_activation(hidden_act)
        self.layer_norm = LayerNormalization(epsilon=LAYER_NORM_EPS, dtype=self.dtype_policy, name="layer_norm")
        for key, width in self.outputs.items():
            setattr(self, f"decoder_{key}", _dense(width, initializer_range, self.dtype_policy, f"decoder_{key}"))

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.layer_norm.build(input_shape)
        for key in self.outputs:
            getattr(self, f"decoder_{key}").build(input_shape)
        self.built = True

    def call(self, vision):
        x = self.layer_norm(self._activation(self.dense(vision)))
        return {key: getattr(self, f"decoder_{key}")(x) for key in self.outputs}

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "hidden_act": self.hidden_act,
                "outputs": self.outputs, "initializer_range": self.initializer_range}


class LxmertForPreTraining(_LxmertHeadMixin, LxmertPreTrainedModel):
    """LXMERT with its pre-training heads: masked LM, image-text matching, object prediction, QA.

    Heads present by the config's task flags: `cls.predictions` (masked LM,
    tied to the word embeddings), `cls.seq_relationship` (matching),
    `obj_predict_head` when `task_obj_predict` (one decoder per
    `visual_obj_loss` / `visual_attr_loss` / `visual_feat_loss`),
    `answer_head` when `task_qa`.

    Call inputs: those of `LxmertModel`, plus optional labels, each adding its
    loss when its task flag is set (any subset gives `loss`, as the reference):
        labels: int `(B, T)` masked-LM targets, -100 ignored.
        matched_label: int `(B,)`, 1 if the text matches the image.
        obj_labels: dict `{key: (label, confidence)}` with a pair for every
            visual loss of the config: `obj` / `attr` int ids `(B, S)` (-100
            ignored), `feat` float targets `(B, S, F)`; confidence float `(B, S)`.
        ans: int `(B,)` answer ids.

    Returns:
        dict with `prediction_logits` `(B, T, vocab_size)`,
        `cross_relationship_score` `(B, 2)`, `question_answering_score`
        `(B, num_qa_labels)` (without `task_qa`: the scalar
        `pooled_output[0, 0]`, as the reference), the stream outputs of
        `LxmertModel` when asked, `loss` with labels and, with
        `task_obj_predict`, the object-head outputs the visual losses read
        (beyond the reference's outputs, so `fit()` can compute them):
        `obj_prediction_logits` `(B, S, num_object_labels)`,
        `attr_prediction_logits` `(B, S, num_attr_labels)`,
        `feat_prediction` `(B, S, F)`, each when its loss is enabled.

    Raises:
        ValueError: `obj_labels` without a pair for an enabled visual loss.

    References: `transformers.LxmertForPreTraining`.
    """

    label_names = ("labels", "obj_labels", "matched_label", "ans")
    serving_outputs = ("prediction_logits", "cross_relationship_score", "question_answering_score")

    def __init__(self, **kwargs):
        backbone = self._init_backbone(kwargs)
        self.config = {}
        fields, arch = backbone.config, backbone.arch
        self.lm_head = MaskedLMHead(
            vocab_size=arch["vocab_size"], hidden_size=arch["hidden_size"], hidden_act=arch["hidden_act"],
            layer_norm_eps=LAYER_NORM_EPS, tie_word_embeddings=backbone.extra_config.get("tie_word_embeddings", True),
            kernel_initializer=hf_initializer(arch["initializer_range"]), dtype=self.dtype_policy, name="lm_head",
        )
        self.sentence_classifier = self._dense(2, "sentence_classifier")
        self.visual_losses = {key: fields[size] for flag, key, size in VISUAL_LOSSES if fields[flag]}
        self.obj_predict_head = None
        if fields["task_obj_predict"]:
            self.obj_predict_head = LxmertVisualObjHead(
                arch["hidden_size"], arch["hidden_act"], self.visual_losses, arch["initializer_range"],
                dtype=self.dtype_policy, name="obj_predict_head")
        self.answer_head = None
        if fields["task_qa"]:
            self.answer_head = LxmertVisualAnswerHead(arch["hidden_size"], fields["num_qa_labels"],
                                                      arch["initializer_range"], dtype=self.dtype_policy,
                                                      name="answer_head")

    def _prepare_inputs(self, inputs, kwargs=None, cached=False):
        obj_labels = None
        if isinstance(inputs, dict) and "obj_labels" in inputs:
            inputs = dict(inputs)
            obj_labels = inputs.pop("obj_labels")
        prepared = super()._prepare_inputs(inputs, kwargs, cached)
        if obj_labels is not None:
            prepared["obj_labels"] = self._obj_label_pairs(obj_labels)
        return prepared

    def _obj_label_pairs(self, obj_labels):
        missing = sorted(set(self.visual_losses) - set(obj_labels or {}))
        if not isinstance(obj_labels, dict) or missing:
            raise ValueError(
                f"{type(self).__name__} needs `obj_labels` as a dict with a (label, confidence) pair for each "
                f"visual loss of the config ({sorted(self.visual_losses)}). Missing: {missing}."
            )
        pairs = {}
        for key in self.visual_losses:
            pair = obj_labels[key]
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"`obj_labels[{key!r}]` must be a (label, confidence) pair. Received: {type(pair)}.")
            pairs[key] = tuple(tf.convert_to_tensor(v) for v in pair)
        return pairs

    def pop_labels(self, inputs):
        """Any of the labels: each one given adds its loss (the reference's rule)."""
        labels = {k: inputs.pop(k) for k in self.label_names if k in inputs}
        return labels or None

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        pooled = backbone_outputs["pooled_output"]
        outputs = {
            "prediction_logits": self.lm_head(backbone_outputs["language_output"],
                                              embedding_matrix=self.backbone.embeddings.word_embeddings.embeddings),
            "cross_relationship_score": self.sentence_classifier(pooled),
            "question_answering_score": pooled[0, 0] if self.answer_head is None else self.answer_head(pooled),
        }
        if self.obj_predict_head is not None:
            for key, value in self.obj_predict_head(backbone_outputs["vision_output"]).items():
                outputs[OBJ_OUTPUTS[key]] = value
        return self._passthrough(outputs, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        fields = self.backbone.config
        total = ops.zeros((), "float32")
        if labels.get("labels") is not None and fields["task_mask_lm"]:
            total += masked_sparse_categorical_crossentropy(labels["labels"], outputs["prediction_logits"],
                                                            sample_weight=sample_weight)
        if labels.get("matched_label") is not None and fields["task_matched"]:
            total += masked_sparse_categorical_crossentropy(ops.reshape(labels["matched_label"], (-1,)),
                                                            outputs["cross_relationship_score"],
                                                            sample_weight=sample_weight)
        if labels.get("obj_labels") is not None and self.obj_predict_head is not None:
            pairs = self._obj_label_pairs(labels["obj_labels"])
            for key, (label, confidence) in pairs.items():
                total += fields["visual_loss_normalizer"] * confidence_weighted_loss(
                    label, outputs[OBJ_OUTPUTS[key]], confidence, regression=key == "feat",
                    sample_weight=sample_weight)
        if labels.get("ans") is not None and self.answer_head is not None:
            total += masked_sparse_categorical_crossentropy(ops.reshape(labels["ans"], (-1,)),
                                                            outputs["question_answering_score"],
                                                            sample_weight=sample_weight)
        return total


# Output names of the object head's predictions in `LxmertForPreTraining`.
OBJ_OUTPUTS = {"obj": "obj_prediction_logits", "attr": "attr_prediction_logits", "feat": "feat_prediction"}


class LxmertForQuestionAnswering(_LxmertHeadMixin, LxmertPreTrainedModel):
    """LXMERT with the visual-answering head (`answer_head`) on the pooled output.

    Call inputs: those of `LxmertModel`, plus optional `labels` int `(B,)` answer ids.

    Returns:
        dict with `question_answering_score` `(B, num_qa_labels)`, the stream
        outputs of `LxmertModel` when asked, and `loss` (cross-entropy) with `labels`.

    References: `transformers.LxmertForQuestionAnswering`.
    """

    label_names = ("labels",)
    serving_outputs = ("question_answering_score",)

    def __init__(self, **kwargs):
        backbone = self._init_backbone(kwargs)
        self.config = {}
        arch = backbone.arch
        self.answer_head = LxmertVisualAnswerHead(arch["hidden_size"], backbone.config["num_qa_labels"],
                                                  arch["initializer_range"], dtype=self.dtype_policy,
                                                  name="answer_head")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        outputs = {"question_answering_score": self.answer_head(backbone_outputs["pooled_output"])}
        return self._passthrough(outputs, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return masked_sparse_categorical_crossentropy(ops.reshape(labels["labels"], (-1,)),
                                                      outputs["question_answering_score"], sample_weight=sample_weight)
