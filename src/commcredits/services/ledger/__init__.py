"""The ledger: adding funds, the lots and the journal, balances, receipts, spend controls, and
the audit that checks every invariant.
"""
