"""Legacy Hugging Face TF checkpoints (`tf_model.h5`, sharded `tf_model-0000k-of-0000n.h5`, TF safetensors).

`transformers` 4.x TF models (`TFBertModel`, ...) saved their weights with
Keras 2: one HDF5 file (`save_weights`: a group per top-level layer, its
`weight_names` attribute listing the TF variable names, each a dataset under
nested groups), or shards written by `save_pretrained(max_shard_size=...)`
plus `tf_model.h5.index.json` mapping each variable name to its shard (the
shard's dataset is the name without its first level, except names that
contain `model.` or have one level, which are kept whole).

This module is the one translation layer between those files and the
PyTorch weight tables: each TF variable name becomes the PyTorch key of the
same tensor, and its layout the PyTorch layout, following `transformers`'
`convert_tf_weight_name_to_pt_weight_name` and `apply_transpose`
(`modeling_tf_pytorch_utils.py`, 4.46):

- drop `:0`; `scope___name` -> `name` (TF-only scopes such as `mlm___cls`);
  `_._` -> a new level (`layer_._0` -> `layer.0`); drop the first level (the
  model's scope, `tf_bert_model`) unless the name has only one;
- the last level: `kernel`, `embeddings`, `gamma` -> `weight`; `beta` ->
  `bias`; `pointwise_kernel` / `depthwise_kernel` -> `pointwise.weight` /
  `depthwise.weight`;
- layouts: a 2-D `kernel` (Keras `Dense`, `(in, out)`), a `pointwise_kernel`
  / `depthwise_kernel`, and Transformer-XL's `emb_projs` / `out_projs` are
  transposed (axes reversed) to `nn.Linear`'s `(out, in)`; a 3-D `kernel`
  (`Conv1D` `(k, in, out)`) becomes `(out, in, k)`; a 4-D `kernel`
  (`Conv2D` `(kh, kw, in, out)`) becomes `(out, in, kh, kw)`. Anything else
  (GPT-2's `Conv1D` `weight`, embedding tables, biases) is stored as in
  PyTorch.

  These layouts are those of the Keras layers that own the variables
  (`Dense.kernel`, `Conv1D.kernel`, `Embedding.embeddings`), which the last
  level names; every translated shape is then checked against the weight
  table, and each family's parity test checks the values.

Then, as `apply_transpose` reshapes each tensor to the PyTorch parameter's
shape, a tensor whose shape differs from the weight table's only in size-1
axes is reshaped (`conform`): GPT-2's TF `Conv1D` biases are `(1, out)`,
PyTorch's `(out,)`. Any other difference is a shape mismatch, reported with
the TF variable's name.

A `model.safetensors` written by a TF model (`save_pretrained(safe_serialization=True)`,
metadata `{"format": "tf"}`) holds the same TF names and layouts and goes through the same
translation (`TFSafetensorsHandle`).

The loader then reads these files exactly like a safetensors checkpoint:
strict keys and shapes, one dataset read at a time (row blocks of large
untransposed tables are read as slices of the dataset).
"""

import re

import numpy as np

from tfmodels.converters.errors import CheckpointError

TF_WEIGHTS_NAME = "tf_model.h5"
TF_WEIGHTS_INDEX_NAME = "tf_model.h5.index.json"

_SIMPLE_TRANSPOSE_NAMES = ("kernel", "pointwise_kernel", "depthwise_kernel")
_TRANSPOSED_MODULES = ("emb_projs", "out_projs")  # Transformer-XL's adaptive projections, stored (in, out)


