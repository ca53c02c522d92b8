-- wrk's own request (the URL's path, GET), its threads spread over the server nodes (see nodes.lua).
--
-- No request() or response() callback: wrk sends its prepared request and counts statuses >= 400 itself.

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local nodes = dofile(here .. "/nodes.lua")
local threads = 0

function setup(thread)
   nodes.assign(thread, threads)
   threads = threads + 1
end
