"""The DGI's DV algorithm against every public vector (../shared/reference/panama-ruc/)."""

import csv
from pathlib import Path

import pytest

from tui_pos.domain.errors import InputError
from tui_pos.domain.ruc import check, compute_dv, parse

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "panama-ruc" / "dv_vectors.csv"
LOCAL = Path(__file__).resolve().parent / "dv_vectors.csv"


def _vectors():
    path = VECTORS if VECTORS.exists() else LOCAL
    with path.open(encoding="utf-8") as f:
        return [(r["ruc"], r["dv"], r["nt_person"] or None, r["source"]) for r in csv.DictReader(f)]


ALL = _vectors()


def test_all_79_vectors_are_here():
    assert len(ALL) == 79


@pytest.mark.parametrize("ruc,dv,nt_person,source", ALL, ids=[f"{v[0]}/{v[2] or ''}" for v in ALL])
def test_dv(ruc, dv, nt_person, source):
    assert compute_dv(ruc, nt_person) == dv
    assert check(ruc, dv, nt_person) == dv


def test_nt_needs_the_person_type():
    with pytest.raises(InputError, match="natural person's or a legal entity's"):
        compute_dv("8-NT-1-24")
    assert compute_dv("8-NT-1-24", "natural") != compute_dv("8-NT-1-24", "juridical")


@pytest.mark.parametrize("ruc", ["", "8--125", "ABC", "8-X-125", "1-2-3-4-5", "12345678901-1-1"])
def test_not_a_ruc(ruc):
    with pytest.raises(InputError):
        compute_dv(ruc)


def test_wrong_dv_says_so():
    with pytest.raises(InputError, match="does not match"):
        check("8-274-125", "90")
    assert check("155587169-2-2014", "9") == "09"  # a printed 'DV 9' is '09'


def test_digits_of_other_scripts_are_not_a_ruc():
    """A full-width "８" passed str.isdigit and went to the DGI as it was (the e-invoice review)."""
    with pytest.raises(InputError, match="0-9"):
        parse("８-274-125")
    with pytest.raises(InputError, match="one or two digits"):
        check("8-274-125", "９１")
