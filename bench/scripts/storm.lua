-- A connection storm for wrk: every request asks the server to close, and
-- wrk opens a new connection when it sees "Connection: close" in the
-- response, so each request pays for an accept.
-- Usage: wrk -s storm.lua URL
wrk.headers["Connection"] = "close"
