-- Caps the requests each wrk thread sends (the number given after `--`),
-- so that a load run is bounded in count as well as in time (-d).
local limit = math.huge
local sent = 0
local req

function init(args)
  limit = tonumber(args[1]) or limit
  req = wrk.format()
end

function request()
  sent = sent + 1
  if sent > limit then
    wrk.thread:stop()
  end
  return req
end
