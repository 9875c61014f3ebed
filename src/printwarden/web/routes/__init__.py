"""HTTP faces of the web interface: one module per page group."""
