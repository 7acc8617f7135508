-- Deletes the dedup marks that are rejection marks, and only those, so that
-- a redriven copy of a rejected event is not dropped as a duplicate
-- (adapters/redis_redrive.py). One script: nothing can change a mark between
-- its check and its delete.
--
-- KEYS: the `seen:<content hash>` marks to look at (of one generation).
-- ARGV[1] the value prefix of a rejection mark ("r:").
-- Returns, per key in order: "r" when it held a rejection mark (now deleted),
-- the outcome letter of any other mark (kept), "" when there is none.
local found = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  if not v then
    found[i] = ''
  elseif string.sub(v, 1, #ARGV[1]) == ARGV[1] then
    redis.call('DEL', key)
    found[i] = 'r'
  else
    found[i] = string.sub(v, 1, 1)
  end
end
return found
