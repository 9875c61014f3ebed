"""Pure rules of printwarden: money, ledger, costs and job decisions. No I/O here."""
