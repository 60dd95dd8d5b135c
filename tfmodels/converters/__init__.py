"""PyTorch / Hugging Face checkpoints <-> tfmodels.

One shared loader and saver; one declarative weight table per architecture,
registered by `model_type`. Importing this package registers every table.
"""

from tfmodels.converters import bert  # noqa: F401  (registers the table)
from tfmodels.converters import deberta  # noqa: F401
from tfmodels.converters import roformer  # noqa: F401
from tfmodels.converters import mpnet  # noqa: F401
from tfmodels.converters import convbert  # noqa: F401

from tfmodels.converters import gpt2  # noqa: F401
from tfmodels.converters import openai  # noqa: F401
from tfmodels.converters import ctrl  # noqa: F401
from tfmodels.converters import gpt_neo  # noqa: F401
from tfmodels.converters.errors import BufferMismatchError, CheckpointError, UnknownModelTypeError, WeightMismatchError
from tfmodels.converters.files import CheckpointReader, read_config, resolve_checkpoint_dir
from tfmodels.converters.loader import load_pretrained, load_weights_from_reader
from tfmodels.converters.registry import WEIGHT_TABLES, register_weight_table, weight_table_for
from tfmodels.converters.saver import hf_state_dict, save_keras_weights, save_pretrained

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
from tfmodels.converters import layoutlm  # noqa: E402,F401
from tfmodels.converters import xlm  # noqa: E402,F401  (xlm + flaubert)
from tfmodels.converters import mobilebert  # noqa: E402,F401
from tfmodels.converters import squeezebert  # noqa: E402,F401

from tfmodels.converters import funnel  # noqa: E402,F401  (registers the table)
from tfmodels.converters import xlnet  # noqa: E402,F401  (registers the table)
from tfmodels.converters import transfo_xl  # noqa: E402,F401  (registers the table)

from tfmodels.converters import roberta  # noqa: E402,F401
from tfmodels.converters import electra  # noqa: E402,F401
from tfmodels.converters import distilbert  # noqa: E402,F401
from tfmodels.converters import albert  # noqa: E402,F401
from tfmodels.converters import megatron_bert  # noqa: E402,F401
from tfmodels.converters import dpr  # noqa: E402,F401
from tfmodels.converters import t5  # noqa: E402,F401  (t5 + mt5)
from tfmodels.converters import bart  # noqa: E402,F401  (the BART family, see its docstring)
