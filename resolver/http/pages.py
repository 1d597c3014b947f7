"""HTML for people with a phone: a handle's record, and errors, readable on a small screen."""

from __future__ import annotations

from html import escape

from protocol.jsonrepr import iso_time, value_to_json
from protocol.values import HandleValue

_STYLE = """
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:0;
background:#f5f6f8;color:#1d2330}
main{max-width:44rem;margin:0 auto;padding:1rem}
h1{font-size:1.15rem;word-break:break-all;margin:.2rem 0 1rem}
.card{background:#fff;border-radius:.6rem;box-shadow:0 1px 3px #0002;padding:.2rem 1rem;margin-bottom:1rem}
dl{margin:0}dt{font-size:.8rem;color:#5b6477;margin-top:.7rem}dd{margin:0 0 .7rem;word-break:break-all}
.meta{font-size:.75rem;color:#7a8295}.err{color:#a3262a}a{color:#0b5cad}
"""


def _page(title: str, body: str, lang: str = "en") -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>")


def _datum(v: HandleValue) -> str:
    data = value_to_json(v)["data"]
    if data["format"] == "string":
        text = data["value"]
        if v.type.upper().startswith("URL") and text.lower().startswith(("http://", "https://")):
            return f'<a href="{escape(text, quote=True)}" rel="nofollow noopener">{escape(text)}</a>'
        return escape(text)
    if data["format"] == "admin":
        a = data["value"]
        return escape(f"administered by {a['index']}:{a['handle']}")
    return f'<span class="meta">{escape(data["format"])}</span> {escape(str(data["value"]))[:512]}'


def record_page(handle: str, values: list[HandleValue]) -> str:
    rows = "".join(
        f"<dt>{escape(v.type)} <span class=meta>#{v.index}</span></dt><dd>{_datum(v)}"
        f"<div class=meta>updated {iso_time(v.timestamp)}</div></dd>" for v in values)
    body = (f"<h1>{escape(handle)}</h1><div class=card><dl>{rows or '<dd>No public values.</dd>'}</dl></div>"
            f'<p class=meta>Identifier record · <a href="/api/handles/{escape(handle, quote=True)}">JSON</a></p>')
    return _page(handle, body)


def error_page(handle: str, message: str) -> str:
    return _page(handle, f"<h1>{escape(handle)}</h1><div class=card><p class=err>{escape(message)}</p></div>")
