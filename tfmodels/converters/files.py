"""Finding and reading Hugging Face checkpoint files.

A checkpoint is a directory with `config.json` and weights in one of these
forms (first found wins):

- `model.safetensors`, or shards listed in `model.safetensors.index.json`;
- `pytorch_model.bin`, or shards listed in `pytorch_model.bin.index.json`
  (needs PyTorch: `pip install "tfmodels[torch]"`);
- `model.weights.h5`: Keras weights written by `tfmodels convert` (read through
  `keras_dir.KerasWeightsReader`, so any head of the family loads them);
- `tf_model.h5`, or shards listed in `tf_model.h5.index.json`: legacy
  Hugging Face TF (Keras 2) checkpoints, for repositories that ship no
  PyTorch weights; their TF variable names and layouts are translated to the
  PyTorch ones (`tf_h5.py`), so they load through the same weight tables.
  `prefer_tf=True` (`from_pretrained(from_tf=True)`) picks them first. A
  `model.safetensors` a TF model wrote (metadata `format: tf`) is translated
  the same way.

`resolve_checkpoint_dir` accepts a local directory or a Hugging Face Hub id;
Hub ids go through `huggingface_hub`, which caches downloads and honours
`HF_HUB_OFFLINE=1`.
"""

import contextlib
import json
import logging
import os
import re
from pathlib import Path

import ml_dtypes  # noqa: F401  (registers bfloat16 with NumPy, for bf16 checkpoints)
import numpy as np

from tfmodels.converters.errors import CheckpointError
from tfmodels.converters.tf_h5 import (
    TF_WEIGHTS_INDEX_NAME,
    TF_WEIGHTS_NAME,
    TFH5Handle,
    TFSafetensorsHandle,
    TranslatedTFHandle,
)

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
SAFETENSORS_NAME = "model.safetensors"
SAFETENSORS_INDEX_NAME = "model.safetensors.index.json"
TORCH_NAME = "pytorch_model.bin"
TORCH_INDEX_NAME = "pytorch_model.bin.index.json"
KERAS_WEIGHTS_NAME = "model.weights.h5"
LEGACY_TF_NAME = TF_WEIGHTS_NAME
LEGACY_TF_INDEX_NAME = TF_WEIGHTS_INDEX_NAME
_TF_NAMES = (LEGACY_TF_NAME, LEGACY_TF_INDEX_NAME)
_WEIGHT_NAMES = (SAFETENSORS_NAME, SAFETENSORS_INDEX_NAME, TORCH_NAME, TORCH_INDEX_NAME, KERAS_WEIGHTS_NAME, *_TF_NAMES)


_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _looks_like_path(name):
    """A Hub id is `name` or `org/name`; anything else is a filesystem path."""
    return not _REPO_ID.match(name) or name.endswith((".json", ".safetensors", ".bin", ".h5"))


def resolve_checkpoint_dir(path_or_repo_id, revision=None, cache_dir=None, local_files_only=None, token=None,
                           force_download=False, subfolder=None, prefer_tf=False):
    """Returns a local directory holding the checkpoint.

    Args:
        path_or_repo_id: a directory, or a Hub id such as `"bert-base-uncased"`
            or `"sentence-transformers/all-MiniLM-L6-v2"`.
        revision, cache_dir, token, force_download: passed to
            `huggingface_hub.snapshot_download`.
        local_files_only: only use the Hub cache (defaults to `HF_HUB_OFFLINE`).
        subfolder: the checkpoint's folder inside the directory or repository.
        prefer_tf: for a Hub id, download the legacy TF weights
            (`tf_model.h5` or its shards) first. Without it they are
            downloaded only when the repository has neither safetensors nor
            `pytorch_model.bin` weights.

    Returns:
        `pathlib.Path` of the directory.

    Raises:
        FileNotFoundError: the path does not exist, is a file, or the Hub id
            cannot be found locally or downloaded.
    """
    name = os.fspath(path_or_repo_id)
    path = Path(name).expanduser()
    if path.is_dir():
        return _subfolder(path, subfolder, name)
    if path.exists():
        raise FileNotFoundError(
            f"{name} is a file; expected a checkpoint directory containing {CONFIG_NAME} and weights."
        )
    if _looks_like_path(name):
        raise FileNotFoundError(
            f"Checkpoint directory {name} does not exist. Pass a directory in Hugging Face layout "
            f"({CONFIG_NAME} + {SAFETENSORS_NAME} or {TORCH_NAME}) or a Hub id such as 'bert-base-uncased'."
        )
    return _subfolder(_download(name, revision, cache_dir, local_files_only, token, force_download, subfolder,
                                prefer_tf), subfolder, name)


