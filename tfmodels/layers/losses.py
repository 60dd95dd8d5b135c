"""Standard task losses, with Hugging Face semantics, computed in float32.

This module is the only place where labels become a loss. Every head's
loss is built from per-element losses (cross-entropy, binary cross-entropy,
squared error) reduced by `weighted_mean`, which fixes three rules:

- **Ignored labels.** Entries whose label is `-100` (`IGNORE_INDEX`), or
  that a head masks out otherwise (ELECTRA's padding), count for nothing.
- **Sample weights, as Keras applies them.** `sample_weight` multiplies the
  per-element losses; the divisor stays the number of valid elements (Keras'
  default `"sum_over_batch_size"` reduction with a mask), so a weight of 0
  removes an example and a weight of 2 counts it twice. A per-example weight
  `(batch,)` is broadcast over that example's tokens (or labels, for
  multi-label and multi-output regression); a weight of the labels' shape
  `(batch, seq_len)` weighs each token.
- **Global counts under `tf.distribute`.** Inside a replica context the
  count of valid elements is summed over all replicas, so each replica's
  loss, once passed through `replica_share`, is its exact share of the
  global-batch loss, even when replicas hold different numbers of `-100`
  labels: the shares (and their gradients) sum to the single-device loss.

Each loss function returns a float32 scalar that equals the `transformers`
PyTorch head's loss for the same logits and labels (without weights and on
one device). Under a strategy it is this replica's sum divided by the global
count, times the number of replicas (so a `MEAN` over replicas gives the
global loss); `replica_share` divides by the number of replicas.
"""

import tensorflow as tf
from keras import ops

from tfmodels.layers import segmented

IGNORE_INDEX = -100


def _as_float32(x):
    return ops.cast(x, "float32")


