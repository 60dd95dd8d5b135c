"""`Pipeline`: tokenizer -> model -> post-processing, with batching, as `transformers.Pipeline`.

Every task pipeline implements three steps, named as in `transformers`:

- `preprocess(item, **params)` -> list of chunks (one for most tasks; several
  for long question-answering contexts split into `doc_stride` windows, or
  token classification with `stride`). A chunk is a dict: `numpy` arrays of
  shape `(seq_len, ...)` (token ids, masks, offsets) are padded and stacked
  into batches; any other value rides along with the chunk.
- `_forward(batch, **params)` -> dict of `numpy` arrays with a leading batch
  axis (the model's outputs, or generated token ids).
- `postprocess(chunk_outputs, **params)` -> the task's result for one item,
  in the `transformers` output format, from the list of its chunks' outputs
  (each a dict: the chunk's own values, its padded arrays and its rows of the
  forward outputs).

Chunks are batched `batch_size` at a time across items, padded on the
tokenizer's `padding_side` with the values `transformers` uses
(`pad_token_id` for ids, 0 for masks and offsets, 1 for `special_tokens_mask`
and `p_mask`, the feature extractor's `padding_value` for `input_values` /
`input_features`), so batched results equal `transformers`' batched results.
"""

import types

import numpy as np
import tensorflow as tf

# Padding values of collated arrays, as `transformers.pipelines.base.pad_collate_fn` (ids use the pad token).
_PAD_ONE = ("special_tokens_mask", "p_mask")
_PAD_FEATURES = ("input_values", "input_features")  # the feature extractor's `padding_value`
# Lists longer than this show a progress bar unless `progress_bar=False`.
PROGRESS_BAR_MIN_ITEMS = 16


