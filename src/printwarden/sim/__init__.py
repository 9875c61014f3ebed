"""Simulated parts for the demo and the tests: real printers (ippeveprinter) on loopback."""
