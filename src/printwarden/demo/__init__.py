"""``printwarden demo``: the whole system on SQLite with sample data.

:mod:`.run` seeds the database and serves the App Server, :mod:`.sites` starts each site
(its link, Site Server and print side), :mod:`.providers` a site's printers and provider.
"""
