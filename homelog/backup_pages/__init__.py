"""Whole-account backup download and restore, reached from the account page."""
