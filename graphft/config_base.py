"""Shared machinery of graphft's configuration dataclasses: dict/JSON/YAML round trips and key checks."""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from graphft.errors import ConfigError

__all__ = ["ConfigBase", "config_field", "read_yaml_mapping"]

C = TypeVar("C", bound="ConfigBase")


def config_field(default: Any, help: str) -> Any:
    """A dataclass field with a default and a help text (shown in the docs and by the CLI)."""
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def _unknown_key_message(cls: type, key: object, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1) if isinstance(key, str) else []
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{cls.__name__} has no field {key!r}.{hint} Known fields: {', '.join(sorted(known))}."


class ConfigBase:
    """Mixin for validated config dataclasses: ``to_dict``/``from_dict``, JSON and YAML files.

    Nested config dataclasses are converted recursively; unknown keys are a :class:`ConfigError` that names
    the key and the closest known one.
    """

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view of the config (nested configs become dicts)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Build the config from plain data; nested dicts become nested configs.

        Raises:
            ConfigError: on an unknown key or a bad value.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__} expects a mapping, got {type(data).__name__}: {data!r}.")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in fields:
                raise ConfigError(_unknown_key_message(cls, key, list(fields)))
            nested = _config_class(hints.get(key))
            if nested is not None and isinstance(value, dict):
                value = nested.from_dict(value)
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except TypeError as exc:  # pragma: no cover - guarded by the key check above
            raise ConfigError(f"cannot build {cls.__name__}: {exc}") from exc

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_yaml(cls: type[C], path: str | Path) -> C:
        """Load the config from a YAML file.

        Raises:
            ConfigError: when the file is missing, not YAML, or holds bad keys or values.
        """
        data = read_yaml_mapping(path)
        return cls.from_dict(data)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping a YAML config file holds (an empty file is an empty mapping).

    Raises:
        ConfigError: the file is missing, not YAML, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass the path of a YAML file.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of config keys, got {type(data).__name__}.")
    return data


def _config_class(hint: Any) -> type[ConfigBase] | None:
    """The ConfigBase subclass named by a field's type hint, if any (also inside ``X | None``)."""
    if isinstance(hint, type) and issubclass(hint, ConfigBase):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            found = _config_class(arg)
            if found is not None:
                return found
    return None
