// Charts with uPlot: lines of one named series (the dashboards' query, run by the API) on one
// time axis, and the series' limits (GB 3838-2002 classes) drawn across as dashed lines.
import uPlot from "/vendor/uplot/uPlot.esm.js";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
export const STROKE = PALETTE;

function aligned(lines) {
  const times = [...new Set(lines.flatMap((line) => line.times_ms))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = lines.map((line) => {
    const values = new Array(times.length).fill(null);
    line.times_ms.forEach((t, i) => { values[index.get(t)] = line.values[i]; });
    return values;
  });
  return [times.map((t) => t / 1000), ...columns];
}

function bandsPlugin(bands) {
  return {
    hooks: {
      draw: [(u) => {
        const { ctx } = u;
        ctx.save();
        ctx.setLineDash([5, 4]);
        ctx.lineWidth = 1;
        ctx.font = `${11 * devicePixelRatio}px system-ui`;
        for (const band of bands) {
          const y = Math.round(u.valToPos(band.value, "y", true));
          if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
          ctx.strokeStyle = "#7d8590";
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
          ctx.fillStyle = "#5f6b7a";
          ctx.fillText(band.label, u.bbox.left + u.bbox.width - 28 * devicePixelRatio, y - 3);
        }
        ctx.restore();
      }],
    },
  };
}

export function drawChart(element, answer) {
  element.replaceChildren();
  const data = aligned(answer.lines);
  const values = answer.lines.flatMap((line) => line.values).filter((v) => v !== null);
  const limits = answer.bands.map((b) => b.value);
  const low = Math.min(...values, ...limits);
  const high = Math.max(...values, ...limits);
  const pad = (high - low) * 0.08 || 1;
  const rect = element.getBoundingClientRect();
  const plot = new uPlot({
    width: Math.max(rect.width - 8, 200),
    height: Math.max(rect.height - 40, 120),
    series: [
      {},
      ...answer.lines.map((line, i) => ({
        label: line.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true,
        points: { show: line.values.length < 40 },
      })),
    ],
    axes: [{}, { label: answer.unit, size: 56 }],
    scales: { y: { range: () => [values.length ? low - pad : 0, values.length ? high + pad : 1] } },
    plugins: [bandsPlugin(answer.bands)],
  }, data, element);
  element.dataset.points = String(values.length);
  element.dataset.series = answer.name;
  return plot;
}
