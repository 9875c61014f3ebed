"""Client-side device tools: the device API client, a device simulator, a terminal release
station and the Fast Release listener for network card readers."""