class Pipeline:
    """Base class of the task pipelines (see the module docstring for the three steps).

    Args:
        model: a tfmodels `PreTrainedModel` for the task.
        tokenizer: a `transformers` tokenizer (fast tokenizers give offsets);
            `None` for tasks without text (`uses_tokenizer = False`).
        image_processor: for image tasks, a `tfmodels.processors.ImageProcessor`
            (or any object called as `processor(images) -> {"pixel_values": ...}`).
        feature_extractor: for audio tasks, a `tfmodels.processors.Wav2Vec2FeatureExtractor`
            (or a `transformers` one); its `padding_value` and `padding_side` pad `input_values`.
        task: the task name the pipeline was made for.
        batch_size: int, chunks per model call (default 1); `__call__` can override it.
        device: `None` (TensorFlow places the ops), `-1` or `"cpu"`, a GPU index, or a TensorFlow
            device string; the model runs under `tf.device` of it.
        progress_bar: `True`/`False`, or `None` (default): a `tqdm` bar for lists of more
            than `PROGRESS_BAR_MIN_ITEMS` items.
        **kwargs: the task's call parameters, used as defaults for every call.
    """

    default_task = None
    # What `tfmodels.pipeline()` loads from the checkpoint for the task.
    uses_tokenizer = True
    uses_image_processor = False
    uses_feature_extractor = False

    def __init__(self, model, tokenizer=None, task=None, batch_size=None, progress_bar=None, device=None,
                 image_processor=None, feature_extractor=None, **kwargs):
        self.model = model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.feature_extractor = feature_extractor
        self.device = tf_device(device)
        self.task = task or self.default_task
        self.batch_size = batch_size
        self.progress_bar = progress_bar
        self._init_params = self._sanitize_parameters(**kwargs)

    # -- task hooks ---------------------------------------------------------------

    def _sanitize_parameters(self, **kwargs):
        """Splits call keywords into `(preprocess, forward, postprocess)` parameter dicts.

        Raises:
            TypeError: for keywords the task does not take.
        """
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(kwargs)}.")
        return {}, {}, {}

    def preprocess(self, item, **params):
        raise NotImplementedError

    def _forward(self, batch, **params):
        return self.model_outputs(batch)

    def postprocess(self, chunk_outputs, **params):
        raise NotImplementedError

    # -- shared steps ---------------------------------------------------------------

    def model_inputs(self, batch):
        """The entries of a collated batch the model takes (its `input_names`)."""
        names = getattr(self.model, "input_names", ("input_ids", "attention_mask", "token_type_ids"))
        return {k: v for k, v in batch.items() if k in names}

    def model_outputs(self, batch):
        """Runs the model (inference mode) on a collated batch; its tensor outputs as `numpy` arrays."""
        outputs = self.model(self.model_inputs(batch), training=False)
        return {k: np.asarray(v) for k, v in outputs.items() if hasattr(v, "shape")}

    def tokenize(self, *args, **kwargs):
        """Calls the tokenizer for one item, returning `numpy` arrays with a batch axis."""
        return self.tokenizer(*args, return_tensors="np", **kwargs)

    # -- running --------------------------------------------------------------------

    def __call__(self, inputs, batch_size=None, progress_bar=None, **kwargs):
        """Runs the task on one input or a list (or generator) of inputs.

        Returns:
            the task's result for one input; a list of results for a list; an
            iterator of results for a generator.
        """
        pre, fwd, post = (dict(a, **b) for a, b in zip(self._init_params, self._sanitize_parameters(**kwargs)))
        batch_size = batch_size if batch_size is not None else (self.batch_size or 1)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int. Received: batch_size={batch_size!r}")
        progress_bar = self.progress_bar if progress_bar is None else progress_bar
        if isinstance(inputs, types.GeneratorType):
            return self._iterate(inputs, batch_size, pre, fwd, post, bool(progress_bar), None)
        if isinstance(inputs, list):
            if progress_bar is None:
                progress_bar = len(inputs) > PROGRESS_BAR_MIN_ITEMS
            return list(self._iterate(inputs, batch_size, pre, fwd, post, progress_bar, len(inputs)))
        return next(self._iterate([inputs], batch_size, pre, fwd, post, False, 1))

    def _iterate(self, items, batch_size, pre, fwd, post, progress_bar, total):
        if progress_bar:
            from tqdm.auto import tqdm

            items = tqdm(items, total=total, desc=self.task, unit="input")
        pending, outputs, counts, next_done = [], {}, {}, 0
        for index, item in enumerate(items):
            chunks = list(self.preprocess(item, **pre))
            counts[index], outputs[index] = len(chunks), []
            for chunk in chunks:
                pending.append((index, chunk))
                if len(pending) == batch_size:
                    self._run_batch(pending, outputs, fwd)
            while next_done in counts and len(outputs[next_done]) == counts[next_done]:
                yield self.postprocess(outputs.pop(next_done), **post)
                next_done += 1
        self._run_batch(pending, outputs, fwd)
        while next_done in counts:
            yield self.postprocess(outputs.pop(next_done), **post)
            next_done += 1

    def _run_batch(self, pending, outputs, fwd):
        if not pending:
            return
        chunks = [chunk for _, chunk in pending]
        batch = self.collate(chunks)
        if self.device is None:
            results = self._forward(batch, **fwd)
        else:
            with tf.device(self.device):
                results = self._forward(batch, **fwd)
        for row, (index, chunk) in enumerate(pending):
            entry = {k: v for k, v in chunk.items() if not isinstance(v, np.ndarray)}
            entry.update({k: v[row] for k, v in batch.items()})
            entry.update({k: v[row] for k, v in results.items()})
            outputs[index].append(entry)
        pending.clear()

    def padding_side(self):
        """The feature extractor's `padding_side` where there is one, else the tokenizer's (as `pad_collate_fn`).

        Raises:
            ValueError: the two disagree.
        """
        side = getattr(self.tokenizer, "padding_side", None)
        feature_side = getattr(self.feature_extractor, "padding_side", None)
        if side is not None and feature_side is not None and side != feature_side:
            raise ValueError(f"The feature extractor and the tokenizer pad on different sides ({feature_side!r} vs "
                             f"{side!r}): set one padding_side for both.")
        return feature_side or side or "right"

    def collate(self, chunks):
        """Pads the chunks' arrays to the longest and stacks them: `{name: (batch, seq_len, ...)}`.

        Raises:
            ValueError: chunks of one batch hold different arrays, or padding is
                needed and the tokenizer has no pad token.
        """
        keys = [k for k, v in chunks[0].items() if isinstance(v, np.ndarray)]
        if any(sorted(k for k, v in c.items() if isinstance(v, np.ndarray)) != sorted(keys) for c in chunks):
            raise ValueError("The inputs of one batch were tokenized into different fields; use batch_size=1.")
        length = max(len(c[keys[0]]) for c in chunks)
        left = self.padding_side() == "left"
        batch = {}
        for key in keys:
            if key == "input_ids":
                value = getattr(self.tokenizer, "pad_token_id", None)
                if value is None and len(chunks) > 1:  # refused whatever the lengths, as `transformers` does
                    raise ValueError("Batching (batch_size > 1) needs a tokenizer with a pad token, and this one has "
                                     "none: set it (e.g. `pipe.tokenizer.pad_token = pipe.tokenizer.eos_token`) or "
                                     "use batch_size=1.")
            elif key in _PAD_FEATURES:
                value = getattr(self.feature_extractor, "padding_value", 0)
            else:
                value = 1 if key in _PAD_ONE else 0
            rows = []
            for chunk in chunks:
                array = chunk[key]
                width = [(length - len(array), 0) if left else (0, length - len(array))] + [(0, 0)] * (array.ndim - 1)
                rows.append(np.pad(array, width, constant_values=value or 0))
            batch[key] = np.stack(rows)
        return batch


def tf_device(device):
    """A `transformers`-style `device` (`-1`, `"cpu"`, a GPU index, `"cuda:0"`) as a TensorFlow device string.

    Raises:
        ValueError: for another kind of value.
    """
    if device is None:
        return None
    if isinstance(device, int) and not isinstance(device, bool):
        return "/CPU:0" if device < 0 else f"/GPU:{device}"
    if isinstance(device, str):
        name = device.lower()
        if name == "cpu":
            return "/CPU:0"
        if name.startswith(("cuda", "gpu")):
            index = name.partition(":")[2] or "0"
            return f"/GPU:{index}"
        if name.startswith("/"):
            return device
    raise ValueError(f"device must be None, an int (-1: CPU), 'cpu', 'cuda:N' or a TensorFlow device string. "
                     f"Received: device={device!r}")


def chunks_from_encoding(encoding, **extras):
    """Splits a tokenizer output `{name: (n_chunks, seq_len, ...)}` into per-chunk dicts of arrays plus `extras`."""
    arrays = {k: np.asarray(v) for k, v in encoding.items() if k != "overflow_to_sample_mapping"}
    count = len(arrays["input_ids"])
    return [{**{k: v[i] for k, v in arrays.items()}, **extras} for i in range(count)]


def softmax(x, axis=-1):
    """`transformers.pipelines` softmax (float32 numpy, max-shifted)."""
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))
