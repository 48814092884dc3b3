"""The catalogue: find a product by code, search as you type, import CSV."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from peewee import JOIN, SQL
from stdnum import ean

from tui_pos.domain import imports as cell_rules
from tui_pos.domain.codes import normalize_barcode
from tui_pos.domain.errors import InputError, PosError
from tui_pos.domain.text import search_key
from tui_pos.models import Barcode, Product, Section, db
from tui_pos.models.db import is_sqlite
from tui_pos.progress import Progress, silent
from tui_pos.services import audit
from tui_pos.services.store import catalog as store
from tui_pos.services.store.catalog import FoundProduct

_T = TypeVar("_T")

PRODUCT_COLUMNS = ["barcode", "sku", "name", "section", "price", "tax_rate", "points", "points_cost"]


@dataclass(frozen=True)
class ProductView:
    """A product as the register needs it."""

    id: int
    sku: str
    name: str
    price_cents: int
    tax_rate_bp: int
    tax_included: bool
    section: str = ""
    barcode: str = ""


def _view(p: Product, section: str = "", barcode: str = "") -> ProductView:
    return ProductView(p.id, p.sku, p.name, p.price_cents, p.tax_rate_bp, p.tax_included,
                       section, barcode)


def find_by_code(code: str, note_id: int | None = None, store_id: int = 0) -> FoundProduct | None:
    """An active product by barcode, else by SKU (the catalogue store's `find_by_code`), priced for the
    store `store_id` (its `store_price`, else retail)."""
    return store.find_by_code(code, note_id, store_id)


SEARCH_DENSE = 2000   # a word in more products than this: the first SEARCH_WINDOW holding every word, by name
SEARCH_WINDOW = 1000


def search(text: str, limit: int = 50) -> list[ProductView]:
    """Products whose name words, SKU or barcode start with what was typed.

    By index whatever the catalog's size (migration 22, issue 23): on SQLite the product_search trigram
    table (search_text with two spaces before each word) gives the products holding the typed words, which
    the query then checks as before; words so common that more than SEARCH_DENSE products hold them are
    answered walking the products in name order, where the first page comes after a few rows. On
    PostgreSQL pg_trgm's indexes serve the LIKEs.
    """
    key = search_key(text)
    if not key:
        return []
    query = (Product.select(Product, Section.name.alias("section_name"))
             .join(Section, JOIN.LEFT_OUTER, on=(Product.section == Section.id))
             .where(Product.active == True))  # noqa: E712
    words = key.split()
    for word in words:
        query = query.where((Product.search_text.startswith(word))
                            | (Product.search_text.contains(" " + word)))
    if is_sqlite() and not any("_" in word or "%" in word for word in words):   # wildcards typed: no index
        patterns = [f"%  {word}%" for word in words]
        counted: dict[str, int] = {}
        for pattern in sorted(set(patterns), key=len, reverse=True):   # the longer, the rarer: stop at a rare one
            counted[pattern] = db.execute_sql("SELECT count(*) FROM (SELECT 1 FROM product_search WHERE words "
                                              "LIKE ? LIMIT ?)", [pattern, SEARCH_DENSE + 1]).fetchone()[0]
            if counted[pattern] <= SEARCH_DENSE:
                break
        rarest = min(counted, key=lambda p: counted[p])     # the word fewest products hold
        if counted[rarest] <= SEARCH_DENSE:
            query = query.where(Product.id.in_(SQL("(SELECT rowid FROM product_search WHERE words LIKE ?)",
                                                   [rarest])))
        else:
            # every word is in thousands of products ("item", "sku06"): the first SEARCH_WINDOW holding them all,
            # in the index's order, sorted by name; typing on narrows it to the exact first page
            every = " AND ".join("words LIKE ?" for _ in patterns)
            query = query.where(Product.id.in_(SQL(f"(SELECT rowid FROM product_search WHERE {every} LIMIT ?)",
                                                   [*patterns, SEARCH_WINDOW])))
    by_name = list(query.order_by(Product.name).limit(limit))
    results = [_view(p, getattr(p, "section_name", "") or "") for p in by_name]
    if len(results) < limit and key.replace(" ", "").isalnum():
        seen = {r.id for r in results}
        by_code = (Product.select().join(Barcode).where(Barcode.code.startswith(text.strip()),
                                                        Product.active == True)  # noqa: E712
                   .limit(limit - len(results)))
        results += [_view(p) for p in by_code if p.id not in seen]
    return results


# ---------------------------------------------------------------- import

class ImportError_(PosError):  # noqa: N801 - the trailing "_" keeps it off the builtin ImportError
    """An import problem at a file, line and column; nothing was written."""

    def __init__(self, path: str, line: int, column: int | None, column_name: str, message: str) -> None:
        named = f" ({column_name})" if column_name else ""
        where = f"{path}:{line}" + (f":{column}{named}" if column else "")
        # the form's sentences end in ".": "; nothing was written" follows
        if message.endswith(".") and not message.endswith(".."):
            message = message[:-1]
        super().__init__(f"{where}: {message}")


@dataclass(slots=True)
class _ProductRow:
    line: int
    barcodes: list[str]
    sku: str
    name: str
    section: str               # "": none for a new product; an existing one keeps its section
    price_cents: int
    tax_rate_bp: int | None    # None (empty cell): 0 for a new product; an existing one keeps its rate
    points: int | None
    points_cost: int | None


def _optional_points(text: str, what: str) -> int | None:
    return cell_rules.points(text, what) if text else None


# Fast paths for the cells most files hold: read without Decimal or a loop over characters, to the same value
# the rules of domain/imports.py give. Any other cell goes through those rules, which word the refusal.
_SUSPECT = re.compile("[\x00-\x1f\x7f-\x9f\u2000-\u206f\ufeff]")   # holds every control character (domain/text.py)
_PRICE = re.compile(r"(\d{1,6})(?:\.(\d\d?))?", re.ASCII)            # at most 999999.99: within either limit
_RATE = re.compile(r"(\d\d?)(?:\.(\d\d?))?", re.ASCII)               # at most 99.99 %
_COUNT = re.compile(r"\d{1,9}", re.ASCII)                            # at most 999,999,999 = MAX_POINTS
_EAN = re.compile(r"\d{8}|\d{12,14}", re.ASCII)
_LIMITS = [cell_rules.MAX_CODE if col == "sku" else cell_rules.MAX_TEXT for col in PRODUCT_COLUMNS]


def _hundredths(m: re.Match[str]) -> int:
    return int(m[1]) * 100 + int((m[2] or "0").ljust(2, "0"))


def _check_digit_ok(code: str) -> bool:
    """A numeric EAN/UPC's check digit, by python-stdnum (normalize_barcode words a wrong one)."""
    return bool(ean.calc_check_digit(code[:-1]) == code[-1])


class _Folded(dict[int, str]):
    """str.translate's table doing search_key's steps to one character (NFKD, combining marks dropped, case
    folded): each step works a character at a time, so a text translated by it and single-spaced has the key
    search_key gives, without a loop of Python code over its characters."""

    def __missing__(self, char: int) -> str:
        decomposed = unicodedata.normalize("NFKD", chr(char))
        self[char] = folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
        return folded


_FOLDED = _Folded()


def _search_text(name: str, sku: str) -> str:
    """search_key(f"{name} {sku}"), faster."""
    text = f"{name} {sku}"
    return " ".join((text.lower() if text.isascii() else text.translate(_FOLDED)).split())


def _parse_product_row(values: list[str], line: int, path: str, allow_large: bool = False) -> _ProductRow:
    """One row's cells (stripped, in PRODUCT_COLUMNS order), checked by the rules of domain/imports.py;
    ImportError_ names its line and column."""
    def fail(col: str, msg: str) -> ImportError_:
        return ImportError_(path, line, PRODUCT_COLUMNS.index(col) + 1, col, msg)

    def cell(col: str, parse: Callable[[str], _T]) -> _T:
        try:
            return parse(values[PRODUCT_COLUMNS.index(col)])
        except InputError as exc:
            raise fail(col, str(exc)) from None

    barcode, sku, name, section, price_text, rate_text, points_text, cost_text = values
    if _SUSPECT.search("".join(values)) or max(map(len, values)) > cell_rules.MAX_CODE:   # then check each
        for col, limit in zip(PRODUCT_COLUMNS, _LIMITS):
            cell(col, partial(cell_rules.check_text, limit=limit))
    barcodes: list[str] = []
    for code in barcode.replace("|", " ").split():
        if _EAN.fullmatch(code) and _check_digit_ok(code):
            barcodes.append(code)
            continue
        try:
            cell_rules.check_text(code, cell_rules.MAX_CODE)
            barcodes.append(normalize_barcode(code))
        except InputError as exc:
            raise fail("barcode", str(exc)) from None
    sku = sku.upper() or (barcodes[0] if barcodes else "")
    if not sku:
        raise fail("sku", "a product needs a SKU or a barcode")
    if not name:
        raise fail("name", "a product needs a name")
    m = _PRICE.fullmatch(price_text)
    price = _hundredths(m) if m else cell("price", lambda v: cell_rules.price_cents(v, allow_large=allow_large))
    m = _RATE.fullmatch(rate_text)
    rate = (_hundredths(m) if m else None if not rate_text
            else cell("tax_rate", cell_rules.tax_rate_bp))
    points = (None if not points_text else int(points_text) if _COUNT.fullmatch(points_text)
              else cell("points", partial(_optional_points, what="points")))
    cost = (None if not cost_text else int(cost_text) if _COUNT.fullmatch(cost_text)
            else cell("points_cost", partial(_optional_points, what="points_cost")))
    if cost == 0:
        raise fail("points_cost", "points_cost 0 would give the product away; leave it empty or give a cost")
    return _ProductRow(line, barcodes, sku, name, section, price, rate, points, cost)


def encoding_error(path: str) -> ImportError_:
    """The refusal of a file that is not UTF-8 text, naming where its first bad byte is."""
    try:
        with open(path, "rb") as handle:
            found = cell_rules.not_utf8(handle.read())
    except OSError as exc:
        return ImportError_(path, 0, None, "", f"cannot read the file ({exc.strerror or exc})")
    if found is None:   # a file changed while it was read
        return ImportError_(path, 0, None, "", "the file is not UTF-8 text")
    line, column, name, message = found
    return ImportError_(path, line, column, name, message)


def _count_lines(path: str) -> int:
    """The file's lines, for a progress bar's total (a quoted cell over two lines counts twice)."""
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(partial(handle.read, 1 << 20), b""))
    except OSError:
        return 0


