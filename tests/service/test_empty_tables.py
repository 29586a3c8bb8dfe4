"""A table with nothing to show is not drawn: an empty page says so in a sentence
(「提案はまだありません。」) instead of a header row over no rows."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx

from .conftest import PASSWORD, Server
from .helpers import need_payload, ok, page_login


class _Tables(HTMLParser):
    """Each table of a page: whether it has a column header and how many body rows."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, int]] = []
        self._open: list[dict[str, int]] = []
        self._in_head = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._open.append({"headers": 0, "rows": 0})
        elif not self._open:
            return
        elif tag == "thead":
            self._in_head += 1
        elif tag == "th" and (self._in_head or dict(attrs).get("scope") == "col"):
            self._open[-1]["headers"] += 1
        elif tag == "tr" and not self._in_head:
            self._open[-1]["rows"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead" and self._in_head:
            self._in_head -= 1
        elif tag == "table" and self._open:
            self.tables.append(self._open.pop())


def stray_headers(html: str) -> list[dict[str, int]]:
    parser = _Tables()
    parser.feed(html)
    return [t for t in parser.tables if t["headers"] and not t["rows"]]


def test_the_parser_finds_a_header_over_no_rows() -> None:
    assert stray_headers("<table><thead><tr><th>a</th></tr></thead><tbody></tbody></table>")
    assert not stray_headers(
        "<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>"
    )


def _page(client: httpx.Client, path: str, sentence: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    assert not stray_headers(r.text), path
    assert sentence in r.text, path


def test_empty_pages_say_so_without_a_table_header(api: Server) -> None:
    coord = page_login(api.url, "coord", PASSWORD)
    bousai = page_login(api.url, "bousai", PASSWORD)
    api.clients += [coord, bousai]
    # a department with no needs yet
    _page(bousai, "/my", "まだ登録していません。")
    # the coordinator's pages before anything was decided or trained
    _page(coord, "/models", "まだ再学習していません。")
    _page(coord, "/dashboard", "この年度の記録はまだありません。")
    # a need no group was suggested for (no group is registered)
    need = ok(api.client("bousai").post("/api/needs", json=need_payload(1)), 201)
    _page(coord, f"/needs/{need['id']}", "提案はまだありません。")
    _page(bousai, f"/needs/{need['id']}", "検討されている団体はまだありません。")
    # and the other pages a coordinator opens every day hold no empty table either
    for path in ("/queue", "/pairings", "/registrations", "/mail", "/users", "/files"):
        r = coord.get(path)
        assert r.status_code == 200 and not stray_headers(r.text), path
    r = coord.get(f"/needs/{need['id']}/pair")
    assert r.status_code == 200 and not stray_headers(r.text)
