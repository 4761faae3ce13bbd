"""Topic phrasings for the alert evaluation: Reuters categories as people type topics.

Written for newsbot (not taken from the acceptance set): short, sometimes several words, British or
American spelling, two phrasings per category. Categories alternate between a *tune* half (what the
matcher's settings were chosen on) and a *check* half (only reported), so the README can say how a
setting carries over to categories and phrasings it was not chosen on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalTopic:
    category: str  # the Reuters category a story must carry to be relevant
    text: str  # what the simulated user types after /subscribe
    half: str  # "tune" or "check"


_PHRASINGS: list[tuple[str, tuple[str, str]]] = [
    ("crude", ("crude oil", "oil prices and OPEC output")),
    ("interest", ("interest rates", "central bank rate cuts")),
    ("grain", ("grain harvest and exports", "cereals")),
    ("trade", ("trade deficit and trade disputes", "tariffs and trade talks")),
    ("money-fx", ("currency markets", "foreign exchange intervention")),
    ("ship", ("shipping", "ports and tankers")),
    ("sugar", ("sugar", "sugar beet and cane")),
    ("coffee", ("coffee", "coffee export quotas")),
    ("gold", ("gold", "gold mining")),
    ("gnp", ("economic growth", "GDP figures")),
    ("money-supply", ("money supply", "M3 money growth")),
    ("livestock", ("cattle and hog livestock", "livestock")),
    ("nat-gas", ("natural gas", "gas fields and pipelines")),
    ("cpi", ("inflation", "consumer prices")),
    ("cocoa", ("cocoa", "cocoa beans")),
    ("copper", ("copper", "copper mines")),
    ("jobs", ("unemployment and jobs", "jobless rate")),
    ("iron-steel", ("steel industry", "iron and steel")),
    ("cotton", ("cotton", "cotton crop")),
    ("rubber", ("rubber", "natural rubber prices")),
    ("alum", ("aluminium", "aluminum smelters")),
    ("wheat", ("wheat", "wheat exports")),
    ("corn", ("corn", "maize harvest")),
    ("acq", ("mergers and acquisitions", "takeover bids")),
    ("earn", ("company earnings", "quarterly profits")),
    ("veg-oil", ("vegetable oils", "palm oil and soyoil")),
    ("reserves", ("foreign exchange reserves", "central bank reserves")),
    ("bop", ("balance of payments", "current account deficit")),
    ("rice", ("rice", "rice exports")),
    ("oilseed", ("oilseeds", "soybeans and rapeseed")),
    ("ipi", ("industrial production", "factory output")),
    ("tin", ("tin", "tin market")),
    ("gas", ("gasoline", "petrol prices")),
    ("retail", ("retail sales", "shop sales")),
]

EVAL_TOPICS: tuple[EvalTopic, ...] = tuple(
    EvalTopic(category, text, "tune" if n % 2 == 0 else "check")
    for n, (category, texts) in enumerate(_PHRASINGS)
    for text in texts
)