def pytorch_key(tf_name, ndim):
    """The PyTorch key of a TF variable and the axes that turn its layout into PyTorch's.

    Args:
        tf_name: the TF variable name, e.g.
            `"tf_bert_model/bert/encoder/layer_._0/attention/self/query/kernel:0"`.
        ndim: number of axes of the variable.

    Returns:
        `(key, axes)`: e.g. `("bert.encoder.layer.0.attention.self.query.weight", (1, 0))`;
        `axes` is `None` when the layouts agree, else the `np.transpose` axes
        from the TF array to the PyTorch one.
    """
    name = tf_name.replace(":0", "")
    name = re.sub(r"/[^/]*___([^/]*)/", r"/\1/", name)
    name = name.replace("_._", "/")
    parts = re.sub(r"//+", "/", name).split("/")
    if len(parts) > 1:
        parts = parts[1:]
    last = parts[-1]
    axes = None
    if last == "kernel" and ndim == 4:
        axes = (3, 2, 0, 1)
    elif last == "kernel" and ndim == 3:
        axes = (2, 1, 0)
    elif (last in _SIMPLE_TRANSPOSE_NAMES or any(m in parts for m in _TRANSPOSED_MODULES)) and ndim > 1:
        axes = tuple(reversed(range(ndim)))
    if last in ("kernel", "embeddings", "gamma"):
        parts[-1] = "weight"
    elif last == "beta":
        parts[-1] = "bias"
    elif last in ("pointwise_kernel", "depthwise_kernel"):
        parts[-1] = last.replace("_kernel", ".weight")
    return ".".join(parts), axes


def shard_dataset_name(tf_name):
    """The dataset path of variable `tf_name` inside a shard written by `transformers`' TF `save_pretrained`."""
    if "model." in tf_name or len(tf_name.split("/")) == 1:
        return tf_name
    return "/".join(tf_name.split("/")[1:])


