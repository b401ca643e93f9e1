"""Scenarios and the decision: cost model, the three-way comparison, the recommendation.
Imports estimate and below.
"""
