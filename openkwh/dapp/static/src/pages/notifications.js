// Notifications: what the indexer derived from the chain for this account, newest
// first. Which ones were read is this browser's: the newest id read, per account.

import { api } from "../api.js";
import { escape, kwh, perKwh, short, tokens, when } from "../format.js";
import { $, state } from "../state.js";

const ZERO = "0x0000000000000000000000000000000000000000";
const readKey = (account) => `openkwh.read.${account}`;
const lastRead = (account) => Number(localStorage.getItem(readKey(account)) || 0);
const markRead = (account, id) => localStorage.setItem(readKey(account), String(Math.max(id, lastRead(account))));

// The header's count of unread notifications, beside the navigation's link.
export async function refreshUnread(account) {
  const badge = $("#unread");
  if (!badge) return;
  const { unread } = await api(`/accounts/${account}/notifications?after=${lastRead(account)}&limit=1`);
  badge.textContent = unread ? `${unread} new` : "";
  badge.hidden = !unread;
}

const meter = (id) => `meter <code title="${id}">${short(id)}</code>`;
const ledger = (units) => escape(tokens(units, state.site.ledger_token));
const money = (units) => escape(tokens(units));

// One notification as a sentence (HTML, every value escaped or formatted).
export function describe(n) {
  switch (n.kind) {
    case "order_taken":
      return `Your ${n.side} ${n.order_id} for ${escape(when(n.interval_begin))} was taken: ${kwh(n.wh)} kWh at ` +
        `${escape(perKwh(n.price))} (deal ${n.deal_id}); ` +
        (BigInt(n.left_wh) ? `${kwh(n.left_wh)} kWh still open.` : "the order is filled.");
    case "deal_settled": {
      const refund = BigInt(n.refund) ? `, <strong>${money(n.refund)} refunded</strong> to your Exchange credit` : "";
      return n.role === "seller"
        ? `Deal ${n.deal_id} settled: ${kwh(n.delivered_wh)} kWh delivered, you were paid ${money(n.payment)} (Exchange credit).`
        : `Deal ${n.deal_id} settled: ${kwh(n.delivered_wh)} kWh delivered for ${money(n.payment)}${refund}.`;
    }
    case "certificates_received":
      return `${BigInt(n.wh).toLocaleString("en")} Wh of certificates received ` +
        (n.sender === ZERO ? "(issued to you)." : `from <code title="${n.sender}">${short(n.sender)}</code>.`);
    case "certificates_held":
      return `The Exchange holds ${BigInt(n.wh).toLocaleString("en")} Wh of certificates for you: claim them on the Certificates page.`;
    case "debt_recorded":
      return `A bill your ledger could not pay: <strong>${ledger(n.amount)}</strong> recorded as your debt.`;
    case "meter_debt_recorded":
      return `A bill of ${meter(n.meter_id)} your ledger could not pay: <strong>${ledger(n.amount)}</strong> recorded as the meter's debt.`;
    case "bill_unpaid":
      return `A bill of ${meter(n.meter_id)}, <strong>${ledger(n.amount)}</strong>, was not taken from your ledger: the operator collects it.`;
    case "meter_offered":
      return n.owner === ZERO
        ? `${meter(n.meter_id)} was registered for you: accept it on the Meters page.`
        : `${meter(n.meter_id)} is offered to you by <code title="${n.owner}">${short(n.owner)}</code>` +
          (BigInt(n.debt) ? `, with a debt of <strong>${ledger(n.debt)}</strong>` : "") + ": accept it on the Meters page.";
    case "meter_handed_over":
      return `${meter(n.meter_id)} now belongs to <code title="${n.new_owner}">${short(n.new_owner)}</code>` +
        (BigInt(n.debt) ? `, with its debt of ${ledger(n.debt)}.` : ".");
    case "statement_attested":
      return `Your Scope 2 statement ${n.id} was attested by <code title="${n.auditor}">${short(n.auditor)}</code>: see the Emissions page.`;
    case "signer_rotated":
      return `${meter(n.meter_id)} signs with a new key, <code title="${n.new_signer}">${short(n.new_signer)}</code>` +
        (n.new_device ? " (a new device)." : ".");
    case "tariff_announced":
      return `The operator announced tariff ${n.index}: retail ${escape(perKwh(n.retail_price))}, ` +
        `feed-in ${escape(perKwh(n.feed_in_reward))}, from ${escape(when(n.effective_from))}.`;
    case "backend_trust_announced":
      return `The operator ${n.trusted ? "will trust" : "will stop trusting"} the meter backend ` +
        `<code title="${n.backend}">${short(n.backend)}</code> from ${escape(when(n.effective_from))}.`;
    default:
      return escape(n.kind.replace(/_/g, " "));
  }
}

export async function notifications(account) {
  const read = lastRead(account);
  const data = await api(`/accounts/${account}/notifications?limit=200`);
  const list = $("#notifications");
  list.innerHTML = data.notifications.length
    ? data.notifications
        .map((n) => {
          const unread = n.id > read;
          return `<li class="${unread ? "unread" : "read"}" data-id="${n.id}">
            <span class="text">${unread ? '<span class="badge">new</span> ' : ""}${describe(n)}</span>
            <time class="muted" datetime="${new Date(n.at * 1000).toISOString()}">${escape(when(n.at))}</time></li>`;
        })
        .join("")
    : '<li class="read muted">Nothing yet.</li>';
  const button = $("#mark-read");
  button.disabled = !data.unread && data.latest <= read;
  button.onclick = () => {
    markRead(account, data.latest);
    notifications(account);
    refreshUnread(account);
  };
}
