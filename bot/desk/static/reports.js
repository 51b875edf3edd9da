// The reports page: the figures of /api/reports as bar charts, and the same as CSV.
"use strict";

const $ = (id) => document.getElementById(id);

function minutes(seconds) {
  return seconds < 60 ? Math.round(seconds) + " s" : seconds < 3600 ? (seconds / 60).toFixed(1) + " min" : (seconds / 3600).toFixed(1) + " h";
}

async function show() {
  const days = $("days").value;
  $("csv").href = "/api/reports.csv?days=" + encodeURIComponent(days);
  const response = await fetch("/api/reports?days=" + encodeURIComponent(days), { credentials: "same-origin" });
  if (response.status === 401) { location.href = "/login"; return; }
  const report = await response.json();
  if (!response.ok) { $("report-error").textContent = report.error || response.statusText; return; }
  $("report-error").textContent = "";
  $("total").textContent = report.cases + " cases opened since " + report.since.slice(0, 10);
  const timing = (groups, measure) => Object.entries(groups).map(([group, t]) => [group + " (" + t.cases + ")", t[measure]]);
  barChart($("first-response-priority"), timing(report.by_priority, "first_response_seconds"), minutes);
  barChart($("resolution-priority"), timing(report.by_priority, "resolution_seconds"), minutes);
  barChart($("first-response-team"), timing(report.by_team, "first_response_seconds"), minutes);
  barChart($("resolution-team"), timing(report.by_team, "resolution_seconds"), minutes);
  barChart($("csat"), Object.entries(report.csat).map(([score, count]) => [score + " \u2605", count]));
  showComments(report.csat_comments);
  barChart($("breaches"), Object.entries(report.sla_breaches_per_day));
  barChart($("intents"), Object.entries(report.cases_by_intent).map(([intent, count]) => [intent.replace(/_/g, " "), count]));
}

// Customers' words: set as text, never as markup.
function showComments(comments) {
  const list = $("csat-comments");
  list.textContent = "";
  if (!comments.length) { list.append(Object.assign(document.createElement("li"), { textContent: "No comments in this period." })); return; }
  for (const c of comments) {
    const item = document.createElement("li");
    const link = Object.assign(document.createElement("a"), { href: "/#case=" + encodeURIComponent(c.case_id), textContent: c.case_id });
    item.append(link, " · " + c.rating + " \u2605 · " + c.comment);
    list.append(item);
  }
}

$("report-form").addEventListener("submit", (event) => { event.preventDefault(); show(); });
show();
