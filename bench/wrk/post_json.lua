-- wrk script: POST a JSON case with a random point inside the small city's territory, so
-- that no two reports look like duplicates. Prints a JSON summary line at the end.
-- env: BODY_TEMPLATE (with {lat} {lon} {n}), LAT0 LAT1 LON0 LON1, CONTENT_TYPE, AUTHORIZATION
local template = os.getenv("BODY_TEMPLATE")
local lat0, lat1 = tonumber(os.getenv("LAT0")), tonumber(os.getenv("LAT1"))
local lon0, lon1 = tonumber(os.getenv("LON0")), tonumber(os.getenv("LON1"))
local counter = 0

setup = function(thread) thread:set("id", math.random(1, 1000000)) end

request = function()
  counter = counter + 1
  local lat = lat0 + math.random() * (lat1 - lat0)
  local lon = lon0 + math.random() * (lon1 - lon0)
  local body = template:gsub("{lat}", string.format("%.6f", lat)):gsub("{lon}", string.format("%.6f", lon))
  body = body:gsub("{n}", tostring(id) .. "-" .. tostring(counter))
  local headers = {["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"}
  local authorization = os.getenv("AUTHORIZATION")
  if authorization and authorization ~= "" then headers["Authorization"] = authorization end
  return wrk.format("POST", nil, headers, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
