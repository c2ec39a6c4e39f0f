"""Tornado handlers of the API, one module per resource; the route table is api/routes.py."""
