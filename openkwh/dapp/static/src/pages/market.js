// The market: a public two-sided book per delivery hour, and an account's orders and
// deals, with the forms that place, take, cancel and settle them.

import { api } from "../api.js";
import { escape, hourCell, hourText, kwh, perKwh, plainWords, short, table, tokens, unitsPerWh, when } from "../format.js";
import { $, state } from "../state.js";
import { notice, send, toast } from "../transactions.js";
import { contract, reader } from "../wallet.js";

// The standing orders' chunk, loaded only where an Auction is deployed, and what it uses
// of the page's modules (see standing.js).
const standingChunk = () => import("./standing.js");
const kit = () => ({
  api, escape, hourText, kwh, perKwh, plainWords, short, table, tokens, unitsPerWh, when,
  $, state, notice, send, toast, ensureAllowance,
});

export async function market(account) {
  await marketPublic();
  const [{ meters }, { orders }, { deals }] = await Promise.all([
    api(`/accounts/${account}/meters`),
    api(`/accounts/${account}/orders`),
    api(`/accounts/${account}/deals`),
  ]);
  state.meters = meters;
  if (state.hour) await showBook(state.hour);
  const form = $("#order-form");
  form.querySelector(".symbol").textContent = state.site.token.symbol;
  const chosen = form.meter.value;
  form.meter.innerHTML = meters
    .map((m) => `<option value="${m.meter_id}">${short(m.meter_id)} (${escape(m.kind)})</option>`)
    .join("");
  if (meters.some((m) => m.meter_id === chosen)) form.meter.value = chosen;
  // The side follows what the chosen meter can do: a household meter only buys.
  const sideFor = () => {
    const meter = meters.find((m) => m.meter_id === form.meter.value);
    if (meter?.kind === "consumption") form.side.value = "bid";
    if (meter?.kind === "production") form.side.value = "offer";
  };
  if (!form.dataset.wired) sideFor();
  form.dataset.wired = "true";
  form.meter.onchange = sideFor;
  form.onsubmit = (event) => {
    event.preventDefault();
    placeOrder(form);
  };
  const now = state.now;
  const gateClosed = (o) => o.interval_begin - state.leadTime <= now;
  $("#orders").innerHTML = table(
    orders.map((o) => {
      const expired = o.status === "open" && gateClosed(o);
      const what = `${o.is_bid ? "bid" : "offer"} ${o.order_id}, ${when(o.interval_begin)}`;
      let action = "";
      if (o.status === "open" && !expired) {
        action = `<button type="button" data-cancel="${o.order_id}" aria-label="Cancel ${escape(what)}">Cancel</button>`;
      } else if (expired && o.is_bid) {
        action = `<button type="button" data-cancel="${o.order_id}" aria-label="Recover the escrow of ${escape(what)}">Recover escrow</button>`;
      }
      return [
        o.order_id,
        o.is_bid ? "bid" : "offer",
        hourCell(o.interval_begin),
        `${kwh(o.wh)} kWh`,
        escape(perKwh(o.price)),
        expired ? '<span class="muted">expired (gate closed)</span>' : escape(o.status),
        action,
      ];
    }),
    ["order", "side", "hour", "open", "price", "state", ""],
  );
  document.querySelectorAll("[data-cancel]").forEach((button) => {
    button.onclick = () =>
      send(`${button.textContent} of order ${button.dataset.cancel}`, "Exchange", "cancel", [BigInt(button.dataset.cancel)], button.parentElement);
  });
  // The Exchange's Deal struct, by field name: ethers matches them to the ABI's components.
  const terms = (d) => ({
    order_id: BigInt(d.order_id),
    seller: d.seller,
    buyer: d.buyer,
    seller_meter: d.seller_meter,
    buyer_meter: d.buyer_meter,
    interval_begin: BigInt(d.interval_begin),
    wh: BigInt(d.wh),
    price: BigInt(d.price),
    retire: Boolean(d.retire),
  });
  const settleable = (d) => !d.settled && (d.measured || now >= d.settleable_from);
  $("#deals").innerHTML = table(
    deals.map((d) => [
      d.deal_id,
      d.seller === state.account ? "sold" : "bought",
      hourCell(d.interval_begin),
      `${kwh(d.wh)} kWh`,
      escape(perKwh(d.price)),
      d.settled
        ? `settled: ${kwh(d.delivered_wh)} kWh delivered, ${escape(tokens(d.payment))} paid` +
          (BigInt(d.refund || 0) ? `, <strong>${escape(tokens(d.refund))} refunded</strong>` : "")
        : settleable(d)
          ? `<button type="button" data-settle="${d.deal_id}" aria-label="Settle deal ${d.deal_id}">Settle</button>`
          : d.interval_begin + state.site.interval_length <= now
            ? `awaiting the meter's reading (or until ${when(d.settleable_from)})`
            : "awaiting delivery",
    ]),
    ["deal", "side", "hour", "energy", "price", "settlement"],
  );
  document.querySelectorAll("[data-settle]").forEach((button) => {
    const d = deals.find((x) => String(x.deal_id) === button.dataset.settle);
    button.onclick = () => send(`Settle deal ${d.deal_id}`, "Exchange", "settle", [BigInt(d.deal_id), terms(d)], button.parentElement);
  });
  const all = $("#settle-all");
  const mine = deals.filter(settleable).slice(0, 64); // the Exchange settles at most 64 at once
  all.hidden = mine.length < 2;
  all.textContent = `Settle all ${mine.length} of my deals`;
  all.onclick = () =>
    send(`Settle ${mine.length} deals`, "Exchange", "settle_many",
      [mine.map((d) => ({ deal_id: BigInt(d.deal_id), deal: terms(d) }))], all.parentElement);
  if (state.site.contracts.Auction) await (await standingChunk()).standing(account, kit());
}

