"""Test doubles a user also runs: an in-memory FHIR R4 server (``fhir_server``), a payer
simulator (``payer``), the synthetic EHR data and its loader (``seed``), and the
sandbox that ``frontdesk serve`` runs without a configuration (``sandbox``).

May import ``gateway``, ``connectors`` and ``mappers``; none of them imports this package.
"""
