// Charts read their data from <script type="application/json"> blocks (no inline script, so
// the page's Content-Security-Policy can forbid inline code); the feed listens to its stream.
(function () {
  "use strict";
  function pct(v) { return v == null ? "–" : (100 * v).toFixed(1) + "%"; }
  function drawCharts(root) {
    if (!window.echarts) { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var src = document.getElementById(el.getAttribute("data-chart"));
      if (!src) { return; }
      var spec = JSON.parse(src.textContent);
      var old = window.echarts.getInstanceByDom(el);
      if (old) { old.dispose(); }
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      var series = spec.series.map(function (name, i) {
        return { name: name, type: spec.kind === "bars" ? "bar" : "line", data: spec.y[i], smooth: false, showSymbol: false };
      });
      chart.setOption({
        animation: false,
        grid: { left: 48, right: 12, top: 28, bottom: 28 },
        legend: { show: spec.series.length > 1, type: "scroll", top: 0, textStyle: { fontSize: 10 } },
        tooltip: { trigger: "axis", valueFormatter: spec.percent ? pct : undefined },
        xAxis: { type: "category", data: spec.x },
        yAxis: { type: "value", axisLabel: { formatter: spec.percent ? function (v) { return Math.round(v * 100) + "%"; } : undefined } },
        series: series
      });
      el.setAttribute("data-drawn", "true");
    });
  }
  function listen(feed) {
    if (!window.EventSource) { return; }
    var seen = {};
    feed.querySelectorAll("li[data-id]").forEach(function (li) { seen[li.getAttribute("data-id")] = true; });
    var es = new EventSource(feed.getAttribute("data-stream"));
    es.addEventListener("feed", function (ev) {
      var item = JSON.parse(ev.data);
      if (seen[item.id]) { return; }
      seen[item.id] = true;
      var empty = feed.querySelector(".empty");
      if (empty) { empty.remove(); }
      var li = document.createElement("li");
      li.setAttribute("data-id", item.id);
      var tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = item.kind.replace(/_/g, " ");
      li.appendChild(tag);
      li.appendChild(document.createTextNode(" " + item.what));
      feed.insertBefore(li, feed.firstChild);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    var feed = document.getElementById("feed");
    if (feed) { listen(feed); }
  });
  document.addEventListener("htmx:afterSwap", function (ev) { drawCharts(ev.target); });
})();
