"""Payments, top-up cards and cash: the I/O side (gateways, exports)."""
