"""Monte Carlo over the comparison, tornado and break-even frontier.
Evaluates decide's cost assembly on arrays.
"""
