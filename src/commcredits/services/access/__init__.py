"""Who may do what: tenants, users and tokens, the principal behind a request, passwords, login
sessions and their throttle.
"""
