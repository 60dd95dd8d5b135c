"""The block stack: the one loop that runs a backbone's transformer blocks.

Every backbone (BERT-like encoders, decoder-only LMs, T5/BART encoders and
decoders, DeBERTa, XLM/FlauBERT, XLNet, Transformer-XL, Funnel) runs its
blocks through `run_block_stack`; what differs between them is an argument:

- `order`: indices into `blocks`, one per applied layer; repeats share a
  block's weights (ALBERT groups, Funnel `block_repeats`);
- `call_kwargs`: keyword inputs of every block, computed once (masks, a
  relative bias shared by all layers, encoder states for cross-attention);
- `layer_kwargs(step)`: per-layer keyword inputs (GPT-Neo's local/global
  masks, Transformer-XL/XLNet memories, cross-attention keys/values);
- `caches`: per-layer KV caches threaded in and out (`cache=`,
  `cache_update_index=`, see `tfmodels.layers.kv_cache`);
- `call_block(step, block, x, **kwargs)`: how one block is called, for
  stacks whose blocks take more than `x` (Funnel's pooled queries, XLNet's
  two streams);
- `after_layer(step, x)`: a hook on each layer's output (DeBERTa-v2's
  convolution branch, XLM's padding keep-mask);
- `layer_drop`: a `LayerDrop` layer (skips whole layers in training only).

Block return convention (`TransformerEncoderBlock`, `TransformerDecoderBlock`,
`RelativeEncoderBlock`, `FunnelBlock`, and their subclasses): called with
`return_attention_scores=output_attentions` and, when a cache is threaded,
`cache=` / `cache_update_index=`, a block returns `x`, or a tuple
`(*streams, [probabilities], [cache])` where the probabilities are present
exactly when asked for and the cache exactly when one was given. One stream
is the usual `x`; several (XLNet's content and query streams) make the
stack's `x` a tuple of them. Blocks whose class sets
`returns_cross_attention = True` (decoder blocks) return the probabilities
as a pair `(self, cross)`, `cross` being `None` when the block ran without
encoder states. `block_outputs` is the one place that reads this convention.
"""

from typing import NamedTuple


class StackOutputs(NamedTuple):
    """What `run_block_stack` returns.

    Attributes:
        x: the last layer's output `(batch, seq_len, hidden_size)` (a tuple of
            streams for multi-stream stacks).
        hidden_states: list, the stack's input then every layer's output
            (`len(order) + 1` entries).
        attentions: list of every layer's (self-)attention probabilities
            `(batch, num_heads, query_len, key_len)`; empty unless asked for.
        cross_attentions: list of the decoder blocks' cross-attention
            probabilities `(batch, num_heads, query_len, source_len)`; empty
            unless asked for and run with encoder states.
        caches: tuple of the updated per-layer caches, or `None` without caches.
    """

    x: object
    hidden_states: list
    attentions: list
    cross_attentions: list
    caches: tuple = None


def block_outputs(outputs, with_probabilities, with_cache):
    """Splits a block's return value (the convention in the module docstring).

    Args:
        outputs: what the block returned.
        with_probabilities: bool, the block was asked for its probabilities.
        with_cache: bool, the block was given a cache.

    Returns:
        `(x, probabilities or None, cache or None)`; `x` is a tuple when the
        block returned several streams.
    """
    if not isinstance(outputs, tuple):
        return outputs, None, None
    outputs = list(outputs)
    cache = outputs.pop() if with_cache else None
    probabilities = outputs.pop() if with_probabilities else None
    x = outputs[0] if len(outputs) == 1 else tuple(outputs)
    return x, probabilities, cache


def run_block_stack(blocks, x, *, order=None, call_kwargs=None, layer_kwargs=None, caches=None,
                    cache_update_index=None, output_attentions=False, training=None, call_block=None,
                    after_layer=None, layer_drop=None):
    """Runs `blocks` in `order` over `x`, collecting hidden states, probabilities and caches.

    Args:
        blocks: sequence of blocks (Keras layers following the return
            convention of the module docstring).
        x: float tensor `(batch, seq_len, hidden_size)` (the embeddings), or a
            tuple of streams when `call_block` handles them.
        order: optional sequence of indices into `blocks`, one per applied
            layer (default: each block once, in order). Repeated indices
            share weights. "Step" below is the position in `order`.
        call_kwargs: optional dict of keyword inputs given to every block.
        layer_kwargs: optional `fn(step) -> dict` of per-layer keyword inputs
            (they override `call_kwargs`).
        caches: optional sequence of per-layer caches, one per step
            (`(batch, 2, num_heads, max_length, head_dim)`, see
            `tfmodels.layers.kv_cache`), passed as `cache=` with
            `cache_update_index=`; the updated caches are returned.
        cache_update_index: int or scalar int tensor, where the new
            keys/values are written (with `caches`).
        output_attentions: bool, collect the attention probabilities.
        training: bool, enables dropout.
        call_block: optional `fn(step, block, x, **kwargs) -> block outputs`
            replacing the plain `block(x, **kwargs)` call.
        after_layer: optional `fn(step, x) -> x` applied to each layer's output.
        layer_drop: optional `LayerDrop` layer: in training it keeps a layer's
            input instead of its output (after `after_layer`) at random; a
            no-op at inference.

    Returns:
        `StackOutputs(x, hidden_states, attentions, cross_attentions, caches)`.

    Raises:
        ValueError: if `caches` does not hold one cache per step.
    """
    order = range(len(blocks)) if order is None else order
    if caches is not None and len(caches) != len(order):
        raise ValueError(f"past_key_values must hold one cache per layer ({len(order)}). "
                         f"Received: {len(caches)} caches.")
    hidden_states, attentions, cross_attentions, new_caches = [x], [], [], []
    for step, index in enumerate(order):
        block = blocks[index]
        kwargs = dict(call_kwargs or {})
        if layer_kwargs is not None:
            kwargs.update(layer_kwargs(step))
        if caches is not None:
            kwargs.update(cache=caches[step], cache_update_index=cache_update_index)
        kwargs.update(return_attention_scores=output_attentions, training=training)
        outputs = block(x, **kwargs) if call_block is None else call_block(step, block, x, **kwargs)
        output, probabilities, cache = block_outputs(outputs, output_attentions, caches is not None)
        if after_layer is not None:
            output = after_layer(step, output)
        if layer_drop is not None:
            output = layer_drop(x, output, training=training)
        x = output
        if output_attentions:
            if getattr(block, "returns_cross_attention", False):
                probabilities, cross = probabilities
                if cross is not None:
                    cross_attentions.append(cross)
            attentions.append(probabilities)
        if caches is not None:
            new_caches.append(cache)
        hidden_states.append(x)
    return StackOutputs(x, hidden_states, attentions, cross_attentions,
                        None if caches is None else tuple(new_caches))
