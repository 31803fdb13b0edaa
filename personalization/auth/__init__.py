"""Who a conversation is with, and how that was proven.

Nothing here knows Rasa: the channels and actions call it. A conversation belongs to a
customer only through a proof: a signed, expiring token from the shop's backend, Slack's
verified email, or the in-chat sign-in. A sender id or metadata a client wrote proves nothing.
"""
