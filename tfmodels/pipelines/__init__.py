"""`pipeline(task, model=..., tokenizer=...)`: `transformers.pipeline` on tfmodels' Keras models.

    import tfmodels
    classifier = tfmodels.pipeline("sentiment-analysis", model="path/or/hub-id")
    classifier(["I love this.", "I hate this."], batch_size=2)
    # [{'label': 'POSITIVE', 'score': 0.99...}, {'label': 'NEGATIVE', 'score': 0.99...}]

Tasks, parameters and results follow `transformers` (v5.24 for the tasks it
still has; 4.46.3, its last release with TensorFlow models, for
`question-answering`, `text2text-generation`, `summarization` and
`translation`, which v5 removed). The tokenizer is the checkpoint's
`transformers` tokenizer (`AutoTokenizer`); the model is loaded with the
task's tfmodels `AutoModelFor*`; generation tasks decode with tfmodels'
`generate()`.

Without `model=`, the task's default Hub checkpoint is the one `transformers`
4.46.3 picked for TensorFlow (`DEFAULT_MODELS`, pinned to the same
revisions): `transformers` 5 dropped TensorFlow, and its newer defaults
(e.g. SmolLM3 for text generation) are architectures tfmodels does not
implement. Loading it needs the Hub (or its cache).
"""

import logging
import os

from tfmodels import auto
from tfmodels.pipelines.audio import AutomaticSpeechRecognitionPipeline
from tfmodels.pipelines.base import Pipeline
from tfmodels.pipelines.generation import (
    SummarizationPipeline,
    Text2TextGenerationPipeline,
    TextGenerationPipeline,
    TranslationPipeline,
)
from tfmodels.pipelines.question_answering import QuestionAnsweringPipeline
from tfmodels.pipelines.text import FeatureExtractionPipeline, FillMaskPipeline, TextClassificationPipeline
from tfmodels.pipelines.token_classification import TokenClassificationPipeline
from tfmodels.pipelines.vision import ImageClassificationPipeline, ZeroShotImageClassificationPipeline
from tfmodels.pipelines.zero_shot import ZeroShotClassificationPipeline

logger = logging.getLogger("tfmodels")

TASK_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}

# task -> (pipeline class, Auto class of its models, or a tuple of them tried in order)
SUPPORTED_TASKS = {
    "text-classification": (TextClassificationPipeline, auto.AutoModelForSequenceClassification),
    "token-classification": (TokenClassificationPipeline, auto.AutoModelForTokenClassification),
    "question-answering": (QuestionAnsweringPipeline, auto.AutoModelForQuestionAnswering),
    "fill-mask": (FillMaskPipeline, auto.AutoModelForMaskedLM),
    "feature-extraction": (FeatureExtractionPipeline, auto.AutoModel),
    "text-generation": (TextGenerationPipeline, auto.AutoModelForCausalLM),
    "text2text-generation": (Text2TextGenerationPipeline, auto.AutoModelForSeq2SeqLM),
    "summarization": (SummarizationPipeline, auto.AutoModelForSeq2SeqLM),
    "translation": (TranslationPipeline, auto.AutoModelForSeq2SeqLM),
    "zero-shot-classification": (ZeroShotClassificationPipeline, auto.AutoModelForSequenceClassification),
    "image-classification": (ImageClassificationPipeline, auto.AutoModelForImageClassification),
    "zero-shot-image-classification": (ZeroShotImageClassificationPipeline,
                                       auto.AutoModelForZeroShotImageClassification),
    "automatic-speech-recognition": (AutomaticSpeechRecognitionPipeline,
                                     (auto.AutoModelForCTC, auto.AutoModelForSpeechSeq2Seq)),
}

