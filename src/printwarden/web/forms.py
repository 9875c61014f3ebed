"""Reading posted form fields: text of bounded length, checkboxes, numbers, money."""

from __future__ import annotations

from starlette.datastructures import FormData

from printwarden.domain.money import Currency, MoneyError
from printwarden.web.guards import WebError


def text(form: FormData, name: str, max_length: int = 256) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise WebError(400, "Bad request", f"{name} must be text")
    value = value.strip()
    if len(value) > max_length:
        raise WebError(422, "Invalid input", f"{name} is longer than {max_length} characters")
    return value


def checked(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1", "yes", "Y")


def number(form: FormData, name: str, low: int, high: int) -> int:
    raw = text(form, name, 20)
    try:
        value = int(raw)
    except ValueError:
        raise WebError(422, "Invalid input", f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise WebError(422, "Invalid input", f"{name} must be between {low} and {high}")
    return value


def money(form: FormData, name: str, currency: Currency) -> int:
    raw = text(form, name, 32)
    try:
        return currency.parse(raw)
    except MoneyError as exc:
        raise WebError(422, "Invalid amount", str(exc)) from None
