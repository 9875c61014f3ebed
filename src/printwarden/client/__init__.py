"""The User Client: a small program on users' computers that shows their balance, what
happened to their jobs and administrators' messages, and answers the server's print
questions (confirm the cost, choose an account).

It imports only the standard library and ``httpx``, never the server's stack, so that it
runs on Windows, macOS and Linux from the same package. Entry point: :func:`main.run`.
"""