def _string_list(group, name):
    """A Keras 2 string-list attribute, also when it was split into `name0`, `name1`, ... (large models)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values += list(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


class TranslatedTFHandle:
    """Base of the handles that serve TF-named, TF-laid-out tensors under PyTorch keys in PyTorch layouts.

    Subclasses fill `self._entries` (`{PyTorch key: (stored name, axes, TF variable name)}`, through
    `_add`) and implement `_stored_shape(stored)` and `_read(key, selection)`.
    """

    def __init__(self, path):
        self.path = path
        self._entries = {}  # PyTorch key -> (stored name, axes, TF variable name)
        self._conformed = {}  # PyTorch key -> shape it is reshaped to (size-1 axes added or dropped)

    def _add(self, stored, tf_name, ndim, shown=None):
        """Adds the tensor stored as `stored` of TF variable `tf_name`; messages name it `shown` (default `tf_name`)."""
        key, axes = pytorch_key(tf_name, ndim)
        shown = shown or tf_name
        previous = self._entries.get(key)
        if previous is not None and previous[2] != shown:
            raise CheckpointError(
                f"{self.path}: TF variables {previous[2]!r} and {shown!r} both translate to the PyTorch key "
                f"{key!r}; this file does not follow the Hugging Face TF naming."
            )
        self._entries[key] = (stored, axes, shown)

    def keys(self):
        return list(self._entries)

    def rename(self, new_keys):
        """Serves the tensor of each key of `new_keys` (`{key: new key}`) under its new key from now on
        (`files.CheckpointReader.rename_tf_keys`)."""
        self._entries = {new_keys.get(k, k): v for k, v in self._entries.items()}
        self._conformed = {new_keys.get(k, k): v for k, v in self._conformed.items()}

    def tf_name(self, key):
        """The TF variable name a PyTorch key was translated from."""
        return self._entries[key][2]

    def shape(self, key):
        if key in self._conformed:
            return self._conformed[key]
        stored, axes, _ = self._entries[key]
        shape = self._stored_shape(stored)
        return tuple(shape[i] for i in axes) if axes else tuple(shape)

    def conform(self, key, shape):
        """Serves `key` in `shape` from now on if that differs from its stored shape only in size-1 axes.

        Returns:
            Whether it does (`False`: the shapes really differ).
        """
        shape = tuple(shape)
        stored = self.shape(key)
        if stored == shape or [n for n in stored if n != 1] != [n for n in shape if n != 1]:
            return stored == shape
        self._conformed[key] = shape
        return True

    def get(self, key):
        axes = self._entries[key][1]
        array = self._read(key)
        array = np.ascontiguousarray(array.transpose(axes)) if axes else array
        return array.reshape(self._conformed[key]) if key in self._conformed else array

    def get_rows(self, key, start, stop):
        axes = self._entries[key][1]
        if key in self._conformed:
            return self.get(key)[start:stop]
        if axes is None:
            return self._read(key, np.s_[start:stop])
        if axes == (1, 0):  # rows of the PyTorch layout are columns of the stored kernel
            return np.ascontiguousarray(self._read(key, np.s_[:, start:stop]).T)
        return self.get(key)[start:stop]


class TFH5Handle(TranslatedTFHandle):
    """One legacy TF `.h5` weights file, served under PyTorch keys in PyTorch layouts.

    Args:
        path: `pathlib.Path` of the file.
        stack: a `contextlib.ExitStack` that closes the file.
        tf_names: the variable names the shard index lists for this file
            (`None`: a whole `tf_model.h5`, read through its `layer_names`).

    Raises:
        CheckpointError: the file is not readable HDF5, is not a Keras 2 TF
            checkpoint, lacks a variable the index lists, or two variables
            translate to one PyTorch key.
    """

    def __init__(self, path, stack, tf_names=None):
        import h5py

        super().__init__(path)
        try:
            self._file = stack.enter_context(h5py.File(str(path), "r"))
        except OSError as e:
            raise CheckpointError(
                f"{path} is not a readable HDF5 file ({e}). It may be truncated or corrupt: download it again, "
                "or save it again with the TF model's save_pretrained()."
            ) from None
        for dataset_path, tf_name in self._datasets(tf_names):
            self._add(dataset_path, tf_name, self._dataset(dataset_path, tf_name).ndim)

    def _datasets(self, tf_names):
        """`(dataset path, TF variable name)` pairs; a variable listed under several layers is read once."""
        if tf_names is not None:
            return [(shard_dataset_name(n), n) for n in tf_names]
        layers = _string_list(self._file, "layer_names")
        if not layers:
            raise CheckpointError(
                f"{self.path} has no 'layer_names' attribute, so it is not a Keras 2 weights file as the "
                "Hugging Face TF models wrote (tf_model.h5). A Keras 3 file (model.weights.h5) loads from a "
                "directory written by `tfmodels convert`."
            )
        pairs, seen = [], set()
        for layer in layers:
            group = self._file.get(layer)
            if group is None:
                raise CheckpointError(f"{self.path} lists layer {layer!r} in 'layer_names' but has no such group; "
                                      "the file is corrupt.")
            for tf_name in _string_list(group, "weight_names"):
                if tf_name not in seen:
                    seen.add(tf_name)
                    pairs.append((f"{layer}/{tf_name}", tf_name))
        return pairs

    def _dataset(self, dataset_path, tf_name):
        try:
            dataset = self._file[dataset_path]
        except (KeyError, OSError):
            raise CheckpointError(
                f"{self.path} has no dataset {dataset_path!r} for the TF variable {tf_name!r} (listed in the "
                "file's weight names or the shard index); the file is incomplete or corrupt."
            ) from None
        if not hasattr(dataset, "shape"):
            raise CheckpointError(f"{self.path}: {dataset_path!r} is a group, not the TF variable {tf_name!r}.")
        return dataset

    def _stored_shape(self, dataset_path):
        return self._file[dataset_path].shape

    def _read(self, key, selection=()):
        dataset_path, _, tf_name = self._entries[key]
        try:
            return np.asarray(self._file[dataset_path][selection])
        except (OSError, ValueError) as e:
            raise CheckpointError(
                f"{self.path}: cannot read the TF variable {tf_name!r} ({e}); the file may be truncated or corrupt."
            ) from None


class TFSafetensorsHandle(TranslatedTFHandle):
    """A safetensors file written by a TF model (`save_pretrained(safe_serialization=True)`, metadata
    `{"format": "tf"}`), served under PyTorch keys in PyTorch layouts.

    Its keys are the TF variable names without their first level (`bert/embeddings/...:0`), except names
    containing `model.` or of one level, which are whole (`transformers`' `strip_model_name_and_prefix`).

    Args:
        handle: the file's `files._SafetensorsHandle`.
    """

    def __init__(self, handle):
        super().__init__(handle.path)
        self._handle = handle
        for stored in handle.keys():
            tf_name = stored if "model." in stored else f"tf_model/{stored}"  # any first level: it is dropped
            self._add(stored, tf_name, len(handle.shape(stored)), shown=stored)

    def _stored_shape(self, stored):
        return tuple(self._handle.shape(stored))

    def _read(self, key, selection=()):
        stored = self._entries[key][0]
        if selection == ():
            return self._handle.get(stored)
        return self._handle.get(stored)[selection]
