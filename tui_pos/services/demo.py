"""`tui-pos --demo`: a believable small store, seeded on first use."""

from __future__ import annotations

import json

from stdnum import ean

from tui_pos.domain.text import search_key
from tui_pos.models import Barcode, Customer, LoyaltyProgram, Product, Section, User, db
from tui_pos.services import users

DEMO_USERS = [("Ana", "cashier", "1111"), ("Marco", "manager", "2222"), ("Admin", "admin", "9999")]

# section, sku, name, price (cents), tax rate (basis points)
DEMO_PRODUCTS = [
    ("Coffee", "ESP", "Espresso", 150, 700), ("Coffee", "DESP", "Double espresso", 220, 700),
    ("Coffee", "AMER", "Americano", 200, 700), ("Coffee", "CAPP", "Cappuccino", 325, 700),
    ("Coffee", "LATT", "Caffe latte", 350, 700), ("Coffee", "MOCH", "Mocha", 375, 700),
    ("Coffee", "FLAT", "Flat white", 340, 700), ("Coffee", "COLD", "Cold brew", 360, 700),
    ("Coffee", "BEAN1", "Boquete geisha beans 250 g", 1850, 0),
    ("Coffee", "BEAN2", "House blend beans 500 g", 1200, 0),
    ("Bakery", "CROI", "Butter croissant", 175, 700), ("Bakery", "PAIN", "Pain au chocolat", 210, 700),
    ("Bakery", "MUFB", "Blueberry muffin", 250, 700), ("Bakery", "BAGU", "Baguette", 180, 0),
    ("Bakery", "EMPA", "Beef empanada", 150, 700), ("Bakery", "CHEE", "Cheesecake slice", 425, 700),
    ("Bakery", "BROW", "Chocolate brownie", 275, 700), ("Bakery", "TRES", "Tres leches", 390, 700),
    ("Drinks", "WAT5", "Still water 500 ml", 100, 700), ("Drinks", "SPW5", "Sparkling water 500 ml", 125, 700),
    ("Drinks", "OJ", "Fresh orange juice", 300, 700), ("Drinks", "COLA", "Cola 355 ml", 110, 1000),
    ("Drinks", "ICET", "Iced tea", 225, 700), ("Drinks", "CHIC", "Chicheme", 200, 700),
    ("Drinks", "SMOO", "Mango smoothie", 450, 700), ("Drinks", "LEMO", "Lemonade", 250, 700),
    ("Grocery", "MILK", "Whole milk 1 l", 165, 0), ("Grocery", "EGGS", "Eggs, dozen", 395, 0),
    ("Grocery", "RICE", "Rice 2 lb", 189, 0), ("Grocery", "BEAN", "Red beans 1 lb", 149, 0),
    ("Grocery", "SUGR", "Cane sugar 2 lb", 210, 0), ("Grocery", "OIL", "Vegetable oil 1 l", 385, 0),
    ("Grocery", "PLAN", "Plantain chips", 135, 700), ("Grocery", "CHOC", "Dark chocolate bar", 299, 700),
    ("Household", "SOAP", "Hand soap 250 ml", 275, 700), ("Household", "TOWL", "Paper towels 2 pack", 349, 700),
    ("Household", "BATT", "AA batteries 4 pack", 599, 700), ("Household", "BAGS", "Reusable bag", 99, 700),
    ("Household", "MUG", "Store mug", 899, 700), ("Household", "TUMB", "Travel tumbler", 1499, 700),
    ("Household", "CAND", "Scented candle", 1150, 700), ("Household", "GIFT", "Gift wrap", 50, 700),
]


# points a product costs when offered (seed 001: products marked Offer/Offered)
DEMO_POINTS_COST = {"ESP": 150, "AMER": 200, "CROI": 175, "MUFB": 250, "BROW": 275, "MUG": 900}

DEMO_PROGRAM = {
    "program": {"mode": "points", "earn_points": 1, "per_amount": "1.00", "per_visit": 5,
                "exclude_discounted": True},
    "redemption": {"points": 100, "value": "1.00", "minimum": 100,
                   "presets": [{"points": 500, "value": "6.00"}, {"points": 150, "value": "1.50"}]},
    "tiers": [{"name": "Bronze", "threshold": 0, "multiplier": "1", "discount_percent": "0"},
              {"name": "Silver", "threshold": 500, "multiplier": "1.5", "discount_percent": "0"},
              {"name": "Gold", "threshold": 2000, "multiplier": "2", "discount_percent": "0"},
              {"name": "Platinum", "threshold": 5000, "multiplier": "3", "discount_percent": "10"}],
    "sections": [{"name": "Coffee", "earn_points": 2, "per_amount": "1.00"}],
}

# code, name, phone, card, payment status, opening points
DEMO_CUSTOMERS = [
    ("C-ANA", "Ana Núñez", "6123-4567", "LOY-0001", 0, 820),
    ("C-LUIS", "Luis Batista", "6555-0101", "LOY-0002", 1, 150),
    ("C-ROSA", "Rosa Herrera", "6777-2020", "LOY-0003", 2, 2400),
]


def demo_barcode(index: int) -> str:
    """A valid EAN-13 in Panama's 745 prefix."""
    body = f"745{100000000 + index:09d}"[:12]
    return body + ean.calc_check_digit(body)


def seed_demo(with_loyalty: bool = True) -> bool:
    """Seed users, products and (`with_loyalty`) a loyalty program and customers, each when absent.

    Returns True if it seeded anything.
    """
    seeded = False
    if not User.select().exists():
        for name, role, pin in DEMO_USERS:
            users.add_user(name, role, pin)
        seeded = True
    if not Product.select().exists():
        with db.atomic():
            sections: dict[str, int] = {}
            for index, (section, sku, name, price, rate) in enumerate(DEMO_PRODUCTS, start=1):
                if section not in sections:
                    sections[section] = Section.create(name=section).id
                product = Product.create(sku=sku, name=name, section=sections[section], price_cents=price,
                                         tax_rate_bp=rate, search_text=search_key(f"{name} {sku}"),
                                         points_cost=DEMO_POINTS_COST.get(sku))
                Barcode.create(code=demo_barcode(index), product=product.id)
        seeded = True
    if with_loyalty and not LoyaltyProgram.select().exists():
        from tui_pos.domain.loyalty import parse_program
        program = parse_program(DEMO_PROGRAM, {s.name for s in Section.select()})
        LoyaltyProgram.create(document=json.dumps(program.to_dict()))
        from tui_pos.services.loyalty import forget_program
        forget_program()
        seeded = True
    if with_loyalty and not Customer.select().exists():
        from tui_pos.services import customers, loyalty
        with db.atomic():
            for code, name, phone, card, status, points in DEMO_CUSTOMERS:
                c = Customer.create(code=code)
                customers._apply(c, customers.clean({"name": name, "phone": phone, "cards": card,
                                                     "payment_status": str(status)}, "PA"))
                loyalty.opening_balance(c.id, points)
        seeded = True
    return seeded
