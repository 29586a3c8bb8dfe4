"""``python -m service`` (or ``kyodo``): the service's command line, in Japanese and English.

``data`` holds the commands that fill the database (migrate, load, create-user), ``run``
those that run or refresh the service (refit, prepare, train, serve, mail, remind,
digest).
"""

from __future__ import annotations

import typer

from matching._console import Command, Group

from . import data, run

__all__ = ["app", "main"]

app = typer.Typer(
    cls=Group,
    add_completion=False,
    no_args_is_help=True,
    help="協働マッチングのサービス: データの取り込み、利用者の作成、Web 画面と API の起動、"
    "メール送信。 / kyodo-match service: import data, create users, serve the web pages "
    "and API, send mail.",
)
for _name, _command in (
    ("migrate", data.migrate),
    ("load", data.load),
    ("create-user", data.create_user_command),
    ("refit", run.refit),
    ("prepare", run.prepare),
    ("train", run.train),
    ("serve", run.serve),
    ("mail", run.mail),
    ("remind", run.remind),
    ("digest", run.digest),
):
    app.command(_name, cls=Command)(_command)


def main() -> None:
    app()
