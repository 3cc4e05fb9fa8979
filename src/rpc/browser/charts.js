// Small charts drawn on <canvas>: a line or bar series with axes and a few labels.
// No library: the page has no build step.

const COLORS = {
  axis: "#9aa5b1",
  grid: "#e4e7eb",
  text: "#52606d",
  empty: "#9aa5b1",
};

/**
 * A "nice" y axis for values up to `v`: its top (1, 2 or 5 times a power of ten) and the
 * number of steps to it, so that every grid line falls on a round number (a whole number
 * when `integer`).
 */
function niceAxis(v, integer) {
  if (!(v > 0)) return { max: 1, steps: integer ? 1 : 4 };
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  let m = 10;
  for (const k of [1, 2, 5]) {
    if (v <= k * p) {
      m = k;
      break;
    }
  }
  const max = m * p;
  let steps = m === 5 || m === 10 ? 5 : 4;
  if (integer && max < steps) steps = Math.max(1, max);
  return { max, steps };
}

function shortNumber(v) {
  if (v >= 1e9) return (v / 1e9).toFixed(v >= 1e10 ? 0 : 1) + "G";
  if (v >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + "M";
  if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + "k";
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(v < 1 ? 2 : 1);
}

/**
 * Draws `points` ([{x, y}], x ascending) on `canvas`.
 * opts: kind "line" | "bar", color, fmtX(x) for the x labels, fmtY(y) for the y labels,
 * integer (the values are counts), empty (text shown when there are no points).
 */
export function drawChart(canvas, points, opts = {}) {
  const kind = opts.kind || "line";
  const color = opts.color || "#2f6fde";
  const fmtX = opts.fmtX || ((x) => String(x));
  const fmtY = opts.fmtY || shortNumber;
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 600;
  const h = canvas.clientHeight || 220;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "12px system-ui, sans-serif";

  const left = 48;
  const right = 12;
  const top = 12;
  const bottom = 26;
  const pw = Math.max(10, w - left - right);
  const ph = Math.max(10, h - top - bottom);

  if (points.length === 0) {
    g.fillStyle = COLORS.empty;
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText(opts.empty || "no data yet", w / 2, h / 2);
    return;
  }

  const axis = niceAxis(Math.max(...points.map((p) => p.y)), opts.integer);
  const ymax = axis.max;
  const y = (v) => top + ph - (v / ymax) * ph;

  // Grid and y labels.
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (let i = 0; i <= axis.steps; i++) {
    const v = (ymax * i) / axis.steps;
    const yy = Math.round(y(v)) + 0.5;
    g.strokeStyle = i === 0 ? COLORS.axis : COLORS.grid;
    g.beginPath();
    g.moveTo(left, yy);
    g.lineTo(left + pw, yy);
    g.stroke();
    g.fillStyle = COLORS.text;
    g.fillText(fmtY(v), left - 6, yy);
  }

  const n = points.length;
  const slot = pw / n;
  const xAt = (i) => left + slot * i + slot / 2;

  g.fillStyle = color;
  g.strokeStyle = color;
  if (kind === "bar") {
    const bw = Math.min(48, Math.max(1, slot * 0.7));
    points.forEach((p, i) => {
      const yy = y(p.y);
      g.fillRect(xAt(i) - bw / 2, yy, bw, top + ph - yy);
    });
  } else {
    g.lineWidth = 2;
    g.beginPath();
    points.forEach((p, i) => {
      if (i === 0) g.moveTo(xAt(i), y(p.y));
      else g.lineTo(xAt(i), y(p.y));
    });
    g.stroke();
    if (n <= 60) {
      points.forEach((p, i) => {
        g.beginPath();
        g.arc(xAt(i), y(p.y), 2.5, 0, 2 * Math.PI);
        g.fill();
      });
    }
  }

  // X labels: first, middle, last.
  g.fillStyle = COLORS.text;
  g.textBaseline = "top";
  const marks = n === 1 ? [0] : n === 2 ? [0, 1] : [0, Math.floor((n - 1) / 2), n - 1];
  marks.forEach((i, k) => {
    g.textAlign = k === 0 ? "left" : k === marks.length - 1 ? "right" : "center";
    const xx = k === 0 ? left : k === marks.length - 1 ? left + pw : xAt(i);
    g.fillText(fmtX(points[i].x), xx, top + ph + 6);
  });
}
