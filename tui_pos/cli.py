"""The `tui-pos` command line (SPEC.md: Command line)."""

from __future__ import annotations

import argparse
import os
import sys

from tui_pos import __version__


def _parser() -> argparse.ArgumentParser:
    # --config and --demo are accepted before or after the command. Their default is
    # SUPPRESS so that a subcommand's parser never overwrites a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="config file (default: $TUI_POS_CONFIG, ./config.toml, user config dir)")
    common.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                        help="use the demo database, seeded on first use")

    parser = argparse.ArgumentParser(prog="tui-pos", parents=[common],
                                     description="Keyboard-driven point of sale.")
    parser.add_argument("--version", action="version", version=f"tui-pos {__version__}")
    parser.add_argument("--support", action="store_true",
                        help="read-only diagnostics for support (over SSH): never sells, never grabs a scanner")
    sub = parser.add_subparsers(dest="command")

    sub.add_parser("init", parents=[common], help="create or upgrade the schema (safe to run again)")

    imp = sub.add_parser("import", parents=[common], help="import products (all-or-nothing)")
    imp.add_argument("what", choices=["products", "customers", "loyalty"])
    imp.add_argument("file")
    imp.add_argument("--convert", type=int, default=None, metavar="N",
                     help="loyalty: switching between points and value mode converts every balance at N points "
                          "per 1.00 (refused without it while balances exist)")
    imp.add_argument("--update", action="store_true",
                     help="customers: merge a row into the customer whose phone or card it has, or into an earlier "
                          "row of the file (refused without it); products: move a barcode from another product")
    imp.add_argument("--allow-large", action="store_true",
                     help="products: take prices up to 9,999,999.99 (999,999.99 without it)")

    exp = sub.add_parser("export", parents=[common],
                         help="export customers as CSV (the import format), or the loyalty program as TOML")
    exp.add_argument("what", choices=["customers", "loyalty"])
    exp.add_argument("file", nargs="?", default="-", help="output file (default: standard output)")

    loy = sub.add_parser("loyalty", parents=[common], help="loyalty housekeeping and figures")
    loy.add_argument("action", choices=["expire", "stats"],
                     help="expire: write off points past [program] expire_months; stats: the statistics")

    report = sub.add_parser("report", parents=[common], help="reports")
    report.add_argument("what", choices=["loyalty", "x", "z", "stores"],
                        help="loyalty: per customer; x: the register's day so far; z: close the day; "
                             "stores: each store's sales and the chain's")
    report.add_argument("--counted", metavar="AMOUNT", help="z: the cash counted in the drawer, e.g. 152.40")
    report.add_argument("--number", type=int, metavar="N", help="z: show Z report N again instead of closing")
    report.add_argument("--force", action="store_true",
                        help="z: close even with offline sales not yet on the server (audited)")
    report.add_argument("--print", dest="print_it", action="store_true",
                        help="x/z: also queue it on this register's printer")
    report.add_argument("--csv", action="store_true", help="CSV (UTF-8, header row) instead of a table")
    report.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day of the period")
    report.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day of the period")
    report.add_argument("--tier", default="", help="only customers in this tier")
    report.add_argument("--group", default="", help="only customers in this group")

    rate = sub.add_parser("rate", parents=[common], help="price rates (seed 003)")
    rate_sub = rate.add_subparsers(dest="rate_command", required=True)
    radd = rate_sub.add_parser("add", parents=[common], help="create or change a rate")
    radd.add_argument("code")
    radd.add_argument("name")
    radd.add_argument("--start", help="first day, YYYY-MM-DD")
    radd.add_argument("--end", help="last day, YYYY-MM-DD")
    radd.add_argument("--disabled", action="store_true")
    rset = rate_sub.add_parser("set", parents=[common], help="a product's price in a rate: 2.50, or 10%% off retail")
    rset.add_argument("code")
    rset.add_argument("sku")
    rset.add_argument("price")
    rrem = rate_sub.add_parser("remove", parents=[common], help="take a product out of a rate")
    rrem.add_argument("code")
    rrem.add_argument("sku")
    rate_sub.add_parser("list", parents=[common], help="the rates, their dates and how many products")
    rshow = rate_sub.add_parser("show", parents=[common], help="a rate's products and prices")
    rshow.add_argument("code")

    special = sub.add_parser("special", parents=[common], help="a time-limited price for everyone")
    special.add_argument("sku")
    special.add_argument("price")
    special.add_argument("--start")
    special.add_argument("--end")

    sprice = sub.add_parser("store-price", parents=[common],
                            help="a product's price in one store of the chain (docs/offline.md); no SKU: list")
    sprice.add_argument("sku", nargs="?", default="")
    sprice.add_argument("price", nargs="?", help="the store's price, e.g. 1.75 (omit with --remove)")
    sprice.add_argument("--store", default="", help="the store's code ([store] point_of_sale of its registers)")
    sprice.add_argument("--remove", action="store_true", help="the store sells it at retail again")

    group = sub.add_parser("group", parents=[common], help="customer groups and their automatic discount")
    group_sub = group.add_subparsers(dest="group_command", required=True)
    gset = group_sub.add_parser("set", parents=[common], help="create a group or change its discount")
    gset.add_argument("name")
    gset.add_argument("discount", help="percent, e.g. 10")
    group_sub.add_parser("list", parents=[common], help="the groups")
    gren = group_sub.add_parser("rename", parents=[common], help="rename a group (its customers stay in it)")
    gren.add_argument("old")
    gren.add_argument("new")
    gdel = group_sub.add_parser("delete", parents=[common], help="delete a group (its customers leave it)")
    gdel.add_argument("name")

    user = sub.add_parser("user", parents=[common], help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", parents=[common], help="add a user; the PIN is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["cashier", "manager", "admin"])
    unl = user_sub.add_parser("unlock", parents=[common],
                              help="lift the lock that wrong PINs put on a register's PIN prompts")
    unl.add_argument("--register", default=None, help="that register's code (default: every register)")

    printer = sub.add_parser("printer", parents=[common], help="printer test, print queue, reprints")
    printer.add_argument("action", choices=["test", "queue", "reprint"],
                         help="test: print a test page and show what the printer reports; queue: this register's "
                              "print queue; reprint NUMBER: queue a copy of a receipt")
    printer.add_argument("receipt", nargs="?", help="the receipt number to reprint, e.g. R1-000042")
    scanner = sub.add_parser("scanner", parents=[common], help="scanner checks")
    scanner.add_argument("action", choices=["list"])
    sub.add_parser("doctor", parents=[common], help="health checks for support")
    syn = sub.add_parser("sync", parents=[common],
                         help="the offline replica and journal of this register (docs/offline.md)")
    syn.add_argument("--now", action="store_true", help="send the journal now, then refresh the replica")
    syn.add_argument("--rebuild", action="store_true", help="build the replica again from the server")
    syn.add_argument("--problems", action="store_true", help="list the sync's discrepancies (all registers)")
    sub.add_parser("keys", parents=[common],
                   help="every binding id and its key under [keys] (what config.toml can rebind)")
    mig = sub.add_parser("migrate-to", parents=[common],
                         help="copy this register's SQLite database into PostgreSQL, and check the copy")
    mig.add_argument("url", help="postgresql://user@host/db (an empty database)")
    backup = sub.add_parser("backup", parents=[common], help="consistent online copy of the database")
    backup.add_argument("file")
    kiosk = sub.add_parser("kiosk", parents=[common],
                           help="boot straight into tui-pos on a console (systemd unit + getty override)")
    kiosk.add_argument("action", choices=["install", "uninstall"])
    kiosk.add_argument("--user", default="pos", help="the user the register runs as (default: pos)")
    kiosk.add_argument("--tty", type=int, default=1, help="the console it runs on (default: 1)")
    kiosk.add_argument("--dry-run", action="store_true", help="print the files and commands; change nothing")
    kiosk.add_argument("--root", default="/", help=argparse.SUPPRESS)   # tests: write under a directory
    msgs = sub.add_parser("messages", parents=[common], help="the customer messages' outbox")
    msgs.add_argument("action", choices=["list", "send", "retry", "triggers", "stop", "unsubscribe"],
                      help="list: the outbox; send: send what is due (--loop: keep sending); retry ID; "
                           "triggers: queue birthdays and expiring points now; stop PHONE|EMAIL: a STOP reply; "
                           "unsubscribe TOKEN")
    msgs.add_argument("arg", nargs="?", default="", help="retry: a message id; stop: a phone or email; "
                                                         "unsubscribe: the link's token")
    msgs.add_argument("--state", choices=["queued", "sending", "sent", "failed"], help="list: only this state")
    msgs.add_argument("--loop", action="store_true", help="send: keep going (every --every seconds)")
    msgs.add_argument("--every", type=float, default=10.0, help=argparse.SUPPRESS)
    fisc = sub.add_parser("fiscal", parents=[common], help="Panamanian electronic invoices (docs/fiscal.md)")
    fisc.add_argument("action", choices=["list", "show", "retry", "send"],
                      help="list: the documents; show RECEIPT: its XML; retry [RECEIPT]: send again now; "
                           "send: send what is due (--loop: keep sending)")
    fisc.add_argument("arg", nargs="?", default="", help="show/retry: a receipt number such as R1-000042")
    fisc.add_argument("--state", choices=["pending", "authorized", "contingency", "rejected"],
                      help="list: only this state")
    fisc.add_argument("--loop", action="store_true", help="send: keep going (every --every seconds)")
    fisc.add_argument("--every", type=float, default=5.0, help=argparse.SUPPRESS)
    camp = sub.add_parser("campaign", parents=[common], help="a message to a group or tier of customers")
    camp.add_argument("action", choices=["preview", "send"])
    who = camp.add_mutually_exclusive_group(required=True)
    who.add_argument("--group", help="customers of this group")
    who.add_argument("--tier", help="customers in this loyalty tier")
    who.add_argument("--all", action="store_true", help="every customer who agreed")
    camp.add_argument("--channel", choices=["sms", "email"], default="sms")
    camp.add_argument("--text", required=True, help="the message; {name} and {store} are filled in")
    camp.add_argument("--subject", default="", help="email subject")
    camp.add_argument("--yes", action="store_true", help="send: do not ask to confirm")
    portal = sub.add_parser("portal", parents=[common],
                            help="the customers' account web page (its own process; docs/portal.md)")
    portal.add_argument("--bind", default="127.0.0.1:8080", metavar="HOST:PORT",
                        help="where to listen (default 127.0.0.1:8080; put a TLS reverse proxy in front)")
    cust = sub.add_parser("customer", parents=[common], help="customer records")
    cust.add_argument("action", choices=["forget"])
    cust.add_argument("code", help="the customer's code")
    aud = sub.add_parser("audit", parents=[common],
                         help="the audit log, newest first (hash-chained: --verify checks it)")
    aud.add_argument("--user", metavar="NAME", help="only rows where NAME acted or approved")
    aud.add_argument("--action", metavar="PREFIX", help="only actions starting so, e.g. pin. or line.void")
    aud.add_argument("--day", metavar="YYYY-MM-DD", help="only that day (the store's local day)")
    aud.add_argument("--limit", type=int, default=50, metavar="N", help="at most N rows (default 50; 0: all)")
    aud.add_argument("--csv", action="store_true", help="CSV (UTF-8, header row) instead of a table")
    aud.add_argument("--verify", action="store_true",
                     help="check the whole chain instead of listing: exit 1 if a row does not match it")
    restore = sub.add_parser("restore", parents=[common],
                             help="put a backup back (refuses one older than the database without --force)")
    restore.add_argument("file")
    restore.add_argument("--force", action="store_true", help="restore even over a newer database")
    return parser


