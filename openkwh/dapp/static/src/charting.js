// Chart.js, registered for the bar charts the dashboard draws. Its own chunk: only a
// page with a chart loads it, and that page asks for it while its data is on the way.

import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export { Chart };