PROGRESS_EVERY = 5000   # rows between two calls of `progress`


def read_products_csv(path: str | Path, *, allow_large: bool = False,
                      progress: Progress | None = None) -> list[_ProductRow]:
    """Parse and check the whole file; raise ImportError_ at the first problem."""
    path = str(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ImportError_(path, 0, None, "", f"cannot open the file ({exc.strerror or exc})") from None
    report = progress or silent
    total = _count_lines(path) if progress is not None else 0
    rows: list[_ProductRow] = []
    seen_sku: dict[str, int] = {}
    seen_code: dict[str, int] = {}
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None) or []
            missing = [c for c in PRODUCT_COLUMNS if c not in header]
            if missing:
                raise ImportError_(path, 1, None, "",
                                   cell_rules.missing_columns(list(header), missing, PRODUCT_COLUMNS))
            width = len(header)
            index = {name: i for i, name in enumerate(header)}    # a name twice in the header: its last column
            wanted = [index[c] for c in PRODUCT_COLUMNS]
            distinct = sorted(index.values())
            for row in reader:
                if not row:
                    continue       # a blank line
                line = reader.line_num
                if len(row) > width:
                    raise ImportError_(path, line, width + 1, "", "more fields than the header has")
                if len(row) < width:
                    short = next(i for i, k in enumerate(header) if index[k] >= len(row))
                    raise ImportError_(path, line, short + 1, header[short], "fewer fields than the header has")
                if not "".join([row[i] for i in distinct]).strip():
                    continue
                parsed = _parse_product_row([row[i].strip() for i in wanted], line, path, allow_large)
                if parsed.sku in seen_sku:
                    raise ImportError_(path, line, 2, "sku", f"SKU {parsed.sku} is also on line {seen_sku[parsed.sku]}")
                seen_sku[parsed.sku] = line
                for code in parsed.barcodes:
                    if code in seen_code:
                        raise ImportError_(path, line, 1, "barcode",
                                           f"barcode {code} is also on line {seen_code[code]}")
                    seen_code[code] = line
                rows.append(parsed)
                if len(rows) % PROGRESS_EVERY == 0:
                    report(min(line, total), total, "checking")
        except csv.Error as exc:
            raise ImportError_(path, reader.line_num, None, "", f"malformed CSV ({exc})") from None
        except UnicodeDecodeError:
            raise encoding_error(path) from None
    report(total, total, "checking")
    return rows


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


