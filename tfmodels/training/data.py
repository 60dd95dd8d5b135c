"""`tf.data` input pipelines from tokenizer output: `prepare_tf_dataset`.

Turns what a tokenizer returns (a list of `tokenizers.Encoding`, a
`transformers` `BatchEncoding`, or a Hugging Face `datasets`-style dict of
lists) plus labels into a padded, batched, prefetched `tf.data.Dataset` of
`(inputs, labels)` that `model.fit()` consumes directly.

Every batch has the same static shape `(batch_size, seq_len)` when
`drop_remainder=True`: sequences are padded to one length for the whole
dataset (`max_length`, or the longest sequence rounded up to
`pad_to_multiple_of`), which is what XLA (`jit_compile=True`) and TPUs need
to compile the train step once.

Encoder-decoder LMs (`seq2seq=True`, the default for a `model` such as
`T5ForConditionalGeneration`): the sources are padded as above and the
target `labels` to their own length (`max_target_length`, or the longest
target rounded up to `pad_to_multiple_of`) with `-100`, as
`transformers.DataCollatorForSeq2Seq` does; with a `model`, the inputs also
get its `decoder_input_ids` (the labels shifted right).
"""

import logging
import math

import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids", "position_ids")
LABEL_NAMES = ("labels", "start_positions", "end_positions")
# Padding value per input; labels of token-level tasks are padded with `label_pad_id`.
_PAD_VALUES = {"attention_mask": 0, "token_type_ids": 0, "position_ids": 0}
_ENCODING_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


def _as_columns(features):
    """A dict of per-example lists from tokenizer output or a dict of lists."""
    if isinstance(features, (list, tuple)) and features and hasattr(features[0], "ids"):
        return {name: [getattr(enc, field) for enc in features] for name, field in _ENCODING_FIELDS.items()}
    if hasattr(features, "keys"):
        columns = {key: features[key] for key in features.keys()}
        if "label" in columns and "labels" not in columns:  # `datasets` convention
            columns["labels"] = columns.pop("label")
        return columns
    raise TypeError(
        "prepare_tf_dataset expects a list of `tokenizers.Encoding`, a `BatchEncoding` or a dict of lists. "
        f"Received: {type(features).__name__}"
    )


def _is_sequence_column(values):
    first = values[0]
    return isinstance(first, (list, tuple)) or (isinstance(first, np.ndarray) and first.ndim >= 1)


def _content_lengths(columns):
    """Tokens per example, ignoring right padding the tokenizer already added."""
    if "attention_mask" not in columns:
        return [len(ids) for ids in columns["input_ids"]]
    lengths = []
    for mask in columns["attention_mask"]:
        nonzero = np.flatnonzero(np.asarray(mask))
        lengths.append(int(nonzero[-1]) + 1 if len(nonzero) else 0)
    return lengths


def _padded_length(lengths, max_length, pad_to_multiple_of, name="max_length"):
    longest = max(lengths)
    if max_length is not None:
        if longest > max_length:
            raise ValueError(
                f"A sequence has {longest} tokens, more than {name}={max_length}. "
                f"Tokenize with truncation=True and max_length, or raise {name}."
            )
        length = max_length
    else:
        length = longest
    if pad_to_multiple_of:
        length = int(math.ceil(length / pad_to_multiple_of) * pad_to_multiple_of)
    return length


def _pad(values, length, pad_value, dtype):
    array = np.full((len(values), length), pad_value, dtype=dtype)
    for row, value in enumerate(values):
        array[row, : len(value)] = value
    return array


def _label_array(values, length, label_pad_id):
    if _is_sequence_column(values):
        if all(len(v) == len(values[0]) for v in values) and not isinstance(values[0][0], (int, np.integer)):
            return np.asarray(values, dtype="float32")  # multi-label / vector regression targets
        return _pad(values, length, label_pad_id, "int32")  # token-level labels
    array = np.asarray(values)
    return array.astype("float32" if array.dtype.kind == "f" else "int32")


