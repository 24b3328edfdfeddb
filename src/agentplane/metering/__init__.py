"""Metering: usage events, meters, prices, plans, budgets and invoices."""
