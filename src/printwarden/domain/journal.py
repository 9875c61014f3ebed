"""The offline journal as Site Server and App Server share it."""

from __future__ import annotations

# The most entries one upload may hold; a Site Server sends this many at a time. Reconciling
# is a bulk job: a larger upload is fewer round trips and commits, and moves each account's
# balance once for all of its entries (docs/benchmarks.md). At about 430 bytes an entry, an
# upload is some 2 MB and takes HQ about half a second.
UPLOAD_LIMIT = 5000
