"""The generated test corpus for job analysis (see ``generate.py``)."""
