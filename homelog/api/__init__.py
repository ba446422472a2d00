"""The JSON API used by the mobile app."""
