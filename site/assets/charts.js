// Draws every chart of the page from the Vega-Lite spec in the script element beside it,
// with the Vega bundle the site ships (no request leaves the site's own host).
function enginebenchCharts() {
  for (const el of document.querySelectorAll("script.eb-chart-spec")) {
    const target = document.getElementById(el.dataset.target);
    if (!target || target.dataset.state !== "pending") continue;
    target.dataset.state = "drawing";
    target.textContent = "";
    // the chart's menu exports it as SVG or PNG, drawn here; no link to the online editor
    const actions = { export: true, source: false, compiled: false, editor: false };
    window.vegaEmbed(target, JSON.parse(el.textContent), { actions, renderer: "svg" })
      .then(() => { target.dataset.state = "rendered"; })
      .catch((err) => {
        target.dataset.state = "failed";
        target.textContent = "chart failed: " + err;
      });
  }
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", enginebenchCharts);
} else {
  enginebenchCharts();
}
