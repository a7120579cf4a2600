// Meters: the account's own, the meters offered to it (a registration or a transfer,
// with the debt it takes on) to accept, and the consents only an owner gives: a new
// signing key, and the operator's ledger paying a meter's bills.

import { api } from "../api.js";
import { checkedAddress, escape, short, table, tokens, when } from "../format.js";
import { $, state } from "../state.js";
import { send, toast } from "../transactions.js";

const ZERO = "0x0000000000000000000000000000000000000000";
const code = (hex) => `<code title="${hex}">${short(hex)}</code>`;

function offers(offered) {
  const ledger = state.site.ledger_token;
  $("#offers").hidden = !offered.length;
  $("#offered").innerHTML = table(
    offered.map((o) => {
      const debt = BigInt(o.debt);
      const changed = o.debt !== o.offered_debt ? ` (the offer named ${escape(tokens(o.offered_debt, ledger))})` : "";
      return [
        code(o.meter_id),
        escape(o.kind),
        o.owner === ZERO ? `its installer ${code(o.installer)}, a new registration` : code(o.owner),
        escape(when(o.offered_at)),
        debt ? `<strong>${escape(tokens(debt, ledger))}</strong>${changed}` : `none${changed}`,
        `<form class="inline" data-accept="${o.meter_id}">
           <button type="submit" aria-label="Accept meter ${short(o.meter_id)}${debt ? " with its debt" : ""}">Accept</button>
         </form>`,
      ];
    }),
    ["meter", "kind", "offered by", "offered", "debt you take on", ""],
  );
  document.querySelectorAll("form[data-accept]").forEach((form) => {
    const offer = offered.find((o) => o.meter_id === form.dataset.accept);
    form.onsubmit = (event) => {
      event.preventDefault();
      // At most the debt shown: a bill booked since then makes the contract refuse.
      send(`Accept meter ${short(offer.meter_id)}`, "SmartMeterBackend", "accept_meter",
        [offer.meter_id, BigInt(offer.debt)], form);
    };
  });
}

function consents(meters) {
  $("#keys").hidden = !meters.length;
  const backend = state.site.contracts.SmartMeterBackend.address;
  const ledgerText = {
    always: "always (its backend was trusted from the start)",
    open: "yes, you let it",
    closed: "no",
    untrusted: "none: the operator does not trust this meter's backend",
  };
  $("#meter-jobs").innerHTML = table(
    meters.map((m) => [
      code(m.meter_id),
      code(m.signer) + (m.approved_signer ? `<br><span class="muted">you approved ${code(m.approved_signer)}; an installer puts it in</span>` : ""),
      `<form class="inline" data-signer="${m.meter_id}">
         <input name="signer" placeholder="0x… new key" autocomplete="off" aria-label="new signing key for meter ${short(m.meter_id)}">
         <button type="submit" aria-label="Approve key for meter ${short(m.meter_id)}">Approve key</button>
       </form>`,
      escape(ledgerText[m.ledger] || m.ledger) +
        (m.ledger === "always" || m.ledger === "untrusted"
          ? ""
          : `<form class="inline" data-ledger="${m.meter_id}" data-open="${m.ledger !== "open"}">
               <button type="submit" aria-label="${m.ledger === "open" ? "Stop my ledger paying" : "Let my ledger pay"} the bills of meter ${short(m.meter_id)}">${m.ledger === "open" ? "Stop" : "Let my ledger pay"}</button>
             </form>`),
    ]),
    ["meter", "signing key", "approve a new key", "bills from your ledger"],
  );
  document.querySelectorAll("form[data-signer]").forEach((form) => {
    const meter = meters.find((m) => m.meter_id === form.dataset.signer);
    form.onsubmit = (event) => {
      event.preventDefault();
      let signer;
      try {
        signer = checkedAddress(form.signer.value, "The new key");
      } catch (error) {
        return toast(form, error.message, "error");
      }
      if (signer === meter.signer) return toast(form, "That is already the meter's key.", "error");
      return send(`Approve key ${short(signer)} for meter ${short(meter.meter_id)}`, "SmartMeterBackend", "approve_signer",
        [meter.meter_id, signer], form);
    };
  });
  document.querySelectorAll("form[data-ledger]").forEach((form) => {
    const open = form.dataset.open === "true";
    form.onsubmit = (event) => {
      event.preventDefault();
      send(`${open ? "Let my ledger pay" : "Stop my ledger paying"} the bills of meter ${short(form.dataset.ledger)}`,
        "OperatorBackend", "open_ledger", [backend, form.dataset.ledger, open], form);
    };
  });
}

export async function meters(account) {
  const { meters, offered } = await api(`/accounts/${account}/meters`);
  offers(offered);
  $("#meters").innerHTML = table(
    meters.map((m) => [
      code(m.meter_id),
      escape(m.kind),
      `${escape(m.sector)} ${escape(m.tech_code)} ${escape(m.fuel_code)}`,
      m.capacity_w ? `${(m.capacity_w / 1000).toLocaleString("en")} kW` : "–",
      m.last_end ? when(m.last_end) : "none yet",
      m.last_digest ? code(m.last_digest) : "–",
      m.last_cid ? `<code class="cid">${m.last_cid}</code>` : "–",
      m.suspended ? `<span class="bad">suspended: ${escape(m.status_reason)}</span>` : "active",
    ]),
    ["meter", "kind", "sector, technology, fuel", "capacity", "last reading", "data digest", "CID", "state"],
  );
  consents(meters);
}
