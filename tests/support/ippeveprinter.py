"""The tests' name for :mod:`printwarden.sim.ippeveprinter` (real ippeveprinter printers)."""

from printwarden.sim.ippeveprinter import (
    DEFAULT_FORMATS,
    INSTALL_HINT,
    IPPEVEPRINTER,
    IppEvePrinter,
    IppEvePrinterError,
)

__all__ = [
    "DEFAULT_FORMATS",
    "INSTALL_HINT",
    "IPPEVEPRINTER",
    "IppEvePrinter",
    "IppEvePrinterError",
]
