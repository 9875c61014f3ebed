"""``python -m printwarden`` runs the command line."""

import sys

from printwarden import heap

heap.starting(sys.argv)  # before a server's imports: see printwarden.heap

from printwarden.cli import main  # noqa: E402

main()
