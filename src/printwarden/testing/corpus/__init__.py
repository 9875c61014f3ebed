"""The generated corpus for job analysis: formats (``generate``) and colour cases (``colours``)."""
