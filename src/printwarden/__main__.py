"""``python -m printwarden`` runs the command line."""

from printwarden.cli import main

main()
