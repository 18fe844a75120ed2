"""Cards and automatic recharge: saving cards, the auto-recharge settings and the engine that
charges them.
"""
