"""`AutoModel*`: pick the tfmodels class from `config.json`'s `model_type`.

Each Auto class has a registry `{model_type: class}`; architectures add
themselves with `register_model`. `from_pretrained` reads the config (local
directory or Hub id), picks the class and delegates to its
`from_pretrained`; `from_config` builds a randomly initialised model.
"""

from tfmodels.converters import files
from tfmodels.converters.errors import UnknownModelTypeError
from tfmodels.models import catalogue
from tfmodels.models.config import PretrainedConfig


class _AutoModelBase:
    """Shared logic of the Auto classes; `_registry` is set per subclass."""

    _registry = None
    task = None

    def __init__(self):
        raise TypeError(f"{type(self).__name__} is a factory: use .from_pretrained(...) or .from_config(...).")

    @classmethod
    def model_class(cls, model_type):
        """Returns the class registered for `model_type`.

        Raises:
            UnknownModelTypeError: naming the known types for this task.
        """
        if model_type is None:
            raise UnknownModelTypeError(
                "config.json has no 'model_type' field, so the architecture cannot be chosen. "
                "Add it (e.g. \"model_type\": \"bert\") or use the architecture's class directly."
            )
        try:
            return cls._registry[model_type]
        except KeyError:
            raise UnknownModelTypeError(
                f"{cls.__name__} does not support model_type={model_type!r}. "
                f"Supported model types: {sorted(cls._registry)}."
            ) from None

    @classmethod
    def from_config(cls, config, **overrides):
        """Builds a randomly initialised model from a config dict, `config.json` path or config object.

        Args:
            config: see `tfmodels.converters.files.config_as_dict` (a
                `transformers` config object works).
            **overrides: config fields that replace those in `config`.
        """
        config = {**files.config_as_dict(config), **overrides}
        return cls.model_class(config.get("model_type")).from_config(config)

    @classmethod
    def from_pretrained(cls, path_or_repo_id, **kwargs):
        """Loads a checkpoint into the class its `model_type` selects (from `config=` when given).

        Accepts the arguments of `tfmodels.converters.load_pretrained`.
        """
        from tfmodels.converters import options

        options.refuse_unsupported(kwargs)
        directory = files.resolve_checkpoint_dir(path_or_repo_id, prefer_tf=bool(kwargs.get("from_tf")),
                                                 **options.hub_options(kwargs))
        config = options.config_dict(kwargs.get("config"), directory)
        model_class = cls.model_class(config.get("model_type"))
        return model_class.from_pretrained(directory, **kwargs)


class AutoConfig:
    """Reads a checkpoint's `config.json` as a `PretrainedConfig` (attribute access, `to_dict()`).

    `AutoConfig.from_pretrained(path_or_repo_id, **overrides)`; the result
    goes to `AutoModel*.from_config(config)` or `from_pretrained(..., config=config)`.
    """

    def __init__(self):
        raise TypeError("AutoConfig is a factory: use AutoConfig.from_pretrained(...) or AutoConfig.for_model(...).")

    @staticmethod
    def from_pretrained(path_or_repo_id, **kwargs):
        """See `tfmodels.models.config.PretrainedConfig.from_pretrained`."""
        return PretrainedConfig.from_pretrained(path_or_repo_id, **kwargs)

    @staticmethod
    def for_model(model_type, **fields):
        """A config for `model_type` with the given fields (no defaults are filled in: the model's
        constructor has them).

        Raises:
            UnknownModelTypeError: if no family declares `model_type`.
        """
        AutoModel.model_class(model_type)
        return PretrainedConfig({"model_type": model_type, **fields})


def _auto(name, task, registry, doc):
    return type(name, (_AutoModelBase,), {"_registry": registry, "task": task, "__doc__": doc})


# Task -> {model_type: class}, filled from the families' declarations (`tfmodels.models.catalogue`).
MODEL_REGISTRIES = {task: {} for task in catalogue.TASK_SUFFIXES}
for _family in catalogue.families():
    for _task, _model_type, _class in _family.auto_entries():
        MODEL_REGISTRIES[_task][_model_type] = _class