# ---------------------------------------------------------------- set-based reads and writes
# A few statements for the whole file, whatever its size: reads by `IN (...)` of at most SQLITE_VARIABLES
# values on SQLite (the limit of SQLite before 3.32), `= ANY(array)` on PostgreSQL; writes by executemany on
# SQLite, by unnest() of arrays on PostgreSQL (one statement per BATCH rows).

SQLITE_VARIABLES = 999
BATCH = 20_000


def _chunks(items: list[_T], size: int) -> Iterator[list[_T]]:
    for at in range(0, len(items), size):
        yield items[at:at + size]


def _select_in(sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
    """Rows of `sql`, whose `{in}` is a column compared to each of `values` (e.g. "WHERE p.sku {in}")."""
    found: list[tuple[Any, ...]] = []
    if is_sqlite():
        size = SQLITE_VARIABLES
        for chunk in _chunks(values, size):
            found += db.execute_sql(sql.format(**{"in": f"IN ({', '.join('?' * len(chunk))})"}), chunk).fetchall()
    else:
        for chunk in _chunks(values, BATCH * 5):
            found += db.execute_sql(sql.format(**{"in": "= ANY(%s)"}), (chunk,)).fetchall()
    return found


def _insert(table: str, columns: dict[str, str], rows: list[tuple[Any, ...]], tick: Callable[[int], None]) -> None:
    """INSERT `rows` (values in the order of `columns`, name -> PostgreSQL type) into `table`."""
    names = ", ".join(columns)
    if is_sqlite():
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
        for chunk in _chunks(rows, BATCH):
            db.cursor().executemany(sql, chunk)
            tick(len(chunk))
        return
    arrays = ", ".join(f"%s::{kind}[]" for kind in columns.values())
    sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})"
    for chunk in _chunks(rows, BATCH):
        db.execute_sql(sql, [list(column) for column in zip(*chunk)])
        tick(len(chunk))


