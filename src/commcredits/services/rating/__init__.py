"""Rating: rate decks (import, versions, activation), the live rating index, quotes, tenants'
prices and re-rating.
"""
