"""The small HTML page at `/`: every job with its schedule or parents, next run, last
result and state, and the dependency graph as Graphviz text."""

from __future__ import annotations

from html import escape

_STYLE = "body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}.success{color:green}.failure{color:red}"


def render_page(rows: list[tuple[str, str, str, str, str]], dot: str) -> str:
    """rows: (name, next run, last result, state, schedule or parents)."""
    body = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(when)}</td><td>{escape(nxt) or '-'}</td>"
        f"<td class='{escape(result)}'>{escape(result)}</td><td>{escape(state)}</td></tr>"
        for name, nxt, result, state, when in rows
    )
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>mesobus jobs</title>"
            f"<style>{_STYLE}</style></head><body><h1>mesobus jobs</h1>"
            f"<table><tr><th>job</th><th>schedule / parents</th><th>next run</th><th>last result</th>"
            f"<th>state</th></tr>{body}</table><h2>dependencies</h2><pre>{escape(dot)}</pre></body></html>")
