"""`PretrainedConfig`: a model's Hugging Face config fields as an object.

    model.config.hidden_size        # attribute access, as in transformers
    model.config["hidden_size"]     # still a dict
    model.config.to_dict()          # every field, as written to config.json
    model.config.save_pretrained("dir")
    tfmodels.AutoConfig.from_pretrained("dir or hub id")

A model's `config` holds the fields its own constructor consumed (a head
model: its head fields); attribute access and `to_dict()` also see the rest of
the model's config (the backbone's fields, the fields kept unchanged in
`extra_config`), so `model.config.num_attention_heads` works on a head model
as it does in `transformers`. A config read with `AutoConfig` stands alone.
"""

import json
import weakref


class PretrainedConfig(dict):
    """Hugging Face config fields, readable as keys or attributes.

    Args:
        fields: the fields (a dict).
        owner: the model whose full config (`hf_config()`) attribute access
            and `to_dict()` fall back to; `None` for a standalone config.

    Raises:
        AttributeError: for a field the config does not have (naming it).
    """

    def __init__(self, fields=(), owner=None):
        super().__init__(fields)
        object.__setattr__(self, "_owner", None if owner is None else weakref.ref(owner))

    def _full(self):
        owner = self._owner() if self._owner is not None else None
        return {**owner.hf_config(), **self} if owner is not None else dict(self)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        full = self._full()
        if name in full:
            return full[name]
        raise AttributeError(
            f"The config has no field {name!r}. Fields: {sorted(full)}."
        )

    def __setattr__(self, name, value):
        self[name] = value

    @property
    def model_type(self):
        return self._full().get("model_type")

    @property
    def num_labels(self):
        """`len(id2label)` when the config has labels (as in transformers), else the `num_labels` field."""
        full = self._full()
        if full.get("id2label"):
            return len(full["id2label"])
        if "num_labels" in full:
            return full["num_labels"]
        raise AttributeError("The config has no labels (no id2label or num_labels field).")

    def to_dict(self):
        """Every field (with `model_type` and `architectures` for a model's config), as a plain dict."""
        return dict(self._full())

    def to_json_string(self):
        """`to_dict()` as the JSON text of a `config.json` (sorted keys, indented)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, directory):
        """Writes `directory/config.json` (through a temporary file, renamed at the end).

        Returns:
            `pathlib.Path` of the directory.
        """
        from tfmodels.converters.saver import write_config

        return write_config(self.to_dict(), directory)

    @classmethod
    def from_dict(cls, fields):
        """A standalone config from a dict of fields."""
        return cls(dict(fields))

    @classmethod
    def from_pretrained(cls, path_or_repo_id, **kwargs):
        """Reads `config.json` from a local directory (or file), or a Hub id.

        Accepts the Hub arguments of `from_pretrained` (`revision`,
        `cache_dir`, `local_files_only`, `token`); other keyword arguments
        override fields.

        Raises:
            FileNotFoundError: if there is no config.json.
            ValueError: if it is not valid JSON.
        """
        from tfmodels.converters import files, options

        hub = options.hub_options(kwargs)  # pops them: what is left overrides fields
        overrides = kwargs
        path = str(path_or_repo_id)
        if path.endswith(".json"):
            fields = files.read_config(path)
        else:
            fields = files.read_config(files.resolve_checkpoint_dir(path_or_repo_id, **hub))
        return cls({**fields, **overrides})

    def __reduce__(self):
        return type(self), (self.to_dict(),)

    def __repr__(self):
        return f"{type(self).__name__} {self.to_json_string()}"
