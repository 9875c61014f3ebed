"""User directory sources (LDAP)."""
