"""The tests' name for :mod:`printwarden.testing.web`."""

from printwarden.testing.web import (
    add_person,
    browser,
    csrf_of,
    login,
    post_login,
)

__all__ = [
    "add_person",
    "browser",
    "csrf_of",
    "login",
    "post_login",
]
