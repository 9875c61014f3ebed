"""Email to Print (issue 20): documents mailed to a print address become held print jobs.

``message`` finds the documents in a message (no I/O), ``sender_auth`` decides whether its
From: address is DMARC-aligned, ``policy`` what to do with it, ``pending`` keeps messages
waiting for a person's confirmation, ``replies`` and ``smarthost`` answer the sender,
``spool`` keeps accepted messages durably, ``processing`` takes a spooled message through
all of that, and ``listener`` is the SMTP server (``MailService``). The print side is behind
``target.PrintTarget``. ``sink`` is a Maildir-backed smarthost for the demo and the tests.
"""
