"""PyTorch / Hugging Face checkpoints <-> tfmodels.

One shared loader and saver; one declarative weight table per architecture,
registered by `model_type`. Legacy Hugging Face TF checkpoints (`tf_model.h5`)
are translated to PyTorch keys and layouts (`tf_h5.py`) and load through the
same tables. Importing this package imports the converter
module each family declares (`tfmodels.models.catalogue`), which registers
its tables.
"""

import importlib

from tfmodels.converters.errors import BufferMismatchError, CheckpointError, UnknownModelTypeError, WeightMismatchError
from tfmodels.converters.files import CheckpointReader, read_config, resolve_checkpoint_dir
from tfmodels.converters.loader import load_pretrained, load_weights_from_reader
from tfmodels.converters.registry import WEIGHT_TABLES, register_weight_table, weight_table_for
from tfmodels.converters.saver import hf_state_dict, save_keras_weights, save_pretrained
from tfmodels.models.catalogue import families as _families

__all__ = [
    "BufferMismatchError",
    "CheckpointError",
    "CheckpointReader",
    "UnknownModelTypeError",
    "WEIGHT_TABLES",
    "WeightMismatchError",
    "hf_state_dict",
    "load_pretrained",
    "load_weights_from_reader",
    "read_config",
    "register_weight_table",
    "resolve_checkpoint_dir",
    "save_keras_weights",
    "save_pretrained",
    "weight_table_for",
]

for _family in _families():
    importlib.import_module(_family.converter)
del _family