def _subfolder(directory, subfolder, name):
    if not subfolder:
        return directory
    path = directory / subfolder
    if not path.is_dir():
        raise FileNotFoundError(f"{name} has no subfolder {subfolder!r} (looked for {path}).")
    return path


# Hub downloads, tried in order until the snapshot holds one of the weight files named (see `_download`).
_DOWNLOADS = (
    (("*.safetensors", SAFETENSORS_INDEX_NAME), (SAFETENSORS_NAME, SAFETENSORS_INDEX_NAME)),
    (("pytorch_model*.bin", TORCH_INDEX_NAME), (TORCH_NAME, TORCH_INDEX_NAME)),
    (("tf_model*.h5", LEGACY_TF_INDEX_NAME), _TF_NAMES),
)


def _download(repo_id, revision, cache_dir, local_files_only, token, force_download=False, subfolder=None,
              prefer_tf=False):
    """Downloads `config.json`, `generation_config.json` and one kind of weights: safetensors, else
    `pytorch_model.bin`, else the legacy `tf_model.h5` (first with `prefer_tf`)."""
    import huggingface_hub
    from huggingface_hub import errors as hub_errors

    if local_files_only is None:
        local_files_only = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
    base = f"{subfolder.strip('/')}/" if subfolder else ""
    kwargs = dict(
        repo_id=repo_id, revision=revision, cache_dir=cache_dir, token=token, local_files_only=local_files_only,
        force_download=force_download,
    )
    downloads = (_DOWNLOADS[-1], *_DOWNLOADS[:-1]) if prefer_tf else _DOWNLOADS
    try:
        for weight_patterns, weight_names in downloads:
            patterns = [base + p for p in ("config.json", "generation_config.json", *weight_patterns)]
            directory = Path(huggingface_hub.snapshot_download(allow_patterns=patterns, **kwargs))
            if any((directory / base / n).exists() for n in weight_names):
                break
        return directory
    except hub_errors.HFValidationError:
        raise FileNotFoundError(
            f"{repo_id!r} is neither an existing directory nor a valid Hugging Face Hub id."
        ) from None
    except (hub_errors.LocalEntryNotFoundError, hub_errors.OfflineModeIsEnabled) as e:
        raise FileNotFoundError(
            f"{repo_id!r} is not a local directory and is not in the Hugging Face cache"
            f"{' (offline mode)' if local_files_only else ''}. Download it once with network access, "
            f"or pass the path of a local checkpoint directory. ({type(e).__name__})"
        ) from None
    except hub_errors.RepositoryNotFoundError:
        raise FileNotFoundError(
            f"Hugging Face Hub repository {repo_id!r} was not found (or needs a token)."
        ) from None


