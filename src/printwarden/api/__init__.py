"""The API's contract: request and response bodies, one module per resource, and its client.

Unknown fields are refused; money is integer cents. The App Server's routes answer with these
models, and the clients (provider, devices, Site Server) build and read bodies with them.
"""