def _update(table: str, columns: dict[str, str], rows: list[tuple[Any, ...]], tick: Callable[[int], None]) -> None:
    """UPDATE `table` rows by id: each of `rows` is (id, the values of `columns` in order)."""
    if is_sqlite():
        sql = f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"
        for chunk in _chunks(rows, BATCH):
            db.cursor().executemany(sql, [(*row[1:], row[0]) for row in chunk])
            tick(len(chunk))
        return
    arrays = ", ".join(f"%s::{kind}[]" for kind in ["integer", *columns.values()])
    sql = (f"UPDATE {table} AS t SET {', '.join(f'{c} = v.{c}' for c in columns)} "
           f"FROM unnest({arrays}) AS v(id, {', '.join(columns)}) WHERE t.id = v.id")
    for chunk in _chunks(rows, BATCH):
        db.execute_sql(sql, [list(column) for column in zip(*chunk)])
        tick(len(chunk))


_FIELDS = {"name": "varchar", "section_id": "integer", "price_cents": "integer", "tax_rate_bp": "integer",
           "points": "integer", "points_cost": "integer", "active": "boolean", "search_text": "varchar"}


def _new_product_ids(skus: list[str]) -> dict[str, int]:
    return {sku: pid for pid, sku in _select_in("SELECT id, sku FROM product WHERE sku {in}", skus)}


