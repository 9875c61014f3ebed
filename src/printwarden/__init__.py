"""printwarden: print management that keeps every site printing through WAN outages."""

__version__ = "0.1.0"
