"""`generate()` for encoder-decoders: the encoder once, then the shared decoding loops.

`Seq2SeqGenerationMixin` reuses `GenerationMixin.generate` (argument checks,
one compiled program per settings and input shape, trace counts) and the
loops of `tfmodels.generation.search`. Inside the compiled program it runs
the encoder once, projects the encoder output into every decoder layer's
cross-attention keys/values once, and hands the loop a `_DecoderStep` whose
prompt is `decoder_start_token_id` `(B, 1)`; the self-attention KV cache is
preallocated for `1 + max_new_tokens` positions and written in place. The
result starts with `decoder_start_token_id`, as in `transformers`.

The model interface: `encode(input_ids, attention_mask)` -> dict with
`last_hidden_state` `(B, S, D)`; `cross_key_values(encoder_hidden_states)` ->
per-layer `(B, 2, S, N, H)`; `init_cache(batch, max_length)`;
`decode_step(decoder_input_ids, decoder_attention_mask, cache, cache_index,
encoder_attention_mask, cross_key_values)` -> `(logits (B, T, V), cache)`.
With beams, the encoder runs once per source row and its mask and keys/values
are repeated per beam (rows `b * num_beams + k`, the loops' layout); beams
are reordered within their row, so these never need gathering.
"""

import tensorflow as tf

from tfmodels.generation.utils import GenerationMixin


class _DecoderStep:
    """The search loops' model interface, bound to one batch's encoder output."""

    def __init__(self, model, encoder_attention_mask, cross_key_values):
        self.model = model
        self.encoder_attention_mask = encoder_attention_mask
        self.cross_key_values = cross_key_values

    def init_cache(self, batch_size, max_length):
        return self.model.init_cache(batch_size, max_length)

    def step_tensors(self):
        """The tensors this step is bound to (carried between the compiled chunks of a streamed `generate()`)."""
        return (self.encoder_attention_mask, tuple(self.cross_key_values))

    def with_step_tensors(self, tensors):
        """The same step bound to `tensors` (as `step_tensors()` returns them)."""
        return _DecoderStep(self.model, tensors[0], tuple(tensors[1]))

    def decode_step(self, input_ids, attention_mask, position_ids, cache, cache_index):
        del position_ids  # encoder-decoders here place tokens by the cache index
        return self.model.decode_step(input_ids, attention_mask, cache, cache_index,
                                      self.encoder_attention_mask, self.cross_key_values)


class MarginalizedDecoderStep:
    """The search loops' model interface over a mixture: each output row decodes against `n` encoder contexts.

    RAG-token decoding (Lewis et al., 2020): an output row `r` has `n` documents, each encoded
    separately (decoder rows `r * n + d`), and a log-prior `doc_log_probs[r, d]`. Every step runs the
    decoder on all `R * n` rows and returns the marginal next-token log-probabilities
    `logsumexp_d(doc_log_probs[r, d] + log_softmax(logits[r * n + d]))` `(R, T, V)` as the logits:
    greedy search takes their argmax, beam search their `log_softmax` (a no-op on log-probabilities),
    as `transformers.RagTokenForGeneration.generate` does. The caches are kept as `(R, n, ...)`, so
    the loops' beam reordering on axis 0 moves a row's documents together (the reference's
    `_reorder_stacked`).

    Args:
        inner: a `_DecoderStep`-like object over the `R * n` decoder rows.
        doc_log_probs: float `(R, n)`, log-probabilities of the documents of each output row.
    """

    def __init__(self, inner, doc_log_probs):
        self.inner = inner
        self.doc_log_probs = tf.cast(doc_log_probs, tf.float32)
        self.n = doc_log_probs.shape[1]

    def step_tensors(self):
        return (self.inner.step_tensors(), self.doc_log_probs)

    def with_step_tensors(self, tensors):
        return MarginalizedDecoderStep(self.inner.with_step_tensors(tensors[0]), tensors[1])

    def init_cache(self, batch_size, max_length):
        cache = self.inner.init_cache(batch_size * self.n, max_length)
        return tuple(tf.reshape(c, (batch_size, self.n, *c.shape[1:])) for c in cache)

    def decode_step(self, input_ids, attention_mask, position_ids, cache, cache_index):
        rows = input_ids.shape[0]
        repeat = lambda t: None if t is None else tf.repeat(t, self.n, axis=0)  # noqa: E731  (R, ...) -> (R * n, ...)
        flat_cache = tuple(tf.reshape(c, (rows * self.n, *c.shape[2:])) for c in cache)
        logits, flat_cache = self.inner.decode_step(repeat(input_ids), repeat(attention_mask), repeat(position_ids),
                                                    flat_cache, cache_index)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)  # (R * n, T, V)
        log_probs = tf.reshape(log_probs, (rows, self.n, *log_probs.shape[1:]))
        marginal = tf.reduce_logsumexp(log_probs + self.doc_log_probs[:, :, None, None], axis=1)  # (R, T, V)
        return marginal, tuple(tf.reshape(c, (rows, self.n, *c.shape[1:])) for c in flat_cache)


class Seq2SeqGenerationMixin(GenerationMixin):
    """`generate(input_ids, attention_mask, max_new_tokens=..., ...)` for encoder-decoder LMs.

    Same arguments as `GenerationMixin.generate` (greedy, sampling, beam
    search); `input_ids` `(B, S)` is the source (padding anywhere, given by
    `attention_mask`). Returns int32 `(B, 1 + generated)` decoder tokens,
    starting with `decoder_start_token_id`.

    Raises:
        ValueError: as `GenerationMixin.generate`.
    """

    def _encoder_attention_mask(self, attention_mask, encoder_hidden_states):
        """The cross-attention mask `(B, S_enc)` from the source mask: the same one, unless the encoder
        shortens its input (Speech2Text's subsampler; `tfmodels.models.seq2seq.BackboneGenerationMixin`)."""
        return attention_mask

    def _max_generation_positions(self):
        return None  # relative or per-stack positions: the source length does not bound the target

    def _output_prefix_length(self, input_ids):
        return 1  # the decoder start token

    def _search_inputs(self, input_ids, attention_mask, num_beams, **model_inputs):
        del model_inputs  # none: `generation_input_names` is empty
        encoder_hidden_states = self.encode(input_ids, attention_mask, training=False)["last_hidden_state"]
        attention_mask = self._encoder_attention_mask(attention_mask, encoder_hidden_states)  # speech: subsampled
        cross_key_values = self.cross_key_values(encoder_hidden_states)  # once, for every step
        if num_beams > 1:
            attention_mask = tf.repeat(attention_mask, num_beams, axis=0)  # (B * K, S)
            cross_key_values = tuple(tf.repeat(kv, num_beams, axis=0) for kv in cross_key_values)
        step = _DecoderStep(self, attention_mask, cross_key_values)
        start_id = self._generation_model_config()["decoder_start_token_id"]
        start = tf.fill((input_ids.shape[0], 1), tf.constant(start_id, tf.int32))
        return step, start, tf.ones_like(start)
