// Standing orders and the hourly call auction (issue 19), on the market page: set a
// standing order (the same Wh every hour, or up to the meter's forecast), see one's
// standing orders and their fills, cancel from an hour, and the clearing price per hour
// as a chart and as text. A chunk of its own: only the market page loads it, and only
// where an Auction is deployed. It imports none of the page's shared modules: the market
// hands them over (``kit``), so the bundler keeps them in the page's own script instead of
// splitting them into one more chunk that every page would load.

let api, escape, hourText, kwh, perKwh, plainWords, short, table, tokens, unitsPerWh, when;
let $, state, notice, send, toast, ensureAllowance;

function use(kit) {
  ({ api, escape, hourText, kwh, perKwh, plainWords, short, table, tokens, unitsPerWh, when } = kit);
  ({ $, state, notice, send, toast, ensureAllowance } = kit);
}

const MAX_INTERVALS = 24 * 7 * 4; // Auction.MAX_INTERVALS
let proposal = null; // the forecast's answer for what the form shows, or null

const hourOf = (value) => Date.parse(value + ":00Z") / 1000;

// The clearing price per hour: everyone sees it, with or without a wallet.
export async function clearingPublic(kit) {
  use(kit);
  if (!state.site.contracts.Auction) return;
  const { clearings } = await api("/auction/clearings");
  $("#clearing").hidden = false;
  const labels = clearings.map((c) => when(c.interval_begin).slice(5, 16));
  $("#clearing-table").innerHTML = table(
    clearings.map((c, i) => [labels[i], escape(perKwh(c.price)), `${kwh(c.bought_wh)} kWh`, c.orders]),
    ["hour (UTC)", "clearing price", "traded", "orders"],
  );
  drawClearing(labels, clearings).catch((error) => notice(`The chart could not be drawn: ${plainWords(error)}`, "error"));
}

async function drawClearing(labels, clearings) {
  const { Chart } = await import("../charting.js");
  const canvas = $("#clearing-chart");
  const symbol = state.site.token.symbol;
  const scale = 10 ** state.site.token.decimals;
  Chart.getChart(canvas)?.destroy();
  const chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: [
        {
          label: `clearing price, ${symbol}/kWh`,
          // Display only: the exact prices are the table's text.
          data: clearings.map((c) => Number(BigInt(c.price) * 1000n) / scale),
          backgroundColor: getComputedStyle(document.documentElement).getPropertyValue("--consumed").trim(),
        },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: { y: { title: { display: true, text: `${symbol}/kWh` }, beginAtZero: true } },
    },
  });
  canvas.dataset.unit = chart.options.scales.y.title.text;
  canvas.parentElement.dataset.drawn = String(clearings.length);
}

export async function standing(account, kit) {
  use(kit);
  if (!state.site.contracts.Auction) return;
  await clearingPublic(kit);
  const { orders, lead_time: leadTime } = await api(`/accounts/${account}/standing-orders`);
  state.auctionLeadTime = leadTime;
  $("#standing").hidden = false;
  const form = $("#standing-form");
  form.querySelector(".symbol").textContent = state.site.token.symbol;
  const chosen = form.meter.value;
  form.meter.innerHTML = (state.meters || [])
    .map((m) => `<option value="${m.meter_id}">${short(m.meter_id)} (${escape(m.kind)})</option>`)
    .join("");
  if ((state.meters || []).some((m) => m.meter_id === chosen)) form.meter.value = chosen;
  if (!form.dataset.wired) {
    const sideFor = () => {
      const meter = (state.meters || []).find((m) => m.meter_id === form.meter.value);
      if (meter?.kind === "consumption") form.side.value = "bid";
      if (meter?.kind === "production") form.side.value = "offer";
    };
    sideFor();
    form.meter.addEventListener("change", sideFor);
    for (const name of ["side", "meter", "from", "to"]) form[name].addEventListener("change", () => propose(form));
    form.amount.forEach((radio) => radio.addEventListener("change", () => propose(form)));
    form.onsubmit = (event) => {
      event.preventDefault();
      placeStanding(form);
    };
    form.dataset.wired = "true";
  }
  showOrders(orders);
}

function range(form) {
  if (!form.from.value || !form.to.value) throw new Error("Pick the first and the last hour.");
  const first = hourOf(form.from.value);
  const last = hourOf(form.to.value);
  const interval = state.site.interval_length;
  if (first % interval || last % interval) throw new Error("Hours begin on the hour (UTC).");
  if (last < first) throw new Error("The last hour is before the first.");
  const count = (last - first) / interval + 1;
  if (count > MAX_INTERVALS) throw new Error(`A standing order spans at most ${MAX_INTERVALS} hours (four weeks); this is ${count}.`);
  if (first - state.auctionLeadTime <= state.now) throw new Error(`The market for ${when(first)} has closed (gate closure).`);
  return { first, last, count };
}

