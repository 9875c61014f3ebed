"""The Print Provider: an IPP print server and its printer back-ends."""
