"""The Site Server: keeps a site printing through an outage of the App Server."""