def import_products(path: str | Path, *, user_id: int | None = None, update: bool = False,
                    allow_large: bool = False, progress: Progress | None = None) -> ImportResult:
    """All-or-nothing: every row checked first, then written in one transaction.

    Rows are matched on SKU; importing the same file twice changes nothing. A row of an existing SKU
    updates it, but an empty `section` or `tax_rate` keeps what the product has. A barcode of another
    product is refused, naming it, unless `update` says to move it to the row's SKU. `allow_large`
    takes prices up to 9,999,999.99 (domain/money.py). `progress(done, total, what)` is called now and
    then ("checking" the file, then "writing").

    The database is read and written a few statements at a time, never a statement per row (issue 23:
    300,000 products in seconds).
    """
    report = progress or silent
    rows = read_products_csv(path, allow_large=allow_large, progress=progress)
    updated_skus: list[str] = []
    moved: list[str] = []
    with db.atomic():
        existing = {r[1]: r for r in _select_in(
            "SELECT id, sku, name, section_id, price_cents, tax_rate_bp, points, points_cost, active, search_text "
            "FROM product WHERE sku {in}", [r.sku for r in rows])}
        owners = {r[0]: r[1:] for r in _select_in(
            "SELECT b.code, b.id, b.product_id, p.sku, p.name FROM barcode b JOIN product p ON p.id = b.product_id "
            "WHERE b.code {in}", [code for r in rows for code in r.barcodes])}
        line_of = {r.sku: (r.line, r.name) for r in rows}
        sections = {name: sid for sid, name in db.execute_sql("SELECT id, name FROM section").fetchall()}
        new_sections = list(dict.fromkeys(r.section for r in rows if r.section and r.section not in sections))
        if new_sections:
            for chunk in _chunks(new_sections, SQLITE_VARIABLES):
                Section.insert_many([(name,) for name in chunk], fields=[Section.name]).execute()
            sections.update((name, sid) for sid, name in db.execute_sql("SELECT id, name FROM section").fetchall())

        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        barcode_rows: list[tuple[str, str]] = []      # (code, SKU): ids of new products are known after insert
        moves: list[tuple[int, str]] = []              # (barcode id, the SKU it moves to)
        unchanged = 0
        for r in rows:
            product = existing.get(r.sku)
            section_id = product[3] if product is not None else None
            if r.section:
                section_id = sections[r.section]
            rate = r.tax_rate_bp if r.tax_rate_bp is not None else (product[5] if product is not None else 0)
            fields = (r.name, section_id, r.price_cents, rate, r.points, r.points_cost, True,
                      _search_text(r.name, r.sku))
            if product is None:
                inserts.append((r.sku, *fields, True))
            elif (*product[2:8], bool(product[8]), product[9]) != fields:
                updates.append((product[0], *fields))
                updated_skus.append(r.sku)
            else:
                unchanged += 1
            for code in r.barcodes:
                owner = owners.get(code)
                if owner is None:
                    barcode_rows.append((code, r.sku))
                elif product is None or owner[1] != product[0]:
                    barcode_id, _, owner_sku, owner_name = owner
                    if not update:
                        earlier = line_of.get(owner_sku)      # the owner's row, when written before this one
                        if earlier is not None and earlier[0] < r.line:
                            owner_name = earlier[1]
                        raise ImportError_(str(path), r.line, 1, "barcode",
                                           f"barcode {code} belongs to product {owner_sku} ({owner_name}); "
                                           f"--update moves it to {r.sku}")
                    moves.append((barcode_id, r.sku))
                    moved.append(f"{code}: {owner_sku} -> {r.sku}")

        total = len(inserts) + len(updates) + len(barcode_rows) + len(moves)
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            report(done, total, "writing")

        _insert("product", {"sku": "varchar", **_FIELDS, "tax_included": "boolean"}, inserts, tick)
        _update("product", _FIELDS, updates, tick)
        ids = {sku: row[0] for sku, row in existing.items()}
        ids.update(_new_product_ids([row[0] for row in inserts]))
        _insert("barcode", {"code": "varchar", "product_id": "integer"},
                [(code, ids[sku]) for code, sku in barcode_rows], tick)
        _update("barcode", {"product_id": "integer"}, [(bid, ids[sku]) for bid, sku in moves], tick)
        audit.record("import.products", user_id=user_id, file=str(path), created=len(inserts),
                     updated=len(updates), unchanged=unchanged, updated_skus=cell_rules.listed(updated_skus),
                     moved_barcodes=cell_rules.listed(moved), update=update, allow_large=allow_large)
    return ImportResult(len(inserts), len(updates), unchanged)
