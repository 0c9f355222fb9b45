import NIOConcurrencyHelpers

/// The queue behind a group commit: callers append their work, and the one that finds nobody leading becomes
/// the leader and takes the queue in batches until it is empty. Used by the outbox marks and by voucher
/// redemptions; each keeps its own way of running a batch.
struct LeaderQueue<Element: Sendable>: Sendable {
    private struct State {
        var queue: [Element] = []
        var leading = false
    }

    private let state = NIOLockedValueBox(State())
    private let maxBatch: Int

    init(maxBatch: Int) {
        self.maxBatch = maxBatch
    }

    /// Queues `element`; true when the caller is now the leader and must drain the queue with ``nextBatch()``.
    func append(_ element: Element) -> Bool {
        state.withLockedValue { state -> Bool in
            state.queue.append(element)
            guard !state.leading else { return false }
            state.leading = true
            return true
        }
    }

    /// Up to `maxBatch` queued elements in arrival order; nil (and nobody leading) when the queue is empty.
    func nextBatch() -> [Element]? {
        state.withLockedValue { state -> [Element]? in
            guard !state.queue.isEmpty else {
                state.leading = false
                return nil
            }
            let count = min(maxBatch, state.queue.count)
            let batch = Array(state.queue.prefix(count))
            state.queue.removeFirst(count)
            return batch
        }
    }
}
