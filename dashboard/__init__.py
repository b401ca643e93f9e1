"""Streamlit page helpers for app.py. Every number comes from the planner's Python API;
this package only lays it out. planner/ never imports it (or streamlit)."""
