"""BigBird: a BERT-style encoder with block-sparse attention for long sequences.

BERT's embeddings (dropout before the LayerNorm, optional `rescale_embeddings`)
and post-norm blocks whose self-attention is `BlockSparseAttention`
(`attention_type="block_sparse"`: global, sliding and random blocks, memory
linear in the length) or full attention (`attention_type="original_full"`).

As the reference, per call:

- a block-sparse model runs full attention, with a logged warning, when
  `seq_len <= (5 + 2 * num_random_blocks) * block_size` (the reference
  switches itself to `original_full` for good at that point; here the choice
  is made again at every call, from the static length) and when decoding
  over a KV cache;
- otherwise inputs are padded to a multiple of `block_size` inside the
  model (`input_ids` with `pad_token_id`, `attention_mask` and
  `token_type_ids` with 0, given `position_ids` with `pad_token_id`) and
  `last_hidden_state` is cut back to the input length. `hidden_states`
  then hold the padded length except the last one (`last_hidden_state`), and
  `attentions` are `(batch, heads, padded_len, padded_len)`, as the reference
  returns them.

Block-sparse attention needs a sequence length known when the graph is
traced (it plans the random blocks on the host); full attention does not.

References:
    Zaheer et al., "Big Bird: Transformers for Longer Sequences", NeurIPS 2020.
    Parity reference: `transformers.models.big_bird.modeling_big_bird` (PyTorch).
"""

import logging

from keras import ops

from tfmodels.layers.attention.block_sparse_attention import BlockSparseEncoderBlock, min_block_sparse_length
from tfmodels.models.encoder import EncoderModel, attention_mask_to_bool

logger = logging.getLogger("tfmodels")
_LOGGED = set()

ATTENTION_TYPES = ("original_full", "block_sparse")


def _warn_once(message):
    if message not in _LOGGED:
        _LOGGED.add(message)
        logger.warning(message)


def block_sparse_for_call(config, seq_len, cached=False, quiet=False):
    """Whether a BigBird-style stack runs block-sparse attention on `seq_len` tokens, as the reference decides.

    False (with the reference's warnings, unless `quiet`) for `original_full`
    configs, with a KV cache, and for `seq_len <= (5 + 2 * num_random_blocks) * block_size`.

    Args:
        config: dict with `attention_type`, `block_size`, `num_random_blocks`.
        seq_len: int or None, the input length before padding.

    Raises:
        ValueError: for a block-sparse config and an unknown (`None`) length.
    """
    if config["attention_type"] != "block_sparse":
        return False
    if cached:
        _warn_once("Attention type 'block_sparse' does not support a KV cache; decoding uses 'original_full' "
                   "attention.")
        return False
    if seq_len is None:
        raise ValueError(
            "BigBird's block-sparse attention needs a sequence length known when the graph is traced; "
            "pad inputs to a fixed length (e.g. a fixed input signature), or set "
            "attention_type='original_full'. Received: seq_len=None"
        )
    limit = min_block_sparse_length(config["block_size"], config["num_random_blocks"])
    if seq_len <= limit:
        if not quiet:
            logger.warning(
                "Attention type 'block_sparse' is not possible if sequence_length: %d <= num global tokens: "
                "2 * config.block_size + min. num sliding tokens: 3 * config.block_size + "
                "config.num_random_blocks * config.block_size + additional buffer: "
                "config.num_random_blocks * config.block_size = %d with config.block_size = %d, "
                "config.num_random_blocks = %d. Using 'original_full' attention for this call.",
                seq_len, limit, config["block_size"], config["num_random_blocks"])
        return False
    return True


def padding_to_block_size(seq_len, block_size):
    """Tokens to append so `seq_len` is a multiple of `block_size` (logged once per length, as the reference)."""
    padding = (block_size - seq_len % block_size) % block_size
    if padding:
        _warn_once(f"Input ids are automatically padded from {seq_len} to {seq_len + padding} to be a multiple "
                   f"of `config.block_size`: {block_size}")
    return padding


class QuietBuildMixin:
    """Builds the variables (`build_from_dummy_inputs`) without logging the full-attention fallback
    that the short dummy input would trigger; the model or its `backbone` has a `_quiet` flag."""

    def build_from_dummy_inputs(self):
        model = getattr(self, "backbone", self)
        model._quiet = True
        try:
            return super().build_from_dummy_inputs()
        finally:
            model._quiet = False


