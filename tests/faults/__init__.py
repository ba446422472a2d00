"""Fault tests: the database stops, a worker dies, clients retry concurrently."""
