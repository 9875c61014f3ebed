"""One generated corpus per test session, shared by every analysis test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from printwarden.testing.corpus import colours
from printwarden.testing.corpus.generate import generate

_made: dict[tuple[str, int], Path] = {}


def corpus_dir(factory: pytest.TempPathFactory) -> Path:
    """The corpus directory of this session, generating it on first use."""
    key = ("formats", id(factory))
    if key not in _made:
        out = factory.mktemp("corpus")
        generate(out)
        _made[key] = out
    return _made[key]


def colour_corpus_dir(factory: pytest.TempPathFactory) -> Path:
    """The colour corpus (``colours.py``) of this session, generated on first use."""
    key = ("colours", id(factory))
    if key not in _made:
        out = factory.mktemp("colour-corpus")
        colours.generate(out)
        _made[key] = out
    return _made[key]
