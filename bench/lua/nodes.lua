-- Spread wrk's threads over the server nodes: thread i connects to node i mod n.
--
-- The nodes come from the environment, BENCH_NODES="127.0.0.1:8001,127.0.0.1:8002" (the runner sets it); with
-- one node, or none, threads keep the address wrk resolved from its URL. Every request keeps the Host header
-- wrk was given (the tenant's public origin): the nodes are one tenant behind a balancer.
--
-- Scripts load this file with dofile() and call nodes.assign(thread, index) from their setup(thread).

local nodes = {}
for host, port in (os.getenv("BENCH_NODES") or ""):gmatch("([^,]+):(%d+)") do
   nodes[#nodes + 1] = { host = host, port = port }
end

local M = { count = #nodes }

function M.assign(thread, index)
   if #nodes > 1 then
      local node = nodes[index % #nodes + 1]
      thread.addr = wrk.lookup(node.host, node.port)[1]
   end
end

return M
