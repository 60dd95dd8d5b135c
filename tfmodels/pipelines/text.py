"""Text classification, fill-mask and feature extraction pipelines (`transformers` output formats).

Reference: `transformers.pipelines.text_classification`, `fill_mask`,
`feature_extraction` (v5.24), whose parameters and results these follow.
"""

import logging

import numpy as np

from tfmodels.pipelines.base import Pipeline, chunks_from_encoding, sigmoid, softmax

logger = logging.getLogger("tfmodels")

_FUNCTIONS = ("default", "sigmoid", "softmax", "none")


def model_config(model):
    """The model's full `config.json` fields as a dict."""
    config = model.config
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def function_to_apply_name(function_to_apply):
    """`function_to_apply` lower-cased, checked against `"default"`, `"sigmoid"`, `"softmax"`, `"none"`.

    Raises:
        ValueError: for another value.
    """
    name = str(function_to_apply).lower()
    if name not in _FUNCTIONS:
        raise ValueError(f"function_to_apply must be one of {list(_FUNCTIONS)}. "
                         f"Received: function_to_apply={function_to_apply!r}")
    return name


def classification_scores(config, logits, function_to_apply=None):
    """`(scores, num_labels)` of one classification output, as `transformers`' classification pipelines.

    `function_to_apply` `None`/`"default"` picks: none for `problem_type="regression"`, sigmoid for
    `multi_label_classification` or one label, else softmax.
    """
    num_labels = len(config.get("id2label") or {}) or config.get("num_labels", 2)
    if function_to_apply in (None, "default"):
        problem = config.get("problem_type")
        if problem == "regression":
            function_to_apply = "none"
        elif problem == "multi_label_classification" or num_labels == 1:
            function_to_apply = "sigmoid"
        elif problem == "single_label_classification" or num_labels > 1:
            function_to_apply = "softmax"
        else:
            function_to_apply = config.get("function_to_apply", "none")
    logits = np.asarray(logits, dtype=np.float32)
    return {"sigmoid": sigmoid, "softmax": softmax, "none": lambda x: x}[function_to_apply](logits), num_labels


def label_of(config, index):
    """`config["id2label"][index]` (int or str keys), else `LABEL_{index}` as `transformers` names labels."""
    id2label = config.get("id2label") or {}
    index = int(index)
    return id2label.get(index, id2label.get(str(index), f"LABEL_{index}"))


class TextClassificationPipeline(Pipeline):
    """`text-classification` (alias `sentiment-analysis`) with a `*ForSequenceClassification` model.

    Call with a string, a `{"text": ..., "text_pair": ...}` dict (sentence
    pairs), or a list of those. Parameters (at construction or per call):
    `top_k` (int or `None` for every label; default: the best label only,
    returned in `transformers`' legacy format), `function_to_apply`
    (`"default"`: softmax for several labels, sigmoid for one label or
    `multi_label_classification`, none for `regression`; `"sigmoid"`,
    `"softmax"`, `"none"`), and tokenizer keywords (`truncation`, `max_length`, ...).

    Returns:
        for a string without `top_k`: `[{"label": str, "score": float}]`;
        with `top_k`: a list of such dicts sorted by score; for a list of
        inputs, one result per input.

    Raises:
        ValueError: unknown `function_to_apply`; a list given as one input
            (text pairs go in a dict).
    """

    default_task = "text-classification"

    def _sanitize_parameters(self, function_to_apply=None, top_k="", **tokenizer_kwargs):
        post = {}
        if isinstance(top_k, int) or top_k is None:
            post["top_k"], post["_legacy"] = top_k, False
        if function_to_apply is not None:
            post["function_to_apply"] = function_to_apply_name(function_to_apply)
        return tokenizer_kwargs, {}, post

    def __call__(self, inputs, **kwargs):
        result = super().__call__(inputs, **kwargs)
        if isinstance(inputs, str) and "top_k" not in kwargs:  # as transformers: only a call's top_k counts here
            return [result]
        return result

    def preprocess(self, item, **tokenizer_kwargs):
        if isinstance(item, dict):
            encoding = self.tokenize(**item, **tokenizer_kwargs)
        elif isinstance(item, list) and len(item) == 1 and isinstance(item[0], list) and len(item[0]) == 2:
            encoding = self.tokenize(text=item[0][0], text_pair=item[0][1], **tokenizer_kwargs)
        elif isinstance(item, list):
            raise ValueError('The pipeline received invalid inputs: to classify a text pair, send a dictionary '
                             '{"text": "My text", "text_pair": "My pair"}.')
        else:
            encoding = self.tokenize(item, **tokenizer_kwargs)
        return chunks_from_encoding(encoding)

    def postprocess(self, chunk_outputs, function_to_apply=None, top_k=1, _legacy=True):
        config = model_config(self.model)
        scores, _ = classification_scores(config, chunk_outputs[0]["logits"], function_to_apply)
        if top_k == 1 and _legacy:
            return {"label": label_of(config, scores.argmax()), "score": scores.max().item()}
        results = [{"label": label_of(config, i), "score": s.item()} for i, s in enumerate(scores)]
        if not _legacy:
            results.sort(key=lambda x: x["score"], reverse=True)
            if top_k is not None:
                results = results[:top_k]
        return results


