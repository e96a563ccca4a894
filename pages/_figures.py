"""Figures drawn on more than one page (Home, the story, Small vs large): the headline chart and the winner map, with
their annotations. They draw what backend.explore returns; no formulas here."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from backend.explore import fmt
from pages._common import ci_figure, html_safe, model_color, strategy_label, with_series


def _note(fig: go.Figure, x, y, text: str, ax: int = 40, ay: int = -40, log_x: bool = True) -> None:
    """An arrow annotation on the figure (x in data units; log axes take log10)."""
    fig.add_annotation(x=np.log10(x) if log_x else x, y=y, text=text, showarrow=True, arrowhead=2, ax=ax, ay=ay,
                       font=dict(size=12, color="#111111"), bgcolor="rgba(255,255,255,0.85)", bordercolor="#666",
                       borderwidth=1)


def headline_figure(h: dict):
    """Home's chart: the small model's strategies coloured by strategy (upper bounds grey, each with its own dash),
    every model's one greedy answer as a labelled black diamond, and arrows at the point where a deployable line
    reaches the large model's diamond (or at its best point when none does) and at the top of the upper bound."""
    df = with_series(h["curves"], with_model=False)
    fig = ci_figure(df, x="flops", group="series", x_title="inference FLOPs per prompt", hover=["lo", "hi", "k"],
                    color_col="strategy", color_by="strategy")
    for r in h["greedy"].itertuples():
        big = r.model == h["large"]
        fig.add_trace(go.Scatter(x=[r.flops], y=[r.acc], mode="markers+text", name=f"{r.model} · one greedy answer",
                                 text=[html_safe(r.model)], textposition="middle left" if big else "middle right",
                                 marker=dict(size=15 if big else 12, symbol="diamond", color="#000000",
                                             line=dict(width=2, color=model_color(r.model))),
                                 error_y=dict(type="data", array=[r.hi - r.acc], arrayminus=[r.acc - r.lo],
                                              color="#000000"),
                                 hovertemplate=f"{html_safe(r.model)}, one greedy answer<br>{fmt.flops(r.flops)} FLOPs"
                                               f"<br>accuracy {fmt.pct(r.acc)} ({fmt.pct(r.lo)} to {fmt.pct(r.hi)})"
                                               "<extra></extra>"))
    d, u = h.get("deployable"), h.get("upper_bound")
    if d and "target_acc" in h:
        fig.add_hline(y=h["target_acc"], line=dict(color="#000000", width=1, dash="dot"))
        if d["reaches"]:
            _note(fig, d["reach_flops"], d["reach_acc"],
                  f"{html_safe(h['small'])} reaches {html_safe(h['large'])}<br>with "
                  f"{strategy_label(d['reach_strategy'], d['reach_verifier'])}, k={d['reach_k']}")
        else:
            gap = (d["best_acc"] - h["target_acc"]) * 100
            _note(fig, d["best_flops"], d["best_acc"],
                  f"best deployable: {fmt.pct(d['best_acc'])}<br>{gap:+.0f} points from {html_safe(h['large'])}",
                  ax=-30, ay=50)
    if u:
        _note(fig, u.get("reach_flops", u["best_flops"]), u.get("reach_acc", u["best_acc"]),
              "upper bound:<br>a perfect verifier", ax=-60, ay=-30)
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    return fig, df


def winner_figure(g: dict, models: list[str]):
    """The winner map as a grid: difficulty bins across, FLOPs budgets up the side (cheapest at the bottom), each
    cell coloured by the winning model with its name, strategy and k written in it (dark text on light cells and
    the reverse), so it reads on a phone as well as a desktop."""
    bins, budgets = g["bins"], [fmt.flops(b) for b in g["budgets"]]
    idx = np.asarray(g["model_index"], dtype=float).T  # [budgets, bins]
    text = np.asarray(g["label"], dtype=object).T
    acc = np.asarray(g["acc"], dtype=float).T
    n = max(1, len(models) - 1)
    fig = go.Figure(go.Heatmap(
        z=idx, x=bins, y=budgets, colorscale=[[i / n, model_color(m)] for i, m in enumerate(models)] if len(models) > 1
        else [[0, model_color(models[0])], [1, model_color(models[0])]],
        zmin=0, zmax=n, showscale=False, xgap=2, ygap=2, customdata=np.where(np.isnan(acc), -1, acc),
        hoverinfo="skip"))
    xs, ys, ts, colors, hover = [], [], [], [], []
    for i, b in enumerate(budgets):
        for j, band in enumerate(bins):
            xs.append(band)
            ys.append(b)
            ts.append(str(text[i, j]))
            k = idx[i, j]
            colors.append("#000000" if np.isnan(k) or _light(model_color(models[int(k)])) else "#ffffff")
            hover.append(f"{band} prompts, up to {b} FLOPs per prompt<br>{ts[-1]}"
                         + (f"<br>accuracy {fmt.pct(acc[i, j])}" if not np.isnan(acc[i, j]) else ""))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="text", text=ts, textfont=dict(size=11, color=colors),
                             hovertext=hover, hoverinfo="text", showlegend=False))
    fig.update_layout(height=120 + 46 * len(budgets), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="difficulty", type="category", side="top"),
                      yaxis=dict(title="inference FLOPs per prompt (budget)", type="category"))
    return fig


def _light(hex_color: str) -> bool:
    """Whether black text reads on this background (relative luminance above ~0.4)."""
    r, g, b = (int(hex_color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45

