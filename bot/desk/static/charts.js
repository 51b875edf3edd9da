// A small bar chart in SVG, served with the desk (no CDN, no build step): barChart(element, rows, format).
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes, text) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

// rows: [[label, value], ...]; a value of null is drawn as "none". Bars scale to the largest value.
function barChart(element, rows, format = String) {
  const barHeight = 22, gap = 6, labelWidth = 38, width = 100;  // percent of the chart's width
  const max = Math.max(1, ...rows.map(([, value]) => value || 0));
  const svg = svgElement("svg", { viewBox: `0 0 ${width * 4} ${rows.length * (barHeight + gap)}`, role: "img", class: "chart" });
  rows.forEach(([label, value], i) => {
    const y = i * (barHeight + gap);
    const bar = value ? ((width * 4 - labelWidth * 4) * 0.7 * value) / max : 0;
    const group = svgElement("g", { class: "bar", "data-label": label, "data-value": value === null ? "" : value });
    group.append(
      svgElement("text", { x: 0, y: y + barHeight * 0.7, class: "bar-label" }, label),
      svgElement("rect", { x: labelWidth * 4, y, width: Math.max(bar, 1), height: barHeight, class: "bar-fill" }),
      svgElement("text", { x: labelWidth * 4 + bar + 6, y: y + barHeight * 0.7, class: "bar-value" }, value === null ? "none" : format(value)),
    );
    svg.appendChild(group);
  });
  element.textContent = "";
  element.appendChild(svg);
}