// The public market: the delivery hours and, for the chosen one, a two-sided book. A
// visitor without a wallet sees it too; it refreshes by polling the index.
export async function marketPublic() {
  const { hours, lead_time: leadTime } = await api("/orderbook");
  state.leadTime = leadTime;
  $("#hours").innerHTML = table(
    hours.map((h) => [
      `<a href="#book-title" data-hour="${h.interval_begin}">${hourText(h.interval_begin)}</a>`,
      `${h.offers} (${kwh(h.offered_wh)} kWh)`,
      `${h.bids} (${kwh(h.bid_wh)} kWh)`,
      h.open ? "open" : "closed",
    ]),
    ["hour", "offers", "bids", "market"],
  );
  document.querySelectorAll("[data-hour]").forEach((link) => {
    link.onclick = (event) => {
      event.preventDefault();
      showBook(Number(link.dataset.hour)).catch((error) => notice(error.message, "error"));
    };
  });
  const remembered = Number(sessionStorage.getItem("openkwh.hour"));
  state.hour = hours.some((h) => h.interval_begin === remembered) ? remembered : hours[0]?.interval_begin;
  if (state.hour && !state.account) await showBook(state.hour);
  if (state.site.contracts.Auction && !state.account) await (await standingChunk()).clearingPublic(kit());
}


