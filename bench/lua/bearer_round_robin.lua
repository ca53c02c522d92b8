-- GET the URL's path with `Authorization: Bearer <token>`, the tokens taken round robin.
--
-- Arguments (after `--`): <token file> <number of wrk threads>
--
-- Requests are formatted once in init(); thread i starts at offset i/n of the list, so threads do not move in
-- step. No response() callback: wrk counts statuses >= 400 itself, and parsing every response in Lua would
-- cost the load generator CPU that the server, on the same machine, needs.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads - 1)
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
end

function request()
   index = index % count + 1
   return prepared[index]
end
