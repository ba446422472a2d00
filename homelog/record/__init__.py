"""The Record app: an installable, offline-first screen for typing meter readings on a phone."""
