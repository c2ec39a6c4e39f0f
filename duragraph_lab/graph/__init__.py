"""The StateGraph builder API, reducers and compilation to a GraphSpec (see DESIGN.md §4)."""