// "Up to my forecast": the vector the meter's history proposes, shown before anything is signed.
async function propose(form) {
  const box = $("#forecast");
  proposal = null;
  form.wh.disabled = form.amount.value === "forecast";
  if (form.amount.value !== "forecast") {
    box.innerHTML = "";
    return;
  }
  let span;
  try {
    span = range(form);
  } catch (error) {
    box.innerHTML = `<p class="muted">${escape(error.message)}</p>`;
    return;
  }
  const query = new URLSearchParams({ side: form.side.value, first: span.first, intervals: span.count });
  try {
    const answer = await api(`/meters/${form.meter.value}/forecast?${query}`);
    proposal = answer;
    if (!answer.orders.length) {
      box.innerHTML = `<p class="toast error">${escape(answer.nothing_to_place)}.</p>`;
      return;
    }
    const total = answer.vector.reduce((sum, wh) => sum + BigInt(wh), 0n);
    box.innerHTML =
      `<p>Your forecast (the median of the same hour over the last ${answer.days} days of your meter's measurements): ` +
      `${kwh(total)} kWh in ${answer.vector.length} hours, as ${answer.orders.length} standing order${answer.orders.length > 1 ? "s" : ""} ` +
      `(one for each run of hours with the same Wh: ${answer.orders.length} confirmation${answer.orders.length > 1 ? "s" : ""} in your wallet).</p>` +
      table(
        answer.orders.map((o) => [hourText(o.first), hourText(o.last), `${o.wh} Wh`]),
        ["from", "to", "Wh per hour"],
      );
  } catch (error) {
    box.innerHTML = `<p class="toast error">${escape(error.message.charAt(0).toUpperCase() + error.message.slice(1))}.</p>`;
  }
}

async function placeStanding(form) {
  const isBid = form.side.value === "bid";
  let price;
  let span;
  try {
    price = unitsPerWh(form.price.value, state.site.token.decimals);
    span = range(form);
  } catch (error) {
    return toast(form, error.message, "error");
  }
  let orders;
  if (form.amount.value === "forecast") {
    if (!proposal || proposal.first !== span.first || proposal.vector.length !== span.count || proposal.side !== form.side.value) {
      await propose(form);
    }
    if (!proposal) return toast(form, "There is no forecast for this meter: give the Wh per hour instead.", "error");
    if (!proposal.orders.length) return toast(form, "The forecast is 0 Wh in every hour: there is nothing to place.", "error");
    orders = proposal.orders.map((o) => ({ first: o.first, last: o.last, wh: BigInt(o.wh) }));
  } else {
    const wh = form.wh.value.trim();
    if (!/^[0-9]+$/.test(wh) || BigInt(wh) === 0n) return toast(form, "Wh per hour must be a whole number above zero.", "error");
    orders = [{ first: span.first, last: span.last, wh: BigInt(wh) }];
  }
  const interval = BigInt(state.site.interval_length);
  if (isBid) {
    // A bid escrows Wh x limit for every hour now: nothing is drawn later.
    const escrow = orders.reduce((sum, o) => sum + o.wh * price * ((BigInt(o.last) - BigInt(o.first)) / interval + 1n), 0n);
    if (!(await ensureAllowance(escrow, form, "Auction"))) return null;
  }
  let placed = 0;
  for (const o of orders) {
    const label = `Standing ${isBid ? "bid" : "offer"} of ${o.wh} Wh per hour, ${when(o.first)} to ${when(o.last)}`;
    const receipt = await send(label, "Auction", "place", [form.meter.value, BigInt(o.first), BigInt(o.last), o.wh, price, isBid], form);
    if (!receipt) break;
    placed += 1;
  }
  if (orders.length > 1) {
    toast(form, `${placed} of ${orders.length} standing orders placed.`, placed === orders.length ? "confirmed" : "failed");
  }
  return placed;
}

function showOrders(orders) {
  const interval = state.site.interval_length;
  $("#standing-orders").innerHTML = table(
    orders.map((o) => {
      const what = `standing ${o.side} ${o.order_id}`;
      let cancel = "";
      if (o.cancellable_from !== null) {
        const hours = [];
        for (let t = o.cancellable_from; t <= o.last; t += interval) hours.push(`<option value="${t}">${when(t)}</option>`);
        cancel = `<form class="inline" data-cancel-standing="${o.order_id}">
            <select name="from" aria-label="the first hour to cancel of ${escape(what)}">${hours.join("")}</select>
            <button type="submit" aria-label="Cancel from the chosen hour: ${escape(what)}">Cancel from</button>
          </form>`;
      }
      const fills = o.fills.length
        ? `<details class="fills"><summary>${kwh(o.filled_wh)} kWh in ${o.fills.length} hour${o.fills.length > 1 ? "s" : ""}</summary>${table(
            o.fills.map((f) => [hourText(f.interval_begin), `${f.wh} Wh`, escape(perKwh(f.price))]),
            ["hour", "filled", "clearing price"],
          )}</details>`
        : '<span class="muted">none cleared yet</span>';
      return [
        o.order_id,
        o.side,
        !o.intervals
          ? '<span class="muted">cancelled</span>'
          : o.intervals === 1
            ? `<span>${hourText(o.first)}</span>`
            : `<span>${hourText(o.first)} to ${hourText(o.last)} (${o.intervals} h)</span>`,
        `${o.wh} Wh`,
        escape(perKwh(o.price)),
        fills,
        BigInt(o.refunded) ? escape(tokens(o.refunded)) : '<span class="muted">none</span>',
        cancel,
      ];
    }),
    ["order", "side", "hours", "per hour", "limit", "fills", "refunded", ""],
  );
  document.querySelectorAll("form[data-cancel-standing]").forEach((form) => {
    form.onsubmit = (event) => {
      event.preventDefault();
      const id = form.dataset.cancelStanding;
      send(`Cancel standing order ${id} from ${when(Number(form.from.value))}`, "Auction", "cancel", [BigInt(id), BigInt(form.from.value)], form);
    };
  });
}
