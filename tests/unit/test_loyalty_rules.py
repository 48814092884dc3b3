"""Every earning and redemption rule, table-driven; the program file's checks."""

from fractions import Fraction

import pytest

from tui_pos.domain.loyalty import EarnLine, Program, ProgramError, earned_after_returns, earned_points, parse_program

BASE = Program(mode="points", earn_points=1, per_amount_cents=100, per_visit=0, exclude_discounted=True,
               redeem_points=100, redeem_value_cents=100, minimum=100)


def prog(**kw):
    return Program(**{**BASE.__dict__, **kw})


L = EarnLine


@pytest.mark.parametrize("name,program,lines,kw,expected", [
    ("1 point per 1.00, rounded down once per note", BASE, [L(150, 1, None), L(150, 1, None)], {}, 3),
    ("not per line: 1.50 + 1.50 is 3, not 1 + 1", BASE, [L(150, 1, None), L(150, 1, None)], {}, 3),
    ("multiplier of the tier", BASE, [L(1000, 1, None)], {"multiplier": Fraction(3, 2)}, 15),
    ("multiplier applies to the whole sum then floors", BASE, [L(333, 1, None)], {"multiplier": Fraction(3, 2)}, 4),
    ("product points per unit override the rule", BASE, [L(1000, 2, 7)], {}, 14),
    ("points = 0 excludes the product", BASE, [L(1000, 1, 0), L(500, 1, None)], {}, 5),
    ("percentage-discounted lines earn nothing", BASE, [L(900, 1, None, percent_discount=True)], {}, 0),
    ("unless exclude_discounted is off", prog(exclude_discounted=False), [L(900, 1, None, percent_discount=True)],
     {}, 9),
    ("per visit", prog(per_visit=5), [L(100, 1, None)], {}, 6),
    ("section's own rate", prog(sections=(__import__("tui_pos.domain.loyalty", fromlist=["SectionRate"]).SectionRate(
        "Coffee", 2, 100),)), [L(300, 1, None, "Coffee"), L(300, 1, None, "Bakery")], {}, 9),
    ("per 5.00", prog(per_amount_cents=500), [L(1499, 1, None)], {}, 2),
    ("money off reduces the money paid, in proportion", BASE, [L(1000, 1, None), L(1000, 1, None)],
     {"redeemed_cents": 500}, 15),
    ("money off on an ineligible note earns nothing", BASE, [L(1000, 1, 0)], {"redeemed_cents": 500}, 0),
    ("value mode: percent of the money paid, in cents", prog(mode="value", value_percent_bp=500), [L(2000, 1, None)],
     {}, 100),
    ("sales mode outside the program", prog(sales_modes=("counter",)), [L(1000, 1, None)], {"sales_mode": "web"}, 0),
    ("sales mode inside", prog(sales_modes=("counter",)), [L(1000, 1, None)], {"sales_mode": "counter"}, 10),
    ("point of sale outside", prog(points_of_sale=("north",)), [L(1000, 1, None)], {"point_of_sale": "main"}, 0),
    ("offered units (qty 0 paid) earn nothing", BASE, [L(0, 0, None)], {}, 0),
])
def test_earning(name, program, lines, kw, expected):
    kw.setdefault("multiplier", Fraction(1))
    assert earned_points(program, lines, **kw) == expected, name


@pytest.mark.parametrize("balance,total,expected", [
    (820, 5000, 800), (820, 350, 300), (99, 5000, 0), (150, 5000, 100), (500, 50, 0),
])
def test_most_redeemable(balance, total, expected):
    assert BASE.most_redeemable(balance, total) == expected


@pytest.mark.parametrize("points,value,balance,total,fragment", [
    (900, 900, 800, 5000, "more than the balance"),
    (50, 50, 800, 5000, "At least 100"),
    (150, 150, 800, 5000, "steps of 100"),
    (500, 500, 800, 300, "worth more than the note"),
    (0, 0, 800, 300, "Type a number"),
    (300, 300, 800, 5000, None),
])
def test_check_redemption(points, value, balance, total, fragment):
    problem = BASE.check_redemption(points, value, balance, total)
    assert (problem is None) if fragment is None else (fragment in problem)


def test_value_mode_redeems_cents():
    value = prog(mode="value", minimum=100)
    assert value.value_of(250) == 250 and value.most_redeemable(1234, 1000) == 1000


def test_returns_reverse_exactly_and_add_up():
    lines = [L(1000, 4, None), L(999, 1, None)]
    full = earned_points(BASE, lines, multiplier=Fraction(3, 2))
    half = earned_after_returns(BASE, lines, [Fraction(2, 4), Fraction(1)], multiplier=Fraction(3, 2))
    none = earned_after_returns(BASE, lines, [Fraction(0), Fraction(0)], multiplier=Fraction(3, 2))
    assert full == 29 and half == 22 and none == 0


def test_tiers():
    p = parse_program({"tiers": [{"name": "Gold", "threshold": 2000, "multiplier": "2"},
                                 {"name": "Bronze", "threshold": 0}, {"name": "Silver", "threshold": 500,
                                                                       "multiplier": "1.5", "discount_percent": "5"}]})
    assert [t.name for t in p.tiers] == ["Bronze", "Silver", "Gold"]
    assert p.tier_for(499).name == "Bronze" and p.tier_for(500).name == "Silver" and p.tier_for(10**6).name == "Gold"
    assert p.tier_for(600).factor == Fraction(3, 2) and p.tier_for(600).discount_bp == 500


