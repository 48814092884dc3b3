"""The customer's account portal (`tui-pos portal`): a small Starlette app on the store's database.

It calls `tui_pos.services.portal` for every read and write; it never imports the models or Textual
(an import contract in pyproject.toml). See docs/portal.md.
"""
