"""Find ``async``, ``await`` and ``import`` used as code in a script's source.

They are the ways left to make promise jobs, which V8 runs after a call returns, outside its
time limit. Strings, comments and regular expressions may contain the words. The scan is a
light tokenizer, not a parser: it guards against mistakes, not against an administrator who
sets out to defeat it (whose script is still stopped by its next call's time limit).
"""

from __future__ import annotations

import re

FORBIDDEN = frozenset({"async", "await", "import"})
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^") | {""}  # a "/" here starts a regular expression
_REGEX_AFTER_WORDS = frozenset({"return", "typeof", "case", "do", "else", "in", "of", "void"})


def _skip_quoted(source: str, i: int, quote: str) -> int:
    """The index after the string or regular expression starting at ``i``."""
    in_class = False
    i += 1
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if quote == "/" and char in "[]":
            in_class = char == "["
        elif (char == quote and not in_class) or char == "\n":
            return i + 1
        i += 1
    return i


def _skip_template(source: str, i: int) -> tuple[int, bool]:
    """The index after a template chunk from ``i``; ``True`` when it stopped at ``${``."""
    while i < len(source):
        if source[i] == "\\":
            i += 2
        elif source[i] == "`":
            return i + 1, False
        elif source.startswith("${", i):
            return i + 2, True
        else:
            i += 1
    return i, False


def forbidden_word(source: str) -> tuple[str, int] | None:
    """The first forbidden word used as code and its line, or ``None``."""
    i, previous, braces = 0, "", [0]  # braces: nesting per template ``${`` level
    while i < len(source):
        char = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = len(source) if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = len(source) if end < 0 else end + 2
        elif char in "'\"" or (char == "/" and previous in _REGEX_AFTER):
            i, previous = _skip_quoted(source, i, char), "value"
        elif char == "`" or (char == "}" and len(braces) > 1 and braces[-1] == 0):
            if char == "}":
                braces.pop()
            i, opened = _skip_template(source, i + 1)
            if opened:
                braces.append(0)
            previous = "(" if opened else "value"
        elif word := _IDENTIFIER.match(source, i):
            name = word.group()
            if name in FORBIDDEN and previous != ".":
                return name, source.count("\n", 0, i) + 1
            previous = "" if name in _REGEX_AFTER_WORDS else "value"
            i = word.end()
        else:
            if char in "{}":
                braces[-1] += 1 if char == "{" else -1
            if not char.isspace():
                previous = "value" if char in ")]" or char.isdigit() else char
            i += 1
    return None
