// Certificates: held ones grouped by day and producing meter, each hour retirable up
// to the holder's remaining consumption (a whole day at once), transferable to a
// checked address; those the Exchange holds to be claimed; the retired ones.

import { api } from "../api.js";
import { checkedAddress, escape, hourCell, kwh, short, table, when } from "../format.js";
import { $, state } from "../state.js";
import { send, toast } from "../transactions.js";

export async function certificates(account) {
  const [data, { meters }] = await Promise.all([
    api(`/accounts/${account}/certificates`),
    api(`/accounts/${account}/meters`),
  ]);
  const consuming = meters.filter((m) => m.kind !== "production");
  // One group per day and producing meter, with its totals; the newest open.
  const groups = new Map();
  for (const c of data.held) {
    const key = `${when(c.interval_begin).slice(0, 10)} ${c.meter_id}`;
    if (!groups.has(key)) groups.set(key, { day: when(c.interval_begin).slice(0, 10), meter: c.meter_id, items: [] });
    groups.get(key).items.push(c);
  }
  const sum = (items, field) => items.reduce((total, c) => total + BigInt(c[field]), 0n);
  const retirable = (c, meter) => {
    const left = BigInt(c.remaining_wh[meter] ?? 0);
    return BigInt(c.wh) < left ? BigInt(c.wh) : left;
  };
  const certificateRow = (c) => {
    const hourOf = escape(when(c.interval_begin));
    const first = consuming.find((m) => BigInt(c.remaining_wh[m.meter_id] ?? 0) > 0n) || consuming[0];
    const choices = consuming
      .map((m) => `<option value="${m.meter_id}"${m === first ? " selected" : ""}>${short(m.meter_id)}</option>`)
      .join("");
    return [
      hourCell(c.interval_begin),
      `${BigInt(c.wh).toLocaleString("en")} Wh`,
      `${BigInt(c.retirable_wh).toLocaleString("en")} Wh`,
      c.revoked
        ? '<span class="bad">revoked</span>'
        : `<form class="inline" data-cert="${c.id}">
             <input name="wh" value="${first ? retirable(c, first.meter_id) : 0}" size="7" aria-label="Wh of the certificate for ${hourOf}">
             <select name="meter" aria-label="against my meter, for ${hourOf}">${choices}</select>
             <button name="retire" type="submit" aria-label="Retire the certificate for ${hourOf}">Retire</button>
             <input name="to" placeholder="0x… recipient" size="14" aria-label="recipient of the certificate for ${hourOf}">
             <button name="transfer" type="submit" aria-label="Transfer the certificate for ${hourOf}">Transfer</button>
           </form>`,
    ];
  };
  $("#held").innerHTML = groups.size
    ? [...groups.entries()]
        .map(
          ([key, g], n) => `<details class="group"${n === 0 ? " open" : ""}>
            <summary><strong>${g.day}</strong> · produced by <code title="${g.meter}">${short(g.meter)}</code> ·
              ${g.items.length} ${g.items.length === 1 ? "hour" : "hours"} · ${kwh(sum(g.items, "wh"))} kWh held ·
              ${kwh(sum(g.items, "retirable_wh"))} kWh retirable against your consumption</summary>
            <form class="inline day" data-day="${escape(key)}">
              <button type="submit" aria-label="Retire the whole day: ${kwh(sum(g.items, "retirable_wh"))} kWh of ${g.day}, meter ${short(g.meter)}">Retire the whole day: ${kwh(sum(g.items, "retirable_wh"))} kWh</button>
            </form>
            ${table(g.items.map(certificateRow), ["hour", "held", "retirable (your remaining consumption)", "retire against my meter, or transfer (part: a split)"])}
          </details>`,
        )
        .join("")
    : '<p class="muted">Nothing yet.</p>';
  document.querySelectorAll("form[data-cert] select[name=meter]").forEach((select) => {
    const form = select.form;
    const c = data.held.find((x) => x.id === form.dataset.cert);
    select.onchange = () => (form.wh.value = retirable(c, select.value));
  });
  // A whole day at once: each hour's retirable Wh, against the consuming meter with the
  // most consumption left in that hour, in one retire_many.
  document.querySelectorAll("form[data-day]").forEach((form) => {
    const group = groups.get(form.dataset.day);
    const batch = group.items
      .filter((c) => !c.revoked)
      .map((c) => {
        const meter = consuming
          .map((m) => m.meter_id)
          .reduce((best, m) => (retirable(c, m) > retirable(c, best) ? m : best), consuming[0]?.meter_id);
        return { id: BigInt(c.id), wh: meter ? retirable(c, meter) : 0n, consumption_meter_id: meter };
      })
      .filter((r) => r.wh > 0n);
    const total = batch.reduce((sum, r) => sum + r.wh, 0n);
    form.querySelector("button").disabled = total === 0n;
    form.onsubmit = (event) => {
      event.preventDefault();
      if (!batch.length) return toast(form, "Nothing of this day is retirable against your consumption.", "error");
      return send(
        `Retire ${total.toLocaleString("en")} Wh of ${group.day} (${batch.length} ${batch.length === 1 ? "hour" : "hours"})`,
        "GGORegistry", "retire_many", [batch, "0x"], form,
      );
    };
  });
  document.querySelectorAll("form[data-cert]").forEach((form) => {
    form.onsubmit = (event) => {
      event.preventDefault();
      const id = BigInt(form.dataset.cert);
      const wh = form.wh.value.trim();
      if (!/^[0-9]+$/.test(wh) || BigInt(wh) === 0n) return toast(form, "Wh must be a whole number above zero.", "error");
      const held = BigInt(data.held.find((x) => x.id === form.dataset.cert).wh);
      if (BigInt(wh) > held) return toast(form, `You hold ${held.toLocaleString("en")} Wh of this certificate.`, "error");
      if (event.submitter?.name === "transfer") {
        let to;
        try {
          to = checkedAddress(form.to.value, "The recipient");
        } catch (error) {
          return toast(form, error.message, "error");
        }
        if (to === state.account) return toast(form, "The recipient is your own address.", "error");
        return send(`Transfer ${wh} Wh to ${short(to)}`, "GGORegistry", "safeTransferFrom", [state.account, to, id, BigInt(wh), "0x"], form);
      }
      if (!form.meter.value) return toast(form, "You have no consuming meter to retire against.", "error");
      return send(`Retire ${wh} Wh`, "GGORegistry", "retire", [id, BigInt(wh), form.meter.value, "0x"], form);
    };
  });
  $("#claimable").innerHTML = table(
    data.claimable.map((c) => [
      `<code>${short(BigInt(c.id).toString(16).padStart(64, "0"))}</code>`,
      `${c.wh.toLocaleString("en")} Wh`,
      `<button type="button" data-claim="${c.id}" aria-label="Claim certificate ${short(BigInt(c.id).toString(16).padStart(64, "0"))}">Claim</button>`,
    ]),
    ["certificate", "held for you", ""],
  );
  document.querySelectorAll("[data-claim]").forEach((button) => {
    button.onclick = () => send("Claim certificates", "Exchange", "claim_certificates", [BigInt(button.dataset.claim), state.account]);
  });
  $("#retired").innerHTML = table(
    data.retired.map((r) => [
      `<code>${short(BigInt(r.id).toString(16).padStart(64, "0"))}</code>`,
      when(r.interval_begin),
      `<code>${short(r.consumption_meter_id)}</code>`,
      `${r.wh.toLocaleString("en")} Wh`,
    ]),
    ["certificate", "hour", "against meter", "retired"],
  );
}