class FillMaskPipeline(Pipeline):
    """`fill-mask` with a `*ForMaskedLM` model: the most likely tokens at each mask token.

    Parameters: `top_k` (default 5), `targets` (str or list: score only these
    tokens; a word outside the vocabulary is replaced by its first token, with
    a warning), `tokenizer_kwargs` (dict).

    Returns:
        per input with one mask: a list of `{"score", "token", "token_str",
        "sequence"}` dicts, best first; with several masks, one such list per
        mask. A list of inputs gives one result per input (a list of one
        input gives that input's result, as `transformers`).

    Raises:
        ValueError: the tokenizer has no mask token, an input has none, or no
            target remains.
    """

    default_task = "fill-mask"

    def _sanitize_parameters(self, top_k=None, targets=None, tokenizer_kwargs=None):
        if getattr(self.tokenizer, "mask_token_id", None) is None:
            raise ValueError("fill-mask needs a tokenizer with a mask token; this tokenizer defines none.")
        post = {}
        if targets is not None:
            post["target_ids"] = self._target_ids(targets)
        if top_k is not None:
            post["top_k"] = top_k
        return ({"tokenizer_kwargs": tokenizer_kwargs} if tokenizer_kwargs is not None else {}), {}, post

    def _target_ids(self, targets):
        if isinstance(targets, str):
            targets = [targets]
        vocab = self.tokenizer.get_vocab()
        ids = []
        for target in targets:
            id_ = vocab.get(target)
            if id_ is None:
                tokens = self.tokenizer(target, add_special_tokens=False, return_attention_mask=False,
                                        return_token_type_ids=False, max_length=1, truncation=True)["input_ids"]
                if not tokens:
                    logger.warning("The target token %r is not in the vocabulary and tokenizes to nothing; "
                                   "ignoring it.", target)
                    continue
                id_ = tokens[0]
                logger.warning("The target token %r is not in the vocabulary; using %r instead.", target,
                               self.tokenizer.convert_ids_to_tokens(id_))
            ids.append(id_)
        ids = list(set(ids))
        if not ids:
            raise ValueError("At least one target must be provided when targets= is passed.")
        return np.array(ids)

    def __call__(self, inputs, **kwargs):
        outputs = super().__call__(inputs, **kwargs)
        if isinstance(inputs, list) and len(inputs) == 1:
            return outputs[0]
        return outputs

    def preprocess(self, item, tokenizer_kwargs=None):
        encoding = self.tokenize(item, **(tokenizer_kwargs or {}))
        if not np.any(np.asarray(encoding["input_ids"]) == self.tokenizer.mask_token_id):
            raise ValueError(f"No mask_token ({self.tokenizer.mask_token}) found in the input: {item!r}")
        return chunks_from_encoding(encoding)

    def postprocess(self, chunk_outputs, top_k=5, target_ids=None):
        output = chunk_outputs[0]
        if target_ids is not None and target_ids.shape[0] < top_k:
            top_k = target_ids.shape[0]
        input_ids = output["input_ids"]
        masked = np.flatnonzero(input_ids == self.tokenizer.mask_token_id)
        probs = softmax(output["logits"][masked].astype(np.float32))  # (masks, vocab)
        if target_ids is not None:
            probs = probs[:, target_ids]
        single_mask = len(masked) == 1
        result = []
        for i, row in enumerate(probs):
            best = np.argsort(-row, kind="stable")[:top_k]
            propositions = []
            for p in best:
                token = int(target_ids[p]) if target_ids is not None else int(p)
                tokens = input_ids.copy()
                tokens[masked[i]] = token
                tokens = tokens[tokens != self.tokenizer.pad_token_id]
                propositions.append({
                    "score": row[p].item(), "token": token, "token_str": self.tokenizer.decode([token]),
                    "sequence": self.tokenizer.decode(tokens, skip_special_tokens=single_mask),
                })
            result.append(propositions)
        return result[0] if single_mask else result


class FeatureExtractionPipeline(Pipeline):
    """`feature-extraction` with a backbone (`AutoModel`): the model's first output per input.

    Parameters: `truncation`, `tokenize_kwargs` (dict), `return_tensors`
    (`True`: a `numpy` array instead of nested lists).

    Returns:
        per input, nested lists `[1][seq_len][hidden_size]` of floats (the
        `last_hidden_state`, batch axis kept, as `transformers`), or an array
        of that shape with `return_tensors=True`.

    Raises:
        ValueError: `truncation` given twice.
    """

    default_task = "feature-extraction"

    def _sanitize_parameters(self, truncation=None, tokenize_kwargs=None, return_tensors=None):
        tokenize_kwargs = dict(tokenize_kwargs or {})
        if truncation is not None:
            if "truncation" in tokenize_kwargs:
                raise ValueError("truncation is given twice (as a keyword and in tokenize_kwargs).")
            tokenize_kwargs["truncation"] = truncation
        return tokenize_kwargs, {}, ({"return_tensors": return_tensors} if return_tensors is not None else {})

    def preprocess(self, item, **tokenize_kwargs):
        return chunks_from_encoding(self.tokenize(item, **tokenize_kwargs))

    def _forward(self, batch):
        outputs = self.model(self.model_inputs(batch), training=False)
        return {"features": np.asarray(next(iter(outputs.values())))}  # the first output, as outputs[0]

    def postprocess(self, chunk_outputs, return_tensors=False):
        features = chunk_outputs[0]["features"][None]
        return features if return_tensors else features.tolist()