async function showBook(hour) {
  state.hour = hour;
  sessionStorage.setItem("openkwh.hour", hour);
  const book = await api(`/orderbook?begin=${hour}`);
  $("#book-title").innerHTML = `Order book, ${hourText(hour)} <span class="muted">(${book.open ? "open until " + escape(when(book.gate_closes_at)) : "closed"})</span>`;
  const mine = (state.meters || []).map((m) => `<option value="${m.meter_id}">${short(m.meter_id)}</option>`).join("");
  // Depth: the Wh open at this price or better, counted outward from the spread; the
  // orders of one price level share its figure (the orders come best price first).
  const depth = (orders) => {
    const level = new Map();
    let total = 0n;
    for (const o of orders) level.set(String(o.price), (total += BigInt(o.wh)));
    return orders.map((o) => level.get(String(o.price)));
  };
  const asks = [...book.offers]; // cheapest first
  const askDepth = depth(asks);
  const bidDepth = depth(book.bids); // dearest first
  const row = (o, cumulative) => {
    const own = state.account && o.maker === state.account;
    const side = o.is_bid ? "bid" : "ask";
    return `<tr class="${side}${own ? " own" : ""}">
      <td data-label="side"><span>${side}${own ? ' <span class="badge">yours</span>' : ""}</span></td>
      <td data-label="price">${escape(perKwh(o.price))}</td>
      <td data-label="open">${kwh(o.wh)} kWh</td>
      <td data-label="depth">${kwh(cumulative)} kWh</td>
      <td data-label="">${own || !book.open || !state.account
        ? ""
        : `<form class="inline" data-take="${o.order_id}">
             <input name="wh" value="${o.wh}" size="7" aria-label="Wh to take of order ${o.order_id}">
             <select name="meter" aria-label="my meter for order ${o.order_id}">${mine}</select>
             <button type="submit" aria-label="Take order ${o.order_id}">Take</button>
           </form>`}</td></tr>`;
  };
  const bestAsk = asks[0] && BigInt(asks[0].price);
  const bestBid = book.bids[0] && BigInt(book.bids[0].price);
  const spread = bestAsk !== undefined && bestBid !== undefined
    ? `spread ${escape(perKwh(bestAsk > bestBid ? bestAsk - bestBid : 0n))}`
    : "no spread: one side is empty";
  const rows = [
    ...asks.map((o, i) => row(o, askDepth[i])).reverse(), // asks above, best nearest the spread
    `<tr class="spread"><td colspan="5">${spread}</td></tr>`,
    ...book.bids.map((o, i) => row(o, bidDepth[i])),
  ];
  $("#book").innerHTML = asks.length || book.bids.length
    ? `<table class="book"><thead><tr><th>side</th><th>price</th><th>open</th><th>depth</th><th></th></tr></thead><tbody>${rows.join("")}</tbody></table>`
    : '<p class="muted">No open orders for this hour.</p>';
  document.querySelectorAll("form[data-take]").forEach((form) => {
    const order = [...book.offers, ...book.bids].find((o) => String(o.order_id) === form.dataset.take);
    form.onsubmit = async (event) => {
      event.preventDefault();
      const wh = form.wh.value.trim();
      if (!/^[0-9]+$/.test(wh) || BigInt(wh) === 0n) return toast(form, "Wh must be a whole number above zero.", "error");
      if (!order.is_bid && !(await ensureAllowance(BigInt(wh) * BigInt(order.price), form))) return null;
      return send(`Take ${wh} Wh of order ${order.order_id}`, "Exchange", "take", [
        BigInt(order.order_id), BigInt(wh), BigInt(order.price), BigInt(order.version), form.meter.value,
      ], form);
    };
  });
}

// Before the wallet is asked to pay: the balance must cover it (else a notice and
// false), and the Exchange (or the Auction) may take it from the Exchange's own token.
export async function ensureAllowance(amount, near = null, spenderName = "Exchange") {
  const token = await contract("SettlementToken", await reader());
  const balance = await token.balanceOf(state.account);
  if (balance < amount) {
    toast(near, `This needs ${tokens(amount)}, and your wallet holds ${tokens(balance)}.`, "error");
    return false;
  }
  const spender = state.site.contracts[spenderName].address;
  if ((await token.allowance(state.account, spender)) < amount) {
    const approved = await send(`Allow the ${spenderName} to take ${tokens(amount)}`, "SettlementToken", "approve", [spender, amount], near);
    if (!approved) return false;
  }
  return true;
}

async function placeOrder(form) {
  const side = form.side.value;
  const wh = form.wh.value.trim();
  let price;
  try {
    price = unitsPerWh(form.price.value, state.site.token.decimals);
  } catch (error) {
    return toast(form, error.message, "error");
  }
  if (!form.begin.value) return toast(form, "Pick the delivery hour.", "error");
  const begin = Date.parse(form.begin.value + ":00Z") / 1000;
  const query = new URLSearchParams({ side, account: state.account, meter: form.meter.value, begin, wh, price });
  try {
    await api(`/orders/check?${query}`);
  } catch (error) {
    return toast(form, error.message.charAt(0).toUpperCase() + error.message.slice(1) + ".", "error");
  }
  toast(form, "");
  if (side === "offer") {
    return send(`Offer ${wh} Wh`, "Exchange", "offer", [form.meter.value, BigInt(begin), BigInt(wh), price], form);
  }
  if (!(await ensureAllowance(BigInt(wh) * price, form))) return null;
  return send(`Bid ${wh} Wh`, "Exchange", "bid", [form.meter.value, BigInt(begin), BigInt(wh), price, form.retire.checked], form);
}