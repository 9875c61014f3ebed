"""The tests' name for :mod:`printwarden.testing.appserver`."""

from printwarden.testing.appserver import (
    DEVICE_PRICES,
    AppServer,
)

__all__ = [
    "DEVICE_PRICES",
    "AppServer",
]
