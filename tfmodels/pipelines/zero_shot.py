"""Zero-shot text classification: each candidate label as an NLI hypothesis (`transformers` output format).

Reference: `transformers.pipelines.zero_shot_classification` (v5.24), whose
parameters, tokenization (`truncation="only_first"`, so the hypothesis is
never cut) and scores this follows. Method: Yin et al., "Benchmarking
Zero-shot Text Classification" (2019), with a model fine-tuned on NLI.
"""

import logging

import numpy as np

from tfmodels.pipelines.base import Pipeline, chunks_from_encoding
from tfmodels.pipelines.text import model_config

logger = logging.getLogger("tfmodels")

DEFAULT_HYPOTHESIS_TEMPLATE = "This example is {}."


def parse_labels(labels):
    """A list of labels, or a comma-separated string of them, as a list (empty entries dropped)."""
    if isinstance(labels, str):
        return [label.strip() for label in labels.split(",") if label.strip()]
    return list(labels or [])


def check_hypothesis_template(template, labels):
    """Raises `ValueError` when `template` has no `{}` slot for the labels."""
    if template.format(labels[0]) == template:
        raise ValueError(f"The hypothesis_template {template!r} has no place for the label: it must contain {{}} "
                         "(e.g. 'This example is {}.').")


class ZeroShotClassificationPipeline(Pipeline):
    """`zero-shot-classification` with a `*ForSequenceClassification` model trained on NLI.

    Each `(sequence, hypothesis_template.format(label))` pair is one chunk
    (they batch across labels and sequences with `batch_size`); the
    `entailment` logit scores the label.

    Call with a string or a list of strings, and `candidate_labels` (a list,
    or a comma-separated string; also the second positional argument).
    Parameters: `hypothesis_template` (default `"This example is {}."`),
    `multi_label` (default `False`: a softmax of the entailment logits over
    the labels; `True`, or a single label: for each label, a softmax of
    entailment against contradiction).

    Returns:
        per sequence `{"sequence": str, "labels": [str, ...], "scores": [float, ...]}`,
        labels sorted by score; a list of those for a list of sequences.

    Raises:
        ValueError: no candidate labels or no sequence, a template without `{}`,
            or extra positional arguments.
    """

    default_task = "zero-shot-classification"

    def __init__(self, model, tokenizer, **kwargs):
        super().__init__(model, tokenizer, **kwargs)
        if self.entailment_id == -1:
            logger.warning("Failed to determine the 'entailment' label id from the label2id mapping in the model "
                           "config; using the last label (-1). Give the config a descriptive label2id.")

    @property
    def entailment_id(self):
        """Index of the first label whose name starts with "entail" (any case), else -1, as `transformers`."""
        config = model_config(self.model)
        label2id = config.get("label2id") or {v: int(k) for k, v in (config.get("id2label") or {}).items()}
        for label, index in label2id.items():
            if label.lower().startswith("entail"):
                return int(index)
        return -1

    def _sanitize_parameters(self, candidate_labels=None, hypothesis_template=None, multi_label=None,
                             **unexpected):
        if unexpected:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(unexpected)}.")
        pre, post = {}, {}
        if candidate_labels is not None:
            pre["candidate_labels"] = parse_labels(candidate_labels)
        if hypothesis_template is not None:
            pre["hypothesis_template"] = hypothesis_template
        if multi_label is not None:
            post["multi_label"] = bool(multi_label)
        return pre, {}, post

    def __call__(self, sequences, *args, **kwargs):
        if len(args) == 1 and "candidate_labels" not in kwargs:
            kwargs["candidate_labels"] = args[0]
        elif args:
            raise ValueError(f"Unable to understand extra arguments {args}: pass candidate_labels= (and the other "
                             "parameters) by keyword.")
        if isinstance(sequences, (list, tuple)) and not sequences:
            raise ValueError("You must include at least one label and at least one sequence.")
        return super().__call__(list(sequences) if isinstance(sequences, tuple) else sequences, **kwargs)

    def preprocess(self, sequence, candidate_labels=None, hypothesis_template=DEFAULT_HYPOTHESIS_TEMPLATE):
        labels = candidate_labels or []
        if not labels or not sequence:
            raise ValueError("You must include at least one label and at least one sequence.")
        check_hypothesis_template(hypothesis_template, labels)
        chunks = []
        for i, label in enumerate(labels):
            pair = [[sequence, hypothesis_template.format(label)]]
            try:
                encoding = self.tokenize(pair, padding=True, truncation="only_first")
            except Exception as e:  # the reference's retry: a pair already shorter than the limit
                if "too short" not in str(e):
                    raise
                encoding = self.tokenize(pair, padding=True, truncation=False)
            chunks += chunks_from_encoding(encoding, candidate_label=label, sequence=sequence,
                                           is_last=i == len(labels) - 1)
        return chunks

    def postprocess(self, chunk_outputs, multi_label=False):
        labels = [chunk["candidate_label"] for chunk in chunk_outputs]
        logits = np.stack([chunk["logits"] for chunk in chunk_outputs]).astype(np.float32)  # (labels, classes)
        entailment = self.entailment_id
        if multi_label or len(labels) == 1:
            contradiction = -1 if entailment == 0 else 0
            pair = logits[:, [contradiction, entailment]]
            scores = (np.exp(pair) / np.exp(pair).sum(-1, keepdims=True))[:, 1]
        else:
            entail = logits[:, entailment]
            scores = np.exp(entail) / np.exp(entail).sum(-1, keepdims=True)
        order = list(reversed(scores.argsort()))
        return {"sequence": chunk_outputs[0]["sequence"], "labels": [labels[i] for i in order],
                "scores": scores[order].tolist()}
