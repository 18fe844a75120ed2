"""Notifications: what the API shows, webhooks, spend alerts and the funds-expiring reminder.
"""
