-- Deletes the dedup marks that are rejection marks, and only those, so that
-- a redriven copy of a rejected event is not dropped as a duplicate
-- (adapters/redis_redrive.py). One script: nothing can change a mark between
-- its check and its delete. Joined after dedup_window.lua.
--
-- ARGV as seen.lua's: ARGV[1] the generation's key base, ARGV[2] the clock,
-- ARGV[3] the dedup TTL, ARGV[4] buckets per TTL, ARGV[5..] content hashes.
-- Returns, per hash in order: "r" when it held a rejection mark (now
-- deleted), the outcome letter of any other mark (kept), "" when there is none.
local w = dw_window(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
local found = {}
for i = 5, #ARGV do
  local kb, member = dw_key(ARGV[i])
  local seg = dw_find(w, kb, member)
  local outcome = seg and dw_outcome(w, seg, kb, member) or ''
  if outcome == 'r' then
    redis.call('SREM', dw_set('dr:', seg, kb), member)
    redis.call('SREM', dw_set('dd:', seg, kb), member)
  end
  found[i - 4] = outcome
end
return found
