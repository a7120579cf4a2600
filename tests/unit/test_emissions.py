"""EmissionsRegistry.vy: factors, Scope 2 statements, merges, auditors, and the
attacks on them, against a plain model of GHG Protocol Scope 2 dual reporting."""

import boa
import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.emissions import (
    CID,
    DAY,
    HOUR,
    KIND_HOURLY_DAY,
    KIND_LOCATION_YEAR,
    KIND_RESIDUAL_YEAR,
    ORIGIN_MERGED,
    ORIGIN_METER,
    ORIGIN_UTILITY,
    PRODUCERS,
    next_midnight,
)
from tests.fixtures.meters import SECTOR, ZERO_ADDRESS, advance_to, hand_over
from tests.helpers import events, only_event

NOT_TRANSFERABLE = "emissions: statements are not transferable"
NOT_APPOINTER = "emissions: caller is not the admin or an issuing body of this sector"
NOT_PUBLISHER = "emissions: caller is not a factor publisher of this sector"
NOT_AUDITOR = "emissions: caller is not an auditor of this sector"
OVERLAP = "emissions: an interval of the period already has a statement"
NOT_CALLERS = "emissions: a measurement of the period is not the caller's"


# The model: GHG Protocol Scope 2 Guidance (2015), dual reporting.


def dual_report(intervals: list[dict], residual_mix: int, fuel_factors: dict) -> dict:
    """Location- and market-based Scope 2 emissions of consumption intervals.

    Each interval: consumed Wh, its grid's location factor (mg CO2e/kWh), and
    the certificates retired against it, {fuel code: Wh}. Location-based: all
    consumption at the grid's factor. Market-based: consumption covered by
    certificates at the certificate's fuel factor (renewable, F01..., zero);
    the rest at the residual mix. Wh x mg/kWh is micrograms; grams are rounded
    once, half up."""
    location_ug = market_ug = consumed = matched = 0
    for interval in intervals:
        c = interval["consumed"]
        retired = sum(interval["retired"].values())
        consumed += c
        matched += retired
        location_ug += c * interval["location"]
        market_ug += (c - retired) * residual_mix
        for fuel, wh in interval["retired"].items():
            market_ug += wh * (0 if fuel.startswith("F01") else fuel_factors[fuel])
    return {
        "consumed_wh": consumed,
        "matched_wh": matched,
        "location_g": (location_ug + 500_000) // 1_000_000,
        "market_g": (market_ug + 500_000) // 1_000_000,
    }


def year_of(timestamp: int) -> int:
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).year


def publish_year_factors(emissions, publisher, year, location=None, residual=None, fuels=None):
    if location is not None:
        emissions.publish_year(
            SECTOR, KIND_LOCATION_YEAR, year, location, "eGRID", CID, 0, sender=publisher
        )
    if residual is not None:
        emissions.publish_year(
            SECTOR,
            KIND_RESIDUAL_YEAR,
            year,
            residual,
            "AIB European Residual Mix",
            CID,
            0,
            sender=publisher,
        )
    if fuels:
        emissions.publish_fuel_factors(
            SECTOR, year, list(fuels), list(fuels.values()), "fuel table", CID, 0, sender=publisher
        )


def result(emissions, id_) -> dict:
    s = emissions.statement(id_)
    return {
        "consumed_wh": s.consumed_wh,
        "matched_wh": s.matched_wh,
        "location_g": s.location_g,
        "market_g": s.market_g,
    }


factor = st.integers(min_value=0, max_value=1_200_000)  # mg CO2e/kWh: up to 1.2 kg
hour_plan = st.tuples(
    st.integers(min_value=0, max_value=4_000),  # consumed Wh
    st.lists(
        st.integers(min_value=0, max_value=2_000), min_size=3, max_size=3
    ),  # retired per producer
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hours=st.lists(hour_plan, min_size=1, max_size=30),
    first_hour=st.integers(min_value=0, max_value=23),
    hourly_days=st.lists(st.booleans(), min_size=3, max_size=3),
    day_factors=st.lists(st.lists(factor, min_size=24, max_size=24), min_size=3, max_size=3),
    year_location=factor,
    residual=factor,
    fuel_factors=st.lists(factor, min_size=2, max_size=2),
)
def test_statement_equals_the_dual_reporting_model(
    emissions,
    world,
    publisher,
    alice,
    hours,
    first_hour,
    hourly_days,
    day_factors,
    year_location,
    residual,
    fuel_factors,
):
    boa.env.sha3_trace, boa.env.sstore_trace = {}, {}  # as conftest's fresh_traces, per example
    with boa.env.anchor():
        check_dual_report(
            emissions,
            world,
            publisher,
            alice,
            hours,
            first_hour,
            hourly_days,
            day_factors,
            year_location,
            residual,
            fuel_factors,
        )


def test_dual_report_example(emissions, world, publisher, alice):
    check_dual_report(
        emissions,
        world,
        publisher,
        alice,
        [(1_000, [300, 200, 100]), (0, [0, 0, 0]), (2_000, [2_000, 0, 5])],
        22,
        [True, False, True],
        [list(range(1, 25))] * 3,
        7,
        11,
        [13, 17],
    )


