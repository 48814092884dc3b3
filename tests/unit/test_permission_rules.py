"""The permissions table: one place says who may do what (issue 28, item 2)."""

import pytest

from tui_pos import config
from tui_pos.domain.permissions import ACTIONS, DEFAULT, Permissions


def test_the_defaults_follow_the_seeds():
    # seed 003: "Application UI let edit and create new customers in mode POS. The employee must have an
    # specific role to do that." -> editing an existing customer's record is a manager's by default
    assert DEFAULT.role_for("customer_edit") == "manager"
    # issue 28: "refunds are a permission (manager by default), and the close of day is a blind count by default"
    assert DEFAULT.role_for("refund") == "manager"
    assert DEFAULT.role_for("expected_cash") == "manager"
    assert not DEFAULT.allows("cashier", "refund") and DEFAULT.allows("manager", "refund")
    assert DEFAULT.allows("admin", "refund")   # each role may do what the ones before it may
    assert not DEFAULT.allows(None, "refund")


def test_every_gate_is_worded_for_the_counter_not_a_field_name():
    # issue 28: "The PIN prompt names the action in words ("changing the payment status"), never a field name."
    for action in ACTIONS:
        prompt = DEFAULT.prompt(action.key)
        assert "_" not in prompt and prompt.endswith("needs a manager PIN."), prompt
    assert DEFAULT.prompt("refund") == "A refund needs a manager PIN."


def test_a_table_moves_an_action_to_another_role():
    table = Permissions.from_table({"refund": "cashier", "quit": "admin"})
    assert table.allows("cashier", "refund") and not table.needs_approval("refund")
    assert not table.allows("manager", "quit") and table.prompt("quit") == "Quitting tui-pos needs an admin PIN."


def test_f1_lists_what_the_role_may_do_and_whose_pin_the_rest_needs():
    cashier = "\n".join(DEFAULT.describe("cashier"))
    assert "Yours alone: selling" in cashier and "Needs a manager PIN:" in cashier and "a refund" in cashier
    assert all(len(line) <= 76 for line in DEFAULT.describe("cashier"))
    manager = "\n".join(DEFAULT.describe("manager"))
    assert "Needs a" not in manager and "a refund" in manager


def test_config_refuses_an_unknown_action_or_role_naming_the_key():
    assert config.from_dict({"permissions": {"refund": "cashier"}}).permissions.refund == "cashier"
    with pytest.raises(config.ConfigError, match=r"unknown key permissions\.refnd"):
        config.from_dict({"permissions": {"refnd": "cashier"}})
    with pytest.raises(config.ConfigError, match=r"permissions\.refund = 'boss'"):
        config.from_dict({"permissions": {"refund": "boss"}})
    with pytest.raises(ValueError, match="unknown role"):
        Permissions.from_table({"refund": "owner"})
