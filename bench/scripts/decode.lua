-- POST a JSON body for wrk. The harness passes the body as the first script
-- argument so that it and its probe send the same bytes.
-- Usage: wrk -s decode.lua URL -- BODY
init = function(args)
  wrk.method = "POST"
  wrk.body = args[1]
  wrk.headers["Content-Type"] = "application/json"
end
