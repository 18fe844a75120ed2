"""Real-time call control: the call desk, its batches, and the authorize, extend and end
decisions.
"""
