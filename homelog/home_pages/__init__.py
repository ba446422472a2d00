"""Homes: create, edit and delete them, put sources in them, and share them with others."""
