-- Which content hashes the dedup window holds, and under which outcome
-- (after dedup_window.lua, joined by adapters/redis_scripts.py).
--
-- ARGV[1] the generation's key base, ARGV[2] the caller's clock (Unix
-- seconds), ARGV[3] the dedup TTL, ARGV[4] buckets per TTL, ARGV[5..] the
-- content hashes. Returns, per hash: 'a', 'i' or 'r', or '' when unseen.
local w = dw_window(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
local found = {}
for i = 5, #ARGV do
  local kb, member = dw_key(ARGV[i])
  local seg = dw_find(w, kb, member)
  found[i - 4] = seg and dw_outcome(w, seg, kb, member) or ''
end
return found
