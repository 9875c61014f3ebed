"""The tests' name for :mod:`printwarden.testing.provider`."""

from printwarden.testing.provider import (
    PrinterSpec,
    ProviderProcess,
    QueueSpec,
    colour_and_mono,
    file_printer_documents,
    spool_document,
    spool_documents,
)

__all__ = [
    "PrinterSpec",
    "ProviderProcess",
    "QueueSpec",
    "colour_and_mono",
    "file_printer_documents",
    "spool_document",
    "spool_documents",
]
