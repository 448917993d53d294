"""Use cases of the front desk. Services take their ports as typed arguments and
raise ``ServiceError``s; they never know about HTTP."""