class BigBirdModel(QuietBuildMixin, EncoderModel):
    """The BigBird encoder: embeddings, `num_hidden_layers` post-norm blocks, pooler.

    Constructor arguments are the fields of a Hugging Face `BigBirdConfig`
    (BERT's, plus the ones below).

    Args:
        attention_type: `"block_sparse"` or `"original_full"`.
        block_size: int, tokens per attention block.
        num_random_blocks: int, random key blocks per query block.
        use_bias: bool, biases in the query/key/value projections.
        rescale_embeddings: bool, multiply the token embeddings by
            `sqrt(hidden_size)`.
        sep_token_id: int, `[SEP]` id (question lengths in `BigBirdForQuestionAnswering`).
        is_decoder: bool (in `**kwargs`), causal self-attention in full
            attention (`BigBirdForCausalLM`); block-sparse attention stays
            bidirectional, as in the reference.
        **kwargs: BERT fields (see `BertModel`), other Hugging Face fields
            (kept in `extra_config`) and Keras arguments.

    Call inputs (dict or keywords; int32/int64 `(batch, seq_len)`):
        input_ids, attention_mask, token_type_ids, position_ids: as `BertModel`.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`,
        `pooler_output` `(batch, hidden_size)` (with a pooler), and when asked
        `hidden_states` and `attentions` (padded lengths in block-sparse mode,
        see the module docstring).

    Raises:
        ValueError: for an unknown `attention_type`; in block-sparse mode,
            for a sequence length unknown when traced or a mask that is not
            `(batch, seq_len)`; and as `BertModel`.
    """

    model_type = "big_bird"
    serving_outputs = ("last_hidden_state", "pooler_output")
    decoder_capable = True

    def __init__(
        self,
        vocab_size=50358,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu_new",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=4096,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        use_bias=True,
        rescale_embeddings=False,
        attention_type="block_sparse",
        block_size=64,
        num_random_blocks=3,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        sep_token_id=66,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type must be one of {ATTENTION_TYPES}. "
                             f"Received: attention_type={attention_type!r}")
        self._record_config(locals())
        self._sparse_call = False
        self._quiet = False
        embedding_options = {"dropout_first": True}
        if rescale_embeddings:
            embedding_options["word_embedding_scale"] = hidden_size**0.5
        self._build_from_bert_fields(embedding_options=embedding_options)

    def _make_encoder_layer(self, index):
        config = self.config
        attention = dict(
            block_size=config["block_size"], num_random_blocks=config["num_random_blocks"],
            seed=index,  # the reference seeds layer `i`'s random plan with `i`
            max_seq_len=config["max_position_embeddings"], use_bias=config["use_bias"], output_use_bias=True,
        )
        return BlockSparseEncoderBlock(**self._block_kwargs, attention_kwargs=attention, dtype=self.dtype_policy,
                                       name=f"encoder_layer_{index}")

    def use_block_sparse(self, seq_len, cached=False):
        """Whether a call on `seq_len` tokens runs block-sparse attention (see `block_sparse_for_call`)."""
        return block_sparse_for_call(self.config, seq_len, cached=cached, quiet=self._quiet)

    def _pad_to_block_size(self, inputs):
        """Pads the inputs to a multiple of `block_size`; returns `(inputs, padding_len)`."""
        block_size = self.config["block_size"]
        input_ids = inputs["input_ids"]
        seq_len = input_ids.shape[1]
        mask = inputs.get("attention_mask")
        if mask is not None and len(mask.shape) != 2:
            raise ValueError("BigBird's block-sparse attention takes a (batch, seq_len) attention_mask. "
                             f"Received: attention_mask with shape {tuple(mask.shape)}")
        padding = padding_to_block_size(seq_len, block_size)
        if not padding:
            return inputs, 0
        pad_id = self.config["pad_token_id"]
        if mask is None:
            mask = ops.ones_like(input_ids)
        padded = dict(inputs)
        padded["input_ids"] = ops.pad(input_ids, ((0, 0), (0, padding)), constant_values=pad_id)
        padded["attention_mask"] = ops.pad(mask, ((0, 0), (0, padding)), constant_values=0)
        if inputs.get("token_type_ids") is not None:
            padded["token_type_ids"] = ops.pad(inputs["token_type_ids"], ((0, 0), (0, padding)))
        if inputs.get("position_ids") is not None:
            padded["position_ids"] = ops.pad(inputs["position_ids"], ((0, 0), (0, padding)), constant_values=pad_id)
        return padded, padding

    def _run(self, inputs, training, output_attentions, output_hidden_states, past_key_values=None,
             cache_update_index=None):
        seq_len = inputs["input_ids"].shape[1]
        sparse = self.use_block_sparse(seq_len, cached=past_key_values is not None)
        padding = 0
        if sparse:
            inputs, padding = self._pad_to_block_size(inputs)
        self._sparse_call = sparse
        try:
            outputs = super()._run(inputs, training, output_attentions, output_hidden_states, past_key_values,
                                   cache_update_index)
        finally:
            self._sparse_call = False
        if padding:
            outputs["last_hidden_state"] = outputs["last_hidden_state"][:, :seq_len]
            if "hidden_states" in outputs:  # the reference returns `last_hidden_state` as the last one
                outputs["hidden_states"] = (*outputs["hidden_states"][:-1], outputs["last_hidden_state"])
        return outputs

    def _self_attention_mask(self, attention_mask, x, past_key_values=None, cache_update_index=None):
        if self._sparse_call:  # padding mask only: block-sparse attention is bidirectional
            return attention_mask_to_bool(attention_mask), 0
        return super()._self_attention_mask(attention_mask, x, past_key_values, cache_update_index)

    def _block_call_kwargs(self, inputs, x):
        return {"block_sparse": self._sparse_call}