def _count_over_replicas(count):
    """Sums a count of valid elements over the replicas of a `tf.distribute` step.

    Returns:
        `(global_count, num_replicas)`; `(count, 1)` outside a replica
        context or with a single replica.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return count, 1
    count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(count))
    return count, context.num_replicas_in_sync


def replica_share(loss):
    """This replica's share of the global loss: `loss / num_replicas_in_sync`.

    Under `tf.distribute` the gradients of every replica are summed, so the
    loss each replica differentiates must be its share of the global-batch
    loss (what Keras' own `compile(loss=...)` does). With one replica this is
    the identity; Keras' `fit()` multiplies it back when it reports the loss.

    Args:
        loss: float scalar, a loss from this module (plus any layer losses).

    Returns:
        the scaled loss, same dtype.
    """
    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if num_replicas > 1:
        loss = loss * ops.cast(1.0 / num_replicas, loss.dtype)
    return loss


def broadcast_sample_weight(sample_weight, values):
    """Float32 sample weights broadcastable to `values (batch, ...)`.

    A weight of the same rank as `values` is used as is (per element); a
    `(batch,)` or `(batch, 1)` weight gets trailing unit axes (per example).
    """
    weight = _as_float32(ops.convert_to_tensor(sample_weight))
    rank = len(values.shape)
    if len(weight.shape) == rank:
        return weight
    weight = ops.reshape(weight, (-1,))
    return ops.reshape(weight, (-1,) + (1,) * (rank - 1))


def weighted_mean(values, valid=None, sample_weight=None):
    """Sum of weighted per-element losses over the (global) number of valid elements.

    Args:
        values: float tensor `(batch, ...)` of per-element losses.
        valid: optional bool tensor of `values`' shape; `None` means all valid.
        sample_weight: optional `(batch,)` per-example or `values`-shaped
            per-element weights (see the module docstring).

    Returns:
        float32 scalar: `sum(values * valid * sample_weight) / count(valid)`,
        0 when nothing is valid. Under `tf.distribute` the count is global
        and the result is multiplied by the number of replicas.
    """
    values = _as_float32(values)
    weights = ops.ones_like(values) if valid is None else _as_float32(valid)
    count, num_replicas = _count_over_replicas(ops.sum(weights))
    if sample_weight is not None:
        weights = weights * broadcast_sample_weight(sample_weight, values)
    return ops.sum(values * weights) * float(num_replicas) / ops.maximum(count, 1.0)


def sparse_categorical_crossentropy(labels, logits, ignore_index=IGNORE_INDEX, from_logits=True):
    """Per-element cross-entropy and validity.

    Args:
        labels: int tensor `(...)`; entries equal to `ignore_index` are invalid.
        logits: float tensor `(..., num_classes)`: logits, or log-probabilities
            with `from_logits=False` (Transformer-XL's adaptive softmax).
        ignore_index: int, label value to skip (`-100` in Hugging Face).
        from_logits: bool, whether `logits` still need a log-softmax.

    Returns:
        `(losses, valid)`: float32 `(...)` and bool `(...)`.
    """
    log_probs = _as_float32(logits)
    if from_logits:
        log_probs = ops.log_softmax(log_probs, axis=-1)
    labels = ops.cast(labels, "int32")
    valid = ops.not_equal(labels, ignore_index)
    safe_labels = ops.where(valid, labels, ops.zeros_like(labels))
    picked = ops.take_along_axis(log_probs, safe_labels[..., None], axis=-1)[..., 0]
    return -picked, valid


def masked_sparse_categorical_crossentropy(labels, logits, ignore_index=IGNORE_INDEX, sample_weight=None,
                                           from_logits=True):
    """Mean cross-entropy over the labels that are not `ignore_index` (PyTorch `CrossEntropyLoss`).

    Args:
        labels: int tensor `(batch, ...)`.
        logits: float tensor `(batch, ..., num_classes)`.
        ignore_index: int, label value to skip.
        sample_weight: optional `(batch,)` or labels-shaped weights.
        from_logits: bool, `False` when `logits` are log-probabilities.

    Returns:
        float32 scalar (see `weighted_mean`).
    """
    losses, valid = sparse_categorical_crossentropy(labels, logits, ignore_index, from_logits)
    return weighted_mean(losses, valid, sample_weight)


def label_smoothed_crossentropy(labels, logits, epsilon=0.0, ignore_index=IGNORE_INDEX, sample_weight=None):
    """fairseq's label-smoothed cross-entropy: `(1 - eps) * nll + eps / V * mean(-sum_v log p_v)`.

    Both means run over the labels that are not `ignore_index`; `epsilon=0`
    is `masked_sparse_categorical_crossentropy`.

    Args:
        labels: int tensor `(batch, ...)`.
        logits: float tensor `(batch, ..., V)`.
        epsilon: float, the smoothing `eps`.
        ignore_index: int, label value to skip.
        sample_weight: optional `(batch,)` or labels-shaped weights (see `weighted_mean`).

    Returns:
        float32 scalar.

    References:
        Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.
        Parity reference: `transformers.models.prophetnet.modeling_prophetnet.ProphetNetForConditionalGeneration._compute_loss`.
    """
    losses, valid = sparse_categorical_crossentropy(labels, logits, ignore_index)
    loss = weighted_mean(losses, valid, sample_weight)
    if not epsilon:
        return loss
    log_probs = ops.log_softmax(_as_float32(logits), axis=-1)
    smooth = weighted_mean(-ops.sum(log_probs, axis=-1), valid, sample_weight)
    vocab_size = logits.shape[-1]
    return (1.0 - epsilon) * loss + (epsilon / vocab_size) * smooth


def binary_crossentropy(labels, logits, mask=None, sample_weight=None):
    """Mean binary cross-entropy with logits (PyTorch `BCEWithLogitsLoss`).

    Args:
        labels: 0/1 (or soft) targets of `logits`' shape; `-100` entries are ignored.
        logits: float tensor `(batch, ...)`.
        mask: optional tensor of `logits`' shape; only entries equal to 1
            count (ELECTRA and Funnel discriminators pass `attention_mask`).
        sample_weight: optional `(batch,)` or `logits`-shaped weights.

    Returns:
        float32 scalar (see `weighted_mean`).
    """
    logits = _as_float32(logits)
    labels = ops.convert_to_tensor(labels)
    valid = ops.not_equal(labels, IGNORE_INDEX)
    if mask is not None:
        valid = ops.logical_and(valid, ops.equal(ops.reshape(mask, ops.shape(logits)), 1))
    targets = _as_float32(labels)
    # Numerically stable form of -(t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x))).
    losses = ops.maximum(logits, 0.0) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
    return weighted_mean(losses, valid, sample_weight)


def mean_squared_error(labels, predictions, sample_weight=None):
    """Mean squared error over every element (PyTorch `MSELoss`).

    Args:
        labels, predictions: float tensors of the same shape `(batch, ...)`.
        sample_weight: optional `(batch,)` or element-wise weights.

    Returns:
        float32 scalar (see `weighted_mean`).
    """
    return weighted_mean(ops.square(_as_float32(predictions) - _as_float32(labels)), None, sample_weight)


def sequence_classification_loss(labels, logits, problem_type=None, sample_weight=None):
    """Loss of a sequence classification head, chosen as Hugging Face does.

    Args:
        labels: `(batch,)` int class ids, `(batch,)`/`(batch, 1)` floats for
            regression, or `(batch, num_labels)` floats (multi-label).
        logits: float tensor `(batch, num_labels)`.
        problem_type: `"regression"`, `"single_label_classification"`,
            `"multi_label_classification"` or `None` to infer it from
            `num_labels` and the labels' dtype.
        sample_weight: optional `(batch,)` per-example weights.

    Returns:
        float32 scalar.

    Raises:
        ValueError: for an unknown `problem_type`.
    """
    num_labels = logits.shape[-1]
    labels = ops.convert_to_tensor(labels)
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif "int" in str(labels.dtype):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        if num_labels == 1:
            return mean_squared_error(ops.reshape(labels, (-1,)), ops.reshape(logits, (-1,)), sample_weight)
        return mean_squared_error(labels, logits, sample_weight)
    if problem_type == "single_label_classification":
        return masked_sparse_categorical_crossentropy(ops.reshape(labels, (-1,)), logits,
                                                      sample_weight=sample_weight)
    if problem_type == "multi_label_classification":
        return binary_crossentropy(labels, logits, sample_weight=sample_weight)
    raise ValueError(
        "problem_type must be 'regression', 'single_label_classification' or "
        f"'multi_label_classification'. Received: problem_type={problem_type!r}"
    )


def span_loss(start_positions, end_positions, start_logits, end_logits, sample_weight=None):
    """Question-answering span loss: mean of start and end cross-entropies.

    Positions outside `[0, seq_len)` are clamped to `seq_len` and ignored,
    as in `transformers`' `BertForQuestionAnswering`.

    Args:
        start_positions, end_positions: int tensors `(batch,)` or `(batch, 1)`.
        start_logits, end_logits: float tensors `(batch, seq_len)`.
        sample_weight: optional `(batch,)` per-example weights.

    Returns:
        float32 scalar.
    """
    seq_len = ops.shape(start_logits)[-1]

    def one(positions, logits):
        positions = ops.reshape(ops.cast(positions, "int32"), (-1,))
        positions = ops.clip(positions, 0, seq_len)
        positions = ops.where(ops.equal(positions, seq_len), IGNORE_INDEX, positions)
        return masked_sparse_categorical_crossentropy(positions, logits, sample_weight=sample_weight)

    return (one(start_positions, start_logits) + one(end_positions, end_logits)) / 2.0


def causal_lm_loss(labels, logits, sample_weight=None, from_logits=True):
    """Next-token cross-entropy: logits at `t` predict `labels[t + 1]`; -100 ignored.

    Args:
        labels: int tensor `(batch, seq_len)` (`labels = input_ids` works).
        logits: float tensor `(batch, seq_len, vocab_size)` (log-probabilities
            with `from_logits=False`).
        sample_weight: optional `(batch,)` per-example or `(batch, seq_len)`
            per-token weights (the weight of position `t + 1`'s label).
        from_logits: bool, `False` when `logits` are log-probabilities.

    Returns:
        float32 scalar.
    """
    labels = ops.convert_to_tensor(labels)
    if sample_weight is not None and len(ops.convert_to_tensor(sample_weight).shape) == len(labels.shape) == 2:
        sample_weight = ops.convert_to_tensor(sample_weight)[:, 1:]
    return masked_sparse_categorical_crossentropy(labels[:, 1:], logits[:, :-1], sample_weight=sample_weight,
                                                  from_logits=from_logits)


def contrastive_loss(logits_per_text):
    """CLIP's symmetric image-text contrastive loss (InfoNCE over the batch).

    The matching pairs lie on the diagonal: cross-entropy of each text over
    the images (rows) and of each image over the texts (columns), averaged.
    Under `tf.distribute` the negatives are the replica's own batch (the
    embeddings are not gathered across replicas).

    Args:
        logits_per_text: float tensor `(batch, batch)`, scaled cosine
            similarities of text `i` with image `j`; text and image batches
            must have the same size.

    Returns:
        float32 scalar, `(CE(logits_per_text) + CE(logits_per_text^T)) / 2`.

    References:
        Radford et al., "Learning Transferable Visual Models From Natural
        Language Supervision", 2021. Parity reference:
        `transformers.models.clip.modeling_clip.image_text_contrastive_loss`.
    """
    logits = _as_float32(logits_per_text)
    labels = ops.arange(ops.shape(logits)[0], dtype="int32")
    caption_loss = masked_sparse_categorical_crossentropy(labels, logits)
    image_loss = masked_sparse_categorical_crossentropy(labels, ops.transpose(logits))
    return (caption_loss + image_loss) / 2.0


def masked_image_modeling_loss(pixel_values, reconstruction, mask, num_channels):
    """SimMIM's L1 reconstruction loss over the masked pixels.

    `sum(|pixel_values - reconstruction| * mask) / (sum(mask) + 1e-5) / num_channels`,
    with `mask` counted once per pixel (not per channel), as the reference.

    Args:
        pixel_values: float tensor `(batch, height, width, channels)`.
        reconstruction: float tensor of the same shape.
        mask: 0/1 or bool tensor `(batch, height, width)`, 1 = masked pixel.
        num_channels: int.

    Returns:
        float32 scalar.

    References:
        Xie et al., "SimMIM: A Simple Framework for Masked Image Modeling",
        2022. Parity reference: `transformers.ViTForMaskedImageModeling.forward`.
    """
    mask = _as_float32(mask)
    errors = ops.abs(_as_float32(pixel_values) - _as_float32(reconstruction)) * mask[..., None]
    return ops.sum(errors) / (ops.sum(mask) + 1e-5) / float(num_channels)


def _shift_left(target, pad_token_id):
    """`target (B, T)` shifted one token left, `pad_token_id` appended (the next-token labels of decoder inputs)."""
    target = ops.cast(target, "int32")
    pad = ops.full((ops.shape(target)[0], 1), pad_token_id, dtype="int32")
    return ops.concatenate([target[:, 1:], pad], axis=1)


def _smoothed_nll(ll, smooth, vocab_size, epsilon, reduce_loss):
    """`(1 - epsilon) * -ll + epsilon / vocab_size * -smooth`, summed over the batch with `reduce_loss`."""
    nll_loss, smooth_loss = -ll, -smooth
    if reduce_loss:
        nll_loss, smooth_loss = ops.sum(nll_loss), ops.sum(smooth_loss)
    return (1.0 - epsilon) * nll_loss + (epsilon / vocab_size) * smooth_loss


def rag_token_nll(log_probs, target, pad_token_id, reduce_loss=False, epsilon=0.0):
    """RAG-token negative log-likelihood of the decoder inputs under the document-marginalised distribution.

    The labels are `target` shifted left (its first token is the decoder start); `pad_token_id`
    positions count for nothing. With `epsilon > 0`, label smoothing over the vocabulary.

    Args:
        log_probs: float `(batch, target_len, vocab)`, the marginalised log-probabilities
            `logsumexp_z(log p(z | x) + log p(y_t | x, z, y_<t))`.
        target: int `(batch, target_len)`, the decoder inputs (`labels` as RAG feeds them).
        pad_token_id: int, the generator's padding id.
        reduce_loss: bool, sum the per-example losses.
        epsilon: float, label smoothing.

    Returns:
        float32 `(batch,)`, or a scalar with `reduce_loss`.

    References:
        Lewis et al., "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks", NeurIPS 2020;
        `transformers.RagTokenForGeneration.get_nll`.
    """
    log_probs = _as_float32(log_probs)
    target = _shift_left(target, pad_token_id)
    keep = ops.cast(ops.not_equal(target, pad_token_id), "float32")  # (B, T)
    ll = ops.take_along_axis(log_probs, target[:, :, None], axis=-1)[..., 0] * keep
    smooth = ops.sum(log_probs, axis=-1) * keep
    return _smoothed_nll(ops.sum(ll, 1), ops.sum(smooth, 1), log_probs.shape[-1], epsilon, reduce_loss)


def rag_sequence_nll(seq_log_probs, doc_log_probs, target, pad_token_id, bos_token_id=None, reduce_loss=False,
                     epsilon=0.0, exclude_bos_score=False):
    """RAG-sequence negative log-likelihood: per document the sequence log-likelihood, then `logsumexp` over documents.

    As the reference, the document log-prior is added at the second target position, and with
    `exclude_bos_score` the first label is left out when every row's first label is `bos_token_id`.

    Args:
        seq_log_probs: float `(batch, n_docs, target_len, vocab)`, per-document log-probabilities.
        doc_log_probs: float `(batch, n_docs)`, `log_softmax(doc_scores)`.
        target: int `(batch, target_len)`, the decoder inputs.
        pad_token_id: int; bos_token_id: int or `None`.
        reduce_loss, epsilon: as `rag_token_nll`.
        exclude_bos_score: bool, see above.

    Returns:
        float32 `(batch,)`, or a scalar with `reduce_loss`.

    References: `transformers.RagSequenceForGeneration.get_nll`.
    """
    seq_log_probs = _as_float32(seq_log_probs)
    target = _shift_left(target, pad_token_id)
    target_len = seq_log_probs.shape[2]
    at_second = ops.cast(ops.equal(ops.arange(target_len), 1), "float32")  # (T,)
    log_probs = seq_log_probs + _as_float32(doc_log_probs)[:, :, None, None] * at_second[None, None, :, None]
    n_docs = log_probs.shape[1]
    index = ops.repeat(target[:, None, :, None], n_docs, axis=1)  # (B, n_docs, T, 1)
    keep = ops.cast(ops.not_equal(target, pad_token_id), "float32")[:, None, :]
    ll = ops.take_along_axis(log_probs, index, axis=-1)[..., 0] * keep  # (B, n_docs, T)
    smooth = ops.sum(log_probs, axis=-1) * keep
    ll_sum = ops.sum(ll, 2)
    if exclude_bos_score and bos_token_id is not None:
        use_bos = ops.all(ops.equal(target[:, 0], bos_token_id))
        ll_sum = ops.where(use_bos, ops.sum(ll[:, :, 1:], 2), ll_sum)
    ll_sum = ops.logsumexp(ll_sum, axis=1)
    smooth_sum = ops.logsumexp(ops.sum(smooth, 2), axis=1)
    return _smoothed_nll(ll_sum, smooth_sum, log_probs.shape[-1], epsilon, reduce_loss)


# -- Speech (wav2vec 2.0): CTC and the contrastive pre-training objective -------------------------------------


def _local_sum_share(total):
    """A sum over this replica's examples, scaled like `weighted_mean`'s results (times the number of
    replicas), so `replica_share` gives back the local sum and the replicas' gradients add up to the
    gradient of the global-batch sum."""
    _, num_replicas = _count_over_replicas(ops.zeros(()))
    return total * float(num_replicas)


def _compact_labels(labels, valid):
    """Moves each row's valid labels to its front, keeping their order: `(compacted, lengths)`."""
    order = tf.argsort(tf.cast(tf.logical_not(valid), tf.int32), axis=-1, stable=True)
    compacted = tf.gather(tf.where(valid, labels, tf.zeros_like(labels)), order, batch_dims=1)
    return compacted, tf.reduce_sum(tf.cast(valid, tf.int32), axis=-1)


def _ctc_negative_log_likelihood(log_probs, targets, target_lengths, logit_lengths):
    """`-log p(targets | log_probs)` by the CTC forward recursion (blank = class 0 after the caller's shift).

    Args:
        log_probs: float `(batch, frames, classes)`, any float dtype (the recursion runs in it).
        targets: int `(batch, max_len)`, each row's targets first; `target_lengths`, `logit_lengths`: `(batch,)`.

    Returns:
        `(batch,)` losses in the dtype of `log_probs`; a target no alignment fits gets a huge finite value
        (the caller marks those infeasible).
    """
    dtype = log_probs.dtype
    neg = tf.constant(-1e30 if dtype == tf.float32 else -1e300, dtype)  # log(0), finite: no NaN gradients
    batch, max_len = tf.shape(targets)[0], tf.shape(targets)[1]
    states = 2 * max_len + 1  # blank, l1, blank, l2, ..., blank
    blanks = tf.zeros((batch, max_len), targets.dtype)
    extended = tf.reshape(tf.stack([blanks, targets], axis=-1), (batch, 2 * max_len))
    extended = tf.concat([extended, tf.zeros((batch, 1), targets.dtype)], axis=1)  # (batch, states)
    previous_label = tf.concat([tf.fill((batch, 2), tf.constant(-1, targets.dtype)), extended[:, :-2]], axis=1)
    position = tf.range(states)[None, :]
    can_skip = (position % 2 == 1) & tf.not_equal(extended, previous_label)  # label states unlike the one before
    emissions = tf.gather(log_probs, extended, axis=2, batch_dims=1)  # (batch, frames, states)
    emissions = tf.transpose(emissions, (1, 0, 2))  # (frames, batch, states)
    initial = tf.where(position < 2, emissions[0], neg)

    def shift(alpha, by):
        return tf.concat([tf.fill((batch, by), neg), alpha[:, :-by]], axis=1)

    def step(alpha, inputs):
        emission, frame = inputs
        candidates = tf.stack([alpha, shift(alpha, 1), tf.where(can_skip, shift(alpha, 2), neg)], axis=0)
        new = tf.reduce_logsumexp(candidates, axis=0) + emission
        return tf.where((frame < logit_lengths)[:, None], new, alpha)  # frozen past each row's last frame

    frames = tf.range(1, tf.shape(emissions)[0])
    alphas = tf.scan(step, (emissions[1:], frames), initializer=initial)
    alpha = tf.concat([initial[None], alphas], axis=0)[-1]  # (batch, states)
    last = 2 * target_lengths  # the final blank; the final label is one before
    end_blank = tf.gather(alpha, last, batch_dims=1)
    end_label = tf.where(target_lengths > 0, tf.gather(alpha, tf.maximum(last - 1, 0), batch_dims=1), neg)
    return -tf.reduce_logsumexp(tf.stack([end_blank, end_label], axis=0), axis=0)


def ctc_loss(labels, logits, logit_lengths, blank_id=0, reduction="mean", zero_infinity=False, sample_weight=None):
    """Connectionist Temporal Classification loss, as `torch.nn.functional.ctc_loss` after Hugging Face's masking.

    Labels equal to `-100` or to `blank_id` are dropped (the rest of each row is
    the target sequence, in order). A target no alignment fits
    (`logit_length < target_length + repeated neighbours`) costs `inf` as in
    PyTorch, or 0 with `zero_infinity=True`.

    The forward recursion runs here in float64 (float32 on TPUs, which have
    none): `tf.nn.ctc_loss` on dense labels computes in float32 only and
    drifts by ~1.5e-7 relative (1.5e-5 on a loss of 100, ten times PyTorch's
    own float32 error), and returns a large finite value instead of `inf` for
    infeasible targets. Gradients come from automatic differentiation.

    Args:
        labels: int tensor `(batch, max_target_len)`.
        logits: float tensor `(batch, frames, vocab_size)`.
        logit_lengths: int tensor `(batch,)`, valid frames per example.
        blank_id: int, the CTC blank (Hugging Face's `pad_token_id`).
        reduction: `"mean"` (each loss divided by its target length, then the
            mean over the batch), `"sum"` or `"none"` (`(batch,)` losses).
        zero_infinity: bool, infeasible targets cost 0.
        sample_weight: optional `(batch,)` weights of the per-example losses.

    Returns:
        float32 scalar (or `(batch,)` for `"none"`); under `tf.distribute`
        scaled as `weighted_mean` (the mean divides by the global batch size).

    Raises:
        ValueError: unknown `reduction`.

    References:
        Graves et al., "Connectionist Temporal Classification", ICML 2006.
        Parity reference: `transformers.loss.loss_ctc.ForCTCLoss`.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"ctc_loss_reduction must be 'mean', 'sum' or 'none'. Received: {reduction!r}")
    labels = tf.cast(labels, tf.int32)
    valid = tf.logical_and(tf.not_equal(labels, IGNORE_INDEX), tf.not_equal(labels, blank_id))
    targets, target_lengths = _compact_labels(labels, valid)
    logit_lengths = tf.cast(logit_lengths, tf.int32)
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    if blank_id != 0:  # the recursion's blank is class 0: move the blank column first
        classes = tf.shape(log_probs)[-1]
        order = tf.concat([[blank_id], tf.range(blank_id), tf.range(blank_id + 1, classes)], axis=0)
        log_probs = tf.gather(log_probs, order, axis=-1)
        targets = tf.where(targets < blank_id, targets + 1, targets)
    wide = tf.float32 if tf.config.list_logical_devices("TPU") else tf.float64
    losses = tf.cast(_ctc_negative_log_likelihood(tf.cast(log_probs, wide), targets, target_lengths,
                                                  logit_lengths), tf.float32)
    positions = tf.range(tf.shape(targets)[1])[None, :]
    repeats = tf.logical_and(tf.equal(targets[:, 1:], targets[:, :-1]), positions[:, 1:] < target_lengths[:, None])
    feasible = logit_lengths >= target_lengths + tf.reduce_sum(tf.cast(repeats, tf.int32), axis=-1)
    losses = tf.where(feasible, losses, tf.zeros_like(losses) if zero_infinity else tf.fill(tf.shape(losses), float("inf")))
    if reduction == "none":
        return losses
    if reduction == "mean":
        losses = losses / tf.cast(tf.maximum(target_lengths, 1), tf.float32)
        return weighted_mean(losses, sample_weight=sample_weight)
    if sample_weight is not None:
        losses = losses * broadcast_sample_weight(sample_weight, losses)
    return _local_sum_share(ops.sum(losses))


def cosine_similarity(x, y, axis=-1, eps=1e-8):
    """`x . y / (max(|x|, eps) * max(|y|, eps))` along `axis`, in float32 (`torch.cosine_similarity`)."""
    x, y = _as_float32(x), _as_float32(y)
    x_norm = ops.maximum(ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=True)), eps)
    y_norm = ops.maximum(ops.sqrt(ops.sum(ops.square(y), axis=axis, keepdims=True)), eps)
    return ops.sum((x / x_norm) * (y / y_norm), axis=axis)


def wav2vec2_pretraining_loss(projected_states, projected_quantized_states, sampled_negative_indices,
                              mask_time_indices, codevector_perplexity, num_codevectors, temperature=0.1,
                              diversity_loss_weight=0.1):
    """wav2vec 2.0's objective: contrastive loss over the masked frames plus the codebook diversity loss.

    For each masked frame, the cosine similarities (divided by `temperature`) of
    its prediction with its own quantized target and with `num_negatives`
    distractors (other frames' targets, given by `sampled_negative_indices`)
    are the logits of a classification whose answer is the true target;
    distractors equal to the target are excluded (logit `-inf`). The
    contrastive loss is the summed cross-entropy; the diversity loss is
    `(num_codevectors - perplexity) / num_codevectors * num_masked_frames`.

    Args:
        projected_states: float `(batch, frames, proj_codevector_dim)`, the predictions.
        projected_quantized_states: float, same shape, the targets.
        sampled_negative_indices: int `(batch, frames, num_negatives)`, indices
            into the flattened `(batch * frames)` targets.
        mask_time_indices: bool/int `(batch, frames)`, the masked frames.
        codevector_perplexity: float scalar, from the quantizer.
        num_codevectors: int, `num_codevectors_per_group * num_codevector_groups`.
        temperature: float, `contrastive_logits_temperature`.
        diversity_loss_weight: float.

    Returns:
        `(loss, contrastive_loss, diversity_loss)`, float32 scalars (sums over the local batch).

    References:
        Baevski et al., "wav2vec 2.0", 2020 (section 3.3). Parity reference:
        `transformers.Wav2Vec2ForPreTraining.forward`.
    """
    targets = _as_float32(projected_quantized_states)
    indices = tf.cast(sampled_negative_indices, tf.int32)
    flat = tf.reshape(targets, (-1, tf.shape(targets)[-1]))  # (batch * frames, size)
    negatives = tf.reshape(tf.gather(flat, tf.reshape(indices, (-1,))),
                           tf.concat([tf.shape(indices), tf.shape(targets)[-1:]], axis=0))
    negatives = ops.transpose(negatives, (2, 0, 1, 3))  # (negatives, batch, frames, size)
    candidates = ops.concatenate([targets[None], negatives], axis=0)  # (1 + negatives, batch, frames, size)
    logits = cosine_similarity(projected_states[None], candidates) / temperature  # (1 + negatives, batch, frames)
    same = ops.all(ops.equal(targets[None], negatives), axis=-1)  # (negatives, batch, frames)
    logits = ops.concatenate([logits[:1], ops.where(same, float("-inf"), logits[1:])], axis=0)
    log_probs = ops.log_softmax(logits, axis=0)
    masked = ops.cast(ops.cast(mask_time_indices, "bool"), "float32")
    contrastive = -ops.sum(log_probs[0] * masked)
    diversity = (num_codevectors - _as_float32(codevector_perplexity)) / num_codevectors * ops.sum(masked)
    loss = contrastive + diversity_loss_weight * diversity
    return _local_sum_share(loss), contrastive, diversity


# -- Table question answering (TAPAS) ------------------------------------------------------------------------
# Cell selection over a flattened table (`tfmodels.layers.cell_selection`) and, for aggregation questions,
# the aggregation-operator loss and the weakly supervised answer regression. Per-example losses (`(batch,)`)
# are averaged with `weighted_mean`. References: Herzig et al., "TaPas: Weakly Supervised Table Parsing via
# Pre-training", ACL 2020; parity reference `transformers.models.tapas.modeling_tapas` (the losses of
# `TapasForQuestionAnswering.forward` and the `_calculate_*` / `_single_column_cell_selection_loss` helpers).

_EPSILON_ZERO_DIVISION = 1e-10
_FLOAT32_EPS = 1.1920928955078125e-07  # `torch.distributions.utils.clamp_probs` bound for float32


def _bernoulli_log_prob(logits, targets):
    """`log p(targets)` under `Bernoulli(logits=logits)`, the negated binary cross-entropy with logits."""
    return -(ops.maximum(logits, 0.0) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits))))


def _clamped_uniform(shape):
    return ops.clip(tf.random.uniform(shape, dtype=tf.float32), _FLOAT32_EPS, 1.0 - _FLOAT32_EPS)


def tapas_cell_selection_loss(labels, token_logits, attention_mask, positive_label_weight=10.0):
    """Per-token Bernoulli loss of cell selection over all columns (`select_one_column=False`).

    Args:
        labels: int tensor `(batch, seq_len)`, 1 for answer tokens.
        token_logits: float `(batch, seq_len)`.
        attention_mask: 0/1 `(batch, seq_len)`; only attended tokens count.
        positive_label_weight: float, weight of the answer tokens' loss.

    Returns:
        float32 `(batch,)`, the mean weighted loss over each example's attended tokens.
    """
    targets = _as_float32(labels)
    weight = ops.where(ops.equal(targets, 0.0), 1.0, float(positive_label_weight))
    per_token = -_bernoulli_log_prob(_as_float32(token_logits), targets) * weight
    mask = _as_float32(attention_mask)
    return ops.sum(per_token * mask, axis=1) / (ops.sum(mask, axis=1) + _EPSILON_ZERO_DIVISION)


def tapas_single_column_loss(labels, token_logits, column_logits, table, cell_mask):
    """Hierarchical cell-selection loss: choose a column, then cells inside it.

    The column target is the column with most answer tokens (column 0, "no
    cell", when there are none); the cell loss is the Bernoulli loss of the
    per-cell mean logits against "any answer token in the cell", averaged
    over the target column's existing cells.

    Args:
        labels: int `(batch, seq_len)`.
        token_logits: float `(batch, seq_len)`.
        column_logits: float `(batch, max_num_columns)`.
        table: `tfmodels.layers.cell_selection.TableIndex`.
        cell_mask: float `(batch, max_num_rows * max_num_columns)`.

    Returns:
        float32 `(batch,)`: column loss plus cell loss (no cell loss when no cell is an answer).
    """
    labels_per_column, _ = segmented.reduce_sum(_as_float32(labels), table.column_index)  # (batch, columns)
    no_cell_selected = ops.equal(ops.max(labels_per_column, axis=-1), 0.0)
    column_label = ops.where(no_cell_selected, 0, ops.cast(ops.argmax(labels_per_column, axis=-1), "int32"))
    column_log_probs = ops.log_softmax(_as_float32(column_logits), axis=-1)
    column_loss = -ops.take_along_axis(column_log_probs, column_label[:, None], axis=-1)[:, 0]
    logits_per_cell, _ = segmented.reduce_mean(_as_float32(token_logits), table.cell_index)
    labels_per_cell, labels_index = segmented.reduce_max(ops.cast(labels, "int32"), table.cell_index)
    column_id_for_cells = table.cell_index.project_inner(labels_index).indices
    column_mask = _as_float32(ops.equal(column_id_for_cells, column_label[:, None]))
    cell_log_prob = _bernoulli_log_prob(logits_per_cell, _as_float32(labels_per_cell))
    cell_loss = -ops.sum(cell_log_prob * column_mask * cell_mask, axis=1)
    cell_loss = cell_loss / (ops.sum(column_mask * cell_mask, axis=1) + _EPSILON_ZERO_DIVISION)
    return column_loss + ops.where(no_cell_selected, 0.0, cell_loss)


def tapas_aggregate_mask(float_answer, logits_aggregation, labels, cell_selection_preference):
    """1.0 for the examples that should aggregate, 0.0 for those that select cells directly (no gradient).

    A numeric answer (not NaN) means aggregation, unless cell supervision
    exists and the model's probability of every operator but "none" (index
    0) is at most `cell_selection_preference`.

    Raises:
        ValueError: if `cell_selection_preference` is None (the config needs it for weak supervision).
    """
    if cell_selection_preference is None:
        raise ValueError("Weak supervision (use_answer_as_supervision=True) needs the config field "
                         "`cell_selection_preference` (a probability, e.g. 0.2). Received: None")
    answer = _as_float32(float_answer)
    mask = _as_float32(ops.logical_not(ops.isnan(answer)))
    operator_mass = ops.sum(ops.softmax(_as_float32(logits_aggregation), axis=-1)[:, 1:], axis=1)
    is_pred_cell_selection = operator_mass <= cell_selection_preference
    has_cell_supervision = ops.sum(_as_float32(labels), axis=1) > 0
    mask = ops.where(ops.logical_and(is_pred_cell_selection, has_cell_supervision), 0.0, mask)
    return ops.stop_gradient(mask)


def tapas_aggregation_loss(logits_aggregation, aggregate_mask, aggregation_labels, use_answer_as_supervision,
                           aggregation_loss_weight=1.0):
    """Per-example aggregation-operator loss, `(batch,)` float32.

    Strong supervision: cross-entropy against `aggregation_labels`. Answer
    supervision: cross-entropy against "none" for cell-selection examples,
    `-log(P(any operator))` for aggregation examples (`aggregate_mask`).
    """
    logits = _as_float32(logits_aggregation)
    log_probs = ops.log_softmax(logits, axis=-1)
    if not use_answer_as_supervision:
        labels = ops.cast(ops.reshape(aggregation_labels, (-1,)), "int32")
        return float(aggregation_loss_weight) * -ops.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]
    known = -log_probs[:, 0] * (1.0 - aggregate_mask)
    unknown = -ops.log(ops.sum(ops.softmax(logits, axis=-1)[:, 1:], axis=1)) * aggregate_mask
    return float(aggregation_loss_weight) * (known + unknown)


def tapas_expected_result(cell_logits, numeric_values, numeric_values_scale, table_mask, logits_aggregation,
                          temperature=1.0, aggregation_temperature=1.0, average_approximation_function="ratio",
                          use_gumbel_for_cells=False, use_gumbel_for_aggregation=False):
    """The answer expected from the cell probabilities and the aggregation operators SUM, AVERAGE, COUNT.

    Args:
        cell_logits: float `(batch, seq_len)`, the (temperature-scaled) selection logits.
        numeric_values: float `(batch, seq_len)`, NaN for non-numeric tokens.
        numeric_values_scale: float `(batch, seq_len)`, divides the probabilities.
        table_mask: 0/1 `(batch, seq_len)`, table cells only.
        logits_aggregation: float `(batch, 4)`: none, SUM, AVERAGE, COUNT.
        temperature, aggregation_temperature: floats.
        average_approximation_function: `"ratio"`, `"first_order"` or `"second_order"`.
        use_gumbel_for_cells, use_gumbel_for_aggregation: sample relaxed
            Bernoulli / one-hot categorical values (no gradient through the
            sample, as the reference's `.sample()`) instead of probabilities.

    Returns:
        float32 `(batch,)`.

    Raises:
        ValueError: for another `average_approximation_function`.
    """
    logits = _as_float32(cell_logits)
    if use_gumbel_for_cells:
        # RelaxedBernoulli(temperature, logits=logits * temperature).sample()
        uniforms = _clamped_uniform(ops.shape(logits))
        noisy = (ops.log(uniforms) - ops.log1p(-uniforms) + logits * temperature) / temperature
        probs = ops.stop_gradient(ops.sigmoid(noisy))
    else:
        probs = ops.sigmoid(logits)
    scaled = (probs / _as_float32(numeric_values_scale)) * _as_float32(table_mask)
    count_result = ops.sum(scaled, axis=1)
    values = _as_float32(numeric_values)
    values = ops.where(ops.isnan(values), 0.0, values)
    sum_result = ops.sum(scaled * values, axis=1)
    if average_approximation_function == "ratio":
        average_result = sum_result / (count_result + _EPSILON_ZERO_DIVISION)
    elif average_approximation_function in ("first_order", "second_order"):
        ex = ops.sum(scaled, axis=1, keepdims=True) - scaled + 1
        if average_approximation_function == "first_order":
            average_result = ops.sum(values * scaled / ex, axis=1)
        else:
            pointwise_var = scaled * (1 - scaled)
            var = ops.sum(pointwise_var, axis=1, keepdims=True) - pointwise_var
            multiplier = (var / ops.square(ex) + 1) / ex
            average_result = ops.sum(values * scaled * multiplier, axis=1)
    else:
        raise ValueError("average_approximation_function must be 'ratio', 'first_order' or 'second_order'. "
                         f"Received: average_approximation_function={average_approximation_function!r}")
    operator_logits = _as_float32(logits_aggregation)[:, 1:]
    if use_gumbel_for_aggregation:
        # RelaxedOneHotCategorical(aggregation_temperature, logits=operator_logits).sample()
        gumbels = -ops.log(-ops.log(_clamped_uniform(ops.shape(operator_logits))))
        operator_probs = ops.stop_gradient(ops.softmax((operator_logits + gumbels) / aggregation_temperature, -1))
    else:
        operator_probs = ops.softmax(operator_logits / aggregation_temperature, axis=-1)
    all_results = ops.stack([sum_result, average_result, count_result], axis=1)
    return ops.sum(all_results * operator_probs, axis=1)


def huber_loss(predictions, targets, delta=1.0):
    """Element-wise Huber loss: `0.5 e^2` for `|e| < delta`, else `delta |e| - 0.5 delta^2`."""
    errors = ops.abs(predictions - targets)
    return ops.where(errors < delta, 0.5 * errors ** 2, errors * delta - (0.5 * delta ** 2))


def tapas_answer_loss(float_answer, aggregate_mask, cell_logits, numeric_values, numeric_values_scale, table_mask,
                      logits_aggregation, *, huber_loss_delta=None, use_normalized_answer_loss=False,
                      answer_loss_cutoff=None, answer_loss_importance=1.0, **expected_result_options):
    """Weakly supervised regression of the expected answer onto `float_answer`.

    Args: as `tapas_expected_result`, plus `float_answer (batch,)` (NaN when
    the answer is not a number), `aggregate_mask (batch,)` and the config
    fields of the same names (`expected_result_options` go to `tapas_expected_result`).

    Returns:
        `(answer_loss, large_answer_loss_mask)`, float32 `(batch,)` each: the
        scaled Huber loss of aggregation examples, and 0.0 where the loss
        exceeds `answer_loss_cutoff` (1.0 everywhere without a cutoff).

    Raises:
        ValueError: without `huber_loss_delta` when `use_normalized_answer_loss` is False.
    """
    expected = tapas_expected_result(cell_logits, numeric_values, numeric_values_scale, table_mask,
                                     logits_aggregation, **expected_result_options)
    answer = _as_float32(float_answer)
    answer = ops.where(ops.isnan(answer), 0.0, answer)
    if use_normalized_answer_loss:
        normalizer = ops.stop_gradient(ops.maximum(ops.abs(expected), ops.abs(answer)) + _EPSILON_ZERO_DIVISION)
        loss = huber_loss(expected / normalizer * aggregate_mask, answer / normalizer * aggregate_mask)
    else:
        if huber_loss_delta is None:
            raise ValueError("The answer regression loss needs the config field `huber_loss_delta` (a float) "
                             "unless use_normalized_answer_loss=True. Received: huber_loss_delta=None")
        loss = huber_loss(expected * aggregate_mask, answer * aggregate_mask, delta=float(huber_loss_delta))
    if answer_loss_cutoff is None:
        large_answer_loss_mask = ops.ones_like(loss)
    else:
        large_answer_loss_mask = ops.where(loss > answer_loss_cutoff, 0.0, 1.0)
    return float(answer_loss_importance) * (loss * aggregate_mask), large_answer_loss_mask


# `TapasConfig` fields that choose and weigh the parts of the table QA loss (their defaults).
TABLE_QA_LOSS_FIELDS = dict(
    positive_label_weight=10.0, num_aggregation_labels=0, aggregation_loss_weight=1.0,
    use_answer_as_supervision=None, answer_loss_importance=1.0, use_normalized_answer_loss=False,
    huber_loss_delta=None, temperature=1.0, aggregation_temperature=1.0, use_gumbel_for_cells=False,
    use_gumbel_for_aggregation=False, average_approximation_function="ratio", cell_selection_preference=None,
    answer_loss_cutoff=None, select_one_column=True, disable_per_token_loss=False,
)


def table_question_answering_loss(options, labels, token_logits, logits, column_logits, table, cell_mask,
                                  attention_mask, table_mask, logits_aggregation=None, aggregation_labels=None,
                                  float_answer=None, numeric_values=None, numeric_values_scale=None):
    """TAPAS's total loss: cell selection, plus the aggregation and answer losses with an aggregation head.

    Strong supervision (`num_aggregation_labels == 0` or not
    `use_answer_as_supervision`): the selection loss of every example, plus
    cross-entropy on `aggregation_labels` with an aggregation head. Weak
    supervision (`use_answer_as_supervision`): examples whose `float_answer`
    needs aggregation (`tapas_aggregate_mask`) get no selection loss but the
    aggregation and answer regression losses instead.

    Args:
        options: dict of `TABLE_QA_LOSS_FIELDS` (a TAPAS config's values).
        labels: int `(batch, seq_len)`, 1 for answer tokens.
        token_logits: float `(batch, seq_len)`, selection logits before the
            single-column restriction (averaged per cell with `average_logits_per_cell`).
        logits: float `(batch, seq_len)`, the head's output logits (after it).
        column_logits: float `(batch, max_num_columns)` or None.
        table, cell_mask: see `tapas_single_column_loss`.
        attention_mask, table_mask: 0/1 `(batch, seq_len)`.
        logits_aggregation: float `(batch, num_aggregation_labels)` or None.
        aggregation_labels: int `(batch,)`, needed with strong supervision and an aggregation head.
        float_answer: float `(batch,)`, needed with weak supervision.
        numeric_values, numeric_values_scale: float `(batch, seq_len)`, needed with weak supervision.

    Returns:
        float32 scalar.

    Raises:
        ValueError: when an input the configuration needs is missing.
    """
    options = {**TABLE_QA_LOSS_FIELDS, **{k: v for k, v in options.items() if k in TABLE_QA_LOSS_FIELDS}}
    has_aggregation = options["num_aggregation_labels"] > 0
    is_supervised = not has_aggregation or not options["use_answer_as_supervision"]
    aggregate_mask = None
    if not is_supervised:
        if float_answer is None:
            raise ValueError("Weak supervision (use_answer_as_supervision=True) needs `float_answer` "
                             "(batch,), NaN for questions answered by cell selection.")
        aggregate_mask = tapas_aggregate_mask(ops.reshape(float_answer, (-1,)), logits_aggregation, labels,
                                              options["cell_selection_preference"])
    if options["select_one_column"]:
        selection_loss = tapas_single_column_loss(labels, token_logits, column_logits, table, cell_mask)
    else:
        selection_loss = tapas_cell_selection_loss(labels, token_logits, attention_mask,
                                                   options["positive_label_weight"])
    total = ops.zeros((), "float32")
    if not options["disable_per_token_loss"]:
        total = total + weighted_mean(selection_loss if is_supervised else selection_loss * (1.0 - aggregate_mask))
    if not has_aggregation:
        return total
    if is_supervised and aggregation_labels is None:
        raise ValueError("With an aggregation head (num_aggregation_labels > 0) and strong supervision, the loss "
                         "needs `aggregation_labels` (batch,).")
    per_example = tapas_aggregation_loss(logits_aggregation, aggregate_mask, aggregation_labels,
                                         options["use_answer_as_supervision"], options["aggregation_loss_weight"])
    if options["use_answer_as_supervision"]:
        if numeric_values is None or numeric_values_scale is None:
            raise ValueError("Weak supervision (use_answer_as_supervision=True) needs `numeric_values` and "
                             "`numeric_values_scale` (batch, seq_len) for the answer regression loss.")
        answer_loss, large_answer_loss_mask = tapas_answer_loss(
            ops.reshape(float_answer, (-1,)), aggregate_mask, logits, numeric_values, numeric_values_scale,
            table_mask, logits_aggregation,
            **{k: options[k] for k in ("huber_loss_delta", "use_normalized_answer_loss", "answer_loss_cutoff",
                                       "answer_loss_importance", "temperature", "aggregation_temperature",
                                       "average_approximation_function", "use_gumbel_for_cells",
                                       "use_gumbel_for_aggregation")},
        )
        per_example = (per_example + answer_loss) * large_answer_loss_mask
    return total + weighted_mean(per_example)


def confidence_weighted_loss(labels, predictions, confidence, regression=False, sample_weight=None):
    """LXMERT's per-object losses, weighted by label confidence, averaged over every object.

    Classification (`regression=False`): per-object cross-entropy, `-100`
    labels counting as 0 (PyTorch `CrossEntropyLoss(reduction="none")`).
    Regression: smooth L1 (`huber_loss` with `delta=1`, PyTorch
    `SmoothL1Loss(reduction="none")`) averaged over the feature axis. Either
    way `mean(loss * confidence)` over all `(batch, objects)` entries, padding
    and ignored objects included in the count, as the reference.

    Args:
        labels: int `(batch, objects)` class ids, or float `(batch, objects, features)` targets.
        predictions: float `(batch, objects, num_classes or features)`.
        confidence: float `(batch, objects)` weights (0 for objects to skip).
        regression: bool, smooth L1 instead of cross-entropy.
        sample_weight: optional `(batch,)` per-example weights.

    Returns:
        float32 scalar.

    References:
        Parity reference: `transformers.LxmertForPreTraining.forward` (`visual_losses`).
    """
    if regression:
        values = ops.mean(huber_loss(_as_float32(predictions), _as_float32(labels)), axis=-1)
    else:
        values, valid = sparse_categorical_crossentropy(labels, predictions)
        values = ops.where(valid, values, ops.zeros_like(values))
    weights = _as_float32(ops.reshape(confidence, ops.shape(values)))
    if sample_weight is not None:
        weights = weights * broadcast_sample_weight(sample_weight, values)
    return weighted_mean(values, None, weights)
