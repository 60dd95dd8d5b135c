"""MPNet: BERT-style encoder with a shared bucketed relative position bias.

References:
    Song et al., "MPNet: Masked and Permuted Pre-training for Language
    Understanding", NeurIPS 2020. Parity reference:
    `transformers.models.mpnet.modeling_mpnet` (PyTorch).
"""


from tfmodels.layers.position.relative_bias import RelativePositionBias
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.encoder import BERT_FIELDS, EncoderModel
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)

# MPNet (like fairseq RoBERTa) numbers positions from padding_idx + 1; the
# reference hard-codes padding_idx = 1 whatever `pad_token_id` says.
PADDING_IDX = 1
# The reference always buckets with 32 buckets and max distance 128.
BUCKETS, MAX_DISTANCE = 32, 128


class MPNetModel(EncoderModel):
    """The MPNet encoder: word + position embeddings, post-norm blocks sharing
    one `RelativePositionBias`, BERT pooler.

    Constructor arguments are the fields of a Hugging Face `MPNetConfig`.

    Call inputs: `input_ids`, `attention_mask`, `position_ids` (int
    `(batch, seq_len)`); positions default to fairseq's padding-offset ones.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`,
        `pooler_output` `(batch, hidden_size)` (with the pooler), and when
        asked `hidden_states` and `attentions`.
    """

    model_type = "mpnet"
    input_names = ("input_ids", "attention_mask", "position_ids")
    serving_outputs = ("last_hidden_state", "pooler_output")

    def __init__(
        self,
        vocab_size=30527,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        relative_attention_num_buckets=32,
        pad_token_id=1,
        add_pooling_layer=True,
        **kwargs,
    ):
        super().__init__(add_pooling_layer=add_pooling_layer, **kwargs)
        if relative_attention_num_buckets != BUCKETS:
            raise ValueError(
                f"MPNet (as the reference implementation) buckets relative positions into {BUCKETS} buckets. "
                f"Received: relative_attention_num_buckets={relative_attention_num_buckets}"
            )
        self._record_config(locals(), exclude=("add_pooling_layer",))
        bert_fields = {name: self.config[name] for name in BERT_FIELDS if name != "type_vocab_size"}
        self._build_encoder(**bert_fields, type_vocab_size=0, position_padding_idx=PADDING_IDX)
        self.relative_attention_bias = RelativePositionBias(
            num_buckets=relative_attention_num_buckets, num_heads=num_attention_heads, max_distance=MAX_DISTANCE,
            embeddings_initializer=hf_initializer(initializer_range), dtype=self.dtype_policy,
            name="relative_attention_bias",
        )

    def _block_call_kwargs(self, inputs, x):
        return {"attention_bias": self.relative_attention_bias(x)}  # (1, heads, seq_len, seq_len), shared


class MPNetPreTrainedModel(PreTrainedModel):
    """Base of the MPNet head models: the backbone lives in `self.mpnet`."""

    model_type = "mpnet"
    base_model_prefix = "mpnet"
    backbone_class = MPNetModel
    input_names = MPNetModel.input_names


class MPNetForSequenceClassification(SequenceClassificationMixin, MPNetPreTrainedModel):
    """MPNet with `MPNetClassificationHead` (first token, dense + tanh, dropout,
    `out_proj`); its dense + tanh part is the backbone's pooler.

    References: `transformers.MPNetForSequenceClassification`.
    """

    # The converter maps `classifier.dense` onto the backbone pooler.
    pooler_is_classifier_dense = True


class MPNetForTokenClassification(TokenClassificationMixin, MPNetPreTrainedModel):
    """MPNet with a per-token linear classifier.

    References: `transformers.MPNetForTokenClassification`.
    """


class MPNetForQuestionAnswering(QuestionAnsweringMixin, MPNetPreTrainedModel):
    """MPNet with a span head (`start_logits`, `end_logits`).

    References: `transformers.MPNetForQuestionAnswering`.
    """


class MPNetForMultipleChoice(MultipleChoiceMixin, MPNetPreTrainedModel):
    """MPNet scoring each of `num_choices` sequences from the pooled output.

    References: `transformers.MPNetForMultipleChoice`.
    """


class MPNetForMaskedLM(MaskedLMMixin, MPNetPreTrainedModel):
    """MPNet with its masked-LM head (dense + gelu + LayerNorm, tied decoder).

    References: `transformers.MPNetForMaskedLM`.
    """

    lm_head_activation = "gelu"  # fixed in the reference, whatever `hidden_act` says
