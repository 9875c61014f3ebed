"""Unicast DNS-SD for a domain delegated to printwarden (RFC 6763 over ordinary DNS).

The records come from :func:`printwarden.domain.dns_sd.zone_records`; here they are served:
``answers`` turns a query into an authoritative answer (no I/O), ``responder`` serves it
over UDP and TCP, ``zonefile`` writes the zone as a BIND master file and ``update`` keeps
the zone on an existing DNS server with RFC 2136 dynamic updates.
"""
