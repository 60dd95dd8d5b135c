"""Reading Keras-format checkpoint directories (`config.json` + `model.weights.h5`).

`tfmodels convert --format keras` (`save_keras_weights`) writes the Keras
weights of one class. Keras' `load_weights` fills only that exact class, so
loading such a directory into another head (`AutoModel` on a classifier
directory), or with other head sizes (`num_labels=5`), would fail with Keras'
messages. Instead, `KerasWeightsReader` rebuilds the saved class from the
directory's `config.json` (its `architectures` entry), loads the file into
it, and serves its weights under their Hugging Face keys and layouts
(through the same weight table `save_pretrained` uses). The strict loader
then treats the directory like a safetensors checkpoint: the same missing /
unexpected / shape-mismatch report, the same `ignore_mismatched_sizes=True`
route and the same warnings for other heads' weights.

Peak memory is two copies of the weights (the saved model and the model
being loaded) plus one tensor.
"""

import keras

from tfmodels.converters import files
from tfmodels.converters.errors import CheckpointError


def open_weights(weights_path, layers=None):
    """Opens a checkpoint's weights for `load_weights_from_reader`.

    Args:
        weights_path: `pathlib.Path` of the weights file.
        layers: optional `{argument: keras layer}` the class takes besides its
            config (MMBT's `encoder`), given to `from_pretrained`; the Keras
            reader rebuilds the saved class with copies of them.

    Returns:
        A `KerasWeightsReader` for `model.weights.h5`, else a
        `files.CheckpointReader`; both are context managers.
    """
    if weights_path.name == files.KERAS_WEIGHTS_NAME:
        return KerasWeightsReader(weights_path, layers)
    return files.CheckpointReader(weights_path)


def saved_class(config, path):
    """The tfmodels class named by `config["architectures"][0]`.

    Raises:
        CheckpointError: the config names no class, or one tfmodels does not have.
    """
    names = config.get("architectures") or []
    model_class = keras.saving.get_registered_object(f"tfmodels>{names[0]}") if names else None
    if model_class is None:
        raise CheckpointError(
            f"{path} holds Keras weights, which can only be read into the class that wrote them, but "
            f"config.json names no tfmodels class (architectures={names!r}). Add the class name that "
            "saved them, e.g. \"architectures\": [\"BertForSequenceClassification\"]."
        )
    return model_class


class KerasWeightsReader:
    """`CheckpointReader` interface over a Keras `model.weights.h5` and its `config.json`.

    Args:
        weights_path: `pathlib.Path` of `model.weights.h5`; `config.json`
            is read from the same directory.

    Raises:
        CheckpointError: the config names no tfmodels class, or the file does
            not hold that class's weights as built from the config.
    """

    def __init__(self, weights_path, layers=None):
        from tfmodels.converters.saver import hf_tensor_sources

        self.path = weights_path
        config = files.read_config(weights_path.parent)
        model_class = saved_class(config, weights_path)
        config = {k: v for k, v in config.items() if k != "dtype"}
        # Copies of the given layers (not the layers themselves, which belong to the model being loaded).
        config.update({k: type(v).from_config(v.get_config()) for k, v in (layers or {}).items()})
        self._model = model_class.from_config({**config, "dtype": keras.dtype_policies.get("float32")})
        self._model.build_from_dummy_inputs()
        try:
            self._model.load_weights(str(weights_path))
        except ValueError as e:
            raise CheckpointError(
                f"{weights_path} does not hold the weights of {model_class.__name__} as built from its "
                f"config.json: {e}"
            ) from None
        self._sources = hf_tensor_sources(self._model)
        self._shapes = {}
        self._last = (None, None)  # (key, array): row blocks of one tensor are read from one conversion

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._sources, self._model, self._last = {}, None, (None, None)

    def keys(self):
        return list(self._sources)

    def shape(self, key):
        if key not in self._shapes:
            self._shapes[key] = tuple(self._sources[key]().shape)
        return self._shapes[key]

    def get(self, key):
        if self._last[0] != key:
            self._last = (None, None)  # drop the previous tensor before converting the next
            self._last = (key, self._sources[key]())
        return self._last[1]

    def get_rows(self, key, start, stop):
        return self.get(key)[start:stop]