def main(argv: list[str] | None = None) -> int:
    from tui_pos import config as config_mod

    args = _parser().parse_args(argv)
    args.config = getattr(args, "config", None)
    args.demo = getattr(args, "demo", False)
    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        print(f"tui-pos: config: {exc}", file=sys.stderr)
        return 2
    try:
        config_mod.data_dir()   # the log (and the default database) live there: a file in its way is said here
    except config_mod.ConfigError as exc:
        print(f"tui-pos: {exc}", file=sys.stderr)
        return 2
    if cfg.db_url(args.demo).startswith("sqlite") and args.command != "migrate-to":
        # peewee imports a PostgreSQL driver when one is installed (the `postgres`
        # extra): ~85 ms and ~20 MiB a SQLite register never uses. Mark the
        # drivers absent; nothing of the register needs them on SQLite.
        for driver in ("psycopg2", "psycopg"):
            sys.modules.setdefault(driver, None)  # type: ignore[arg-type]
    # Textual paces repaints at TEXTUAL_FPS (default 60: up to ~33 ms from a
    # scan to its line on screen). A register wants the line now; repaints
    # still only happen when something changed.
    os.environ.setdefault("TEXTUAL_FPS", "240")
    from tui_pos.bootstrap import setup_logging
    try:
        setup_logging()
    except config_mod.ConfigError as exc:
        print(f"tui-pos: {exc}", file=sys.stderr)
        return 2
    from tui_pos import commands
    try:
        if args.command is None and getattr(args, "support", False):
            return commands.run_support(cfg, demo=args.demo)
        if args.command is None:
            return commands.run_app(cfg, demo=args.demo)
        handler = getattr(commands, "cmd_" + args.command.replace("-", "_"))
        return handler(cfg, args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:   # `tui-pos report ... | head`: the reader left; not an error worth a traceback
        import os as _os
        _os.dup2(_os.open(_os.devnull, _os.O_WRONLY), sys.stdout.fileno())
        return 0
