"""The offline journal as Site Server and App Server share it."""

from __future__ import annotations

# The most entries one upload may hold; a Site Server sends this many at a time. Reconciling
# is a bulk job: a larger upload is fewer round trips and commits, and moves each account's
# balance once for all of its entries (docs/benchmarks.md). At about 430 bytes an entry, an
# upload is some 2 MB and takes HQ about half a second.
UPLOAD_LIMIT = 5000

# Entry kinds that move money. A charge is always a debit of a non-negative amount
# (domain/charges.py), whatever the entry says.
CHARGES = frozenset({"printed", "usage"})
# Entry kinds by which a site may credit an account: none yet. An offline cash top-up (a
# later issue) is the first; it goes here, with its own rule in domain/charges.py (who may
# take cash at which site, up to how much) and its own check in usecases/journal_checks.py.
CREDITS: frozenset[str] = frozenset()
