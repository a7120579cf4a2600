import { api } from "../api.js";
import { card, kwh } from "../format.js";
import { $, rerender } from "../state.js";
import { statements } from "./statements.js";

export async function emissions(account) {
  const onChain = statements(account); // the statements on chain, drawn meanwhile
  // Custom factors are kept per browser; the defaults are shown as values, not hints.
  const form = $("#factors");
  const stored = JSON.parse(localStorage.getItem("openkwh.factors") || "{}");
  const query = new URLSearchParams();
  for (const name of ["location", "residual"]) {
    if (!form[name].value.trim() && stored[name]) form[name].value = stored[name];
    const typed = form[name].value.trim().replace(",", ".");
    if (typed) query.set(name, typed);
  }
  const suffix = query.toString() ? `?${query}` : "";
  const data = await api(`/accounts/${account}/emissions${suffix}`);
  const kg = (grams) => `${(Number(grams) / 1000).toLocaleString("en", { maximumFractionDigits: 3 })} kg CO₂e`;
  $("#emissions").innerHTML =
    card("Consumption", `${kwh(data.consumed_wh)} kWh`) +
    card("Location-based", kg(data.location_based_g), "location-based") +
    card("Market-based", kg(data.market_based_g), "market-based") +
    card("Hourly-matched", `${data.hourly_matched_percent} %`, "matched");
  const [sector, factors] = Object.entries(data.factors)[0] || [];
  const defaults = {};
  if (sector) {
    // The shipped defaults (the factors CSV): the same report without overrides.
    const plain = suffix ? await api(`/accounts/${account}/emissions`) : data;
    const [, base] = Object.entries(plain.factors)[0];
    defaults.location = base.location_g_per_kwh;
    defaults.residual = base.residual_mix_g_per_kwh;
    if (!form.location.value.trim()) form.location.value = defaults.location;
    if (!form.residual.value.trim()) form.residual.value = defaults.residual;
    const custom = ["location", "residual"].some((n) => form[n].value.trim().replace(",", ".") !== defaults[n]);
    $("#factor-source").textContent = custom
      ? `Your own factors, kept in this browser. The defaults for ${sector} (${base.year}): ${base.source}`
      : `${sector}, ${factors.year}: ${factors.source}`;
  }
  $("#csv").href = `/api/v1/accounts/${account}/emissions.csv${suffix}`;
  form.onsubmit = (event) => {
    event.preventDefault();
    const chosen = {};
    for (const name of ["location", "residual"]) {
      const typed = form[name].value.trim().replace(",", ".");
      if (typed && typed !== defaults[name]) chosen[name] = typed;
    }
    if (Object.keys(chosen).length) localStorage.setItem("openkwh.factors", JSON.stringify(chosen));
    else localStorage.removeItem("openkwh.factors");
    rerender();
  };
  $("#factors-reset").onclick = () => {
    localStorage.removeItem("openkwh.factors");
    form.location.value = "";
    form.residual.value = "";
    rerender();
  };
  await onChain;
}