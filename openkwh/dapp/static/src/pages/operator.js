import { api } from "../api.js";
import { escape, perKwh, table, when } from "../format.js";
import { $ } from "../state.js";

export async function operator() {
  const { tariffs } = await api("/tariffs");
  $("#tariffs").innerHTML = table(
    tariffs.map((t) => [
      t.index,
      escape(perKwh(t.retail_price)),
      escape(perKwh(t.feed_in_reward)),
      t.effective_from ? when(t.effective_from) : "the start",
      escape(t.state),
    ]),
    ["tariff", "retail price", "feed-in reward", "from", "state"],
  );
}