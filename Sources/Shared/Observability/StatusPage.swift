/// The HTML page served at `GET /`: the run's numbers and its loss curve, refreshed every second
/// from `GET /status`. One self-contained document (inline CSS and script, the chart drawn as
/// inline SVG), so it works on a machine without internet access.
public enum StatusPage {
    /// The page for the run named `run` (shown until the first poll answers).
    public static func html(run: String) -> String {
        let title = SVGPlot.escape(run)
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>grove: \(title)</title>
        <style>
        body { font-family: sans-serif; margin: 2em; color: #222; }
        table { border-collapse: collapse; }
        td { padding: 2px 12px 2px 0; }
        td:first-child { color: #666; }
        #error { color: #b00; }
        svg text { font-size: 11px; }
        </style>
        </head>
        <body>
        <h1 id="run">\(title)</h1>
        <p id="error"></p>
        <table>
        <tr><td>phase</td><td id="phase">-</td></tr>
        <tr><td>step</td><td id="step">-</td></tr>
        <tr><td>loss</td><td id="loss">-</td></tr>
        <tr><td>samples/s</td><td id="rate">-</td></tr>
        <tr><td>workers</td><td id="workers">-</td></tr>
        <tr><td>generation</td><td id="generation">-</td></tr>
        <tr><td>elapsed</td><td id="elapsed">-</td></tr>
        <tr><td>ETA</td><td id="eta">-</td></tr>
        <tr><td>checkpoint</td><td id="checkpoint">-</td></tr>
        </table>
        <svg id="chart" width="720" height="320" viewBox="0 0 720 320" xmlns="http://www.w3.org/2000/svg"></svg>
        <script>
        "use strict";
        const NS = "http://www.w3.org/2000/svg";
        function el(name, attrs, text) {
          const node = document.createElementNS(NS, name);
          for (const key in attrs) node.setAttribute(key, attrs[key]);
          if (text !== undefined) node.textContent = text;
          return node;
        }
        function clock(seconds) {
          if (seconds === null || seconds === undefined || !isFinite(seconds)) return "-";
          const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
          const two = (v) => (v < 10 ? "0" : "") + v;
          return h > 0 ? h + ":" + two(m) + ":" + two(r) : m + ":" + two(r);
        }
        function draw(points) {
          const svg = document.getElementById("chart");
          while (svg.firstChild) svg.removeChild(svg.firstChild);
          const left = 60, right = 700, top = 20, bottom = 290;
          svg.appendChild(el("line", {x1: left, y1: bottom, x2: right, y2: bottom, stroke: "black"}));
          svg.appendChild(el("line", {x1: left, y1: top, x2: left, y2: bottom, stroke: "black"}));
          svg.appendChild(el("text", {x: (left + right) / 2, y: 314, "text-anchor": "middle"}, "step"));
          if (points.length === 0) return;
          const xs = points.map((p) => p.step), ys = points.map((p) => p.loss);
          let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
          if (x1 === x0) x1 = x0 + 1;
          if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
          const px = (x) => left + (x - x0) / (x1 - x0) * (right - left);
          const py = (y) => bottom - (y - y0) / (y1 - y0) * (bottom - top);
          for (let i = 0; i <= 4; i++) {
            const y = y0 + (y1 - y0) * i / 4;
            svg.appendChild(el("line", {x1: left, y1: py(y), x2: right, y2: py(y), stroke: "#e5e5e5"}));
            svg.appendChild(el("text", {x: left - 4, y: py(y) + 4, "text-anchor": "end"}, y.toPrecision(3)));
            const x = x0 + (x1 - x0) * i / 4;
            svg.appendChild(el("text", {x: px(x), y: bottom + 14, "text-anchor": "middle"}, Math.round(x)));
          }
          const d = points.map((p, i) => (i === 0 ? "M" : "L") + px(p.step).toFixed(1) + " " + py(p.loss).toFixed(1)).join(" ");
          svg.appendChild(el("path", {d: d, fill: "none", stroke: "#1f77b4", "stroke-width": 1.5}));
        }
        function show(s) {
          const set = (id, text) => { document.getElementById(id).textContent = String(text); };
          set("run", s.run);
          set("phase", s.phase);
          set("step", s.step + " / " + s.total_steps + " (" + s.samples + " samples)");
          set("loss", s.loss === null ? "-" : Number(s.loss).toFixed(4));
          set("rate", s.samples_per_second === null ? "-" : Number(s.samples_per_second).toFixed(1));
          set("workers", Object.keys(s.workers).sort().map((k) => k + " " + s.workers[k]).join(", ") || "-");
          set("generation", s.generation);
          set("elapsed", clock(s.elapsed_seconds));
          set("eta", clock(s.eta_seconds));
          set("checkpoint", s.checkpoint_step === null || s.checkpoint_step === undefined ? "-" : "step " + s.checkpoint_step);
          document.title = "grove: " + s.run + " step " + s.step + "/" + s.total_steps;
          draw(s.loss_history || []);
        }
        async function poll() {
          try {
            const response = await fetch("/status", {cache: "no-store"});
            if (!response.ok) throw new Error("GET /status answered " + response.status);
            show(await response.json());
            document.getElementById("error").textContent = "";
          } catch (error) {
            document.getElementById("error").textContent = "no answer from the coordinator: " + error.message;
          }
        }
        poll();
        setInterval(poll, 1000);
        </script>
        </body>
        </html>

        """
    }
}
