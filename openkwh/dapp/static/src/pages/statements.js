// Scope 2 statements on chain (EmissionsRegistry): make one for a meter's month (the
// wallet sends it), list them with their attestations and the factors they used, ask an
// auditor for one from the utility's data, and download the dual-reporting report.
// Every figure is the contract's integer, shown exactly (BigInt), never a float.

import { api } from "../api.js";
import { escape, short, when } from "../format.js";
import { $ } from "../state.js";
import { send, toast } from "../transactions.js";

const whole = (text) => BigInt(text).toLocaleString("en");
const grams = (text) => `${whole(text)} g CO₂e`;
const who = (address) => `<code title="${escape(address)}">${escape(short(address))}</code>`;

// A superseded statement was merged into a statement of several parts, or restated
// (computed anew, with later retirements or corrected factors) as one of its own.
function statementCard(s, byId) {
  const attested = s.attestations.length
    ? s.attestations
        .map((a) => `<li>Attested by ${who(a.auditor)} on ${escape(when(a.attested_at))}: ${escape(a.note)} <span class="cid">(${escape(a.cid)})</span></li>`)
        .join("")
    : "<li>Not attested yet.</li>";
  const used = s.publications.length
    ? s.publications
        .map((p) => `<li>${escape(p.kind_name)}, ${escape(p.sector)}: ${escape(p.source)}${p.superseded_by ? ` (since corrected by publication ${p.superseded_by})` : ""} <span class="cid">${escape(p.cid)}</span></li>`)
        .join("")
    : "";
  const utility = s.utility
    ? `<li>${escape(s.utility.utility)}: location ${whole(s.utility.location_mg_per_kwh)} mg/kWh, market ${whole(s.utility.market_mg_per_kwh)} mg/kWh; ` +
      `${escape(s.utility.data_format)}, sha256 <code class="cid">${escape(s.utility.data_sha256)}</code>, encrypted to your key at <span class="cid">${escape(s.utility.data_cid)}</span></li>`
    : "";
  const what = s.meter_id ? `meter ${who(s.meter_id)}` : escape(s.utility?.utility || "utility data");
  const restated = byId.get(s.superseded_by)?.origin === 1;
  const status = s.live ? "" : ` · ${restated ? "restated as" : "merged into"} statement ${s.superseded_by}`;
  return `<article class="statement${s.live ? "" : " superseded"}" data-id="${s.id}">
  <h3>Statement ${s.id}: ${escape(when(s.begin))} – ${escape(when(s.end))}</h3>
  <dl>
    <div><dt>Consumption</dt><dd>${whole(s.consumed_wh)} Wh</dd></div>
    <div><dt>Location-based</dt><dd class="location">${grams(s.location_based_g)}</dd></div>
    <div><dt>Market-based</dt><dd class="market">${grams(s.market_based_g)}</dd></div>
    <div><dt>Hourly-matched</dt><dd>${escape(s.hourly_matched_percent)} %</dd></div>
  </dl>
  <p class="basis"><strong>${escape(s.basis.replace(/0x[0-9a-fA-F]{40}/g, (a) => short(a)))}</strong> · ${what} · ${escape(s.sector)}${status}</p>
  <ul class="attestations">${attested}</ul>
  ${used || utility ? `<ul class="publications">${used}${utility}</ul>` : ""}
</article>`;
}

// The month of an <input type=month> ("2026-12") as unix seconds, UTC.
function monthBounds(text) {
  const [year, month] = text.split("-").map(Number);
  return [Date.UTC(year, month - 1, 1) / 1000, Date.UTC(year, month, 1) / 1000];
}

export async function statements(account) {
  const data = await api(`/accounts/${account}/statements`);
  const form = $("#statement-form");
  const chosen = form.period.value;
  form.period.replaceChildren(
    ...data.candidates.map((c, i) => {
      const option = document.createElement("option");
      option.value = String(i);
      option.textContent = `${c.month}, meter ${short(c.meter_id)}: ${when(c.begin)} – ${when(c.end)}`;
      return option;
    }),
  );
  if (chosen && Number(chosen) < data.candidates.length) form.period.value = chosen;
  const none = !data.candidates.length;
  form.querySelector("button").disabled = none;
  if (none) {
    const option = document.createElement("option");
    option.textContent = "No measured hours without a statement";
    form.period.append(option);
  }
  form.onsubmit = async (event) => {
    event.preventDefault();
    const c = data.candidates[Number(form.period.value)];
    if (!c) return toast(form, "Choose a meter and a month first.", "error");
    await send(`Scope 2 statement for ${c.month}`, "EmissionsRegistry", "make_statement", [c.meter_id, c.begin, c.end], form);
  };

  // A year of months becomes one statement: `merge` burns the parts.
  const merge = $("#merge-form");
  const run = merge.run.value;
  merge.hidden = !data.mergeable.length;
  merge.run.replaceChildren(
    ...data.mergeable.map((m, i) => {
      const option = document.createElement("option");
      option.value = String(i);
      option.textContent = `Statements ${m.ids.join(", ")}, meter ${short(m.meter_id)}: ${when(m.begin)} – ${when(m.end)}`;
      return option;
    }),
  );
  if (run && Number(run) < data.mergeable.length) merge.run.value = run;
  merge.onsubmit = async (event) => {
    event.preventDefault();
    const m = data.mergeable[Number(merge.run.value)];
    if (m) await send(`Merge of statements ${m.ids.join(", ")}`, "EmissionsRegistry", "merge", [m.ids], merge);
  };

  const list = [...data.statements].reverse(); // newest first
  const byId = new Map(list.map((s) => [s.id, s]));
  $("#statements").innerHTML = list.length ? list.map((s) => statementCard(s, byId)).join("") : '<p class="muted">No statement yet.</p>';
  $("#report-csv").href = `/api/v1/accounts/${account}/scope2-report.csv`;
  $("#report-pdf").href = `/api/v1/accounts/${account}/scope2-report.pdf`;

  const utility = $("#utility-form");
  const auditorChosen = utility.auditor.value;
  utility.auditor.replaceChildren(
    ...data.auditors.map((a, i) => {
      const option = document.createElement("option");
      option.value = String(i);
      option.textContent = `${short(a.account)} (${a.sector})`;
      return option;
    }),
  );
  if (auditorChosen && Number(auditorChosen) < data.auditors.length) utility.auditor.value = auditorChosen;
  utility.querySelector("button").disabled = !data.auditors.length;
  utility.onsubmit = async (event) => {
    event.preventDefault();
    const auditor = data.auditors[Number(utility.auditor.value)];
    const name = utility.utility.value.trim();
    if (!auditor || !name || !utility.month.value) return toast(utility, "Choose an auditor, your utility and a month.", "error");
    const [begin, end] = monthBounds(utility.month.value);
    await send(`Statement request for ${utility.month.value}`, "EmissionsRegistry", "request_utility_statement", [auditor.account, auditor.sector, name, begin, end], utility);
  };
  $("#requests").innerHTML = data.requests.length
    ? `<ul>${data.requests
        .map((r) => `<li>Request ${r.id} to ${who(r.auditor)}, ${escape(r.utility)}, ${escape(when(r.begin))} – ${escape(when(r.end))}: ${r.statement ? `answered, statement ${r.statement}` : "waiting for the auditor"}</li>`)
        .join("")}</ul>`
    : "";
}
