import { api } from "../api.js";
import { escape, short, table, when } from "../format.js";
import { $ } from "../state.js";

export async function meters(account) {
  const { meters } = await api(`/accounts/${account}/meters`);
  $("#meters").innerHTML = table(
    meters.map((m) => [
      `<code title="${m.meter_id}">${short(m.meter_id)}</code>`,
      escape(m.kind),
      `${escape(m.sector)} ${escape(m.tech_code)} ${escape(m.fuel_code)}`,
      m.capacity_w ? `${(m.capacity_w / 1000).toLocaleString("en")} kW` : "–",
      m.last_end ? when(m.last_end) : "none yet",
      m.last_digest ? `<code title="${m.last_digest}">${short(m.last_digest)}</code>` : "–",
      m.last_cid ? `<code class="cid">${m.last_cid}</code>` : "–",
      m.suspended ? `<span class="bad">suspended: ${escape(m.status_reason)}</span>` : "active",
    ]),
    ["meter", "kind", "sector, technology, fuel", "capacity", "last reading", "data digest", "CID", "state"],
  );
}