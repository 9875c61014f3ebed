"""An App Server that never exports top-up cards nor renders a Web Print document does not
carry their libraries (tens of megabytes per process, times every process of a cluster):
they load on first use. Nor does it carry what only some servers or some requests use: the
PostgreSQL driver, the commands' terminal output, HTTP clients, DNS-SD and web pages."""

from __future__ import annotations

import json
import subprocess
import sys

# Loaded on first use only: the PDF writer of top-up cards and of text documents with its
# fonts and shaping, alembic (the schema revision a site's page names), smbprotocol (scans
# delivered to an SMB share), the scan pages' readers and writers (Pillow, pikepdf,
# img2pdf), the LDAP client, and Email to Print's SMTP server and sender checks; psycopg
# (the engine of a PostgreSQL database loads it, a SQLite one never), rich (the commands'
# output), httpx (a provider's doorbell, an eSCL scanner; it brings rich too), the DNS-SD
# zone's dnslib and dnspython, Web Print's OLE2 reader and XML-RPC (xmlrpc.server brings
# pydoc), the QR codes of top-up cards and of the setup page (segno), and Jinja2 (the first
# web page).
ON_FIRST_USE = ("fpdf", "fontTools", "uharfbuzz", "lxml", "alembic", "mako", "smbclient",
                "smbprotocol", "spnego", "PIL", "pikepdf", "img2pdf", "ldap3", "aiosmtpd",
                "dkim", "spf", "publicsuffixlist", "psycopg", "rich", "httpx", "dns", "dnslib",
                "olefile", "xmlrpc", "pydoc", "segno", "jinja2")  # fmt: skip


def test_the_app_server_loads_document_and_migration_libraries_on_first_use() -> None:
    program = (
        "import json, sys\n"
        "import printwarden.cli\n"  # how an App Server starts: printwarden serve
        "import printwarden.service.app\n"
        f"print(json.dumps(sorted(m for m in {ON_FIRST_USE!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=120, check=True)  # fmt: skip
    assert json.loads(result.stdout) == []
