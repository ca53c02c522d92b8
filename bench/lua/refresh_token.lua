-- POST /oauth/token with grant_type=refresh_token, chaining rotated refresh tokens.
--
-- Arguments (after `--`): <token file> <client_id> <number of wrk threads>
--
-- Rotation makes each refresh token single use (reusing one revokes its family), and wrk gives a script no
-- per-connection state: its Lua state is per thread. So each thread keeps a FIFO queue of tokens: request() takes
-- one, response() puts back the rotated token from the JSON body. wrk keeps at most one request in flight per
-- connection, so a thread holding more tokens than it has connections never runs dry while responses succeed.
-- Thread i takes every n-th line of the token file, starting at line i. A request made with no token left is
-- sent with a placeholder (it fails, and is counted as `starved`). Thread i connects to server node i mod n
-- (nodes.lua).

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local nodes = dofile(here .. "/nodes.lua")
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads - 1)
   nodes.assign(thread, #threads - 1)
end

function init(args)
   local path, client_id, nthreads = args[1], args[2], tonumber(args[3]) or 1
   queue, head, tail = {}, 1, 0
   local line_no = 0
   for line in io.lines(path) do
      if line ~= "" then
         if line_no % nthreads == id then
            tail = tail + 1
            queue[tail] = line
         end
         line_no = line_no + 1
      end
   end
   initial = tail
   prefix = "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token="
   form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
   ok, bad, missing, starved = 0, 0, 0, 0
end

function request()
   local token
   if head <= tail then
      token = queue[head]
      queue[head] = nil
      head = head + 1
   else
      starved = starved + 1
      token = "starved"
   end
   return wrk.format("POST", nil, form, prefix .. token)
end

function response(status, _, body)
   if status == 200 then
      local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
      if token then
         tail = tail + 1
         queue[tail] = token
         ok = ok + 1
      else
         missing = missing + 1
         bad = bad + 1
      end
   else
      bad = bad + 1
   end
end

function done(summary, latency, requests)
   local sum = { ok = 0, bad = 0, missing = 0, starved = 0, initial = 0, left = 0 }
   for _, thread in ipairs(threads) do
      sum.ok = sum.ok + thread:get("ok")
      sum.bad = sum.bad + thread:get("bad")
      sum.missing = sum.missing + thread:get("missing")
      sum.starved = sum.starved + thread:get("starved")
      sum.initial = sum.initial + thread:get("initial")
      sum.left = sum.left + thread:get("tail") - thread:get("head") + 1
   end
   io.write(string.format(
      'BENCH {"ok_responses": %d, "bad_responses": %d, "missing_refresh_token": %d, "starved": %d, '
         .. '"tokens": %d, "tokens_queued_at_end": %d}\n',
      sum.ok, sum.bad, sum.missing, sum.starved, sum.initial, sum.left
   ))
end
