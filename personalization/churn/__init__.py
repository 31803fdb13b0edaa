"""Churn risk: will a customer buy again in the next 90 days? Learnt from the shop's orders,
validated on a later period than it was fitted on, stored per customer and explained."""
