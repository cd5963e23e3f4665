-- Pipelining for wrk: every write sends DEPTH copies of the request for
-- the URL given on the command line (TechEmpower's pipeline.lua).
-- Usage: wrk -s pipeline.lua URL -- DEPTH   (DEPTH defaults to 16)
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
