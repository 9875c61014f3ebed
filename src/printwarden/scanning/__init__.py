"""Integrated Scanning: pages in from devices and scanners, a document out, delivered."""