AutoModel = _auto("AutoModel", "base", MODEL_REGISTRIES["base"], "The backbone of any registered architecture.")
AutoModelForSequenceClassification = _auto(
    "AutoModelForSequenceClassification", "sequence-classification",
    MODEL_REGISTRIES["sequence-classification"], "Sequence classification heads (`logits (batch, num_labels)`).",
)
AutoModelForTokenClassification = _auto(
    "AutoModelForTokenClassification", "token-classification",
    MODEL_REGISTRIES["token-classification"], "Token classification heads (`logits (batch, seq_len, num_labels)`).",
)
AutoModelForQuestionAnswering = _auto(
    "AutoModelForQuestionAnswering", "question-answering",
    MODEL_REGISTRIES["question-answering"], "Extractive QA heads (`start_logits`, `end_logits`).",
)
AutoModelForMaskedLM = _auto(
    "AutoModelForMaskedLM", "masked-lm", MODEL_REGISTRIES["masked-lm"], "Masked-LM heads (`logits (batch, seq_len, vocab)`).",
)
AutoModelForMultipleChoice = _auto(
    "AutoModelForMultipleChoice", "multiple-choice",
    MODEL_REGISTRIES["multiple-choice"], "Multiple-choice heads (`logits (batch, num_choices)`).",
)
AutoModelForCausalLM = _auto(
    "AutoModelForCausalLM", "causal-lm", MODEL_REGISTRIES["causal-lm"], "Causal LM heads (`logits`, `past_key_values`).",
)
AutoModelForSeq2SeqLM = _auto(
    "AutoModelForSeq2SeqLM", "seq2seq-lm", MODEL_REGISTRIES["seq2seq-lm"], "Encoder-decoder LM heads.",
)
AutoModelForImageClassification = _auto(
    "AutoModelForImageClassification", "image-classification", MODEL_REGISTRIES["image-classification"],
    "Image classification heads (`pixel_values` in, `logits (batch, num_labels)` out).",
)
AutoModelForCTC = _auto(
    "AutoModelForCTC", "ctc", MODEL_REGISTRIES["ctc"],
    "Speech recognition heads trained with CTC (`input_values` in, `logits (batch, frames, vocab_size)` out).",
)
AutoModelForAudioClassification = _auto(
    "AutoModelForAudioClassification", "audio-classification", MODEL_REGISTRIES["audio-classification"],
    "Utterance classification heads (`input_values` in, `logits (batch, num_labels)` out).",
)
AutoModelForSpeechSeq2Seq = _auto(
    "AutoModelForSpeechSeq2Seq", "speech-seq2seq", MODEL_REGISTRIES["speech-seq2seq"],
    "Speech encoder-decoders (`input_features (batch, frames, features)` in, `logits` and `generate()` out).",
)
AutoModelForTableQuestionAnswering = _auto(
    "AutoModelForTableQuestionAnswering", "table-question-answering", MODEL_REGISTRIES["table-question-answering"],
    "Table question-answering heads (TAPAS: cell-selection `logits (batch, seq_len)`, `logits_aggregation`).",
)
AutoModelForZeroShotImageClassification = _auto(
    "AutoModelForZeroShotImageClassification", "zero-shot-image-classification",
    MODEL_REGISTRIES["zero-shot-image-classification"],
    "Dual encoders scoring images against texts (CLIP: `logits_per_image (batch, num_texts)`).",
)

TASKS = {cls.task: cls for cls in (
    AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification,
    AutoModelForQuestionAnswering, AutoModelForMaskedLM, AutoModelForMultipleChoice,
    AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForImageClassification,
    AutoModelForCTC, AutoModelForAudioClassification,
    AutoModelForTableQuestionAnswering, AutoModelForSpeechSeq2Seq, AutoModelForZeroShotImageClassification,
)}


def register_model(task, model_type, model_class):
    """Adds a class of your own to the Auto registry of `task` (a key of `TASKS`).

    tfmodels' families register through their `FAMILY` declaration (see
    `tfmodels.models.catalogue`); this is for user-defined architectures.

    Raises:
        ValueError: for an unknown task.
    """
    if task not in MODEL_REGISTRIES:
        raise ValueError(f"Unknown task {task!r}. Known tasks: {sorted(MODEL_REGISTRIES)}.")
    MODEL_REGISTRIES[task][model_type] = model_class
