"""Online payments' configuration (``[payments]`` and ``[payments.gateways.NAME]``): the limits
and fees, and the gateways with the files their secrets are in (secrets are never written in
the configuration or on a command line; each file is its owner's only, mode 0600)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from printwarden.domain.payments import Gateway, PaymentRules

GATEWAY_NAME = re.compile(r"[a-z0-9-]{1,32}")
MAX_SECRET_BYTES = 4096


class SecretFileError(ValueError):
    """A gateway's secret file that is missing, empty or readable by others."""


def _http_url(value: str, field: str) -> str:
    if value and not value.startswith(("https://", "http://")):
        raise ValueError(f"{field} is an http(s) URL")
    return value


class GatewayConfig(BaseModel):
    """One gateway: Stripe Checkout (``kind = "stripe"``: an API key and a webhook signing
    secret) or a Standard Webhooks pay page (``kind = "webhook"``: its URL and secret)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["stripe", "webhook"]
    label: str = Field(default="", max_length=64, description="What people see; default: name")
    secret_key_file: Path | None = Field(default=None, description="stripe: the sk_… API key")
    webhook_secret_file: Path | None = Field(
        default=None, description="stripe: the endpoint's whsec_…; webhook: whsec_<base64>"
    )
    pay_url: str = Field(default="", description="webhook: the pay page people are sent to")
    api_base: str = Field(default="", description="stripe: another API address (a simulator)")

    @field_validator("pay_url")
    @classmethod
    def _pay_url(cls, value: str) -> str:
        return _http_url(value, "pay_url")

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        return _http_url(value, "api_base")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == "stripe":
            if self.secret_key_file is None or self.webhook_secret_file is None:
                raise ValueError("a stripe gateway needs secret_key_file and webhook_secret_file")
            if self.pay_url:
                raise ValueError("a stripe gateway has no pay_url (Stripe makes the page)")
        else:
            if not self.pay_url or self.webhook_secret_file is None:
                raise ValueError("a webhook gateway needs pay_url and webhook_secret_file")
            if self.secret_key_file is not None or self.api_base:
                raise ValueError("a webhook gateway has no secret_key_file or api_base")
        return self


class PaymentsConfig(BaseModel):
    """Online payments (``[payments]``): amounts in minor units (cents), ``groups`` that may
    pay (empty: everyone), a fee on top (fixed plus basis points), and the gateways by name."""

    model_config = ConfigDict(extra="forbid")
    public_url: str = Field(default="", description="This server's web address, for return URLs")
    min_amount: int = Field(default=100, gt=0)
    max_amount: int = Field(default=50_000, gt=0)
    groups: list[str] = Field(default_factory=list)
    fee_fixed: int = Field(default=0, ge=0)
    fee_basis_points: int = Field(default=0, ge=0, le=10_000)
    gateways: dict[str, GatewayConfig] = Field(default_factory=dict)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return _http_url(value, "public_url")

    @field_validator("gateways")
    @classmethod
    def _names(cls, value: dict[str, GatewayConfig]) -> dict[str, GatewayConfig]:
        for name in value:
            if not GATEWAY_NAME.fullmatch(name):
                raise ValueError(f"gateway name {name!r} is not 1-32 of a-z, 0-9 and -")
        return value

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if self.min_amount > self.max_amount:
            raise ValueError("min_amount is more than max_amount")
        return self


def read_secret(path: Path) -> str:
    """The secret in ``path`` (surrounding whitespace dropped), from a file only its owner
    may read or write."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise SecretFileError(f"cannot open the secret file {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SecretFileError(f"the secret file {path} is not a regular file")
        if mode & 0o077:
            raise SecretFileError(
                f"the secret file {path} is readable or writable by group or others: "
                f"make it its owner's only (chmod 600 {path})"
            )
        raw = os.read(fd, MAX_SECRET_BYTES + 1)  # a regular file: all of it, up to this
    finally:
        os.close(fd)
    if len(raw) > MAX_SECRET_BYTES:
        raise SecretFileError(f"the secret file {path} is larger than {MAX_SECRET_BYTES} bytes")
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretFileError(f"the secret file {path} is not UTF-8 text") from None
    if not secret:
        raise SecretFileError(f"the secret file {path} is empty")
    return secret


def build_gateways(config: PaymentsConfig) -> dict[str, Gateway]:
    """The configured gateways by name, their secrets read from their files. Raises
    :class:`SecretFileError` (or ``ValueError`` for a malformed secret, naming its file)."""
    return {name: _gateway(name, gateway) for name, gateway in config.gateways.items()}


def _gateway(name: str, config: GatewayConfig) -> Gateway:
    assert config.webhook_secret_file is not None  # checked by GatewayConfig
    webhook_secret = read_secret(config.webhook_secret_file)
    if config.kind == "stripe":
        from printwarden.payments.stripe_gateway import StripeGateway  # imports the SDK

        assert config.secret_key_file is not None
        secret_key = read_secret(config.secret_key_file)
        return StripeGateway(name, secret_key, webhook_secret, config.api_base or None)
    from printwarden.payments.webhook_gateway import WebhookGateway

    try:
        return WebhookGateway(name, config.pay_url, webhook_secret)
    except ValueError as exc:
        raise ValueError(f"{config.webhook_secret_file}: {exc}") from None


def rules(config: PaymentsConfig) -> PaymentRules:
    """The limits, groups and fees of ``config``."""
    return PaymentRules(
        min_amount=config.min_amount,
        max_amount=config.max_amount,
        groups=frozenset(config.groups),
        fee_fixed=config.fee_fixed,
        fee_basis_points=config.fee_basis_points,
    )
