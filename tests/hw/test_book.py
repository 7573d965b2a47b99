"""Book builder RTL, integration tier: cocotb + Verilator, scoreboard against the golden model.

Two builds, each made once per run (and cached until the Verilog changes): the default capacity,
which the generated markets fit in, and a small one that the capacity campaign overflows.
"""

import json

import pytest

from hw.rtl.book import BookBuilder
from hw.tb import sim

BUILDS = {"book": {}, "book_small": {"slots": 4, "order_sets": 4, "levels": 16,
                                     "locate_bits": 4}}
TESTCASES = [
    ("book", "generated_market_back_to_back"),
    ("book", "generated_market_with_idle_gaps_and_bursts"),
    ("book", "hazards_on_back_to_back_events"),
    ("book_small", "hazards_on_back_to_back_events"),
    ("book_small", "beyond_capacity_is_unreliable_never_wrong"),
    ("book", "host_subscription_list"),
    ("book_small", "host_subscription_list"),
    ("book_small", "reset_mid_session_starts_from_an_empty_book"),
]


@pytest.fixture(scope="session")
def book_builds():
    built = {}

    def get(name):
        if name not in built:
            params = BUILDS[name]
            built[name] = sim.build(name, lambda: BookBuilder(**params))
        return built[name]
    return get


@pytest.mark.parametrize(("build", "testcase"), TESTCASES)
def test_book_rtl(book_builds, build, testcase):
    book_builds(build).run("tests.hw.cocotb_book", testcase=testcase,
                           env={"NERVE_BOOK_PARAMS": json.dumps(BUILDS[build])})
