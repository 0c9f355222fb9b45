import NIOConcurrencyHelpers

/// Read coalescing, the read-side twin of group commit: concurrent point lookups (balance inquiries) queue
/// here, and up to `parallelism` leaders at a time each take everything queued so far and answer it with
/// one query (`WHERE msisdn IN (…)`). Under load a statement is prepared and a thread-pool hop paid once
/// per batch instead of once per request; with no load a lookup runs alone at once, so nothing waits for
/// a timer. Requests for the same key in one batch share one row set.
final class ReadCoalescer<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// Looks up a batch of distinct keys; a key missing from the answer gets `missing(key)`.
    typealias Fetch = @Sendable ([Key]) async throws -> [Key: Value]

    private struct Pending {
        let key: Key
        let continuation: CheckedContinuation<Value, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var leaders = 0
        var batches = 0
        var lookups = 0
    }

    private let state = NIOLockedValueBox(State())
    private let parallelism: Int
    private let maxBatch: Int
    private let fetch: Fetch
    private let missing: @Sendable (Key) -> any Error

    init(parallelism: Int, maxBatch: Int = 200, missing: @escaping @Sendable (Key) -> any Error, fetch: @escaping Fetch) {
        precondition(parallelism > 0 && maxBatch > 0)
        self.parallelism = parallelism
        self.maxBatch = maxBatch
        self.missing = missing
        self.fetch = fetch
    }

    /// Batches run and lookups answered so far: lookups per query is `lookups / batches`.
    var statistics: (batches: Int, lookups: Int) { state.withLockedValue { ($0.batches, $0.lookups) } }

    func get(_ key: Key) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let lead = state.withLockedValue { state -> Bool in
                state.queue.append(Pending(key: key, continuation: continuation))
                guard state.leaders < parallelism else { return false }
                state.leaders += 1
                return true
            }
            if lead { Task { await self.lead() } }
        }
    }

    private func lead() async {
        while let batch = nextBatch() {
            let keys = Array(Set(batch.map(\.key)))
            do {
                let found = try await fetch(keys)
                for pending in batch {
                    if let value = found[pending.key] {
                        pending.continuation.resume(returning: value)
                    } else {
                        pending.continuation.resume(throwing: missing(pending.key))
                    }
                }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }

    private func nextBatch() -> [Pending]? {
        state.withLockedValue { state -> [Pending]? in
            guard !state.queue.isEmpty else {
                state.leaders -= 1
                return nil
            }
            let count = min(maxBatch, state.queue.count)
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            state.batches += 1
            state.lookups += count
            return batch
        }
    }
}
