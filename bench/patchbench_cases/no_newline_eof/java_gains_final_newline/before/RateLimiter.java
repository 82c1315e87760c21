package com.example.net;

import java.time.Clock;
import java.util.HashMap;
import java.util.Map;

/**
 * A token bucket per client: each client may make {@code capacity} requests at once, refilled at
 * {@code refillPerSecond}.
 */
public final class RateLimiter {
    private final int capacity;
    private final double refillPerSecond;
    private final Clock clock;
    private final Map<String, Bucket> buckets = new HashMap<>();

    public RateLimiter(int capacity, double refillPerSecond, Clock clock) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive");
        }
        this.capacity = capacity;
        this.refillPerSecond = refillPerSecond;
        this.clock = clock;
    }

    public synchronized boolean tryAcquire(String client) {
        Bucket bucket = buckets.computeIfAbsent(client, key -> new Bucket(capacity, clock.millis()));
        bucket.refill(clock.millis(), refillPerSecond, capacity);
        if (bucket.tokens < 1) {
            return false;
        }
        bucket.tokens -= 1;
        return true;
    }

    public synchronized int available(String client) {
        Bucket bucket = buckets.get(client);
        if (bucket == null) {
            return capacity;
        }
        bucket.refill(clock.millis(), refillPerSecond, capacity);
        return (int) Math.floor(bucket.tokens);
    }

    private static final class Bucket {
        double tokens;
        long updatedAt;

        Bucket(double tokens, long updatedAt) {
            this.tokens = tokens;
            this.updatedAt = updatedAt;
        }

        void refill(long now, double perSecond, int capacity) {
            double elapsed = (now - updatedAt) / 1000.0;
            tokens = Math.min(capacity, tokens + elapsed * perSecond);
            updatedAt = now;
        }
    }
}