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
# Entry kinds by which a site may credit an account, each checked by HQ before it credits:
# a top-up card the site was shown (its code), a note or coin one of its kiosks took (the
# cash rules). usecases/vouchers.py and usecases/cash.py.
CREDITS: frozenset[str] = frozenset({"voucher", "cash"})
