"""Administration pages: manage users."""
