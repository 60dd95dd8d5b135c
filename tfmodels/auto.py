"""`AutoModel*`: pick the tfmodels class from `config.json`'s `model_type`.

Each Auto class has a registry `{model_type: class}`; architectures add
themselves with `register_model`. `from_pretrained` reads the config (local
directory or Hub id), picks the class and delegates to its
`from_pretrained`; `from_config` builds a randomly initialised model.
"""

from tfmodels.converters import files
from tfmodels.converters.errors import UnknownModelTypeError
from tfmodels.models import bert


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
        """Builds a randomly initialised model from a config dict or `config.json` path."""
        if not isinstance(config, dict):
            config = files.read_config(config)
        config = {**config, **overrides}
        return cls.model_class(config.get("model_type")).from_config(config)

    @classmethod
    def from_pretrained(cls, path_or_repo_id, **kwargs):
        """Loads a checkpoint into the class its `model_type` selects.

        Accepts the arguments of `tfmodels.converters.load_pretrained`.
        """
        hub_kwargs = {k: kwargs[k] for k in ("revision", "cache_dir", "local_files_only", "token") if k in kwargs}
        directory = files.resolve_checkpoint_dir(path_or_repo_id, **hub_kwargs)
        config = files.read_config(directory)
        model_class = cls.model_class(config.get("model_type"))
        return model_class.from_pretrained(directory, **{k: v for k, v in kwargs.items() if k not in hub_kwargs})


def _auto(name, task, registry, doc):
    return type(name, (_AutoModelBase,), {"_registry": registry, "task": task, "__doc__": doc})


MODEL_REGISTRIES = {
    "base": {"bert": bert.BertModel},
    "sequence-classification": {"bert": bert.BertForSequenceClassification},
    "token-classification": {"bert": bert.BertForTokenClassification},
    "question-answering": {"bert": bert.BertForQuestionAnswering},
    "masked-lm": {"bert": bert.BertForMaskedLM},
    "multiple-choice": {"bert": bert.BertForMultipleChoice},
    "causal-lm": {},
    "seq2seq-lm": {},
}

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

TASKS = {cls.task: cls for cls in (
    AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification,
    AutoModelForQuestionAnswering, AutoModelForMaskedLM, AutoModelForMultipleChoice,
    AutoModelForCausalLM, AutoModelForSeq2SeqLM,
)}


def register_model(task, model_type, model_class):
    """Adds `model_class` to the Auto registry of `task` (a key of `TASKS`)."""
    MODEL_REGISTRIES[task][model_type] = model_class

from tfmodels.models import roberta as _roberta  # noqa: E402

for _prefix, _model_type in (("Roberta", "roberta"), ("XLMRoberta", "xlm-roberta"), ("Camembert", "camembert")):
    for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                           ("token-classification", "ForTokenClassification"),
                           ("question-answering", "ForQuestionAnswering"),
                           ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
        register_model(_task, _model_type, getattr(_roberta, _prefix + _suffix))

from tfmodels.models import electra as _electra  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"), ("question-answering", "ForQuestionAnswering"),
                       ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "electra", getattr(_electra, "Electra" + _suffix))

from tfmodels.models import distilbert as _distilbert  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"), ("question-answering", "ForQuestionAnswering"),
                       ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "distilbert", getattr(_distilbert, "DistilBert" + _suffix))

from tfmodels.models import albert as _albert  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"), ("question-answering", "ForQuestionAnswering"),
                       ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "albert", getattr(_albert, "Albert" + _suffix))

from tfmodels.models import megatron_bert as _megatron_bert  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"), ("question-answering", "ForQuestionAnswering"),
                       ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "megatron-bert", getattr(_megatron_bert, "MegatronBert" + _suffix))

from tfmodels.models import dpr as _dpr  # noqa: E402

register_model("base", "dpr", _dpr.DPRQuestionEncoder)  # as transformers' AutoModel
