"""A plain Python uniform-price auction: the reference Auction.vy's clearing must agree with,
and what a keeper runs to find the price it submits (`clear`).

Orders are (is_bid, wh, limit). The price is the lowest Walrasian price,
found by trying every candidate (0 and every order's effective limit: the
excess-demand curves only step there) against the definition; fills follow
the rule in Auction.vy's NatSpec, in integer Wh, floored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Book:
    price: int
    volume: int
    fills: list[int]  # per order, Wh
    bought: int
    sold: int


def effective(is_bid: bool, limit: int, retail: int, feed_in: int) -> int:
    """A bid never above retail, an offer never below feed-in."""
    return min(limit, retail) if is_bid else max(limit, feed_in)


def walrasian(orders, price: int) -> bool:
    """Excess demand changes sign at ``price``: bids above it fit in the offers at
    or below it, and offers below it fit in the bids at or above it."""
    bids_above = sum(w for b, w, p in orders if b and p > price)
    bids_at_or_above = sum(w for b, w, p in orders if b and p >= price)
    asks_below = sum(w for b, w, p in orders if not b and p < price)
    asks_at_or_below = sum(w for b, w, p in orders if not b and p <= price)
    return bids_above <= asks_at_or_below and asks_below <= bids_at_or_above


def clear(orders, retail: int = 2**96 - 1, feed_in: int = 0) -> Book:
    """Clears ``orders`` (live in the interval): (is_bid, wh, limit) each."""
    live = [(b, w, effective(b, p, retail, feed_in)) for b, w, p in orders]
    candidates = sorted({0} | {p for _, _, p in live})
    price = next(p for p in candidates if walrasian(live, p))
    assert price == 0 or not walrasian(live, price - 1)
    demand = sum(w for b, w, p in live if b and p >= price)
    supply = sum(w for b, w, p in live if not b and p <= price)
    volume = min(demand, supply)
    bids_above = sum(w for b, w, p in live if b and p > price)
    bids_at = sum(w for b, w, p in live if b and p == price)
    asks_below = sum(w for b, w, p in live if not b and p < price)
    asks_at = sum(w for b, w, p in live if not b and p == price)
    fills = []
    for b, w, p in live:
        if b:
            fills.append(
                w if p > price else w * (volume - bids_above) // bids_at if p == price else 0
            )
        else:
            fills.append(
                w if p < price else w * (volume - asks_below) // asks_at if p == price else 0
            )
    bought = sum(f for f, (b, _, _) in zip(fills, live, strict=True) if b)
    sold = sum(f for f, (b, _, _) in zip(fills, live, strict=True) if not b)
    return Book(price, volume, fills, bought, sold)
