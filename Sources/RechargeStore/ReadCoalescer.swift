import NIOConcurrencyHelpers

/// Read coalescing, the read-side twin of group commit: concurrent point lookups (balance inquiries) queue
/// here, and up to one leader per lane (reader connection) at a time each take everything queued so far
/// and answer it with one query (`WHERE msisdn IN (…)`), running on its lane's own thread. Under load a
/// statement is compiled once per batch instead of once per request; with no load a lookup runs alone at
/// once, so nothing waits for a timer. Requests for the same key in one batch share one row set.
final class ReadCoalescer<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// Looks up a batch of distinct keys on one lane (a reader connection); a key missing from the answer
    /// gets `missing(key)`.
    typealias Fetch = @Sendable ([Key], _ lane: Int) async throws -> [Key: Value]

    private struct Pending {
        let key: Key
        let continuation: CheckedContinuation<Value, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        /// Lanes without a leader.
        var idleLanes: [Int]
        var batches = 0
        var lookups = 0
    }

    private let state: NIOLockedValueBox<State>
    /// Where each lane's leader runs: its reader connection's own thread, or nil for the shared pool.
    private let executors: [(any TaskExecutor)?]
    private let maxBatch: Int
    private let fetch: Fetch
    private let missing: @Sendable (Key) -> any Error

    /// One lane per executor: at most that many batches run at once, each leader on its lane's executor.
    init(executors: [(any TaskExecutor)?], maxBatch: Int = 200, missing: @escaping @Sendable (Key) -> any Error, fetch: @escaping Fetch) {
        precondition(!executors.isEmpty && maxBatch > 0)
        self.executors = executors
        self.state = NIOLockedValueBox(State(idleLanes: Array(executors.indices.reversed())))
        self.maxBatch = maxBatch
        self.missing = missing
        self.fetch = fetch
    }

    /// Batches run and lookups answered so far: lookups per query is `lookups / batches`.
    var statistics: (batches: Int, lookups: Int) { state.withLockedValue { ($0.batches, $0.lookups) } }

    func get(_ key: Key) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let lane = state.withLockedValue { state -> Int? in
                state.queue.append(Pending(key: key, continuation: continuation))
                return state.idleLanes.popLast()
            }
            if let lane {
                Task(executorPreference: executors[lane]) { await self.lead(lane) }
            }
        }
    }

    private func lead(_ lane: Int) async {
        while let batch = nextBatch(lane) {
            let keys = Array(Set(batch.map(\.key)))
            do {
                let found = try await fetch(keys, lane)
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

    private func nextBatch(_ lane: Int) -> [Pending]? {
        state.withLockedValue { state -> [Pending]? in
            guard !state.queue.isEmpty else {
                state.idleLanes.append(lane)
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
