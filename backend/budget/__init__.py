"""The PRIM budget: what the key allows and what remains, shared by the fleet, and the refresh plan that follows.

`plan` is pure arithmetic (imports nothing of the backend but the catalogue); `ledger` keeps the budget, the key's
state and the viewing leases in the database, read and written by the workers (every PRIM request), the scheduler
(the plan) and the API (leases, the orchestrator's view).
"""
