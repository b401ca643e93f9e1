"""Foundations every stage uses: errors, Band, provenance, units, result views.
Imports nothing else from planner.
"""
