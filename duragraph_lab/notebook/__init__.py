"""Notebook surface: magics, widgets, DataFrame views (DESIGN.md §6)."""
