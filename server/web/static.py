"""The one stylesheet: plain, readable, no external assets."""

CSS = """
:root { --fg:#1d2430; --muted:#6b7485; --line:#e3e7ee; --accent:#3b6ea5; --ok:#2e7d4f; --bad:#b3362d; --bg:#fafbfc; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { background:#fff; border-bottom:1px solid var(--line); padding:.6rem 1.5rem; display:flex; flex-wrap:wrap; gap:.4rem 1.5rem; align-items:center; }
header strong { font-size:1.05rem; }
nav a { margin-right:1rem; color:var(--muted); text-decoration:none; }
nav a.on { color:var(--accent); font-weight:600; }
main { max-width:980px; margin:1.5rem auto; padding:0 1.5rem; }
h1 { font-size:1.35rem; margin:.2rem 0 1rem; overflow-wrap:anywhere; }
p, dd, li, td, code, .card { overflow-wrap:anywhere; }
svg { max-width:100%; height:auto; }
h2 { font-size:1.05rem; margin:1.6rem 0 .6rem; }
table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; padding:.45rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.8rem; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); }
.card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:1rem 1.2rem; margin-bottom:1rem; }
.muted { color:var(--muted); }
.risk-critical, .risk-high { color:var(--bad); font-weight:600; }
.badge { display:inline-block; padding:0 .45rem; border-radius:9px; font-size:.8rem; background:var(--line); }
.approved, .active, .success { background:#dff3e6; color:var(--ok); }
.denied, .failed, .retired, .expired { background:#f8e1df; color:var(--bad); }
dl.fields { display:grid; grid-template-columns:max-content 1fr; gap:.2rem .8rem; margin:.5rem 0; }
dl.fields dt { color:var(--muted); } dl.fields dd { margin:0; white-space:pre-wrap; overflow-wrap:anywhere; }
.prose h2 { font-size:1rem; } .prose { background:#fff; border:1px solid var(--line); border-radius:6px; padding:.2rem 1.2rem 1rem; }
q { quotes:"\201C" "\201D"; font-style:italic; }
.escalated { background:#fdecc8; color:#7a4b00; }
form.inline { display:inline; }
input[type=text], input[type=search], input[type=password] { padding:.35rem .5rem; border:1px solid var(--line); border-radius:4px; width:16rem; max-width:100%; }
button { padding:.35rem .8rem; border-radius:4px; border:1px solid var(--line); background:#fff; cursor:pointer; }
button.approve { background:var(--ok); color:#fff; border-color:var(--ok); }
button.deny { background:var(--bad); color:#fff; border-color:var(--bad); }
pre { background:#fff; border:1px solid var(--line); padding:1rem; overflow:auto; white-space:pre-wrap; overflow-wrap:anywhere; }
figure { margin:1rem 0; } figcaption { font-weight:600; margin-bottom:.3rem; }
.flash { background:#eef4fb; border:1px solid #cfe0f3; padding:.5rem .8rem; border-radius:4px; margin-bottom:1rem; }
.period a { margin:0 .2rem; } .period a.on { font-weight:700; color:var(--fg); text-decoration:none; border-bottom:2px solid var(--accent); }
ul.legend { list-style:none; padding:0; margin:.3rem 0; display:flex; flex-wrap:wrap; gap:.3rem 1rem; font-size:.9rem; }
.flash.error { background:#f8e1df; border-color:#f0c2bd; }
/* Phones (390 px and up): nothing wider than the screen; wide tables scroll inside themselves. */
@media (max-width: 700px) {
  header { padding:.5rem 1rem; }
  nav a { margin-right:.7rem; }
  main { margin:1rem auto; padding:0 .75rem; }
  table { display:block; overflow-x:auto; }
  .card { padding:.8rem; }
  dl.fields { grid-template-columns:1fr; } dl.fields dd { margin-bottom:.3rem; }
}
"""
