-- Reads, in one atomic step, what tells whether Redis still holds the graph
-- (processor/core/graph_loss.py): the graph's marker, the lost flag and the
-- current generation's 'folded' hash. Atomic, so a rebuild's switch between
-- the reads can not pair one generation's pointer with another's offsets.
--
-- KEYS[1] the current-generation pointer (P:generation), KEYS[2] the marker
-- (P:graph:origin), KEYS[3] the lost flag (P:graph:lost).
-- ARGV[1] key prefix P; the generation's 'folded' key is built here from the
-- pointer, as in fold.lua.
-- Returns {marker as a flat field/value list or 0 when absent, lost reason or
-- 0, folded as a flat field/value list}.
local generation = redis.call('GET', KEYS[1]) or '1'
local folded = redis.call('HGETALL', '{' .. ARGV[1] .. ':g' .. generation .. '}:folded')
local origin = 0
if redis.call('EXISTS', KEYS[2]) == 1 then origin = redis.call('HGETALL', KEYS[2]) end
local lost = redis.call('GET', KEYS[3]) or 0
return {origin, lost, folded}
