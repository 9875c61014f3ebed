"""The print service API: the Application Server's HTTP interface."""