def read_config(path):
    """Reads `config.json` (from a directory or the file itself) into a dict.

    Raises:
        FileNotFoundError: if there is no `config.json`.
        ValueError: if it is not valid JSON.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found. A checkpoint directory needs the model's {CONFIG_NAME} next to its weights "
            "(save_pretrained() writes both)."
        )
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None


def config_as_dict(config):
    """Returns a model config as a dict of Hugging Face fields.

    Args:
        config: a dict; a `config.json` path or its directory; or a config
            object with `to_dict()` (`model.config`, `tfmodels.AutoConfig`'s
            result, `transformers.BertConfig(...)`, any `transformers.PretrainedConfig`).

    Raises:
        TypeError: for any other type.
        FileNotFoundError, ValueError: as `read_config` for paths.
    """
    if callable(getattr(config, "to_dict", None)):  # before dict: a model's `config` is a dict of its own fields
        return dict(config.to_dict())
    if isinstance(config, dict):
        return dict(config)
    if isinstance(config, (str, bytes)) or hasattr(config, "__fspath__"):
        return read_config(config)
    raise TypeError(
        "A model config must be a dict, a config.json path, or a config object with `to_dict()` "
        f"(e.g. transformers.BertConfig). Received: {type(config).__name__}."
    )


def find_weights_file(directory, prefer_tf=False):
    """Returns the path of the weights to load from `directory` (see module docstring).

    Args:
        directory: the checkpoint directory.
        prefer_tf: pick the legacy TF weights (`tf_model.h5` or its shard
            index) when present, before the PyTorch ones.

    Raises:
        FileNotFoundError: if no supported weights file is present.
    """
    directory = Path(directory)
    names = (*_TF_NAMES, *_WEIGHT_NAMES) if prefer_tf else _WEIGHT_NAMES
    for name in names:
        if (directory / name).is_file():
            return directory / name
    present = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    hint = ""
    if any(name.startswith("tf_model-") and name.endswith(".h5") for name in present):
        hint = f" It has TF weight shards but no {LEGACY_TF_INDEX_NAME} listing them; download it too."
    elif "model.ckpt.index" in present or any(name.endswith(".ckpt.index") for name in present):
        hint = (" It has a TensorFlow 1 checkpoint (model.ckpt), which tfmodels does not read; use the "
                "repository's PyTorch or tf_model.h5 weights.")
    raise FileNotFoundError(
        f"No weights found in {directory}: expected one of {list(_WEIGHT_NAMES)}. Found: {present}.{hint}"
    )


class CheckpointReader:
    """Reads named tensors from checkpoint files, one tensor at a time.

    Use as a context manager. `keys()`, `shape(key)` and `dtype_name(key)`
    read only metadata; `get(key)` returns one `np.ndarray`.
    """

    def __init__(self, weights_path):
        self.path = Path(weights_path)
        self._stack = contextlib.ExitStack()
        self._key_to_handle = {}
        name = self.path.name
        if name == LEGACY_TF_INDEX_NAME:
            self._open_tf_shards(self._read_index(self.path))
        elif name.endswith(".index.json"):
            index = self._read_index(self.path)
            files = sorted(set(index.values()))
            handles = {f: self._open(self.path.parent / f) for f in files}
            self._key_to_handle = {k: handles[f] for k, f in index.items()}
        else:
            handle = self._open(self.path)
            self._key_to_handle = {k: handle for k in handle.keys()}

    @staticmethod
    def _read_index(path):
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)["weight_map"]
        except (json.JSONDecodeError, KeyError) as e:
            raise CheckpointError(f"{path} is not a valid shard index (needs a 'weight_map'): {e}") from None

    def _open(self, path):
        if not path.is_file():
            raise FileNotFoundError(f"Checkpoint shard {path} is missing (listed in the index).")
        if path.suffix == ".safetensors":
            handle = _SafetensorsHandle(path, self._stack)
            return TFSafetensorsHandle(handle) if handle.format == "tf" else handle
        if path.suffix == ".bin":
            return _TorchHandle(path)
        if path.suffix == ".h5":
            return TFH5Handle(path, self._stack)
        raise CheckpointError(f"Unsupported weights file {path}.")

    def _open_tf_shards(self, index):
        """TF shards: the index maps TF variable names to files; the handles serve them under PyTorch keys."""
        by_file = {}
        for tf_name, shard in index.items():
            by_file.setdefault(shard, []).append(tf_name)
        for shard, tf_names in sorted(by_file.items()):
            path = self.path.parent / shard
            if not path.is_file():
                raise FileNotFoundError(f"Checkpoint shard {path} is missing (listed in {self.path}).")
            handle = TFH5Handle(path, self._stack, tf_names)
            for key in handle.keys():
                if key in self._key_to_handle:
                    raise CheckpointError(
                        f"{self.path}: the PyTorch key {key!r} comes from TF variables in two shards "
                        f"({self._key_to_handle[key].path.name}, {shard}); the index is inconsistent."
                    )
                self._key_to_handle[key] = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stack.close()

    def keys(self):
        return list(self._key_to_handle)

    def shape(self, key):
        return tuple(self._key_to_handle[key].shape(key))

    def get(self, key):
        return self._key_to_handle[key].get(key)

    def get_rows(self, key, start, stop):
        """Rows `start:stop` of a tensor (first axis), read without loading the rest."""
        return self._key_to_handle[key].get_rows(key, start, stop)

    def conform(self, key, shape):
        """Whether `key` can be served in `shape`: legacy TF tensors may differ from the PyTorch
        shape in size-1 axes only (see `tf_h5.TFH5Handle.conform`); other formats must match exactly."""
        handle = self._key_to_handle[key]
        if isinstance(handle, TranslatedTFHandle):
            return handle.conform(key, shape)
        return self.shape(key) == tuple(shape)

    @property
    def translates_tf_names(self):
        """Whether the keys come from TF variable names (legacy TF checkpoints, `tf_h5.py`)."""
        return any(isinstance(h, TranslatedTFHandle) for h in self._key_to_handle.values())

    def rename_tf_keys(self, renames):
        """Serves the translated keys of legacy TF tensors under `re.sub(pattern, replacement, key)` for each
        `(pattern, replacement)` of `renames` in turn (`mapping.WeightTable.tf_renames`); other keys stay.

        Raises:
            CheckpointError: two tensors would get one key.
        """
        renamed = {}
        for key, handle in self._key_to_handle.items():
            new = key
            if isinstance(handle, TranslatedTFHandle):
                for pattern, replacement in renames:
                    new = re.sub(pattern, replacement, new)
            if new in renamed:
                raise CheckpointError(f"{self.path}: the keys {renamed[new][0]!r} and {key!r} both become {new!r} "
                                      "once the model's TF names are translated; the checkpoint is inconsistent.")
            renamed[new] = (key, handle)
        by_handle = {}
        for new, (key, handle) in renamed.items():
            if new != key:
                by_handle.setdefault(id(handle), (handle, {}))[1][key] = new
        for handle, new_keys in by_handle.values():
            handle.rename(new_keys)
        self._key_to_handle = {new: handle for new, (_, handle) in renamed.items()}

    def source_name(self, key):
        """`key` as an error message names it: with its TF variable name for legacy TF checkpoints."""
        handle = self._key_to_handle.get(key)
        if isinstance(handle, TranslatedTFHandle):
            return f"{key} (TF variable {handle.tf_name(key)})"
        return key


class _SafetensorsHandle:
    """One safetensors file.

    Metadata comes from a handle kept open; each tensor is read through a
    short-lived handle that is closed (unmapped) right after the copy, so
    the file's pages do not accumulate in resident memory while a large
    checkpoint streams in (they would add a whole checkpoint's size to RSS).
    """

    def __init__(self, path, stack):
        from safetensors import SafetensorError, safe_open

        self.path = path
        self._error = SafetensorError
        self._open = safe_open
        try:
            self._file = stack.enter_context(safe_open(str(path), framework="numpy"))
        except SafetensorError as e:
            raise CheckpointError(
                f"{path} is not a readable safetensors file ({e}). It may be truncated or corrupt: "
                "download or export it again."
            ) from None

    @property
    def format(self):
        """The writer's `format` metadata: `"pt"`, `"tf"` (a TF model's `save_pretrained`), ... or None."""
        return (self._file.metadata() or {}).get("format")

    def keys(self):
        return list(self._file.keys())

    def shape(self, key):
        return self._file.get_slice(key).get_shape()

    def get(self, key):
        try:
            with self._open(str(self.path), framework="numpy") as f:
                return f.get_tensor(key)
        except self._error as e:
            raise CheckpointError(f"{self.path}: cannot read tensor {key!r} ({e}); the file may be corrupt.") from None

    def get_rows(self, key, start, stop):
        try:
            with self._open(str(self.path), framework="numpy") as f:
                return f.get_slice(key)[start:stop]
        except self._error as e:
            raise CheckpointError(f"{self.path}: cannot read tensor {key!r} ({e}); the file may be corrupt.") from None


class _TorchHandle:
    def __init__(self, path):
        try:
            import torch
        except ImportError:
            raise ImportError(
                f"{path} is a PyTorch pickle, and reading it needs PyTorch, which is not installed. "
                'Install the extra: pip install "tfmodels[torch]" (CPU-only: pip install torch '
                "--index-url https://download.pytorch.org/whl/cpu), or convert the checkpoint to "
                "model.safetensors."
            ) from None
        self.path = path
        try:
            self._state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except Exception as e:  # torch raises many types for bad pickles
            raise CheckpointError(f"{path} could not be read by torch.load(weights_only=True): {e}") from None

    def keys(self):
        return list(self._state)

    def shape(self, key):
        return tuple(self._state[key].shape)

    def get(self, key):
        tensor = self._state[key]
        if str(tensor.dtype) == "torch.bfloat16":
            tensor = tensor.float()
        return tensor.numpy()

    def get_rows(self, key, start, stop):
        tensor = self._state[key][start:stop]
        if str(tensor.dtype) == "torch.bfloat16":
            tensor = tensor.float()
        return tensor.numpy()


_M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc)


def _libc():
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018  (glibc only)
        libc.malloc_trim  # noqa: B018
        return libc
    except (OSError, AttributeError):
        return None


@contextlib.contextmanager
def low_memory_allocation():
    """Keeps freed memory from piling up while a model is built and loaded (glibc only).

    Building a model allocates each variable's random initial value and
    frees it; glibc keeps such memory in its heap, which would count against
    the peak memory of a conversion (BERT-base: 1.34x the checkpoint size
    instead of 1.2x). Inside this block, allocations of 1 MiB or more are
    served by `mmap` and returned to the OS on free. On exit, the threshold
    is set to 32 MiB (the ceiling glibc's adaptive threshold reaches after
    such frees anyway) and free heap memory is released. No-op on other
    platforms.
    """
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    try:
        yield
    finally:
        if libc is not None:
            libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
            libc.malloc_trim(0)


def as_float_array(array, dtype):
    """Casts a checkpoint array to the variable's dtype (bf16/fp16 checkpoints load into float32)."""
    array = np.asarray(array)
    if array.dtype != np.dtype(dtype):
        array = array.astype(dtype)
    return array
