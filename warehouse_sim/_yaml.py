"""Reading the project's YAML files strictly: UTF-8, duplicate keys rejected, errors naming the file.

PyYAML's ``safe_load`` silently keeps the last of two equal keys (``base_rate: 5``
then ``base_rate: 50`` reads 50) and reports a non-UTF-8 byte without the file's name.
Scenario files, hyperparameter files and run configs are read with :func:`read_yaml`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (each key may appear once)", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str) -> Any:
    """Parse ``text`` like ``yaml.safe_load``, but reject duplicate mapping keys.

    Raises:
        yaml.YAMLError: for malformed YAML or a duplicate key.
    """
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: str | Path, *, what: str = "YAML file") -> Any:
    """Read and parse the YAML file ``path`` (see :func:`parse_yaml`).

    Args:
        path: The file.
        what: How errors name it, e.g. ``"scenario"``.

    Raises:
        FileNotFoundError: if it does not exist.
        ValueError: naming the file, if it is not UTF-8 text or not valid YAML (including
            a duplicate key).
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} {path} is not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{what} {path} is not valid YAML: {' '.join(str(exc).split())}") from None
