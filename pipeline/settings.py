"""Typed config sections: keyword-only dataclasses, loaded from plain YAML data.

Each config section is a frozen, keyword-only dataclass whose field defaults are
the section's defaults (defined there and nowhere else). `load_section` builds one
from a mapping, checking as it goes, and every error is a `ConfigError` naming the
full dotted key:

- unknown keys, with the nearest known key suggested (`cc.lid.treshold`);
- types from the annotations: `int`, `float`, `bool`, `str`, `X | None`, `Literal`,
  `tuple[T, ...]` (a scalar where a list is expected is a one-element tuple, so
  `--set cc.lid.languages=en` means `[en]`), `dict[str, T]`, nested sections;
- ranges and choices declared on the field (`between`, `at_least`, `one_of`);
- relations checked by the class's own `__post_init__`: it raises ValueError
  with a message that starts with the field name, and the path is put in front,
  so a section type shared by `cc.lid` and `c4.lid` is told where it is.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal


class ConfigError(ValueError):
    """A bad config file, key or value; the message names the dotted key."""


# ---------------------------------------------------------------- declaring fields

def between(default, low, high, *, low_open: bool = False, high_open: bool = False):
    """A number field allowed in [low, high] (or open at either end)."""
    return dataclasses.field(default=default, metadata={"range": (low, high, low_open, high_open)})


def at_least(default, low, *, strict: bool = False):
    """A number field allowed from `low` up (above it, with strict)."""
    return dataclasses.field(default=default, metadata={"range": (low, None, strict, False)})


def one_of(default, *choices):
    return dataclasses.field(default=default, metadata={"choices": choices})


def section(factory):
    """A nested section field: its default is the section type's defaults."""
    return dataclasses.field(default_factory=factory)


def invalid(key: str, problem: str, value: Any = dataclasses.MISSING) -> ValueError:
    """The error a section's __post_init__ raises: `key problem, got value`."""
    got = "" if value is dataclasses.MISSING else f", got {value!r}"
    return ValueError(f"{key} {problem}{got}")


# ---------------------------------------------------------------- loading

def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    if tp in (int, float):
        return "a number" if tp is float else "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if origin in (tuple, list):
        return "a list"
    if origin is dict or tp is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a section with keys " + ", ".join(f.name for f in dataclasses.fields(tp))
    return getattr(tp, "__name__", str(tp))


@functools.cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def convert(tp, value, path: str):
    """`value` as type `tp`, or a ConfigError naming `path`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return convert(option, value, path)
            except ConfigError as e:
                errors.append(e)
        if len(options) == 1:
            raise errors[0]
        raise ConfigError(f"{path} must be " + " or ".join(_type_name(a) for a in args) + f", got {value!r}")
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{path} must be {_type_name(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path} is a section ({', '.join(f.name for f in dataclasses.fields(tp))}), "
                              f"not {value!r}")
        return load_section(tp, value, path)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin in (tuple, list):
        item = args[0]
        items = list(value) if isinstance(value, (list, tuple)) else [value]  # a scalar is a one-element list
        return tuple(convert(item, v, f"{path}[{i}]") for i, v in enumerate(items))
    elif origin is dict:
        if isinstance(value, Mapping):
            key_type, value_type = args
            return {convert(key_type, k, path): convert(value_type, v, _join(path, str(k))) for k, v in value.items()}
    else:
        raise TypeError(f"{path}: unsupported setting type {tp!r}")
    raise ConfigError(f"{path} must be {_type_name(tp)}, got {value!r}")


def _check_metadata(field: dataclasses.Field, value, path: str) -> None:
    if value is None:
        return
    if "choices" in field.metadata and value not in field.metadata["choices"]:
        raise ConfigError(f"{path} must be one of {', '.join(map(str, field.metadata['choices']))}, got {value!r}")
    if "range" in field.metadata:
        low, high, low_open, high_open = field.metadata["range"]
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if below or above:
            if high is None:
                raise ConfigError(f"{path} must be {'>' if low_open else '>='} {low}, got {value!r}")
            raise ConfigError(f"{path} must be in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}, "
                              f"got {value!r}")


def unknown_key(path: str, key: str, known) -> ConfigError:
    near = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else f"; known keys here: {', '.join(sorted(known))}"
    return ConfigError(f"unknown config key {_join(path, key)!r}{hint}")


def load_section(cls, data: Mapping[str, Any] | None, path: str = ""):
    """An instance of section type `cls` from a mapping (missing keys take their defaults)."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            raise unknown_key(path, key, fields)
    hints = _hints(cls)
    values = {}
    for name, value in data.items():
        where = _join(path, name)
        values[name] = convert(hints[name], value, where)
        _check_metadata(fields[name], values[name], where)
    try:
        return cls(**values)
    except ValueError as e:  # a relation between fields; the message starts with the field name
        raise ConfigError(f"{path}.{e}" if path else str(e)) from None


def as_plain(value):
    """A section (or any value in one) as plain data, tuples as lists: for run.json and digests."""
    if dataclasses.is_dataclass(value):
        return {f.name: as_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [as_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: as_plain(v) for k, v in value.items()}
    return value
