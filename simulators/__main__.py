"""``python -m simulators [--port 8100 --smtp-port 1025 …]`` serves the partners and the local
mailbox; ``python -m simulators feed-file PATH --lines 10000 --malformed 20`` writes a CAF
feed file.

The callback secret is read from ``SIMULATORS_CALLBACK_SECRET`` when not given, so that it
does not show in the process list.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from simulators.caf_feed import write_feed_file
from simulators.config import (
    DEFAULT_MAILBOX_DIR,
    DEFAULT_PORT,
    DEFAULT_SMTP_PORT,
    DEV_CALLBACK_SECRET,
)
from simulators.server import run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators",
        description="Simulateurs des partenaires de Parcours (CAF, France Travail, Région, "
        "structures).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--callback-url",
        default=os.environ.get("SIMULATORS_CALLBACK_URL"),
        help="adresse de Parcours qui reçoit les rappels signés (sans elle, ils ne partent pas)",
    )
    parser.add_argument(
        "--callback-secret",
        default=os.environ.get("SIMULATORS_CALLBACK_SECRET", DEV_CALLBACK_SECRET),
        help="secret partagé qui signe les rappels (HMAC-SHA256)",
    )
    parser.add_argument(
        "--decision-delay",
        type=float,
        default=None,
        metavar="SECONDES",
        help="les financeurs décident seuls après ce délai (par défaut : sur demande seulement)",
    )
    parser.add_argument(
        "--demo-events", type=int, default=0, help="événements du flux CAF chargés au démarrage"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--smtp-port",
        type=int,
        default=DEFAULT_SMTP_PORT,
        help="port SMTP de la boîte aux lettres locale (sur --host)",
    )
    parser.add_argument(
        "--mail-dir",
        default=DEFAULT_MAILBOX_DIR,
        help="dossier où la boîte aux lettres garde chaque courriel reçu (.eml)",
    )
    parser.add_argument(
        "--no-mailbox", action="store_true", help="sans boîte aux lettres (ni SMTP ni /mailbox)"
    )
    parser.add_argument("--log-level", default="info")

    commands = parser.add_subparsers(dest="command")
    feed = commands.add_parser("feed-file", help="écrire un fichier de flux CAF (CSV « ; »)")
    feed.add_argument("path")
    feed.add_argument("--lines", type=int, default=10_000, help="lignes de données")
    feed.add_argument("--malformed", type=int, default=0, help="lignes volontairement fautives")
    feed.add_argument("--seed", type=int, default=0, dest="feed_seed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "feed-file":
        written = write_feed_file(
            args.path, args.lines, seed=args.feed_seed, malformed=args.malformed
        )
        print(
            f"{written.path} : {written.lines} lignes de données (plus l'en-tête), "
            f"dont {len(written.malformed)} fautives."
        )
        for number, defect in sorted(written.malformed.items()):
            print(f"  ligne {number} : {defect.value}")
        return 0

    run(
        args.host,
        args.port,
        args.callback_url,
        args.callback_secret,
        decision_delay_s=args.decision_delay,
        demo_events=args.demo_events,
        seed=args.seed,
        mailbox_dir=None if args.no_mailbox else args.mail_dir,
        smtp_port=args.smtp_port,
        log_level=args.log_level,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
