"""Reading a YAML settings file (standards, appointment standards): a built-in name or a
path, with one-line messages that name the file, the line and the fix.

Owns: ``read_yaml_mapping`` and ``load_yaml`` (YAML with dates kept as text, so a bad
date is the reader's one-line message, not the YAML library's exception). Uses:
:mod:`adequacy.errors`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml

from adequacy.errors import InputError
from adequacy.inputs.tables import read_text


class _Loader(yaml.SafeLoader):
    """The safe loader, with timestamps left as text (checked by whoever reads them)."""


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


def load_yaml(text: str | bytes, label: str) -> Any:
    """Parse YAML; a syntax error is one line naming ``label`` and the line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError(
            f"{label}: is not valid YAML{where}; check indentation and colons"
        ) from None


def read_yaml_mapping(
    source: str | os.PathLike, *, what: str, builtin_dir: Path, shape: str
) -> tuple[dict[str, Any], Path, str]:
    """The mapping in a YAML file, its path and the SHA-256 of its bytes.

    ``source`` is a path, or the name of a file ``<name>.yaml`` in ``builtin_dir``;
    ``what`` names the kind of file in messages ("standards"); ``shape`` says what
    the mapping holds ("name, version and rules"). A missing file, invalid YAML
    (with its line) or anything but a mapping is an :class:`InputError`.
    """
    text = os.fspath(source)
    path = Path(text)
    builtins = sorted(p.stem for p in builtin_dir.glob("*.yaml"))
    if not path.exists() and text in builtins:
        path = builtin_dir / f"{text}.yaml"
    if not path.exists():
        raise InputError(
            f"{path}: {what} file not found; give a YAML file or one of the "
            f"built-in sets: {', '.join(builtins)}"
        )
    raw = path.read_bytes()
    data = load_yaml(read_text(path, what), str(path))
    if not isinstance(data, dict):
        raise InputError(f"{path}: a {what} file is a mapping with {shape}")
    return data, path, hashlib.sha256(raw).hexdigest()