def check_dual_report(
    emissions,
    world,
    publisher,
    alice,
    hours,
    first_hour,
    hourly_days,
    day_factors,
    year_location,
    residual,
    fuel_factors,
):
    if True:
        midnight = next_midnight()
        begin = midnight + first_hour * HOUR
        world.start(begin)
        fuels = dict(
            zip(list(PRODUCERS.values())[1:], fuel_factors, strict=False)
        )  # fuel code: mg CO2e/kWh
        year = year_of(begin)
        publish_year_factors(emissions, publisher, year, year_location, residual, fuels)
        for d in range(3):
            if hourly_days[d]:
                emissions.publish_day(
                    SECTOR,
                    midnight + d * DAY,
                    day_factors[d],
                    "Energinet",
                    CID,
                    0,
                    sender=publisher,
                )
        intervals = []
        for consumed, wants in hours:
            retired = {}
            left = consumed
            for name, want in zip(PRODUCERS, wants, strict=False):
                retired[name] = min(want, left)
                left -= retired[name]
            t = world.hour(
                consumed, produced=dict(zip(PRODUCERS, wants, strict=False)), retired=retired
            )
            d = (t - midnight) // DAY
            location = (
                day_factors[d][(t % DAY) // HOUR]
                if hourly_days[d] and year_of(t) == year
                else year_location
            )
            intervals.append(
                {
                    "consumed": consumed,
                    "location": location,
                    "retired": {PRODUCERS[n]: wh for n, wh in retired.items() if wh},
                }
            )
        assume_one_year = year_of(t) == year
        if not assume_one_year:
            return  # the model above holds one year's factors; the hypothesis spans 2 days
        end = t + HOUR
        id_ = emissions.make_statement(world.home, begin, end, sender=alice)
        assert result(emissions, id_) == dual_report(intervals, residual, fuels)
        s = emissions.statement(id_)
        assert (s.account, s.origin, s.meter_id, s.begin, s.end) == (
            alice,
            ORIGIN_METER,
            world.home,
            begin,
            end,
        )


@pytest.fixture
def month(emissions, world, publisher):
    """Factors for the year and the first two days hourly; the world started at the next midnight."""
    midnight = next_midnight()
    world.start(midnight)
    year = year_of(midnight)
    publish_year_factors(
        emissions, publisher, year, 200_000, 400_000, {"F02010100": 800_000, "F02030100": 500_000}
    )
    return midnight


def test_statement_records_its_publications(emissions, world, alice, publisher, month):
    day = emissions.publish_day(
        SECTOR, month, [100_000 + h for h in range(24)], "Energinet", CID, 0, sender=publisher
    )
    world.hour(1_000, {"solar": 500}, {"solar": 500})
    world.hour(1_000)
    id_ = emissions.make_statement(world.home, month, month + 2 * HOUR, sender=alice)
    year = year_of(month)
    residual = emissions.current_publication(SECTOR, KIND_RESIDUAL_YEAR, year)
    assert emissions.publications_used(id_) == [day, residual]
    s = emissions.statement(id_)
    # location 1,000 x 100,000 + 1,000 x 100,001 ug; market 500 x 400,000 + 1,000 x 400,000 ug
    assert (s.location_ug, s.market_ug, s.location_g, s.market_g) == (
        200_001_000,
        600_000_000,
        200,
        600,
    )
    assert (s.consumed_wh, s.matched_wh) == (2_000, 500)
    assert emissions.ownerOf(id_) == alice
    assert emissions.balanceOf(alice) == 1
    assert emissions.locked(id_)
    assert emissions.is_covered(world.home, month)
    assert not emissions.is_covered(world.home, month + 2 * HOUR)


def test_a_fossil_certificate_counts_at_its_fuels_factor(emissions, world, alice, registry, month):
    t = world.hour(
        1_000,
        {"fossil-a": 300, "fossil-b": 200, "solar": 100},
        {"fossil-a": 300, "fossil-b": 200, "solar": 100},
    )
    # The registry notes the non-renewable fuels retired against the hour, by number.
    assert registry.retired_fuels(world.home, t) == [[1, 300], [2, 200]]
    assert (registry.fuel_code(1), registry.fuel_code(2), registry.fuel_code(0)) == (
        "F02010100",
        "F02030100",
        "",
    )
    assert registry.retired_against(world.home, t) == 600
    id_ = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    s = emissions.statement(id_)
    assert s.market_ug == 300 * 800_000 + 200 * 500_000 + 400 * 400_000
    assert s.matched_wh == 600


def test_an_overlap_is_refused(emissions, world, alice, month):
    for _ in range(4):
        world.hour(500)
    emissions.make_statement(world.home, month + HOUR, month + 3 * HOUR, sender=alice)
    for begin, end in (
        (month, month + 2 * HOUR),
        (month + 2 * HOUR, month + 4 * HOUR),
        (month + HOUR, month + 3 * HOUR),
    ):
        with boa.reverts(OVERLAP):
            emissions.make_statement(world.home, begin, end, sender=alice)
    emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    emissions.make_statement(world.home, month + 3 * HOUR, month + 4 * HOUR, sender=alice)


def test_nobody_makes_a_statement_of_anothers_meter(emissions, world, bob, month):
    """Griefing: bob cannot cover alice's hours (and so block her statements)."""
    world.hour(500)
    with boa.reverts(NOT_CALLERS):
        emissions.make_statement(world.home, month, month + HOUR, sender=bob)
    assert not emissions.is_covered(world.home, month)


def test_a_new_owner_gets_no_statement_of_the_previous_owners_hours(
    emissions, world, smb, alice, bob, month
):
    world.hour(500)
    hand_over(smb, world.home, alice, bob)
    world.hour(700)
    with boa.reverts(NOT_CALLERS):
        emissions.make_statement(world.home, month, month + 2 * HOUR, sender=bob)
    id_ = emissions.make_statement(world.home, month + HOUR, month + 2 * HOUR, sender=bob)
    assert emissions.statement(id_).consumed_wh == 700
    emissions.make_statement(world.home, month, month + HOUR, sender=alice)


def test_a_period_must_be_measured_whole(emissions, world, alice, month):
    world.hour(500)
    with boa.reverts("emissions: an interval of the period has no measurement"):
        emissions.make_statement(world.home, month, month + 2 * HOUR, sender=alice)
    world.skip_to(month + 4 * HOUR)  # a gap: one measurement of three hours
    with boa.reverts("emissions: a measurement runs past the period's end"):
        emissions.make_statement(world.home, month, month + 2 * HOUR, sender=alice)
    with boa.reverts("emissions: period not on the interval grid"):
        emissions.make_statement(world.home, month + 1, month + HOUR, sender=alice)
    with boa.reverts("emissions: an interval of the period has no measurement"):
        emissions.make_statement(world.home, month, month + 745 * HOUR, sender=alice)
    id_ = emissions.make_statement(world.home, month, month + 4 * HOUR, sender=alice)
    assert emissions.statement(id_).location_ug == 500 * 200_000  # the gap at the year's factor


def test_missing_factors_are_refused(emissions, world, alice, publisher):
    midnight = next_midnight()
    world.start(midnight)
    world.hour(500)
    with boa.reverts("emissions: no location-based factor for an interval"):
        emissions.make_statement(world.home, midnight, midnight + HOUR, sender=alice)
    publish_year_factors(emissions, publisher, year_of(midnight), location=1)
    with boa.reverts("emissions: no residual mix for an interval"):
        emissions.make_statement(world.home, midnight, midnight + HOUR, sender=alice)


@pytest.mark.parametrize(
    "call",
    [
        lambda e, a, b: e.transferFrom(a, b, 1, sender=a),
        lambda e, a, b: e.safeTransferFrom(a, b, 1, sender=a),
        lambda e, a, b: e.safeTransferFrom(a, b, 1, b"", sender=a),
        lambda e, a, b: e.approve(b, 1, sender=a),
        lambda e, a, b: e.setApprovalForAll(b, True, sender=a),
    ],
)
def test_a_transfer_is_refused(emissions, world, alice, bob, month, call):
    world.hour(500)
    emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    with boa.reverts(NOT_TRANSFERABLE):
        call(emissions, alice, bob)
    assert emissions.ownerOf(1) == alice


def test_a_correction_supersedes_and_is_logged(emissions, world, alice, publisher, month):
    first = emissions.publish_day(
        SECTOR, month, [100_000] * 24, "Energinet", CID, 0, sender=publisher
    )
    with boa.reverts("emissions: the publication to supersede is not the current one"):
        emissions.publish_day(SECTOR, month, [90_000] * 24, "Energinet", CID, 0, sender=publisher)
    world.hour(1_000)
    old = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    fixed = emissions.publish_day(
        SECTOR, month, [98_500] * 24, "Energinet, corrected", CID, first, sender=publisher
    )
    assert only_event(emissions, "PublicationSuperseded").by == fixed
    assert emissions.publication(first).superseded_by == fixed
    assert emissions.hourly_factors(first)[0] == 100_000  # kept, never deleted
    assert emissions.publication(fixed).supersedes == first
    assert emissions.current_publication(SECTOR, KIND_HOURLY_DAY, month) == fixed
    assert emissions.publications_used(old)[0] == first  # the statement says what it used
    world.hour(1_000)
    new = emissions.make_statement(world.home, month + HOUR, month + 2 * HOUR, sender=alice)
    assert emissions.statement(new).location_ug == 1_000 * 98_500
    assert emissions.publications_used(new)[0] == fixed


def test_a_correction_must_name_the_current_publication(emissions, publisher, issuing_body, month):
    """Front-running: a second publisher's publication in between makes the
    first's stale correction fail instead of silently replacing it."""
    other = boa.env.generate_address("other-publisher")
    emissions.set_publisher(SECTOR, other, True, sender=issuing_body)
    year = year_of(month) + 1
    mine = emissions.publish_year(
        SECTOR, KIND_LOCATION_YEAR, year, 1, "eGRID", CID, 0, sender=publisher
    )
    theirs = emissions.publish_year(
        SECTOR, KIND_LOCATION_YEAR, year, 2, "eGRID", CID, mine, sender=other
    )
    with boa.reverts("emissions: the publication to supersede is not the current one"):
        emissions.publish_year(
            SECTOR, KIND_LOCATION_YEAR, year, 3, "eGRID", CID, mine, sender=publisher
        )
    assert emissions.current_publication(SECTOR, KIND_LOCATION_YEAR, year) == theirs


def test_a_merge_burns_its_parts_and_rounds_once(emissions, world, alice, month):
    for _ in range(3):
        world.hour(3)  # 3 Wh x 200,000 = 0.6 g location each: 1 g each alone, 2 g (1.8) merged
    parts = [
        emissions.make_statement(world.home, month + h * HOUR, month + (h + 1) * HOUR, sender=alice)
        for h in range(3)
    ]
    assert [emissions.statement(p).location_g for p in parts] == [1, 1, 1]
    merged = emissions.merge(parts, sender=alice)
    assert [e.id for e in events(emissions, "StatementSuperseded")] == parts
    s = emissions.statement(merged)
    assert (s.origin, s.begin, s.end, s.consumed_wh, s.location_ug, s.location_g) == (
        ORIGIN_MERGED,
        month,
        month + 3 * HOUR,
        9,
        1_800_000,
        2,
    )
    assert emissions.parts(merged) == parts
    assert [emissions.statement(p).superseded_by for p in parts] == [merged] * 3
    assert emissions.balanceOf(alice) == 1
    for p in parts:
        with boa.reverts("emissions: no such statement"):
            emissions.ownerOf(p)
    with boa.reverts(OVERLAP):  # the hours stay covered
        emissions.make_statement(world.home, month, month + HOUR, sender=alice)


def test_a_merge_counts_each_statement_once(emissions, world, alice, bob, month):
    for _ in range(3):
        world.hour(10)
    a, b, c = (
        emissions.make_statement(world.home, month + h * HOUR, month + (h + 1) * HOUR, sender=alice)
        for h in range(3)
    )
    with boa.reverts("emissions: statement already superseded"):  # burned as the first part
        emissions.merge([a, a], sender=alice)
    with boa.reverts("emissions: statements not consecutive"):
        emissions.merge([a, c], sender=alice)
    with boa.reverts("emissions: caller does not hold the statement"):
        emissions.merge([a, b], sender=bob)
    with boa.reverts("emissions: a merge needs two statements or more"):
        emissions.merge([a], sender=alice)
    ab = emissions.merge([a, b], sender=alice)
    with boa.reverts("emissions: statement already superseded"):
        emissions.merge([b, c], sender=alice)
    with boa.reverts("emissions: not a statement computed from meters"):
        emissions.merge([ab, c], sender=alice)


def test_an_auditor_attests_once(emissions, world, alice, auditor, bob, month):
    world.hour(10)
    id_ = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    emissions.attest(id_, "reviewed", CID, sender=auditor)
    event = only_event(emissions, "StatementAttested")
    assert (event.id, event.auditor, event.note, event.cid) == (id_, auditor, "reviewed", CID)
    a = emissions.attestation(id_, 0)
    assert (a.auditor, a.note, a.cid) == (auditor, "reviewed", CID)
    assert emissions.statement(id_).attestations == 1
    with boa.reverts("emissions: caller already attested this statement"):
        emissions.attest(id_, "again", CID, sender=auditor)
    with boa.reverts(NOT_AUDITOR):
        emissions.attest(id_, "me too", CID, sender=alice)
    with boa.reverts("emissions: no such statement"):
        emissions.attest(99, "nothing", CID, sender=auditor)


def utility_key(customer: str, utility: str) -> bytes:
    return keccak(encode(["address", "bytes32"], [customer, keccak(text=utility)]))


def test_a_utility_statement_answers_a_customers_request(emissions, auditor, carol, bob):
    begin = next_midnight()
    end = begin + 30 * DAY
    request = emissions.request_utility_statement(
        auditor, SECTOR, "Ørsted", begin, end, sender=carol
    )
    with boa.reverts("emissions: request not addressed to the caller"):
        emissions.publish_utility_statement(request, 1, 1, 1, "CSV", b"\x01" * 32, CID, sender=bob)
    id_ = emissions.publish_utility_statement(
        request,
        812_345,
        98_500,
        150_000,
        "Green Button ESPI XML",
        b"\x01" * 32,
        CID,
        sender=auditor,
    )
    s = emissions.statement(id_)
    assert (s.account, s.origin, s.begin, s.end, s.consumed_wh) == (
        carol,
        ORIGIN_UTILITY,
        begin,
        end,
        812_345,
    )
    assert (s.location_g, s.market_g) == (
        80_016,
        121_852,
    )  # 80,015.98 and 121,851.75 g, rounded once
    data = emissions.utility_data(id_)
    assert (data.auditor, data.utility, data.data_format, data.data_sha256, data.data_cid) == (
        auditor,
        "Ørsted",
        "Green Button ESPI XML",
        b"\x01" * 32,
        CID,
    )
    assert emissions.is_covered(utility_key(carol, "Ørsted"), begin)
    with boa.reverts("emissions: request already answered"):
        emissions.publish_utility_statement(
            request, 1, 1, 1, "CSV", b"\x01" * 32, CID, sender=auditor
        )
    again = emissions.request_utility_statement(
        auditor, SECTOR, "Ørsted", begin + DAY, begin + 2 * DAY, sender=carol
    )
    with boa.reverts(OVERLAP):
        emissions.publish_utility_statement(
            again, 1, 1, 1, "CSV", b"\x02" * 32, CID, sender=auditor
        )
    with boa.reverts(NOT_TRANSFERABLE):
        emissions.transferFrom(carol, bob, id_, sender=carol)


def test_a_request_names_an_auditor_of_the_sector(emissions, bob, carol):
    begin = next_midnight()
    with boa.reverts("emissions: not an auditor of this sector"):
        emissions.request_utility_statement(bob, SECTOR, "Ørsted", begin, begin + DAY, sender=carol)


def test_a_removed_auditor_cannot_answer(emissions, auditor, issuing_body, carol):
    begin = next_midnight()
    request = emissions.request_utility_statement(
        auditor, SECTOR, "Ørsted", begin, begin + DAY, sender=carol
    )
    emissions.set_auditor(SECTOR, auditor, False, sender=issuing_body)
    with boa.reverts(NOT_AUDITOR):
        emissions.publish_utility_statement(
            request, 1, 1, 1, "CSV", b"\x01" * 32, CID, sender=auditor
        )


# The role matrix: every privileged function, every caller but the right one.

CALLERS = ["deployer", "issuing_body", "publisher", "auditor", "alice", "bob"]
APPOINT = ["deployer", "issuing_body"]


def privileged(emissions, month_begin):
    """(name, who may call it, call(sender), reason)."""
    year = year_of(month_begin)
    return [
        (
            "set_publisher",
            APPOINT,
            lambda s: emissions.set_publisher(SECTOR, s, True, sender=s),
            NOT_APPOINTER,
        ),
        (
            "set_auditor",
            APPOINT,
            lambda s: emissions.set_auditor(SECTOR, s, True, sender=s),
            NOT_APPOINTER,
        ),
        (
            "publish_day",
            ["publisher"],
            lambda s: emissions.publish_day(
                SECTOR, month_begin + 9 * DAY, [1] * 24, "x", CID, 0, sender=s
            ),
            NOT_PUBLISHER,
        ),
        (
            "publish_year",
            ["publisher"],
            lambda s: emissions.publish_year(
                SECTOR, KIND_LOCATION_YEAR, year + 1, 1, "x", CID, 0, sender=s
            ),
            NOT_PUBLISHER,
        ),
        (
            "publish_fuel_factors",
            ["publisher"],
            lambda s: emissions.publish_fuel_factors(
                SECTOR, year + 1, ["F02010100"], [1], "x", CID, 0, sender=s
            ),
            NOT_PUBLISHER,
        ),
        ("attest", ["auditor"], lambda s: emissions.attest(1, "ok", CID, sender=s), NOT_AUDITOR),
        (
            "make_statement",
            ["alice"],
            lambda s: emissions.make_statement(HOME[0], month_begin, month_begin + HOUR, sender=s),
            NOT_CALLERS,
        ),
        (
            "merge",
            ["alice"],
            lambda s: emissions.merge([1, 2], sender=s),
            "emissions: caller does not hold the statement",
        ),
        (
            "publish_utility_statement",
            ["auditor"],
            lambda s: emissions.publish_utility_statement(
                1, 1, 1, 1, "CSV", b"\x01" * 32, CID, sender=s
            ),
            "emissions: request not addressed to the caller",
        ),
    ]


HOME = [None]
PRIVILEGED = [
    "set_publisher",
    "set_auditor",
    "publish_day",
    "publish_year",
    "publish_fuel_factors",
    "attest",
    "make_statement",
    "merge",
    "publish_utility_statement",
]


@pytest.mark.parametrize("name", PRIVILEGED)
def test_role_matrix(
    emissions, world, alice, carol, auditor, deployer, issuing_body, publisher, bob, month, name
):
    world.hour(10)
    world.hour(10)
    HOME[0] = world.home
    if name in ("attest", "merge"):  # statement 1 to attest, or to merge
        emissions.make_statement(world.home, month + HOUR, month + 2 * HOUR, sender=alice)
    emissions.request_utility_statement(auditor, SECTOR, "Ørsted", month, month + DAY, sender=carol)
    people = {
        "deployer": deployer,
        "issuing_body": issuing_body,
        "publisher": publisher,
        "auditor": auditor,
        "alice": alice,
        "bob": bob,
    }
    (entry,) = [e for e in privileged(emissions, month) if e[0] == name]
    _, allowed, call, reason = entry
    for who in CALLERS:
        if who in allowed:
            continue
        with boa.reverts(reason):
            call(people[who])
    for who in allowed:
        if name == "merge":
            continue  # the holder's merge: test_a_merge_burns_its_parts_and_rounds_once
        with boa.env.anchor():
            call(people[who])


# Review of issue 17 (review-17): attacks that succeeded before its fixes.

STALE = "emissions: its factors or retirements changed since; restate it"


def test_review_a_revoked_certificate_does_not_lower_the_market_figure(
    emissions, world, alice, registry, issuing_body, month
):
    """A solar certificate retired against an hour, then revoked by the issuing
    body (a tampered meter), still made the hour's market-based figure zero.
    The reviewer's test revoked only: but the registry keeps no list of where a
    certificate was retired (it would cost every retirement a storage write),
    so the issuing body voids each retirement its CertificateRetired logs name
    (`openkwh issuing-body revoke-certificate` does both)."""
    from tests.fixtures.registry import certificate_id

    t = world.hour(1_000, {"solar": 1_000}, {"solar": 1_000})
    cert = certificate_id(world.ids["solar"], t)
    with boa.reverts("registry: certificate not revoked"):
        registry.void_retirement(cert, world.home, 1_000, sender=issuing_body)
    registry.revoke(cert, "seal broken", sender=issuing_body)
    registry.void_retirement(cert, world.home, 1_000, sender=issuing_body)
    voided = only_event(registry, "RetirementVoided")
    assert (voided.id, voided.consumption_meter_id, voided.issuing_body, voided.wh) == (
        cert,
        world.home,
        issuing_body,
        1_000,
    )
    assert registry.claimedBalanceOf(alice, cert) == 1_000  # the claim stays
    with boa.reverts("registry: voiding more than the certificate's Wh"):
        registry.void_retirement(cert, world.home, 1, sender=issuing_body)
    id_ = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    s = emissions.statement(id_)
    assert s.matched_wh == 0
    assert s.market_ug == 1_000 * 400_000  # at the residual mix, as if never retired


def test_review_a_revoked_fossil_certificate_leaves_its_fuel(
    emissions, world, alice, registry, issuing_body, month
):
    """Voiding a non-renewable certificate takes its Wh out of its fuel's pair too,
    so the hour counts them at the residual mix, not at the fuel's factor as well."""
    from tests.fixtures.registry import certificate_id

    t = world.hour(1_000, {"fossil-a": 600, "fossil-b": 400}, {"fossil-a": 300, "fossil-b": 400})
    cert = certificate_id(world.ids["fossil-a"], t)
    registry.revoke(cert, "seal broken", sender=issuing_body)
    with boa.reverts("registry: voiding more than was retired against the interval"):
        registry.void_retirement(cert, world.home, 301, sender=issuing_body)  # fossil-b's Wh
    registry.void_retirement(cert, world.home, 100, sender=issuing_body)
    registry.void_retirement(cert, world.home, 200, sender=issuing_body)
    with boa.reverts("registry: voiding more than was retired against the interval"):
        registry.void_retirement(cert, world.home, 1, sender=issuing_body)
    assert registry.voided(cert) == 300
    assert registry.retired_against(world.home, t) == 400
    id_ = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    s = emissions.statement(id_)
    # 600 Wh at the residual mix, 400 Wh of F02030100 at 500 g/kWh
    assert (s.matched_wh, s.market_ug) == (400, 600 * 400_000 + 400 * 500_000)
    assert registry.retired_fuels(world.home, t) == [[1, 0], [2, 400]]  # pairs never move


@pytest.mark.parametrize("caller", ["alice", "bob", "deployer", "installer"])
def test_review_only_the_issuing_body_voids_a_retirement(
    emissions, world, registry, issuing_body, month, caller, alice, bob, deployer, installer
):
    from tests.fixtures.registry import certificate_id

    t = world.hour(1_000, {"solar": 1_000}, {"solar": 1_000})
    cert = certificate_id(world.ids["solar"], t)
    registry.revoke(cert, "seal broken", sender=issuing_body)
    who = {"alice": alice, "bob": bob, "deployer": deployer, "installer": installer}[caller]
    with boa.reverts("registry: caller is not the issuing body of this sector"):
        registry.void_retirement(cert, world.home, 1_000, sender=who)


def test_review_an_auditor_does_not_attest_its_own_statement(
    emissions, world, alice, auditor, issuing_body, month
):
    """Independence: alice, appointed auditor of the sector, attests her own statement."""
    world.hour(500)
    id_ = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    emissions.set_auditor(SECTOR, alice, True, sender=issuing_body)
    with boa.reverts("emissions: an auditor does not attest its own statement"):
        emissions.attest(id_, "all good, signed myself", CID, sender=alice)
    emissions.attest(id_, "read against the telegrams", CID, sender=auditor)  # another auditor may


def test_review_an_auditor_does_not_state_its_own_utility_data(emissions, auditor, issuing_body):
    """An auditor asking itself for a statement from its own bill would publish
    its own emissions, marked "from utility data, attested by" itself."""
    begin = next_midnight()
    with boa.reverts("emissions: an auditor does not state its own emissions"):
        emissions.request_utility_statement(
            auditor, SECTOR, "Ørsted", begin, begin + DAY, sender=auditor
        )


def test_review_a_retirement_after_the_statement_is_not_lost(
    emissions, world, alice, bob, registry, month
):
    """alice states an hour, then retires a solar certificate against it (the
    Exchange's retire_delivered can come late too): the registry burns the Wh as
    her claim, and she restates the hour so that a live statement counts it."""
    from tests.fixtures.registry import certificate_id

    t = world.hour(1_000, {"solar": 1_000})
    id_ = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    registry.issue(world.ids["solar"], t)
    registry.retire(certificate_id(world.ids["solar"], t), 1_000, world.home, b"", sender=alice)
    with boa.reverts("emissions: caller does not hold the statement"):
        emissions.restate(id_, sender=bob)
    new = emissions.restate(id_, sender=alice)
    (superseded,) = events(emissions, "StatementSuperseded")
    assert (superseded.id, superseded.by) == (id_, new)
    old, s = emissions.statement(id_), emissions.statement(new)
    assert old.superseded_by == new
    assert old.matched_wh == 0
    assert (s.superseded_by, s.origin, s.meter_id, s.begin, s.end) == (
        0,
        ORIGIN_METER,
        world.home,
        month,
        month + HOUR,
    )
    assert (s.matched_wh, s.market_ug, s.attestations) == (1_000, 0, 0)
    assert emissions.balanceOf(alice) == 1
    assert emissions.ownerOf(new) == alice
    assert emissions.is_covered(world.home, month)
    with boa.reverts("emissions: statement already superseded"):
        emissions.restate(id_, sender=alice)


def test_review_a_merged_statement_is_not_restated(emissions, world, alice, month):
    world.hour(100)
    world.hour(100)
    a = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    b = emissions.make_statement(world.home, month + HOUR, month + 2 * HOUR, sender=alice)
    ab = emissions.merge([a, b], sender=alice)
    with boa.reverts("emissions: not a statement computed from meters"):
        emissions.restate(ab, sender=alice)


def test_review_a_statement_on_superseded_factors_is_not_attested(
    emissions, world, alice, auditor, publisher, month
):
    """alice sees the publisher's correction of the year's location factor
    (200 -> 300 g/kWh) pending and makes her statement first: it keeps the
    superseded factor. The auditor cannot attest it; restated, it can."""
    world.hour(1_000)
    id_ = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    year = year_of(month)
    old = emissions.current_publication(SECTOR, KIND_LOCATION_YEAR, year)
    emissions.publish_year(
        SECTOR, KIND_LOCATION_YEAR, year, 300_000, "eGRID, corrected", CID, old, sender=publisher
    )
    with boa.reverts(STALE):
        emissions.attest(id_, "reviewed", CID, sender=auditor)
    new = emissions.restate(id_, sender=alice)
    assert emissions.statement(new).location_g == 300
    emissions.attest(new, "reviewed", CID, sender=auditor)
    assert emissions.statement(new).attestations == 1


def test_review_a_merged_statement_on_superseded_factors_is_not_attested(
    emissions, world, alice, auditor, publisher, month
):
    """The same through a merge: the merged statement's publications are its parts'."""
    day = emissions.publish_day(
        SECTOR, month, [100_000] * 24, "Energinet", CID, 0, sender=publisher
    )
    world.hour(1_000)
    world.hour(1_000)
    a = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    b = emissions.make_statement(world.home, month + HOUR, month + 2 * HOUR, sender=alice)
    ab = emissions.merge([a, b], sender=alice)
    emissions.publish_day(SECTOR, month, [90_000] * 24, "Energinet", CID, day, sender=publisher)
    with boa.reverts(STALE):
        emissions.attest(ab, "reviewed", CID, sender=auditor)


def test_review_is_covered_answers_for_utility_hours_on_a_quarter_hour_chain(
    smb_deployer, registry_deployer, emissions_deployer, deployer, auditor, carol
):
    """On a 900 s backend, `is_covered(utility key, hour)` divided the hour by
    900 while `publish_utility_statement` marked hours: a covered hour read as
    not covered (and unrelated bits were read), so clients saw no statement."""
    from tests.fixtures.meters import FUTURE_TOLERANCE

    with boa.env.prank(deployer):
        backend = smb_deployer.deploy(900, FUTURE_TOLERANCE, ZERO_ADDRESS)
        reg = registry_deployer.deploy(backend.address, 86_400 * 365)
        contract = emissions_deployer.deploy(reg.address, backend.address)
        contract.set_auditor(SECTOR, auditor, True)
    begin = next_midnight()
    request = contract.request_utility_statement(
        auditor, SECTOR, "Ørsted", begin, begin + DAY, sender=carol
    )
    contract.publish_utility_statement(
        request, 10_000, 1, 1, "CSV", b"\x01" * 32, CID, sender=auditor
    )
    key = utility_key(carol, "Ørsted")
    assert [contract.is_covered(key, begin + q * 900) for q in range(96)] == [True] * 96
    assert not contract.is_covered(key, begin - 900)
    assert not contract.is_covered(key, begin + DAY)
    again = contract.request_utility_statement(
        auditor, SECTOR, "Ørsted", begin + DAY - HOUR, begin + DAY + HOUR, sender=carol
    )
    with boa.reverts(OVERLAP):
        contract.publish_utility_statement(again, 1, 1, 1, "CSV", b"\x02" * 32, CID, sender=auditor)


def test_review_a_statement_is_bounded_by_its_intervals(
    smb_deployer, registry_deployer, emissions_deployer, deployer
):
    """A statement was bounded by 31 days whatever the interval: a month of
    quarter hours is 2,976 intervals, past a transaction's gas. It is bounded by
    MAX_INTERVALS measurements now (review-17c: not intervals, see
    test_review_a_gap_longer_than_max_intervals_is_stated): 31 days of hours,
    7.75 days of quarter hours, and its period by 366 days."""
    from tests.fixtures.meters import FUTURE_TOLERANCE

    with boa.env.prank(deployer):
        backend = smb_deployer.deploy(900, FUTURE_TOLERANCE, ZERO_ADDRESS)
        reg = registry_deployer.deploy(backend.address, 86_400 * 365)
        contract = emissions_deployer.deploy(reg.address, backend.address)
    assert contract.MAX_INTERVALS() == 744
    begin = next_midnight()
    with boa.reverts("emissions: period longer than 366 days"):
        contract.make_statement(b"\x01" * 32, begin, begin + 366 * DAY + 900)
    with boa.reverts("emissions: unknown meter"):  # past the bound's check
        contract.make_statement(b"\x01" * 32, begin, begin + 366 * DAY)


def test_review_a_statement_of_max_intervals_fits_one_transaction(
    emissions, world, alice, publisher, month
):
    """The reviewer's version multiplied a 24-interval statement's whole gas (its
    ~400,000 of minting included) by 2,976 intervals. Measured here: a statement's
    fixed gas and the gas of each further interval in the worst case at hand (a
    day's hourly factors, three certificates retired against every interval, two
    of non-renewable fuels); with a quarter more per interval for the four
    non-renewable fuels an interval can have, MAX_INTERVALS of them fit
    EIP-7825's 2**24 gas a transaction twice over. (boa counts less per interval
    than anvil: bench/gas.json's month of hours, 744 intervals, is the figure
    from a node, about half of 2**24.)"""
    for d in range(3):
        emissions.publish_day(
            SECTOR,
            month + d * DAY,
            [100_000 + h for h in range(24)],
            "Energinet",
            CID,
            0,
            sender=publisher,
        )
    every = {"solar": 300, "fossil-a": 300, "fossil-b": 300}
    for _ in range(49):
        world.hour(3_000, every, every)
    emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    fixed = emissions._computation.get_gas_used()
    emissions.make_statement(world.home, month + HOUR, month + 49 * HOUR, sender=alice)
    per_interval = (emissions._computation.get_gas_used() - fixed) / 47
    limit = emissions.MAX_INTERVALS()
    assert 2 * (fixed + limit * per_interval * 1.25) <= 2**24, (fixed, per_interval)


def test_review_the_same_bill_data_is_not_stated_twice(emissions, auditor, carol):
    """carol requests the same period twice, "Con Edison" and "con edison"; the
    auditor answered both with the same raw data (same sha256): two live
    statements counted the same consumption. Tried on anvil through the CLI too
    (`prosumer request-statement` twice, `auditor publish-bill-statement`
    twice: no warning)."""
    begin = next_midnight()
    sha = b"\x26" * 32
    for utility in ("Con Edison", "con edison"):
        request = emissions.request_utility_statement(
            auditor, SECTOR, utility, begin, begin + DAY, sender=carol
        )
        if utility == "Con Edison":
            emissions.publish_utility_statement(
                request, 93_846, 100_000, 50_000, "Green Button ESPI XML", sha, CID, sender=auditor
            )
    with boa.reverts("emissions: this bill data already has a statement"):
        emissions.publish_utility_statement(
            request, 93_846, 100_000, 50_000, "Green Button ESPI XML", sha, CID, sender=auditor
        )


def test_review_a_fuel_code_is_listed_once(emissions, publisher, month):
    """A table listing F02010100 at 800 g/kWh and again at 0 published whatever
    the last entry said, while its source file (and a reader of the call) shows
    the first too."""
    year = year_of(month) + 1
    with boa.reverts("emissions: a fuel code is listed twice"):
        emissions.publish_fuel_factors(
            SECTOR,
            year,
            ["F02010100", "F02010100"],
            [800_000, 0],
            "fuel table",
            CID,
            0,
            sender=publisher,
        )


def test_review_a_fuel_table_correction_keeps_every_fuel(emissions, world, alice, publisher, month):
    """A correction of the year's fuel table that left F02030100 out went through
    silently, and every statement of an hour with a fossil-b certificate retired
    against it reverted from then on (no factor for the fuel)."""
    year = year_of(month)
    table = emissions.current_publication(SECTOR, 4, year)
    with boa.reverts("emissions: a correction drops a fuel"):
        emissions.publish_fuel_factors(
            SECTOR,
            year,
            ["F02010100"],
            [700_000],
            "fuel table, corrected",
            CID,
            table,
            sender=publisher,
        )
    with boa.reverts("emissions: a correction drops a fuel"):  # one dropped, one added
        emissions.publish_fuel_factors(
            SECTOR,
            year,
            ["F02010100", "F03000000"],
            [700_000, 900_000],
            "fuel table",
            CID,
            table,
            sender=publisher,
        )
    corrected = emissions.publish_fuel_factors(
        SECTOR,
        year,
        ["F02030100", "F03000000", "F02010100"],
        [500_000, 900_000, 700_000],
        "fuel table, corrected",
        CID,
        table,
        sender=publisher,
    )
    assert emissions.fuel_factor(corrected, "F02010100") == (True, 700_000)
    world.hour(1_000, {"fossil-b": 1_000}, {"fossil-b": 1_000})
    id_ = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    assert emissions.statement(id_).market_ug == 1_000 * 500_000


def test_review_nobody_requests_a_statement_for_someone_else(emissions, auditor, carol, bob):
    """Requests are the caller's own: bob cannot fill carol's list of requests,
    nor have a statement minted to her (the request's customer is its sender)."""
    begin = next_midnight()
    request = emissions.request_utility_statement(
        auditor, SECTOR, "Ørsted", begin, begin + DAY, sender=bob
    )
    assert emissions.request(request).customer == bob
    id_ = emissions.publish_utility_statement(
        request, 1_000, 1, 1, "CSV", b"\x03" * 32, CID, sender=auditor
    )
    assert emissions.statement(id_).account == bob
    assert emissions.balanceOf(carol) == 0


# Review of issue 17 (review-17c): an attacker's and an auditor's second look.


def test_review_a_gap_longer_than_max_intervals_is_stated(emissions, world, alice, month):
    """alice's meter was offline 32 days (a quarter-hour meter: 8 days): its next
    reading made one measurement of 768 intervals. A statement was bounded by
    MAX_INTERVALS intervals and cannot end inside a measurement, so no statement
    could ever cover those hours, nor could her year be merged. A statement is
    bounded by the measurements it walks now, its period by 366 days."""
    world.hour(1_000)
    world.skip_to(month + 769 * HOUR)  # one measurement of 768 hours
    with boa.reverts("emissions: a measurement runs past the period's end"):
        emissions.make_statement(world.home, month, month + 744 * HOUR, sender=alice)
    id_ = emissions.make_statement(world.home, month, month + 769 * HOUR, sender=alice)
    s = emissions.statement(id_)
    assert (s.begin, s.end, s.consumed_wh, s.location_ug) == (
        month,
        month + 769 * HOUR,
        1_000,
        1_000 * 200_000,
    )
    assert emissions.is_covered(world.home, month + 768 * HOUR)
    assert not emissions.is_covered(world.home, month + 769 * HOUR)


def test_review_a_statement_walks_at_most_max_intervals_measurements(
    emissions, world, smb, sign, alice, month
):
    """The bound that keeps a statement inside one transaction's gas is on the
    measurements it reads: 745 of them are refused with a reason, as is a period
    longer than 366 days (the coverage bitmap's bound)."""
    with boa.reverts("emissions: period longer than 366 days"):
        emissions.make_statement(world.home, month, month + 367 * DAY, sender=alice)
    key, end = world.keys["home"], month
    for _ in range(745):  # 1 Wh, then nothing: no factor needed past the year's end
        end += HOUR
        advance_to(end)
        smb.submit_reading(*sign(key, world.home, end, 1, 0).contract_args())
    with boa.reverts("emissions: more than MAX_INTERVALS measurements"):
        emissions.make_statement(world.home, month, month + 745 * HOUR, sender=alice)
    id_ = emissions.make_statement(world.home, month, month + 744 * HOUR, sender=alice)
    assert emissions.statement(id_).consumed_wh == 1


def test_review_a_statement_made_before_its_days_hourly_factors_is_not_attested(
    emissions, world, alice, bob, auditor, issuing_body, publisher, month
):
    """Timing: alice consumes at night, when the hourly factors (here 900 g/kWh)
    are above the year's (200 g/kWh). She states her hour before the publisher
    publishes its day: the statement takes the year's factor, and no publication
    it used is ever superseded, so the auditor attested 200 g where the
    contract's own rule (the hour's factor once its day is published) says 900.
    Here she front-runs the publication in its block (same timestamp). The
    attestation is refused now; restated, the statement uses the hour's."""
    world.hour(1_000)
    early = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    assert emissions.statement(early).location_g == 200
    emissions.publish_day(SECTOR, month, [900_000] * 24, "Energinet", CID, 0, sender=publisher)
    with boa.reverts(STALE):
        emissions.attest(early, "reviewed", CID, sender=auditor)
    new = emissions.restate(early, sender=alice)
    assert emissions.statement(new).location_g == 900
    # Neither a day after its period, nor one published before it was made,
    # blocks it; nor do hourly factors a statement from utility data never used.
    request = emissions.request_utility_statement(
        auditor, SECTOR, "Ørsted", month, month + 2 * DAY, sender=bob
    )
    bill = emissions.publish_utility_statement(
        request, 1_000, 1, 1, "CSV", b"\x04" * 32, CID, sender=auditor
    )
    emissions.publish_day(
        SECTOR, month + DAY, [900_000] * 24, "Energinet", CID, 0, sender=publisher
    )
    other = boa.env.generate_address("other-auditor")
    emissions.set_auditor(SECTOR, other, True, sender=issuing_body)
    emissions.attest(new, "reviewed", CID, sender=auditor)
    emissions.attest(bill, "reviewed", CID, sender=other)
    assert emissions.statement(new).attestations == 1


def test_review_a_merged_statement_made_before_hourly_factors_is_not_attested(
    emissions, world, alice, auditor, publisher, month
):
    """The same through a merge: each part is checked against its own making."""
    world.hour(1_000)
    world.hour(1_000)
    a = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    b = emissions.make_statement(world.home, month + HOUR, month + 2 * HOUR, sender=alice)
    emissions.publish_day(SECTOR, month, [900_000] * 24, "Energinet", CID, 0, sender=publisher)
    ab = emissions.merge([a, b], sender=alice)
    with boa.reverts(STALE):
        emissions.attest(ab, "reviewed", CID, sender=auditor)


def test_review_a_statement_counting_a_voided_retirement_is_not_attested(
    emissions, world, alice, auditor, registry, issuing_body, month
):
    """The issuing body revokes a solar certificate retired against alice's hour
    (a tampered meter), then voids the retirement: two transactions. alice
    states the hour between them, matched, at zero market-based grams; the
    auditor attested it, the void on chain or not. It is refused now once the
    void lands, until she restates it (at the residual mix). A void on another
    day of her meter leaves her statement attestable."""
    from tests.fixtures.registry import certificate_id

    t = world.hour(1_000, {"solar": 1_000}, {"solar": 1_000})
    cert = certificate_id(world.ids["solar"], t)
    registry.revoke(cert, "seal broken", sender=issuing_body)
    id_ = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    assert (emissions.statement(id_).matched_wh, emissions.statement(id_).market_g) == (1_000, 0)
    registry.void_retirement(cert, world.home, 1_000, sender=issuing_body)
    assert (registry.void_count(), registry.voided_in(world.home, month)) == (1, 1)
    with boa.reverts(STALE):
        emissions.attest(id_, "reviewed", CID, sender=auditor)
    new = emissions.restate(id_, sender=alice)
    assert (emissions.statement(new).matched_wh, emissions.statement(new).market_g) == (0, 400)
    world.skip_to(month + DAY)
    t = world.hour(500, {"solar": 500}, {"solar": 500})
    other = certificate_id(world.ids["solar"], t)
    registry.revoke(other, "seal broken", sender=issuing_body)
    registry.void_retirement(other, world.home, 500, sender=issuing_body)
    emissions.attest(new, "reviewed", CID, sender=auditor)
    assert emissions.statement(new).attestations == 1


def test_review_merges_and_attestations_that_hold(
    emissions, world, alice, auditor, deployer, month
):
    """Attacks that held, pinned: merging statements of two meters (or past 366
    days, reachable since statements span gaps), attesting a statement already
    restated, or attesting as an auditor of another sector."""
    world.hour(1_000)
    world.hour(1_000)
    home = emissions.make_statement(world.home, month, month + HOUR, sender=alice)
    solar = emissions.make_statement(
        world.ids["solar"], month + HOUR, month + 2 * HOUR, sender=alice
    )
    with boa.reverts("emissions: statements of different meters"):
        emissions.merge([home, solar], sender=alice)
    restated = emissions.restate(home, sender=alice)
    with boa.reverts("emissions: statement already superseded"):
        emissions.attest(home, "reviewed", CID, sender=auditor)
    swede = boa.env.generate_address("se3-auditor")
    emissions.set_auditor("SE3", swede, True, sender=deployer)
    with boa.reverts(NOT_AUDITOR):
        emissions.attest(restated, "reviewed", CID, sender=swede)
    world.skip_to(month + 200 * DAY)
    world.skip_to(month + 367 * DAY)
    first = emissions.make_statement(world.home, month + HOUR, month + 200 * DAY, sender=alice)
    second = emissions.make_statement(
        world.home, month + 200 * DAY, month + 367 * DAY, sender=alice
    )
    with boa.reverts("emissions: merged period longer than 366 days"):
        emissions.merge([restated, first, second], sender=alice)
    emissions.merge([restated, first], sender=alice)
