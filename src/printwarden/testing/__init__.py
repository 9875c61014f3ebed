"""Helpers shared by the tests and the benchmarks: real processes (App Server, Site Server,
Print Provider, cupsd), seeding through the API, driving the web pages, the analysis corpus.

Never imported by the product itself. Importing this package imports nothing else: each
helper lives in its own module (``printwarden.testing.site``, ...).
"""
