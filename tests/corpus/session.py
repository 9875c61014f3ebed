"""One generated corpus per test session, shared by every analysis test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.generate import generate

_made: dict[int, Path] = {}


def corpus_dir(factory: pytest.TempPathFactory) -> Path:
    """The corpus directory of this session, generating it on first use."""
    key = id(factory)
    if key not in _made:
        out = factory.mktemp("corpus")
        generate(out)
        _made[key] = out
    return _made[key]
