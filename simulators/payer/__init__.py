"""Payer simulator: answers X12 270s with 271s and FHIR CoverageEligibilityRequests.

Used by the sandbox (in process, through httpx.ASGITransport), by tests and by
docker-compose (``uvicorn --factory simulators.payer:create_payer_app``).
The member table holds every card the seed data issues plus fixed SIMPAYER
scenario members (`simulators.payer.scenarios`).
"""

from simulators.payer.app import create_payer_app, default_members, simulator_control
from simulators.payer.control import Fault, SimulatorControl
from simulators.payer.members import Member, MemberRow, MemberTable, PlanBenefits
from simulators.payer.scenarios import SCENARIO_MEMBERS, SIM_PAYER_ID, SIM_PAYER_NAME

__all__ = [
    "SCENARIO_MEMBERS",
    "SIM_PAYER_ID",
    "SIM_PAYER_IDS",
    "SIM_PAYER_NAME",
    "Fault",
    "Member",
    "MemberRow",
    "MemberTable",
    "PlanBenefits",
    "SimulatorControl",
    "create_payer_app",
    "default_members",
    "simulator_control",
]

# Every payer id the default app answers for (the sandbox routes these to it).
SIM_PAYER_IDS = frozenset({SIM_PAYER_ID, "71001", "71002", "71003", "71004", "71005"})
