"""What the support conversation needs from the store: orders, returns, tickets, feedback,
response styles, escalation and identification. Plain library code, no Rasa."""
