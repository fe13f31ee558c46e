-- SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
-- wrk -s: one JSON line with what bench-http.sh needs (latencies in µs)
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, "p50_us": %d, "p99_us": %d}\n',
		summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
		latency:percentile(50), latency:percentile(99)))
end
