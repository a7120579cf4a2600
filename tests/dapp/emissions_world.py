"""The community of tests/dapp/conftest.py with Scope 2 on chain: a factor publisher and
an auditor of DK1 (appointed by the admin), the hourly factors of the traded hour's
day, the year's location-based factor and a residual mix that a correction
superseded; and the plain arithmetic a statement must equal."""

from __future__ import annotations

import time
from dataclasses import dataclass

from openkwh.chain import transact
from openkwh.devtools.anvil import dev_accounts

SECTOR = "DK1"
DAY = 86_400
HOURLY_SOURCE = "Energinet environmental declaration (illustrative)"
YEAR_SOURCE = "Illustrative grid mix"
RESIDUAL_SOURCE = "AIB European Residual Mix (illustrative)"
CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
LOCATION_YEAR_MG = 125_000
RESIDUAL_WRONG_MG = 999_999
RESIDUAL_MG = 410_500  # the correction: 410.5 g/kWh, exact in mg


def hourly_factors(day: int) -> list[int]:
    """A day's 24 factors, mg CO2e/kWh: odd numbers, so no gram comes out round."""
    return [98_513 + 1_007 * hour + day % 7 for hour in range(24)]


def grams(micrograms: int) -> int:
    """The contract's one rounding: half up."""
    return (micrograms + 500_000) // 1_000_000


@dataclass
class Scope2:
    publisher: object
    auditor: object
    day_publication: int
    year_publication: int
    residual_wrong: int
    residual_publication: int

    def expected(self, consumed_wh: int, retired_wh: int, interval_begin: int) -> tuple[int, int]:
        """location g, market g of one hour (renewable retirements count as zero)."""
        hour = (interval_begin % DAY) // 3_600
        location = consumed_wh * hourly_factors(interval_begin - interval_begin % DAY)[hour]
        market = (consumed_wh - min(retired_wh, consumed_wh)) * RESIDUAL_MG
        return grams(location), grams(market)


def publish(world) -> Scope2:
    """Appoints DK1's publisher and auditor and publishes the factors of the world's
    traded hour: its day's hourly factors, its year's, and a corrected residual mix."""
    accounts = dev_accounts(10)
    admin, publisher, auditor = accounts[0], accounts[3], accounts[9]
    w3 = world.w3
    emissions = world.contract("EmissionsRegistry")
    f = emissions.functions
    transact(w3, admin, f.set_publisher(SECTOR, publisher.address, True))
    transact(w3, admin, f.set_auditor(SECTOR, auditor.address, True))
    day = world.begin - world.begin % DAY
    year = time.gmtime(world.begin).tm_year
    transact(w3, publisher, f.publish_day(SECTOR, day, hourly_factors(day), HOURLY_SOURCE, CID, 0))
    ids = [f.publication_count().call()]
    transact(w3, publisher, f.publish_year(SECTOR, 2, year, LOCATION_YEAR_MG, YEAR_SOURCE, CID, 0))
    ids.append(f.publication_count().call())
    transact(
        w3, publisher, f.publish_year(SECTOR, 3, year, RESIDUAL_WRONG_MG, RESIDUAL_SOURCE, CID, 0)
    )
    ids.append(f.publication_count().call())
    transact(
        w3,
        publisher,
        f.publish_year(SECTOR, 3, year, RESIDUAL_MG, RESIDUAL_SOURCE + ", corrected", CID, ids[-1]),
    )
    ids.append(f.publication_count().call())
    return Scope2(publisher, auditor, *ids)
