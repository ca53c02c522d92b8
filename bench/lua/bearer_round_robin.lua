-- GET the URL's path with `Authorization: Bearer <token>`, the tokens taken round robin.
--
-- Arguments (after `--`): <token file> <number of wrk threads>
--
-- Requests are formatted once in init(); thread i starts at offset i/n of the list, so threads do not move in
-- step, and connects to server node i mod n (nodes.lua). response() counts anything but a 200 as bad (wrk
-- itself only counts statuses >= 400) without looking at the body; done() prints a `BENCH {...}` line with the
-- counts, which the runner takes as the error count.

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local nodes = dofile(here .. "/nodes.lua")
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads - 1)
   nodes.assign(thread, #threads - 1)
end

function init(args)
   local nthreads = tonumber(args[2]) or 1
   prepared = {}
   for line in io.lines(args[1]) do
      if line ~= "" then
         prepared[#prepared + 1] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. line })
      end
   end
   count = #prepared
   if count == 0 then
      error("no tokens in " .. args[1])
   end
   index = math.floor(id * count / nthreads)
   ok, bad = 0, 0
end

function request()
   index = index % count + 1
   return prepared[index]
end

function response(status)
   if status == 200 then
      ok = ok + 1
   else
      bad = bad + 1
   end
end

function done()
   local ok_sum, bad_sum = 0, 0
   for _, thread in ipairs(threads) do
      ok_sum = ok_sum + thread:get("ok")
      bad_sum = bad_sum + thread:get("bad")
   end
   io.write(string.format('BENCH {"ok_responses": %d, "bad_responses": %d}\n', ok_sum, bad_sum))
end
