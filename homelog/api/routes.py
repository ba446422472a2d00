"""Routes: the JSON API (see DESIGN.md for the contract)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)
