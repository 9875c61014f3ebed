"""Use cases: what the App Server does, with no HTTP in it.

The API routes, the web pages and the CLI parse their input, call a use case and present its
result; a use case raises the typed errors of :mod:`printwarden.usecases.errors`, which the
API turns into problem documents (``service/problems.py``) and the pages and the CLI into
their own messages.
"""
