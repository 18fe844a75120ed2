"""Calling plans and post-paid billing: subscriptions with their minute pools, the move to
post-paid and its statements.
"""