@pytest.mark.parametrize("raw,fragment", [
    ({"program": {"earn_points": -1}}, "program.earn_points = -1"),
    ({"program": {"per_amount": "-1.00"}}, "program.per_amount"),
    ({"program": {"mode": "cash"}}, "program.mode"),
    ({"program": {"colour": 1}}, "program.colour: unknown key"),
    ({"sections": [{"name": "Tea"}]}, "sections[0].name = 'Tea': no such section"),
    ({"tiers": [{"name": "A", "threshold": 0}, {"name": "B", "threshold": 0}]}, "two tiers at threshold 0"),
    ({"tiers": [{"name": "A", "threshold": 0, "multiplier": "x"}]}, "tiers[0].multiplier"),
    ({"redemption": {"points": 0}}, "redemption.points = 0"),
    ({"redemption": {"presets": [{"points": 5, "value": "abc"}]}}, "redemption.presets[0].value"),
    ({"offers": [{"name": "x", "section": "Coffee", "count": 10, "reward_sku": "NOPE"}]}, "offers[0].reward_sku"),
])
def test_bad_program_names_the_key(raw, fragment):
    with pytest.raises(ProgramError) as err:
        parse_program(raw, known_sections={"Coffee"}, known_skus={"ESP"})
    assert fragment in str(err.value)


def test_program_round_trips_through_storage():
    p = parse_program({"program": {"per_visit": 3}, "redemption": {"presets": [{"points": 500, "value": "6.00"}]},
                       "tiers": [{"name": "Bronze", "threshold": 0}],
                       "sections": [{"name": "Coffee", "earn_points": 2}]},
                      known_sections={"Coffee"})
    assert Program.from_stored(p.to_dict()) == p


def test_add_months():
    import datetime as dt

    from tui_pos.domain.loyalty import add_months
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 11, 15), 3) == dt.date(2027, 2, 15)


def test_lots_spend_the_soonest_expiring_first():
    import datetime as dt

    from tui_pos.domain.loyalty import LedgerEntry as E
    from tui_pos.domain.loyalty import expired_points, expiring_within, open_lots
    d = dt.date
    entries = [E(d(2026, 1, 10), 100), E(d(2026, 3, 1), 50), E(d(2026, 4, 1), -120), E(d(2026, 5, 1), 40)]
    lots = open_lots(entries, 6)
    assert lots == [(d(2026, 9, 1), 30), (d(2026, 11, 1), 40)]   # the January lot was spent first
    assert expired_points(lots, d(2026, 9, 1)) == 30
    assert expiring_within(lots, d(2026, 8, 15), 30) == (30, d(2026, 9, 1))
    # a debt (below zero after a return) is paid by the next credit
    assert open_lots([E(d(2026, 1, 1), -20), E(d(2026, 2, 1), 50)], 12) == [(d(2027, 2, 1), 30)]


# Seed 004: "As part of the configuration of a loyalty offer, it's also possible to enable this offer on only one
# or several sales mode(s) and / or point(s) of sale", and "... to develop sales on a specific sales mode such as
# your Webshop or on a specific point of sale by proposing customised and more attractive loyalty offers".
WEB_COFFEE = {"sections": [{"name": "Coffee", "earn_points": 5, "sales_modes": ["web"]},
                           {"name": "Coffee", "earn_points": 2}],
              "offers": [{"name": "web stamps", "section": "Coffee", "count": 5, "reward_sku": "ESP",
                          "sales_modes": ["web"], "points_of_sale": ["north"]}]}


def test_a_section_rate_applies_in_its_sales_modes_only():
    p = parse_program(WEB_COFFEE, known_sections={"Coffee"}, known_skus={"ESP"},
                      known_sales_modes={"counter", "web"})
    coffee = [L(300, 1, None, "Coffee")]
    assert earned_points(p, coffee, multiplier=Fraction(1), sales_mode="web", point_of_sale="main") == 15
    assert earned_points(p, coffee, multiplier=Fraction(1), sales_mode="counter", point_of_sale="main") == 6
    assert earned_after_returns(p, coffee, [Fraction(0)], multiplier=Fraction(1), sales_mode="web") == 0
    offer = p.offers[0]
    assert offer.applies("web", "north") and not offer.applies("web", "main") and not offer.applies("counter", "north")
    assert Program.from_stored(p.to_dict()) == p
    import tomllib

    from tui_pos.domain.loyalty import program_to_toml
    assert parse_program(tomllib.loads(program_to_toml(p)), known_sections={"Coffee"}, known_skus={"ESP"}) == p


@pytest.mark.parametrize("raw,fragment", [
    ({"program": {"sales_modes": ["takeway"]}}, "program.sales_modes: 'takeway' is not a sales mode of this store"),
    ({"sections": [{"name": "Coffee", "sales_modes": ["webshop"]}]}, "sections[0].sales_modes: 'webshop'"),
    ({"offers": [{"section": "Coffee", "count": 3, "reward_sku": "ESP", "sales_modes": ["x"]}]},
     "offers[0].sales_modes: 'x'"),
    ({"offers": [{"section": "Coffee", "count": 3, "reward_sku": "ESP", "points_of_sale": "north"}]},
     "offers[0].points_of_sale: expected a list of names"),
    # a preset F4 would list and then refuse
    ({"redemption": {"minimum": 200, "presets": [{"points": 150, "value": "1.50"}]}},
     "redemption.presets[0].points = 150: below redemption.minimum (200)"),
])
def test_rules_that_could_never_apply_are_refused(raw, fragment):
    with pytest.raises(ProgramError) as err:
        parse_program(raw, known_sections={"Coffee"}, known_skus={"ESP"}, known_sales_modes={"counter", "web"})
    assert fragment in str(err.value)