# `transformers` 4.46.3 `SUPPORTED_TASKS[task]["default"]["model"]["tf"]`: (Hub id, revision).
DEFAULT_MODELS = {
    "text-classification": ("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "714eb0f"),
    "token-classification": ("dbmdz/bert-large-cased-finetuned-conll03-english", "4c53496"),
    "question-answering": ("distilbert/distilbert-base-cased-distilled-squad", "564e9b5"),
    "fill-mask": ("distilbert/distilroberta-base", "fb53ab8"),
    "feature-extraction": ("distilbert/distilbert-base-cased", "6ea8117"),
    "text-generation": ("openai-community/gpt2", "607a30d"),
    "text2text-generation": ("google-t5/t5-base", "a9723ea"),
    "summarization": ("google-t5/t5-small", "df1b051"),
    "translation": ("google-t5/t5-base", "a9723ea"),
    "zero-shot-classification": ("FacebookAI/roberta-large-mnli", "2a8f12d"),
    "image-classification": ("google/vit-base-patch16-224", "3f49326"),
    "zero-shot-image-classification": ("openai/clip-vit-base-patch32", "3d74acf"),
}
# `automatic-speech-recognition` has none: 4.46.3 had no TensorFlow speech recognition pipeline (its default,
# facebook/wav2vec2-base-960h, was for PyTorch only).
# 4.46.3 had defaults for these translation pairs only.
DEFAULT_TRANSLATION_PAIRS = (("en", "fr"), ("en", "de"), ("en", "ro"))

# `preprocessor_config.json` "feature_extractor_type" -> the `tfmodels.processors` class of that name.
FEATURE_EXTRACTORS = ("Wav2Vec2FeatureExtractor", "Speech2TextFeatureExtractor")

# Keywords of `from_pretrained` accepted by `pipeline()` and passed to the model and tokenizer loaders.
_HUB_OPTIONS = ("revision", "cache_dir", "local_files_only", "token")


def supported_tasks():
    """The task names `pipeline()` accepts (aliases and `translation_xx_to_yy` forms included)."""
    return sorted([*SUPPORTED_TASKS, *TASK_ALIASES, "translation_xx_to_yy"])


def check_task(task):
    """`(normalized task, base task)`: resolves aliases and `translation_xx_to_yy`.

    Raises:
        KeyError: unknown task, listing the known ones (a `KeyError`, as `transformers` raises).
    """
    if not isinstance(task, str):
        raise TypeError(f"task must be a string. Received: {type(task).__name__}")
    task = TASK_ALIASES.get(task, task)
    if task in SUPPORTED_TASKS:
        return task, task
    parts = task.split("_")
    if task.startswith("translation") and len(parts) == 4 and parts[0] == "translation" and parts[2] == "to":
        return task, "translation"
    raise KeyError(f"Unknown task {task!r}. Available tasks: {supported_tasks()}.")


def _default_model(task, base):
    if base == "translation" and task != "translation":
        _, src, _, tgt = task.split("_")
        if (src, tgt) not in DEFAULT_TRANSLATION_PAIRS:
            raise ValueError(f"No default model for {task!r}: pass model=. Defaults exist for "
                             f"{['translation_%s_to_%s' % p for p in DEFAULT_TRANSLATION_PAIRS]}.")
    elif base == "translation":
        raise ValueError("The 'translation' task needs model= or a language pair in the task name, e.g. "
                         "'translation_en_to_fr'.")
    elif base not in DEFAULT_MODELS:
        raise ValueError(f"The {base!r} task has no default model (transformers 4.46 had no TensorFlow default for "
                         "it): pass model=, e.g. model='facebook/wav2vec2-base-960h' (a Wav2Vec2ForCTC checkpoint).")
    return DEFAULT_MODELS[base]


def _auto_names(auto_classes):
    return " / ".join(cls.__name__ for cls in auto_classes)


def _check_model(model, task, auto_classes):
    classes = [cls for auto_class in auto_classes for cls in auto.MODEL_REGISTRIES[auto_class.task].values()]
    if not isinstance(model, tuple(classes)):
        supported = sorted({cls.__name__ for cls in classes})
        raise ValueError(f"The model {type(model).__name__} is not a {task} model: {task} uses "
                         f"{_auto_names(auto_classes)} classes ({', '.join(supported)}). Load the checkpoint with "
                         f"tfmodels.{auto_classes[0].__name__}.from_pretrained(...) or pass its path as model=.")


def _load_model(path, task, auto_classes, model_kwargs):
    config = auto.AutoConfig.from_pretrained(path, **{k: v for k, v in model_kwargs.items() if k in _HUB_OPTIONS})
    model_type = config.model_type
    for auto_class in auto_classes:
        if model_type in auto.MODEL_REGISTRIES[auto_class.task]:
            return auto_class.from_pretrained(path, **model_kwargs)
    supported = sorted({t for auto_class in auto_classes for t in auto.MODEL_REGISTRIES[auto_class.task]})
    raise ValueError(f"The checkpoint {path!r} (model_type={model_type!r}) has no {task} model in tfmodels: "
                     f"{_auto_names(auto_classes)} support model types {supported}.")


def _load_preprocessor(kind, path, hub):
    """The image processor or feature extractor (`kind`) of a checkpoint directory or Hub id, from its
    `preprocessor_config.json` (feature extractors: the class its `feature_extractor_type` names).

    Raises:
        ValueError: a feature extractor type tfmodels does not implement.
    """
    from tfmodels import processors
    from tfmodels.processors.image import read_preprocessor_config

    if not os.path.isdir(path):
        import huggingface_hub

        path = huggingface_hub.hf_hub_download(path, processors.PREPROCESSOR_CONFIG_NAME, **hub)
    if kind == "image_processor":
        return processors.ImageProcessor.from_pretrained(path)
    name = read_preprocessor_config(path, "feature extractor", "Wav2Vec2FeatureExtractor").get(
        "feature_extractor_type", "Wav2Vec2FeatureExtractor")
    if name not in FEATURE_EXTRACTORS:
        raise ValueError(f"The feature extractor {name!r} of {path!r} is not implemented in tfmodels (it has "
                         f"{list(FEATURE_EXTRACTORS)}): pass feature_extractor= (an object called as the "
                         "transformers one is).")
    return getattr(processors, name).from_pretrained(path)


def pipeline(task, model=None, tokenizer=None, config=None, revision=None, use_fast=True, token=None,
             model_kwargs=None, batch_size=None, framework=None, device=None, dtype=None, image_processor=None,
             feature_extractor=None, **kwargs):
    """Builds the pipeline of `task`, as `transformers.pipeline` does.

    Args:
        task: one of `supported_tasks()`: `"text-classification"` (alias
            `"sentiment-analysis"`), `"token-classification"` (`"ner"`),
            `"question-answering"`, `"fill-mask"`, `"feature-extraction"`,
            `"text-generation"`, `"text2text-generation"`, `"summarization"`,
            `"translation"` / `"translation_xx_to_yy"`, `"zero-shot-classification"`,
            `"image-classification"`, `"zero-shot-image-classification"`,
            `"automatic-speech-recognition"`.
        model: a checkpoint directory or Hub id (loaded with the task's
            `AutoModelFor*`), a tfmodels model, or `None` for the task's
            default checkpoint (`DEFAULT_MODELS`).
        tokenizer: a `transformers` tokenizer, or a directory / Hub id for
            `transformers.AutoTokenizer`; default: the model's checkpoint
            (image classification takes none).
        image_processor: for the image tasks, a `tfmodels.processors.ImageProcessor`
            (or a `transformers` image processor), or a directory / Hub id to read
            its `preprocessor_config.json` from; default: the model's checkpoint.
        feature_extractor: for `automatic-speech-recognition`, a
            `tfmodels.processors.Wav2Vec2FeatureExtractor` / `Speech2TextFeatureExtractor`
            (or a `transformers` one), or a directory / Hub id to read its
            `preprocessor_config.json` from (the class its `feature_extractor_type` names);
            default: the model's checkpoint.
        config: a config (dict, config object or `config.json` path) for the model.
        revision: Hub option (the revision) for the model and the tokenizer.
        token: Hub option (the access token) for the model and the tokenizer.
        use_fast: load the fast (Rust) tokenizer; offsets need it.
        model_kwargs: more `from_pretrained` keywords for the model.
        batch_size: int, inputs per model call (default 1).
        framework: `None` or `"tf"` (anything else is refused: this is the TensorFlow implementation).
        device: where the model runs: `None` (TensorFlow's placement), `-1` / `"cpu"`, an int GPU
            index, or a TensorFlow device string (`"/GPU:1"`).
        dtype: the model's dtype (`from_pretrained(dtype=...)`: `"float32"`, `"bfloat16"`, `"auto"`, ...).
        **kwargs: the task's parameters (defaults for every call), e.g.
            `top_k`, `aggregation_strategy`, `max_new_tokens`, `progress_bar`.

    Returns:
        the task's `Pipeline`; call it on one input or a list of inputs.

    Raises:
        KeyError: unknown task (the message lists the known ones).
        ValueError: a model of another task, a checkpoint whose architecture
            has no model for the task, or no tokenizer can be found.
    """
    task, base = check_task(task)
    if framework not in (None, "tf"):
        raise ValueError(f"tfmodels pipelines run TensorFlow models: framework must be None or 'tf'. Received: "
                         f"framework={framework!r} (use transformers.pipeline for PyTorch).")
    pipeline_class, auto_classes = SUPPORTED_TASKS[base]
    auto_classes = auto_classes if isinstance(auto_classes, tuple) else (auto_classes,)
    model_kwargs = dict(model_kwargs or {})
    if dtype is not None:
        model_kwargs.setdefault("dtype", dtype)
    hub = {k: v for k, v in dict(revision=revision, token=token).items() if v is not None}
    if model is None:
        if tokenizer is not None:
            raise ValueError("A tokenizer was given without model=: pass the model its tokenizer belongs to.")
        model, default_revision = _default_model(task, base)
        hub.setdefault("revision", default_revision)
        logger.warning("No model was supplied, defaulted to %s (revision %s) for %s, as transformers 4.46 did. "
                       "Pass model= to choose one.", model, hub["revision"], task)
    needs = {"tokenizer=": pipeline_class.uses_tokenizer and tokenizer is None,
             "image_processor=": pipeline_class.uses_image_processor and image_processor is None,
             "feature_extractor=": pipeline_class.uses_feature_extractor and feature_extractor is None}
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        path = str(model)
        if config is not None:
            model_kwargs["config"] = config
        model = _load_model(path, base, auto_classes, {**hub, **model_kwargs})
        tokenizer = path if needs["tokenizer="] else tokenizer
        image_processor = path if needs["image_processor="] else image_processor
        feature_extractor = path if needs["feature_extractor="] else feature_extractor
    else:
        _check_model(model, base, auto_classes)
        missing = [name for name, needed in needs.items() if needed]
        if missing:
            raise ValueError(f"A model object was given without {' and '.join(missing)}: pass "
                             f"{'them' if len(missing) > 1 else 'it'} (an object, or the checkpoint directory / Hub "
                             "id to load from).")
    if isinstance(tokenizer, str) or hasattr(tokenizer, "__fspath__"):
        import transformers

        tokenizer = transformers.AutoTokenizer.from_pretrained(str(tokenizer), use_fast=use_fast, **hub)
    processors = (("image_processor", image_processor, pipeline_class.uses_image_processor),
                  ("feature_extractor", feature_extractor, pipeline_class.uses_feature_extractor))
    for name, processor, used in processors:
        if isinstance(processor, str) or hasattr(processor, "__fspath__"):
            processor = _load_preprocessor(name, str(processor), hub)
        if used:
            kwargs[name] = processor
    return pipeline_class(model, tokenizer, task=task, batch_size=batch_size, device=device, **kwargs)


__all__ = [
    "AutomaticSpeechRecognitionPipeline",
    "DEFAULT_MODELS",
    "FeatureExtractionPipeline",
    "FillMaskPipeline",
    "ImageClassificationPipeline",
    "Pipeline",
    "QuestionAnsweringPipeline",
    "SUPPORTED_TASKS",
    "SummarizationPipeline",
    "TASK_ALIASES",
    "Text2TextGenerationPipeline",
    "TextClassificationPipeline",
    "TextGenerationPipeline",
    "TokenClassificationPipeline",
    "TranslationPipeline",
    "ZeroShotClassificationPipeline",
    "ZeroShotImageClassificationPipeline",
    "check_task",
    "pipeline",
    "supported_tasks",
]
