"""What a directory source raises, without its client library (ldap3 loads on first use)."""


class DirectoryUnavailable(Exception):
    """The directory could not be used: unreachable, timed out, or refused the service."""
