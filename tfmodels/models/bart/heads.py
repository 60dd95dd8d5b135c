"""BART-family task heads on the `model` backbone (`BartModel` or a variant), and the decoder-only LM.

Head checkpoints keep the backbone under `model.` (`model.shared`,
`model.encoder...`), as `transformers` does; every head returns the
backbone's seq2seq outputs (`encoder_last_hidden_state`, and on request
`encoder_hidden_states`, `decoder_hidden_states`, `encoder_attentions`,
`decoder_attentions`, `cross_attentions`) beside its own.

Size glossary: B batch, S source length, T target length, D `d_model`,
V `vocab_size`, L `num_labels`.

References:
    Lewis et al., "BART: Denoising Sequence-to-Sequence Pre-training for
    Natural Language Generation, Translation, and Comprehension", ACL 2020.
    Parity references: `transformers.BartForConditionalGeneration`,
    `BartForSequenceClassification`, `BartForQuestionAnswering`,
    `BartForCausalLM`, `MBartForConditionalGeneration` (PyTorch).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfmodels.generation.seq2seq import Seq2SeqGenerationMixin
from tfmodels.layers.losses import masked_sparse_categorical_crossentropy
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.bart.modeling import (
    BartModel,
    BartPreTrainedModel,
    BlenderbotModel,
    BlenderbotSmallModel,
    FSMTModel,
    M2M100Model,
    MarianModel,
    MBartModel,
    PegasusModel,
)
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.heads import HeadModelMixin, QuestionAnsweringMixin, SequenceClassificationMixin
from tfmodels.models.seq2seq import (
    BackboneGenerationMixin,
    Seq2SeqLMMixin,
    decoder_input_ids_from,
)


def last_eos_states(hidden_states, input_ids, eos_token_id):
    """The state at the last `eos_token_id` of each row (BART's sentence representation).

    Args:
        hidden_states: float tensor `(B, S, D)`.
        input_ids: int tensor `(B, S)`.
        eos_token_id: int.

    Returns:
        float tensor `(B, 1, D)`.

    Raises:
        ValueError: in eager mode, when rows hold different numbers of
            `eos_token_id` or none (the reference raises too). Inside a
            `tf.function` / XLA no check runs: each row uses its own last
            `eos_token_id`, and a row without one uses its last position.
    """
    is_eos = ops.equal(input_ids, eos_token_id)  # (B, S)
    if tf.executing_eagerly():
        counts = np.sum(np.asarray(is_eos), axis=1)
        if len(set(counts.tolist())) > 1 or counts.min() == 0:
            raise ValueError(
                f"All examples must have the same number (at least one) of eos tokens "
                f"(eos_token_id={eos_token_id}). Received counts per row: {counts.tolist()}"
            )
    length = ops.shape(input_ids)[1]
    positions = ops.arange(length, dtype="int32")[None, :]  # (1, S)
    last = ops.max(ops.where(is_eos, positions, -1), axis=1)  # (B,)
    last = ops.where(last < 0, length - 1, last)
    return ops.take_along_axis(hidden_states, ops.reshape(last, (-1, 1, 1)), axis=1)  # (B, 1, D)


class BartHeadMixin:
    """Declares the `model` backbone of a BART-family head and passes its seq2seq outputs through."""

    model_type = "bart"
    base_model_prefix = "model"
    backbone_class = BartModel
    backbone_kwargs = {}
    input_names = BartModel.input_names

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return self.backbone.dummy_inputs(batch_size, seq_len)

    @staticmethod
    def _passthrough(outputs, backbone_outputs):
        return {**outputs, **{k: v for k, v in backbone_outputs.items() if k != "last_hidden_state"}}


class BartForConditionalGeneration(BartHeadMixin, Seq2SeqLMMixin, BackboneGenerationMixin, Seq2SeqGenerationMixin,
                                   HeadModelMixin, PreTrainedModel):
    """BART with its LM head (tied to the decoder's token table) plus `final_logits_bias`; `generate()`.

    The head is tied unless `tie_word_embeddings=False` (then `lm_head.weight`
    is its own; transformers 5 then also unties BART's encoder/decoder token
    tables from `shared`, which this class does not model: loading such a
    checkpoint fails with `BufferMismatchError` naming those keys, unless the
    tables are equal). Marian's `share_encoder_decoder_embeddings=False` is supported.

    Call inputs: as `BartModel`, plus `labels` `(B, T)` (`-100` ignored):
    when `decoder_input_ids` is not given it is `labels` shifted right with
    `decoder_start_token_id` (`-100` -> `pad_token_id`), else `input_ids`
    shifted right.

    Returns:
        dict with `logits` `(B, T, V)`, `loss` (mean cross-entropy over the
        labels that are not -100) when `labels` is given,
        `encoder_last_hidden_state` and, when asked, the hidden states and
        attentions of `BartModel`.

    Training: `compile()` without a loss trains on the LM loss of `labels` given in the inputs or as `y`
    (see `tfmodels.models.seq2seq.Seq2SeqLMMixin`); `serving_default` takes the decoder inputs too.

    References: `transformers.BartForConditionalGeneration`.
    """

    has_final_logits_bias = True  # M2M100 has none
    decoder_inputs_from_labels = True  # FSMT shifts `input_ids`, not `labels`, as its reference does

    def __init__(self, tie_word_embeddings=True, **kwargs):
        backbone = self._init_backbone(kwargs)
        self.config = {"tie_word_embeddings": tie_word_embeddings}
        vocab_size = backbone.decoder_token_embedding.input_dim
        self.lm_head = None
        if not tie_word_embeddings:
            self.lm_head = keras.layers.Dense(vocab_size, use_bias=False, dtype=self.dtype_policy, name="lm_head",
                                              kernel_initializer=hf_initializer(backbone.config["init_std"]))
        self.final_logits_bias = None
        if self.has_final_logits_bias:
            # A buffer in the reference (zeros, then fitted by fine-tuning scripts); not trained.
            self.final_logits_bias = self.add_weight(shape=(1, vocab_size), initializer="zeros", trainable=False,
                                                     name="final_logits_bias")

    def lm_logits(self, decoder_hidden_states):
        """`(B, T, D)` decoder output -> `(B, T, V)` logits, `final_logits_bias` added where the model has one."""
        if self.lm_head is None:
            logits = self.backbone.decoder_token_embedding(decoder_hidden_states, reverse=True)
        else:
            logits = self.lm_head(decoder_hidden_states)
        if self.final_logits_bias is None:
            return logits
        return logits + ops.cast(self.final_logits_bias, logits.dtype)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        backbone_inputs = {k: v for k, v in inputs.items() if k != "labels"}
        backbone_inputs["decoder_input_ids"] = decoder_input_ids_from(
            self.backbone, inputs, from_input_ids=self.backbone.decoder_inputs_from_input_ids,
            from_labels=self.decoder_inputs_from_labels)
        labels = self.pop_labels(inputs)
        backbone_outputs = self._backbone_outputs(backbone_inputs, training, output_attentions, output_hidden_states)
        outputs = self._passthrough({"logits": self.lm_logits(backbone_outputs["last_hidden_state"])},
                                    backbone_outputs)
        return self.with_task_loss(outputs, labels)

    # -- generation interface (tfmodels.generation.seq2seq; encode / caches: BackboneGenerationMixin) ----

    def _generation_model_config(self):
        """The `config.json` fields, `vocab_size` being the logits' width: the decoder's token table
        (Marian's `decoder_vocab_size` without shared embeddings, FSMT's `tgt_vocab_size`)."""
        return {**super()._generation_model_config(), "vocab_size": self.backbone.decoder_token_embedding.input_dim}

    def decode_step(self, decoder_input_ids, decoder_attention_mask, cache, cache_index, encoder_attention_mask,
                    cross_key_values):
        """One cached decoder pass: `(logits (B, T, V), updated caches)`."""
        outputs = self.backbone.decode(decoder_input_ids, attention_mask=encoder_attention_mask,
                                       decoder_attention_mask=decoder_attention_mask, cache=cache,
                                       cache_update_index=cache_index, cross_key_values=cross_key_values,
                                       training=False)
        return self.lm_logits(outputs["last_hidden_state"]), outputs["past_key_values"]


class BartForSequenceClassification(BartHeadMixin, SequenceClassificationMixin, PreTrainedModel):
    """BART + `BartClassificationHead` (dropout, dense, tanh, dropout, out_proj) on the decoder state at the last eos.

    Call inputs: as `BartModel`, plus `labels` `(B,)` (or `(B, L)` floats
    for multi-label). Every row of `input_ids` must hold the same number of
    `eos_token_id`s (see `last_eos_states`).

    Returns:
        dict with `logits` `(B, L)`, `loss` (by `problem_type`) with
        `labels`, and the seq2seq outputs of `BartModel` (not its
        `last_hidden_state`).

    Raises:
        ValueError: in eager mode, different eos counts across rows.

    References: `transformers.BartForSequenceClassification`.
    """

    classifier_activation = "tanh"
    eos_pooling = True  # inputs must hold eos tokens, the same count per row (as T5's)

    def dummy_inputs(self, batch_size=1, seq_len=4):
        inputs = super().dummy_inputs(batch_size, seq_len)
        inputs["input_ids"][:, -1] = self.backbone.config["eos_token_id"]  # the head reads the last eos
        return inputs

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        sentence = last_eos_states(backbone_outputs["last_hidden_state"], inputs["input_ids"],
                                   self.backbone.config["eos_token_id"])  # (B, 1, D): the head pools row 0
        return self._passthrough({"logits": self.classifier(sentence, training=training)}, backbone_outputs)


class BartForQuestionAnswering(BartHeadMixin, QuestionAnsweringMixin, PreTrainedModel):
    """BART + span head on the decoder states; `start_logits`, `end_logits (B, T)`.

    References: `transformers.BartForQuestionAnswering`.
    """


class BartForCausalLM(BartPreTrainedModel):
    """The BART decoder alone (no cross-attention) with an LM head tied to its embeddings.

    Call inputs: `input_ids` `(B, T)`, `attention_mask` `(B, T)`, `labels`
    `(B, T)`, already aligned with the logits (no shift, as the reference;
    `-100` ignored).

    Returns:
        dict with `logits` `(B, T, V)`, `loss` with `labels` and, when asked,
        `hidden_states` and `attentions`.

    References: `transformers.BartForCausalLM`.
    """

    has_encoder = False
    input_names = ("input_ids", "attention_mask")
    label_names = ("labels",)
    serving_outputs = ("logits",)

    def __init__(self, tie_word_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        self.config["tie_word_embeddings"] = tie_word_embeddings
        self.lm_head = None
        if not tie_word_embeddings:
            self.lm_head = keras.layers.Dense(self.config["vocab_size"], use_bias=False, dtype=self.dtype_policy,
                                              kernel_initializer=hf_initializer(self.config["init_std"]),
                                              name="lm_head")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        labels = self.pop_labels(inputs)
        outputs = self.decode(inputs["input_ids"], decoder_attention_mask=inputs.get("attention_mask"),
                              training=training, output_attentions=output_attentions,
                              output_hidden_states=output_hidden_states)
        hidden = outputs.pop("last_hidden_state")
        logits = self.shared(hidden, reverse=True) if self.lm_head is None else self.lm_head(hidden)
        return self.with_task_loss({"logits": logits, **outputs}, labels)

    def task_loss(self, labels, outputs, sample_weight=None):
        return masked_sparse_categorical_crossentropy(labels["labels"], outputs["logits"],
                                                      sample_weight=sample_weight)


class MBartForConditionalGeneration(BartForConditionalGeneration):
    """mBART with its LM head: `BartForConditionalGeneration` on `MBartModel`.

    References: `transformers.MBartForConditionalGeneration`.
    """

    model_type = "mbart"
    backbone_class = MBartModel


class MarianMTModel(BartForConditionalGeneration):
    """Marian with its LM head (tied to the decoder's token table): `BartForConditionalGeneration` on `MarianModel`.

    References: `transformers.MarianMTModel`.
    """

    model_type = "marian"
    backbone_class = MarianModel


class PegasusForConditionalGeneration(BartForConditionalGeneration):
    """Pegasus with its LM head: `BartForConditionalGeneration` on `PegasusModel`.

    References: `transformers.PegasusForConditionalGeneration`.
    """

    model_type = "pegasus"
    backbone_class = PegasusModel


class BlenderbotForConditionalGeneration(BartForConditionalGeneration):
    """Blenderbot with its LM head: `BartForConditionalGeneration` on `BlenderbotModel`.

    References: `transformers.BlenderbotForConditionalGeneration`.
    """

    model_type = "blenderbot"
    backbone_class = BlenderbotModel


class BlenderbotSmallForConditionalGeneration(BartForConditionalGeneration):
    """BlenderbotSmall with its LM head: `BartForConditionalGeneration` on `BlenderbotSmallModel`.

    References: `transformers.BlenderbotSmallForConditionalGeneration`.
    """

    model_type = "blenderbot-small"
    backbone_class = BlenderbotSmallModel


class M2M100ForConditionalGeneration(BartForConditionalGeneration):
    """M2M100 with its LM head (tied to `shared`, no `final_logits_bias`) on `M2M100Model`.

    `generate(..., forced_bos_token_id=<target language id>)` forces the
    target language as the first generated token, as in `transformers`.

    References: `transformers.M2M100ForConditionalGeneration`.
    """

    model_type = "m2m_100"
    backbone_class = M2M100Model
    has_final_logits_bias = False


class FSMTForConditionalGeneration(BartForConditionalGeneration):
    """FSMT with its LM head: the decoder's `output_projection` (in `FSMTModel`) gives the logits.

    Call inputs: as `FSMTModel`, plus `labels` `(B, T)` (`-100` ignored).
    As in the reference, decoder inputs not given are `input_ids` shifted
    right (not `labels`): pass `decoder_input_ids` when training.

    Returns:
        dict with `logits` `(B, T, tgt_vocab_size)`, `loss` with `labels`,
        `encoder_last_hidden_state` and, when asked, the hidden states and
        attentions of `FSMTModel`.

    References: `transformers.FSMTForConditionalGeneration`.
    """

    model_type = "fsmt"
    backbone_class = FSMTModel
    has_final_logits_bias = False
    decoder_inputs_from_labels = False

    def __init__(self, **kwargs):
        self._init_backbone(kwargs)  # `tie_word_embeddings` is the backbone's (its output projection)
        self.config = {}
        self.lm_head = self.final_logits_bias = None

    def lm_logits(self, decoder_hidden_states):
        """The backbone's decoder output is already `(B, T, V_tgt)` logits."""
        return decoder_hidden_states



# -- the same heads on the other variants' flags --------------------------------
# A variant's head is the BART head with the variant's backbone (`backbone_class`), or, for the
# decoder-only LM, `BartForCausalLM` over the variant's model class: the stack's flags
# (`normalize_first`, `position_offset`, ...) and `model_type` resolve to the variant's through the
# method resolution order, while the call, inputs and `has_encoder=False` stay `BartForCausalLM`'s.


class MBartForSequenceClassification(BartForSequenceClassification):
    """mBART + `BartClassificationHead` on the decoder state at the last eos.

    References: `transformers.MBartForSequenceClassification`.
    """

    model_type = "mbart"
    backbone_class = MBartModel


class MBartForQuestionAnswering(BartForQuestionAnswering):
    """mBART + span head on the decoder states.

    References: `transformers.MBartForQuestionAnswering`.
    """

    model_type = "mbart"
    backbone_class = MBartModel


class MBartForCausalLM(BartForCausalLM, MBartModel):
    """The mBART decoder alone (pre-norm, embedding and final norms) with its tied LM head.

    References: `transformers.MBartForCausalLM`.
    """


class MarianForCausalLM(BartForCausalLM, MarianModel):
    """The Marian decoder alone (sinusoid positions) with its LM head.

    As the reference, its token table `model.decoder.embed_tokens` has `decoder_vocab_size` rows
    (whatever `share_encoder_decoder_embeddings`); the logits are `(B, T, decoder_vocab_size)` with the
    tied head, `(B, T, vocab_size)` with an untied `lm_head` (`tie_word_embeddings=False`).

    References: `transformers.MarianForCausalLM`.
    """


class PegasusForCausalLM(BartForCausalLM, PegasusModel):
    """The Pegasus decoder alone (pre-norm, sinusoid positions, final norm) with its tied LM head.

    References: `transformers.PegasusForCausalLM`.
    """


class BlenderbotForCausalLM(BartForCausalLM, BlenderbotModel):
    """The Blenderbot decoder alone (pre-norm, final norm, positions without offset) with its tied LM head.

    References: `transformers.BlenderbotForCausalLM`.
    """


class BlenderbotSmallForCausalLM(BartForCausalLM, BlenderbotSmallModel):
    """The BlenderbotSmall decoder alone (post-norm, token-embedding norm) with its tied LM head.

    References: `transformers.BlenderbotSmallForCausalLM`.
    """
