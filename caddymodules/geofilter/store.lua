-- geofilter's shared rate limit: one call per request.
--
-- KEYS[1] the client's counter; with a ban, KEYS[2] its strike counter and
-- KEYS[3] its ban.
-- ARGV[1] requests per window, ARGV[2] window (µs); with a ban, ARGV[3]
-- strikes tolerated before a ban, ARGV[4] ban (µs).
--
-- Returns {result, wait µs, remaining, reset µs}; result 0 allowed,
-- 1 rate limited, 2 banned.
--
-- The counter is the sliding-window estimate of the in-process limiter:
-- the count of the current and of the previous fixed window, the previous
-- one weighted by the part of it still within one window of now. Time is
-- the store's clock, the same for every instance.
--
-- Every redis.call costs about as much as the arithmetic of the whole
-- script, and so does each number turned into a string: an allowed request
-- inside the window its counter already holds is three calls (TIME,
-- HMGET, HINCRBY; with a ban, PTTL too) and converts no number to a
-- string.

local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local banned = ARGV[3] ~= nil

if banned then
	local ttl = redis.call('PTTL', KEYS[3])
	if ttl > 0 then
		return {2, ttl * 1000, 0, ttl * 1000}
	end
end

local floor, min, max = math.floor, math.min, math.max

-- refusal returns the wait until one more event fits in lim per win, e
-- into the window, with curr events in it and prev in the one before.
local function refusal(lim, win, e, curr, prev)
	if curr < lim and prev > 0 then
		local e2 = win - min(floor((lim - curr - 1) * win / prev), win)
		if e2 < win then
			return max(e2 - e, 1)
		end
	end
	local e2 = 0
	if curr > 0 then
		e2 = max(win - min(floor((lim - 1) * win / curr), win), 0)
	end
	return win - e + e2
end

-- slide counts one event against key when it fits in lim per win; it
-- returns whether it did, the wait until one would fit, and what remains.
-- The hash holds n (its window), c (its count) and p (the window
-- before's). It is rewritten whole, and its expiry set, only when its
-- window moves on; the expiry is where the counts stop mattering: the end
-- of the window after n, plus a second.
local function slide(key, lim, win)
	local n = floor(now / win)
	local e = now - n * win
	local v = redis.call('HMGET', key, 'n', 'c', 'p')
	local at, curr, prev = tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0
	local moved, prevs = at ~= n, v[3]
	if at == nil or at < n - 1 then
		curr, prev, prevs = 0, 0, '0'
	elseif at == n - 1 then
		prev, curr, prevs = curr, 0, v[2]
	elseif at > n then
		-- Stored by a store clock that was ahead: keep its window.
		n, e, moved = at, 0, false
	end
	if prev * (win - e) + (curr + 1) * win > lim * win then
		return false, refusal(lim, win, e, curr, prev), 0
	end
	if moved then
		curr = 1
		redis.call('HSET', key, 'n', n, 'c', '1', 'p', prevs)
		redis.call('PEXPIRE', key, math.ceil(((n + 2) * win - now) / 1000) + 1000)
	else
		curr = redis.call('HINCRBY', key, 'c', 1)
	end
	local rem = floor((lim * win - prev * (win - e)) / win) - curr
	return true, 0, max(rem, 0)
end

local window = tonumber(ARGV[2])
local ok, wait, rem = slide(KEYS[1], tonumber(ARGV[1]), window)
if ok then
	return {0, 0, rem, window - now % window}
end
if banned then
	local banLimit, banWindow = tonumber(ARGV[3]), tonumber(ARGV[4])
	if banLimit == 0 or not slide(KEYS[2], banLimit, banWindow) then
		redis.call('SET', KEYS[3], '1', 'PX', max(floor(banWindow / 1000), 1))
		return {2, banWindow, 0, banWindow}
	end
end
return {1, wait, 0, wait}
