"""Each test session's analysis corpus (``session.py``), made by
:mod:`printwarden.testing.corpus`."""
