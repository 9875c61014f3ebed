"""Static web pages served by the App Server (no build step): the release station page."""
