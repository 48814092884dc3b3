"""Ringing up a note, in parts: note editing, customer pricing, points, payment and close, receipts.

`services.sales.SaleService` is all of them, bound to one register.
"""