def prepare_tf_dataset(
    features,
    labels=None,
    *,
    batch_size=8,
    max_length=None,
    pad_to_multiple_of=None,
    pad_token_id=0,
    label_pad_id=-100,
    shuffle=False,
    seed=None,
    drop_remainder=False,
    prefetch=True,
    model=None,
    seq2seq=None,
    max_target_length=None,
):
    """Builds a padded, batched, prefetched dataset of `(inputs, labels)`.

    Args:
        features: tokenizer output: a list of `tokenizers.Encoding`
            (`Tokenizer.encode_batch`), a `transformers` `BatchEncoding`, or a
            dict of per-example lists (`input_ids`, `attention_mask`,
            `token_type_ids`, and optionally labels: `labels`/`label`,
            `start_positions`, `end_positions`).
        labels: optional labels, one per example: a list of ints
            (classification), floats (regression), lists of ints (token
            labels, padded with `label_pad_id`) or a dict of such lists
            keyed by label name. Overrides labels found in `features`.
        batch_size: int, the global batch size.
        max_length: int or None. Pad every sequence to this length; a longer
            sequence raises. None: the longest sequence in `features`.
        pad_to_multiple_of: int or None; round the padded length up to a
            multiple of it (e.g. 8 or 128 for TPUs).
        pad_token_id: id used to pad `input_ids`.
        label_pad_id: value used to pad token-level labels (ignored by the loss).
        shuffle: shuffle examples (whole dataset buffer) each epoch.
        seed: shuffle seed.
        drop_remainder: drop the last incomplete batch so the batch dimension
            is static (needed for TPUs; keeps XLA from recompiling).
        prefetch: add `prefetch(tf.data.AUTOTUNE)`.
        model: optional tfmodels model; inputs are limited to its
            `input_names` and labels to its `label_names`.
        seq2seq: bool; `labels` are the target token ids of an
            encoder-decoder, of any length: padded to `max_target_length`
            (or the longest target, rounded up to `pad_to_multiple_of`) with
            `label_pad_id`, independently of the sources. Default: True
            when `max_target_length` is given or `model` is an
            encoder-decoder LM (it has `prepare_decoder_input_ids_from_labels`);
            such a model's `decoder_input_ids` (labels shifted right) are then
            added to the inputs.
        max_target_length: int or None, the padded target length (seq2seq);
            a longer target raises.

    Returns:
        `tf.data.Dataset` of `(inputs, labels)` dicts of int32 (float32 for
        float labels) tensors `(batch, seq_len)` / `(batch,)`; of `inputs`
        only when there are no labels.

    Raises:
        TypeError: unsupported `features`.
        ValueError: empty input, ragged column lengths, a sequence longer
            than `max_length` (a target longer than `max_target_length`), or
            `seq2seq` without sequence `labels`.
    """
    columns = _as_columns(features)
    if labels is not None:
        columns.update(labels if isinstance(labels, dict) else {"labels": labels})
    input_names = [n for n in (model.input_names if model is not None else INPUT_NAMES) if n in columns]
    label_names = [n for n in (model.label_names if model is not None else LABEL_NAMES) if n in columns]
    if "input_ids" not in input_names or not len(columns["input_ids"]):
        raise ValueError(f"prepare_tf_dataset needs non-empty `input_ids`. Received columns: {sorted(columns)}")
    num_examples = len(columns["input_ids"])
    for name in input_names + label_names:
        if len(columns[name]) != num_examples:
            raise ValueError(
                f"Every column needs one entry per example ({num_examples}). Received: {name} with {len(columns[name])}."
            )
    if seq2seq is None:
        seq2seq = max_target_length is not None or hasattr(model, "prepare_decoder_input_ids_from_labels")
    if seq2seq and ("labels" not in label_names or not _is_sequence_column(columns["labels"])):
        raise ValueError("seq2seq=True needs `labels`: one list of target token ids per example. "
                         f"Received columns: {sorted(columns)}")
    lengths = _content_lengths(columns)
    length = _padded_length(lengths, max_length, pad_to_multiple_of)
    inputs = {}
    for name in input_names:
        pad_value = pad_token_id if name == "input_ids" else _PAD_VALUES.get(name, 0)
        inputs[name] = _pad([v[:n] for v, n in zip(columns[name], lengths)], length, pad_value, "int32")
    if "attention_mask" not in inputs and length > min(lengths):
        inputs["attention_mask"] = _pad([[1] * n for n in lengths], length, 0, "int32")
    targets = {}
    if seq2seq:
        target_lengths = [len(v) for v in columns["labels"]]
        target_length = _padded_length(target_lengths, max_target_length, pad_to_multiple_of, "max_target_length")
        targets["labels"] = _pad(columns["labels"], target_length, label_pad_id, "int32")  # (examples, target_len)
        if model is not None and "decoder_input_ids" in model.input_names:
            inputs["decoder_input_ids"] = np.asarray(model.prepare_decoder_input_ids_from_labels(targets["labels"]))
    for name in label_names:
        if name in targets:
            continue
        values = columns[name]
        if _is_sequence_column(values) and len(values[0]) == len(columns["input_ids"][0]):
            values = [v[:n] for v, n in zip(values, lengths)]  # token labels follow the tokens
        targets[name] = _label_array(values, length, label_pad_id)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets) if targets else inputs)
    if shuffle:
        dataset = dataset.shuffle(num_examples, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if drop_remainder and num_examples < batch_size:
        logger.warning("drop_remainder=True with %d examples < batch_size=%d: the dataset is empty.",
                       num_examples, batch_size)
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset
