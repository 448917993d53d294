"""The conformance kit: is a FHIR server ready for frontdesk's front desk?

Checks (capability, search, directory, incremental, write, operations, smart, errors,
payloads, timing) run against one server through `connectors.FhirClient` and raw httpx
probes; the alike ones are rows of tables run by one engine each (`SearchCase`,
`WriteCase`, `ErrorCase`). Every exchange is recorded as evidence. Reports: console (rich),
JSON, JUnit XML, HTML. See README "Conformance kit".
"""

from conformance.context import KitConfig, SmartCredentials
from conformance.model import Check, CheckResult, Exchange, Mode, Severity, Status
from conformance.runner import Report, run_kit

__all__ = [
    "Check",
    "CheckResult",
    "Exchange",
    "KitConfig",
    "Mode",
    "Report",
    "Severity",
    "SmartCredentials",
    "Status",
    "run_kit",
]
